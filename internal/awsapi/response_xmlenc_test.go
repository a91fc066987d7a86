package awsapi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"testing"
	"time"
)

// referenceEncodeInner is encodeInner as it was with encoding/xml alone.
func referenceEncodeInner(body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(body, xml.StartElement{Name: xml.Name{Local: "R"}}); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if bytes.HasPrefix(b, []byte("<R>")) && bytes.HasSuffix(b, []byte("</R>")) {
		return b[3 : len(b)-4], nil
	}
	if bytes.Equal(b, []byte("<R/>")) {
		return nil, nil
	}
	return nil, fmt.Errorf("awsapi: response body of type %T did not encode as an element", body)
}

type innerItem struct {
	ID   string `xml:"id"`
	Tags []struct {
		Key string `xml:"key"`
	} `xml:"tagSet>item,omitempty"`
}

// TestEncodeInnerMatchesReference: with the fast path and its fallback,
// encodeInner answers exactly what encoding/xml alone answered, errors
// included.
func TestEncodeInnerMatchesReference(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		body any
	}{
		{"nil", nil},
		{"fast path", &struct {
			Items []innerItem `xml:"itemSet>item"`
			Next  string      `xml:"nextToken,omitempty"`
		}{Items: []innerItem{{ID: "a&b"}, {ID: "<c>"}}}},
		{"empty struct", &struct{}{}},
		{"struct value", innerItem{ID: "v"}},
		{"nil pointer", (*innerItem)(nil)},
		{"fallback: attribute", &struct {
			Xmlns string `xml:"xmlns,attr"`
			ID    string `xml:"id"`
		}{"urn:x", "i"}},
		{"fallback: time.Time", &struct {
			When time.Time `xml:"when"`
		}{when}},
		{"fallback: innerxml", &struct {
			Raw string `xml:",innerxml"`
		}{"<x/>"}},
		{"fallback: encoding/xml error", &struct {
			M map[string]string `xml:"m"`
		}{map[string]string{"a": "b"}}},
		{"fallback: not a struct", []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := encodeInner(tc.body)
			want, wantErr := referenceEncodeInner(tc.body)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) {
				t.Fatalf("encodeInner = %q, %v; want %q, %v", got, gotErr, want, wantErr)
			}
		})
	}
}
