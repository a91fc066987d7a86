package dns

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuthorityLookupTXT(t *testing.T) {
	a := NewAuthority()
	mustNoErr(t, a.PutZone(buildZone(t, "example.com.",
		`_v1.example.com. 300 IN TXT "vpce:abc"`,
		`_v2.example.com. 300 IN TXT "vpce:one" "two"`,
		`_v2.example.com. 300 IN TXT "other"`,
		"_alias.example.com. 300 IN CNAME _v1.example.com.",
		"_cross.example.com. 300 IN CNAME _t.other.example.org.",
		"_dangling.example.com. 300 IN CNAME _none.example.com.",
		"_outside.example.com. 300 IN CNAME _x.example.net.",
		"host.example.com. 300 IN A 198.18.1.1",
		"a.b.example.com. 300 IN A 198.18.1.2",
		`*.wild.example.com. 300 IN TXT "vpce:wild"`,
		"_l1.example.com. 300 IN CNAME _l2.example.com.",
		"_l2.example.com. 300 IN CNAME _l1.example.com.",
	)))
	mustNoErr(t, a.PutZone(buildZone(t, "other.example.org.",
		`_t.other.example.org. 300 IN TXT "vpce:cross"`,
	)))
	// A more specific zone takes over its subtree.
	mustNoErr(t, a.PutZone(buildZone(t, "sub.example.com.",
		`_v.sub.example.com. 300 IN TXT "vpce:sub"`,
	)))

	tests := []struct {
		name    string
		qname   string
		want    []string
		wantErr error
	}{
		{name: "one record", qname: "_v1.example.com", want: []string{"vpce:abc"}},
		{name: "case-insensitive", qname: "_V1.Example.COM.", want: []string{"vpce:abc"}},
		{name: "strings of a record are joined", qname: "_v2.example.com", want: []string{"vpce:onetwo", "other"}},
		{name: "CNAME is followed", qname: "_alias.example.com", want: []string{"vpce:abc"}},
		{name: "CNAME into another zone", qname: "_cross.example.com", want: []string{"vpce:cross"}},
		{name: "wildcard", qname: "_x.wild.example.com", want: []string{"vpce:wild"}},
		{name: "more specific zone", qname: "_v.sub.example.com", want: []string{"vpce:sub"}},
		{name: "more specific zone shadows its parent", qname: "_v1.sub.example.com", wantErr: ErrNXDomain},
		{name: "missing name", qname: "_nope.example.com", wantErr: ErrNXDomain},
		{name: "name with only A", qname: "host.example.com", wantErr: ErrNoData},
		{name: "empty non-terminal", qname: "b.example.com", wantErr: ErrNoData},
		{name: "apex without TXT", qname: "example.com", wantErr: ErrNoData},
		{name: "dangling CNAME", qname: "_dangling.example.com", wantErr: ErrNXDomain},
		{name: "CNAME out of every zone", qname: "_outside.example.com", wantErr: ErrNXDomain},
		{name: "CNAME loop", qname: "_l1.example.com", wantErr: ErrServFail},
		{name: "no zone holds it", qname: "_v1.example.net", wantErr: ErrNXDomain},
		{name: "invalid name", qname: "a..b", wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.LookupTXT(context.Background(), tt.qname)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LookupTXT(%q) error = %v, want %v", tt.qname, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LookupTXT(%q) (-want +got):\n%s", tt.qname, diff)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := a.LookupTXT(ctx, "_v1.example.com"); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

func TestAuthorityZones(t *testing.T) {
	a := NewAuthority()
	tests := []struct {
		name    string
		step    func() error
		lookup  string
		want    []string
		wantErr error
	}{
		{name: "put", step: func() error {
			return a.PutZone(buildZone(t, "example.com.", `_v.example.com. 300 IN TXT "one"`))
		}, lookup: "_v.example.com", want: []string{"one"}},
		{name: "put replaces the zone", step: func() error {
			return a.PutZone(buildZone(t, "EXAMPLE.com", `_v.example.com. 300 IN TXT "two"`))
		}, lookup: "_v.example.com", want: []string{"two"}},
		{name: "root zone is rejected", step: func() error {
			if err := a.PutZone(buildZone(t, ".")); err == nil {
				return errors.New("root zone accepted")
			}
			return nil
		}, lookup: "_v.example.com", want: []string{"two"}},
		{name: "remove", step: func() error {
			if !a.RemoveZone("example.com") {
				return errors.New("RemoveZone found nothing")
			}
			if a.RemoveZone("example.com") {
				return errors.New("RemoveZone removed twice")
			}
			return nil
		}, lookup: "_v.example.com", wantErr: ErrNXDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustNoErr(t, tt.step())
			got, err := a.LookupTXT(context.Background(), tt.lookup)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthorityConcurrent(t *testing.T) {
	a := NewAuthority()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			apex := fmt.Sprintf("z%d.example.com.", i)
			for j := range 50 {
				mustNoErr(t, a.PutZone(buildZone(t, apex, fmt.Sprintf(`_v.%s 60 IN TXT "v%d"`, apex, j))))
				if got, err := a.LookupTXT(context.Background(), "_v."+apex); err != nil || len(got) != 1 {
					t.Errorf("LookupTXT after put = %v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range 8 {
		if _, ok := a.Zone(fmt.Sprintf("z%d.example.com", i)); !ok {
			t.Errorf("zone z%d lost", i)
		}
	}
}
