package xmlenc_test

import (
	"testing"

	"github.com/privlink/privlink/internal/awsapi/xmlenc"
	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
)

// fuzzed places fuzzer strings where each escaping and omitempty path sees
// them: plain and omitempty elements, shared parents, pointers, slices of
// strings and of structs, and []byte.
type fuzzed struct {
	A     string   `xml:"a"`
	B     string   `xml:"p>b,omitempty"`
	C     *string  `xml:"p>c"`
	Bytes []byte   `xml:"bytes,omitempty"`
	List  []string `xml:"set>item,omitempty"`
	Tags  []leaf   `xml:"tagSet>item"`
	N     int      `xml:"n,omitempty"`
}

// FuzzStrings compares xmlenc with encoding/xml on arbitrary strings,
// including invalid UTF-8.
func FuzzStrings(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""},
		{"plain", "10.0.0.0/16"},
		{"<&>\"'", "\t\n\r"},
		{"\x00\x1f\x7f", "\xff\xfe\xed\xa0\x80"},
		{"\uFFFD\uFFFE\uFFFF", "\U0010FFFF\xf4\x90\x80\x80"},
		{"日本語 é", "]]><!-- -->"},
	} {
		f.Add(seed[0], seed[1], len(seed[0]))
	}
	var enc xmlenc.Encoder
	f.Fuzz(func(t *testing.T, s1, s2 string, n int) {
		v := &fuzzed{
			A: s1, B: s2, Bytes: []byte(s2 + s1), List: []string{s1, "", s2},
			Tags: []leaf{{K: s1, V: s2}, {K: s2}}, N: n,
		}
		if n%2 == 0 {
			v.C = &s1
		}
		if err := xmlenctest.Compare(&enc, v); err != nil {
			t.Fatal(err)
		}
	})
}
