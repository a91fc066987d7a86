package dns

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInstanceHostname(t *testing.T) {
	tests := []struct {
		name, region, ip, want string
	}{
		{"us-east-1 uses ec2.internal", "us-east-1", "10.0.1.5", "ip-10-0-1-5.ec2.internal"},
		{"other region uses compute.internal", "eu-west-1", "172.31.255.1", "ip-172-31-255-1.eu-west-1.compute.internal"},
		{"ipv6 has no such name", "us-east-1", "2001:db8::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InstanceHostname(tt.region, netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Errorf("InstanceHostname(%q, %s) = %q, want %q", tt.region, tt.ip, got, tt.want)
			}
		})
	}
}

func TestInstanceResourceName(t *testing.T) {
	tests := []struct {
		name, region, want string
	}{
		{"us-east-1", "us-east-1", "i-0123456789abcdef0.ec2.internal"},
		{"elsewhere", "ap-southeast-2", "i-0123456789abcdef0.ap-southeast-2.compute.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InstanceResourceName(tt.region, "i-0123456789abcdef0"); got != tt.want {
				t.Errorf("InstanceResourceName = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReverseName(t *testing.T) {
	tests := []struct {
		name string
		ip   netip.Addr
		want string
	}{
		{"ipv4", netip.MustParseAddr("10.0.1.5"), "5.1.0.10.in-addr.arpa."},
		{"ipv4-mapped is ipv4", netip.MustParseAddr("::ffff:10.0.1.5"), "5.1.0.10.in-addr.arpa."},
		{"ipv6", netip.MustParseAddr("2001:db8::1"), "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
		{"invalid", netip.Addr{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReverseName(tt.ip); got != tt.want {
				t.Errorf("ReverseName(%v) = %q, want %q", tt.ip, got, tt.want)
			}
		})
	}
}

func TestEndpointNames(t *testing.T) {
	const id, sfx = "vpce-0123456789abcdef0", "abcdefgh"
	tests := []struct {
		name, service, region, az string
		wantRegional, wantZonal   string
		wantBase                  string
		wantErr                   error
	}{
		{
			name: "aws service", service: "com.amazonaws.us-east-1.sqs", region: "us-east-1", az: "us-east-1a",
			wantRegional: "vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com",
			wantZonal:    "vpce-0123456789abcdef0-abcdefgh-us-east-1a.sqs.us-east-1.vpce.amazonaws.com",
			wantBase:     "sqs.us-east-1.vpce.amazonaws.com",
		},
		{
			name: "dotted aws service is reversed", service: "com.amazonaws.eu-west-1.ecr.dkr", region: "eu-west-1", az: "eu-west-1b",
			wantRegional: "vpce-0123456789abcdef0-abcdefgh.dkr.ecr.eu-west-1.vpce.amazonaws.com",
			wantZonal:    "vpce-0123456789abcdef0-abcdefgh-eu-west-1b.dkr.ecr.eu-west-1.vpce.amazonaws.com",
			wantBase:     "dkr.ecr.eu-west-1.vpce.amazonaws.com",
		},
		{
			name: "custom endpoint service", service: "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0", region: "us-east-1", az: "us-east-1c",
			wantRegional: "vpce-0123456789abcdef0-abcdefgh.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
			wantZonal:    "vpce-0123456789abcdef0-abcdefgh-us-east-1c.vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
			wantBase:     "vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com",
		},
		{name: "region mismatch", service: "com.amazonaws.us-west-2.sqs", region: "us-east-1", az: "us-east-1a", wantErr: ErrInvalidServiceName},
		{name: "not a service name", service: "sqs.us-east-1.amazonaws.com", region: "us-east-1", az: "us-east-1a", wantErr: ErrInvalidServiceName},
		{name: "custom without id", service: "com.amazonaws.vpce.us-east-1.vpce-svc-", region: "us-east-1", az: "us-east-1a", wantErr: ErrInvalidServiceName},
		{name: "empty label", service: "com.amazonaws.us-east-1..sqs", region: "us-east-1", az: "us-east-1a", wantErr: ErrInvalidServiceName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regional, err := EndpointRegionalName(id, sfx, tt.service, tt.region)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("EndpointRegionalName error = %v, want %v", err, tt.wantErr)
			}
			zonal, zerr := EndpointZonalName(id, sfx, tt.az, tt.service, tt.region)
			if !errors.Is(zerr, tt.wantErr) {
				t.Fatalf("EndpointZonalName error = %v, want %v", zerr, tt.wantErr)
			}
			base, berr := ServiceBaseDNSName(tt.service, tt.region)
			if !errors.Is(berr, tt.wantErr) {
				t.Fatalf("ServiceBaseDNSName error = %v, want %v", berr, tt.wantErr)
			}
			if regional != tt.wantRegional || zonal != tt.wantZonal || base != tt.wantBase {
				t.Errorf("names = %q, %q, %q; want %q, %q, %q", regional, zonal, base, tt.wantRegional, tt.wantZonal, tt.wantBase)
			}
		})
	}
}

func TestEndpointNameBadParts(t *testing.T) {
	const svc = "com.amazonaws.us-east-1.sqs"
	tests := []struct {
		name, id, suffix, az string
	}{
		{"id without prefix", "0123", "abcdefgh", "us-east-1a"},
		{"suffix with a dot", "vpce-0123", "ab.cd", "us-east-1a"},
		{"empty suffix", "vpce-0123", "", "us-east-1a"},
		{"zone of another region", "vpce-0123", "abcdefgh", "us-west-2a"},
		{"region is not a zone", "vpce-0123", "abcdefgh", "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := EndpointZonalName(tt.id, tt.suffix, tt.az, svc, "us-east-1"); !errors.Is(err, ErrInvalidName) {
				t.Errorf("EndpointZonalName error = %v, want ErrInvalidName", err)
			}
		})
	}
}

func TestServicePrivateDNSNames(t *testing.T) {
	tests := []struct {
		name, service string
		want          []string
		wantErr       error
	}{
		{"sqs", "com.amazonaws.us-east-1.sqs", []string{"sqs.us-east-1.amazonaws.com"}, nil},
		{"monitoring", "com.amazonaws.us-east-1.monitoring", []string{"monitoring.us-east-1.amazonaws.com"}, nil},
		{"logs", "com.amazonaws.us-east-1.logs", []string{"logs.us-east-1.amazonaws.com"}, nil},
		{"ecr api", "com.amazonaws.us-east-1.ecr.api", []string{"api.ecr.us-east-1.amazonaws.com"}, nil},
		{"ecr dkr is a wildcard", "com.amazonaws.us-east-1.ecr.dkr", []string{"*.dkr.ecr.us-east-1.amazonaws.com"}, nil},
		{"execute-api is a wildcard", "com.amazonaws.us-east-1.execute-api", []string{"*.execute-api.us-east-1.amazonaws.com"}, nil},
		{"s3 has wildcard and apex", "com.amazonaws.us-east-1.s3", []string{"*.s3.us-east-1.amazonaws.com", "s3.us-east-1.amazonaws.com"}, nil},
		{"custom service has none", "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0", nil, ErrInvalidServiceName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ServicePrivateDNSNames(tt.service, "us-east-1")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			primary, err := ServicePrivateDNSName(tt.service, "us-east-1")
			if tt.wantErr == nil && (err != nil || primary != tt.want[0]) {
				t.Errorf("ServicePrivateDNSName = %q, %v; want %q", primary, err, tt.want[0])
			}
		})
	}
}
