package dns

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"
)

func TestEndpointPrivateZone(t *testing.T) {
	ips := []netip.Addr{netip.MustParseAddr("10.0.1.20"), netip.MustParseAddr("10.0.2.20")}
	tests := []struct {
		name      string
		names     []string
		wantApex  string
		wantNames []string
		query     string
		wantA     int
		wantErr   error
	}{
		{name: "sqs", names: []string{"sqs.us-east-1.amazonaws.com"}, wantApex: "sqs.us-east-1.amazonaws.com.",
			wantNames: []string{"sqs.us-east-1.amazonaws.com."}, query: "sqs.us-east-1.amazonaws.com.", wantA: 2},
		{name: "s3 wildcard and apex", names: []string{"*.s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"},
			wantApex:  "s3.us-east-1.amazonaws.com.",
			wantNames: []string{"*.s3.us-east-1.amazonaws.com.", "s3.us-east-1.amazonaws.com."},
			query:     "my-bucket.s3.us-east-1.amazonaws.com.", wantA: 2},
		{name: "ecr dkr wildcard only", names: []string{"*.dkr.ecr.us-east-1.amazonaws.com"},
			wantApex:  "dkr.ecr.us-east-1.amazonaws.com.",
			wantNames: []string{"*.dkr.ecr.us-east-1.amazonaws.com."},
			query:     "123456789012.dkr.ecr.us-east-1.amazonaws.com.", wantA: 2},
		{name: "names in different trees", names: []string{"a.example.com", "b.example.org"}, wantErr: ErrOutOfZone},
		{name: "no names", wantErr: ErrInvalidName},
		{name: "bad name", names: []string{"a..b"}, wantErr: ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := EndpointPrivateZone(tt.names, ips...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if z.Apex() != tt.wantApex {
				t.Errorf("apex = %q, want %q", z.Apex(), tt.wantApex)
			}
			if diff := cmp.Diff(tt.wantNames, z.Names()); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if rrs, _ := z.lookup(tt.query, mdns.TypeA); len(rrs) != tt.wantA {
				t.Errorf("lookup %s = %v, want %d A records", tt.query, rrs, tt.wantA)
			}
		})
	}
}

func TestEndpointNamesAreWildcard(t *testing.T) {
	tests := []struct {
		service string
		want    bool
	}{
		{"com.amazonaws.us-east-1.s3", true},
		{"com.amazonaws.us-east-1.sqs", false},
		{"com.amazonaws.us-east-1.s3-global.accesspoint", false},
		{"com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			if got := EndpointNamesAreWildcard(tt.service); got != tt.want {
				t.Errorf("EndpointNamesAreWildcard(%q) = %v, want %v", tt.service, got, tt.want)
			}
		})
	}
}
