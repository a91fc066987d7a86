package dns

import (
	"fmt"
	"net/netip"
	"strings"
)

// EndpointPrivateZone builds the private hosted zone an interface endpoint
// with private DNS enabled attaches to its VPC: its apex is the most
// general of names (without a leading "*."), and every name, wildcards
// included, gets an A record for each address. For com.amazonaws.us-east-1.s3
// the names *.s3.us-east-1.amazonaws.com and s3.us-east-1.amazonaws.com
// give one zone at s3.us-east-1.amazonaws.com; a custom service's verified
// name api.example.com gives a zone at api.example.com, which shadows only
// that name and those below it.
func EndpointPrivateZone(names []string, ips ...netip.Addr) (*Zone, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: endpoint private zone without names", ErrInvalidName)
	}
	apex := ""
	for _, n := range names {
		c, err := canonicalChecked(n)
		if err != nil {
			return nil, fmt.Errorf("endpoint private zone: %w", err)
		}
		c = strings.TrimPrefix(c, "*.")
		if apex == "" || len(c) < len(apex) {
			apex = c
		}
	}
	b := NewZoneBuilder(apex)
	for _, n := range names {
		if err := b.AddA(n, ips...); err != nil {
			return nil, fmt.Errorf("endpoint private zone %s: %w", apex, err)
		}
	}
	z, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("endpoint private zone %s: %w", apex, err)
	}
	return z, nil
}
