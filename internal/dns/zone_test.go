package dns

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"
)

func TestZoneBuilderErrors(t *testing.T) {
	tests := []struct {
		name    string
		apex    string
		add     func(t *testing.T, b *ZoneBuilder) error
		wantErr error
	}{
		{name: "record outside the zone", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddRR(mustRR(t, "www.example.net. 60 IN A 198.18.0.1"))
		}, wantErr: ErrOutOfZone},
		{name: "name that only ends like the apex", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddRR(mustRR(t, "badexample.com. 60 IN A 198.18.0.1"))
		}, wantErr: ErrOutOfZone},
		{name: "CNAME beside A", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			mustNoErr(t, b.AddRR(mustRR(t, "www.example.com. 60 IN A 198.18.0.1")))
			return b.AddCNAME("www.example.com", "other.example.com")
		}, wantErr: ErrConflict},
		{name: "A beside CNAME", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			mustNoErr(t, b.AddCNAME("www.example.com", "other.example.com"))
			return b.AddRR(mustRR(t, "www.example.com. 60 IN A 198.18.0.1"))
		}, wantErr: ErrConflict},
		{name: "two CNAMEs", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			mustNoErr(t, b.AddCNAME("www.example.com", "a.example.com"))
			return b.AddCNAME("www.example.com", "b.example.com")
		}, wantErr: ErrConflict},
		{name: "same CNAME twice is fine", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			mustNoErr(t, b.AddCNAME("www.example.com", "a.example.com"))
			return b.AddCNAME("WWW.example.com", "a.example.com")
		}},
		{name: "wildcard not first", apex: ".", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddRR(mustRR(t, "a.*.example.com. 60 IN A 198.18.0.1"))
		}, wantErr: ErrInvalidName},
		{name: "chaos class", apex: ".", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddRR(mustRR(t, "version.bind. 60 CH TXT \"x\""))
		}, wantErr: ErrInvalidName},
		{name: "IPv6 as A", apex: ".", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddA("host.internal", netip.MustParseAddr("2001:db8::1"))
		}, wantErr: ErrInvalidName},
		{name: "IPv4 as AAAA", apex: ".", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddAAAA("host.internal", netip.MustParseAddr("10.0.0.1"))
		}, wantErr: ErrInvalidName},
		{name: "SOA below the apex", apex: "example.com", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddRR(mustRR(t, "a.example.com. 60 IN SOA ns. host. 1 2 3 4 5"))
		}, wantErr: ErrInvalidName},
		{name: "label too long", apex: ".", add: func(t *testing.T, b *ZoneBuilder) error {
			long := make([]byte, 64)
			for i := range long {
				long[i] = 'a'
			}
			return b.AddTXT(string(long)+".example.com", "x")
		}, wantErr: ErrInvalidName},
		{name: "PTR of an invalid address", apex: ".", add: func(t *testing.T, b *ZoneBuilder) error {
			return b.AddPTR(netip.Addr{}, "host.internal")
		}, wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewZoneBuilder(tt.apex)
			if err := tt.add(t, b); !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestZoneLookup(t *testing.T) {
	b := NewZoneBuilder("example.com")
	mustNoErr(t, b.AddA("www.example.com", netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.1")))
	mustNoErr(t, b.AddAAAA("www.example.com", netip.MustParseAddr("2001:db8::1")))
	mustNoErr(t, b.AddTXT("long.example.com", string(make([]byte, 300))))
	mustNoErr(t, b.AddRR(mustRR(t, "*.example.com. 60 IN A 198.18.0.9")))
	mustNoErr(t, b.AddRR(mustRR(t, "*.deep.example.com. 60 IN A 198.18.0.10")))
	mustNoErr(t, b.AddRR(mustRR(t, "example.com. 30 IN SOA ns.example.com. admin.example.com. 7 1 1 1 5")))
	z, err := b.Build()
	mustNoErr(t, err)

	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		want     []string
		presence presence
	}{
		{"duplicates collapse", "www.example.com.", mdns.TypeA, []string{"www.example.com. 60 IN A 198.18.0.1"}, withData},
		{"AAAA", "www.example.com.", mdns.TypeAAAA, []string{"www.example.com. 60 IN AAAA 2001:db8::1"}, withData},
		{"ANY has both", "www.example.com.", mdns.TypeANY, []string{"www.example.com. 60 IN A 198.18.0.1", "www.example.com. 60 IN AAAA 2001:db8::1"}, withData},
		{"exact name beats wildcard", "www.example.com.", mdns.TypeTXT, nil, withData},
		{"wildcard", "x.example.com.", mdns.TypeA, []string{"x.example.com. 60 IN A 198.18.0.9"}, withData},
		{"nearest wildcard wins", "a.b.deep.example.com.", mdns.TypeA, []string{"a.b.deep.example.com. 60 IN A 198.18.0.10"}, withData},
		{"wildcard parent is an empty non-terminal", "deep.example.com.", mdns.TypeA, nil, emptyNT},
		{"outside the zone", "www.example.net.", mdns.TypeA, nil, absent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rrs, p := z.lookup(tt.qname, tt.qtype)
			if p != tt.presence {
				t.Errorf("presence = %d, want %d", p, tt.presence)
			}
			if diff := cmp.Diff(canonicalText(t, tt.want), rrStrings(rrs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("long TXT is split into strings", func(t *testing.T) {
		rrs, _ := z.lookup("long.example.com.", mdns.TypeTXT)
		if len(rrs) != 1 || len(rrs[0].(*mdns.TXT).Txt) != 2 {
			t.Fatalf("TXT = %v, want one record of two strings", rrs)
		}
	})
	t.Run("apex SOA replaces the default", func(t *testing.T) {
		if soa := z.soa.(*mdns.SOA); soa.Serial != 7 {
			t.Errorf("SOA serial = %d, want 7", soa.Serial)
		}
	})
	t.Run("names", func(t *testing.T) {
		want := []string{"*.deep.example.com.", "*.example.com.", "long.example.com.", "www.example.com."}
		if diff := cmp.Diff(want, z.Names()); diff != "" {
			t.Errorf("Names (-want +got):\n%s", diff)
		}
	})
}

func TestViewBuilder(t *testing.T) {
	z := buildZone(t, "example.com.", "www.example.com. 60 IN A 10.0.0.9")
	tests := []struct {
		name    string
		build   func(b *ViewBuilder) error
		wantErr error
		zones   []string
	}{
		{name: "zones sorted most specific first", build: func(b *ViewBuilder) error {
			mustNoErr(t, b.AttachPrivateZone(z))
			return b.AttachPrivateZone(buildZone(t, "api.example.com."))
		}, zones: []string{"api.example.com.", "example.com."}},
		{name: "zone attached twice", build: func(b *ViewBuilder) error {
			mustNoErr(t, b.AttachPrivateZone(z))
			return b.AttachPrivateZone(z)
		}, wantErr: ErrConflict},
		{name: "root as private zone", build: func(b *ViewBuilder) error {
			return b.AttachPrivateZone(buildZone(t, "."))
		}, wantErr: ErrInvalidName},
		{name: "nil zone", build: func(b *ViewBuilder) error {
			return b.AttachPrivateZone(nil)
		}, wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewViewBuilder()
			if err := tt.build(b); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			v, err := b.Build()
			mustNoErr(t, err)
			if !v.DNSSupport() {
				t.Error("DNS support off by default, want on")
			}
			if tt.zones != nil {
				if diff := cmp.Diff(tt.zones, v.PrivateZones()); diff != "" {
					t.Errorf("zones (-want +got):\n%s", diff)
				}
			}
		})
	}
}
