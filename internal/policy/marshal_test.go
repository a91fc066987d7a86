package policy

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roundTrip parses doc, marshals it and parses the result again; ok is false
// when doc itself is invalid.
func roundTrip(t testing.TB, doc []byte, kind Kind) (first, second *Policy, out []byte, ok bool) {
	t.Helper()
	first, err := Parse(doc, kind)
	if err != nil {
		return nil, nil, nil, false
	}
	out, err = json.Marshal(first)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	second, err = Parse(out, kind)
	if err != nil {
		t.Fatalf("re-parse of marshalled policy failed: %v\ninput:  %s\noutput: %s", err, doc, out)
	}
	return first, second, out, true
}

func equivalent(a, b *Policy) string {
	return cmp.Diff(a, b)
}

func TestMarshalRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		kind Kind
		want string
	}{
		{
			name: "scalars become lists and account IDs root ARNs",
			doc:  `{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"S","Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"s3:GetObject","Resource":"*","Condition":{"bool":{"aws:SecureTransport":true}}}}`,
			kind: Resource,
			want: `{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"S","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root"]},"Action":["s3:GetObject"],"Resource":["*"],"Condition":{"Bool":{"aws:SecureTransport":["true"]}}}]}`,
		},
		{
			name: "missing version written as its default",
			doc:  `{"Statement":[{"Effect":"Deny","NotPrincipal":"*","NotAction":[],"NotResource":"arn:aws:s3:::b"}]}`,
			kind: Resource,
			want: `{"Version":"2008-10-17","Statement":[{"Effect":"Deny","NotPrincipal":"*","NotAction":[],"NotResource":["arn:aws:s3:::b"]}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, second, out, ok := roundTrip(t, []byte(tc.doc), tc.kind)
			if !ok {
				t.Fatal("fixture is invalid")
			}
			if string(out) != tc.want {
				t.Errorf("marshal =\n%s\nwant\n%s", out, tc.want)
			}
			if diff := equivalent(first, second); diff != "" {
				t.Errorf("not equivalent (-first +second):\n%s", diff)
			}
		})
	}
}

// TestMarshalRoundTripCorpus round-trips every policy in the conformance corpus.
func TestMarshalRoundTripCorpus(t *testing.T) {
	n := 0
	for file, cases := range loadCorpus(t) {
		for _, c := range cases {
			var pols map[string]json.RawMessage
			if err := json.Unmarshal(c.Policies, &pols); err != nil {
				t.Fatal(err)
			}
			var docs []json.RawMessage
			var list []json.RawMessage
			for _, field := range []string{"identity", "endpoint"} {
				_ = json.Unmarshal(pols[field], &list)
				docs = append(docs, list...)
			}
			for _, field := range []string{"resource", "permissionsBoundary", "session"} {
				if string(pols[field]) != "null" && len(pols[field]) > 0 {
					docs = append(docs, pols[field])
				}
			}
			for _, d := range docs {
				first, second, _, ok := roundTrip(t, d, 0)
				if !ok {
					continue
				}
				n++
				if diff := equivalent(first, second); diff != "" {
					t.Errorf("%s/%s: not equivalent (-first +second):\n%s", file, c.Name, diff)
				}
			}
		}
	}
	if n < 400 {
		t.Errorf("round-tripped only %d policies", n)
	}
}
