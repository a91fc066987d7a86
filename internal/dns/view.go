package dns

import (
	"fmt"
	"sort"
)

// View is the complete answer set of one VPC's resolver: whether DNS is
// enabled, the VPC's own names (instance hostnames, PTRs, endpoint
// regional and zonal names) and the private hosted zones associated with
// the VPC. A View is immutable; the control plane builds a new one on every
// change and swaps it in with Resolver.SetView.
type View struct {
	dnsSupport bool
	records    *Zone
	// private is sorted longest apex first so the most specific zone wins.
	private []*Zone
}

// DNSSupport reports whether the VPC's enableDnsSupport is on; when off the
// resolver refuses every query.
func (v *View) DNSSupport() bool { return v.dnsSupport }

// PrivateZones lists the apexes of the private hosted zones in the view.
func (v *View) PrivateZones() []string {
	out := make([]string, 0, len(v.private))
	for _, z := range v.private {
		out = append(out, z.apex)
	}
	return out
}

// privateZoneFor returns the most specific private zone at or above name.
func (v *View) privateZoneFor(name string) *Zone {
	for _, z := range v.private {
		if z.covers(name) {
			return z
		}
	}
	return nil
}

// ViewBuilder collects a View. Its embedded ZoneBuilder (apex ".") takes
// the VPC's own records: AddA for instance and endpoint names (many
// addresses per name), AddPTR for instance reverse names, AddTXT, and
// AddRR for wildcards and anything written as zone-file text. It is not
// safe for concurrent use.
type ViewBuilder struct {
	*ZoneBuilder
	// EnableDNSSupport mirrors the VPC attribute; NewViewBuilder sets it
	// true, AWS's default.
	EnableDNSSupport bool
	private          map[string]*Zone
}

// NewViewBuilder starts an empty view with DNS support on.
func NewViewBuilder() *ViewBuilder {
	return &ViewBuilder{
		ZoneBuilder:      NewZoneBuilder("."),
		EnableDNSSupport: true,
		private:          map[string]*Zone{},
	}
}

// AttachPrivateZone associates a private hosted zone with the view. A zone
// may be shared by many views. Names under its apex are answered only from
// it: a name it lacks is NXDOMAIN even when a public record exists.
func (b *ViewBuilder) AttachPrivateZone(z *Zone) error {
	if z == nil {
		return fmt.Errorf("%w: nil private zone", ErrInvalidName)
	}
	if z.apex == "." {
		return fmt.Errorf("%w: a private hosted zone cannot be the root", ErrInvalidName)
	}
	if _, dup := b.private[z.apex]; dup {
		return fmt.Errorf("%w: private zone %q is already attached", ErrConflict, z.apex)
	}
	b.private[z.apex] = z
	return nil
}

// Build returns the immutable View.
func (b *ViewBuilder) Build() (*View, error) {
	records, err := b.ZoneBuilder.Build()
	if err != nil {
		return nil, fmt.Errorf("build view records: %w", err)
	}
	v := &View{dnsSupport: b.EnableDNSSupport, records: records}
	for _, z := range b.private {
		v.private = append(v.private, z)
	}
	sort.Slice(v.private, func(i, j int) bool {
		if len(v.private[i].apex) != len(v.private[j].apex) {
			return len(v.private[i].apex) > len(v.private[j].apex)
		}
		return v.private[i].apex < v.private[j].apex
	})
	return v, nil
}
