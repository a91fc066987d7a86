package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	mdns "github.com/miekg/dns"
)

// DefaultTTL is the TTL of records added without one; AWS answers instance
// and endpoint names with 60 seconds.
const DefaultTTL = 60

// ErrConflict is returned when a record cannot coexist with the records
// already at its name (a CNAME beside other data).
var ErrConflict = errors.New("dns: conflicting records")

// ErrOutOfZone is returned for a record whose owner is not inside the zone.
var ErrOutOfZone = errors.New("dns: name is outside the zone")

// Zone is an immutable set of records under one apex: a private hosted
// zone, a public hosted zone of the Authority, the region's public names
// (apex ".") or a VPC's own names. Build one with a ZoneBuilder.
type Zone struct {
	apex  string
	soa   mdns.RR
	names map[string][]mdns.RR
	// wild maps the parent of a wildcard owner (s3.us-east-1.amazonaws.com.
	// for *.s3.us-east-1.amazonaws.com.) to the wildcard's records.
	wild map[string][]mdns.RR
	// ents are empty non-terminals: names with descendants but no records,
	// which exist (NODATA) rather than not exist (NXDOMAIN).
	ents map[string]struct{}
}

// Apex returns the zone's canonical apex.
func (z *Zone) Apex() string { return z.apex }

// covers reports whether name is at or below the apex.
func (z *Zone) covers(name string) bool {
	return z.apex == "." || name == z.apex || strings.HasSuffix(name, "."+z.apex)
}

// presence says how a name exists in a zone.
type presence int

const (
	absent   presence = iota // NXDOMAIN
	emptyNT                  // exists without records: an empty non-terminal
	withData                 // has records, exactly or through a wildcard
)

// presence reports how name exists in the zone.
func (z *Zone) presence(name string) presence {
	_, p := z.lookup(name, mdns.TypeA)
	return p
}

// lookup returns the records of type qtype at name (or the name's CNAME
// when qtype is not CNAME) and how the name exists. A wildcard matches one
// or more labels in its position, as in Route 53; the nearest wildcard wins
// and exact names and empty non-terminals always beat wildcards.
func (z *Zone) lookup(name string, qtype uint16) ([]mdns.RR, presence) {
	if !z.covers(name) {
		return nil, absent
	}
	if rrs, ok := z.names[name]; ok {
		return selectType(rrs, qtype), withData
	}
	if _, ok := z.ents[name]; ok {
		return nil, emptyNT
	}
	for parent := parentName(name); parent != ""; parent = parentName(parent) {
		if rrs, ok := z.wild[parent]; ok {
			return synthesize(selectType(rrs, qtype), name), withData
		}
		if parent == z.apex {
			break
		}
	}
	return nil, absent
}

// selectType picks the records answering qtype: the CNAME if the name has
// one and qtype is not CNAME, every record for ANY, else the exact type.
func selectType(rrs []mdns.RR, qtype uint16) []mdns.RR {
	var out []mdns.RR
	for _, rr := range rrs {
		t := rr.Header().Rrtype
		switch {
		case qtype == mdns.TypeANY, t == qtype:
			out = append(out, rr)
		case t == mdns.TypeCNAME:
			return []mdns.RR{rr}
		}
	}
	return out
}

// synthesize copies wildcard records with the query name as owner.
func synthesize(rrs []mdns.RR, owner string) []mdns.RR {
	out := make([]mdns.RR, 0, len(rrs))
	for _, rr := range rrs {
		c := mdns.Copy(rr)
		c.Header().Name = owner
		out = append(out, c)
	}
	return out
}

// parentName strips the first label: a.b. → b., b. → ., . → "".
func parentName(name string) string {
	if name == "." || name == "" {
		return ""
	}
	i := strings.IndexByte(name, '.')
	if i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}

// ZoneBuilder collects the records of a Zone. It is not safe for
// concurrent use.
type ZoneBuilder struct {
	apex string
	err  error
	soa  mdns.RR
	rrs  map[string][]mdns.RR
	// order keeps the owners in insertion order so answers are stable.
	order []string
}

// NewZoneBuilder starts a zone at apex ("." for a zone that holds names
// anywhere in the tree). An invalid apex makes Build fail.
func NewZoneBuilder(apex string) *ZoneBuilder {
	b := &ZoneBuilder{rrs: map[string][]mdns.RR{}}
	c, err := canonicalChecked(apex)
	if err != nil {
		b.err = fmt.Errorf("zone apex: %w", err)
	}
	b.apex = c
	return b
}

// AddA adds A records for name with DefaultTTL.
func (b *ZoneBuilder) AddA(name string, ips ...netip.Addr) error {
	for _, ip := range ips {
		if !ip.Is4() && !ip.Is4In6() {
			return fmt.Errorf("%w: A record %s for %q is not IPv4", ErrInvalidName, ip, name)
		}
		rr := &mdns.A{Hdr: hdr(name, mdns.TypeA), A: ip.Unmap().AsSlice()}
		if err := b.AddRR(rr); err != nil {
			return err
		}
	}
	return nil
}

// AddAAAA adds AAAA records for name with DefaultTTL.
func (b *ZoneBuilder) AddAAAA(name string, ips ...netip.Addr) error {
	for _, ip := range ips {
		if !ip.Is6() || ip.Is4In6() {
			return fmt.Errorf("%w: AAAA record %s for %q is not IPv6", ErrInvalidName, ip, name)
		}
		rr := &mdns.AAAA{Hdr: hdr(name, mdns.TypeAAAA), AAAA: ip.AsSlice()}
		if err := b.AddRR(rr); err != nil {
			return err
		}
	}
	return nil
}

// AddTXT adds one TXT record per value for name with DefaultTTL.
func (b *ZoneBuilder) AddTXT(name string, values ...string) error {
	for _, v := range values {
		if err := b.AddRR(&mdns.TXT{Hdr: hdr(name, mdns.TypeTXT), Txt: splitTXT(v)}); err != nil {
			return err
		}
	}
	return nil
}

// AddCNAME makes name an alias of target with DefaultTTL.
func (b *ZoneBuilder) AddCNAME(name, target string) error {
	t, err := canonicalChecked(target)
	if err != nil {
		return fmt.Errorf("CNAME target: %w", err)
	}
	return b.AddRR(&mdns.CNAME{Hdr: hdr(name, mdns.TypeCNAME), Target: t})
}

// AddPTR adds the reverse record of ip pointing at host, with DefaultTTL.
func (b *ZoneBuilder) AddPTR(ip netip.Addr, host string) error {
	rev := ReverseName(ip)
	if rev == "" {
		return fmt.Errorf("%w: PTR for invalid address", ErrInvalidName)
	}
	h, err := canonicalChecked(host)
	if err != nil {
		return fmt.Errorf("PTR target: %w", err)
	}
	return b.AddRR(&mdns.PTR{Hdr: hdr(rev, mdns.TypePTR), Ptr: h})
}

// AddRR adds any class-IN record, such as one parsed with dns.NewRR from
// zone-file text. An owner whose first label is * is a wildcard; an SOA at
// the apex replaces the default one.
func (b *ZoneBuilder) AddRR(rr mdns.RR) error {
	if rr == nil {
		return fmt.Errorf("%w: nil record", ErrInvalidName)
	}
	h := rr.Header()
	if h.Class != mdns.ClassINET {
		return fmt.Errorf("%w: class %s of %q is not IN", ErrInvalidName, mdns.ClassToString[h.Class], h.Name)
	}
	if h.Rrtype == mdns.TypeOPT || h.Rrtype == mdns.TypeNone {
		return fmt.Errorf("%w: record type %d of %q cannot be stored", ErrInvalidName, h.Rrtype, h.Name)
	}
	owner, err := canonicalChecked(h.Name)
	if err != nil {
		return err
	}
	if strings.Contains(strings.TrimPrefix(owner, "*."), "*") {
		return fmt.Errorf("%w: %q: a wildcard must be the first label", ErrInvalidName, owner)
	}
	if b.apex != "" && !(&Zone{apex: b.apex}).covers(owner) {
		return fmt.Errorf("%w: %q is not in %q", ErrOutOfZone, owner, b.apex)
	}
	c := mdns.Copy(rr)
	c.Header().Name = owner
	if h.Rrtype == mdns.TypeSOA {
		if owner != b.apex {
			return fmt.Errorf("%w: SOA %q is not at the apex %q", ErrInvalidName, owner, b.apex)
		}
		b.soa = c
		return nil
	}
	existing := b.rrs[owner]
	for _, e := range existing {
		if mdns.IsDuplicate(e, c) {
			return nil
		}
		// A CNAME owns its name alone (RFC 1034 3.6.2), and a name has one.
		if et := e.Header().Rrtype; et == mdns.TypeCNAME || h.Rrtype == mdns.TypeCNAME {
			return fmt.Errorf("%w: %q already has %s", ErrConflict, owner, mdns.TypeToString[et])
		}
	}
	if len(existing) == 0 {
		b.order = append(b.order, owner)
	}
	b.rrs[owner] = append(existing, c)
	return nil
}

// Build returns the immutable Zone, or the first error the builder met.
func (b *ZoneBuilder) Build() (*Zone, error) {
	if b.err != nil {
		return nil, b.err
	}
	z := &Zone{
		apex:  b.apex,
		soa:   b.soa,
		names: make(map[string][]mdns.RR, len(b.rrs)),
		wild:  map[string][]mdns.RR{},
		ents:  map[string]struct{}{},
	}
	if z.soa == nil && z.apex != "." {
		z.soa = route53SOA(z.apex)
	}
	for _, owner := range b.order {
		rrs := append([]mdns.RR(nil), b.rrs[owner]...)
		parent := parentName(owner)
		if strings.HasPrefix(owner, "*.") {
			z.wild[parent] = rrs
		} else {
			z.names[owner] = rrs
		}
		// Ancestors up to the apex exist even without records.
		for p := parent; p != "" && p != "." && z.covers(p); p = parentName(p) {
			z.ents[p] = struct{}{}
			if p == z.apex {
				break
			}
		}
	}
	for name := range z.names {
		delete(z.ents, name)
	}
	return z, nil
}

// Names lists the zone's owner names (wildcards included), sorted; for
// inspection and tests.
func (z *Zone) Names() []string {
	var out []string
	for n := range z.names {
		out = append(out, n)
	}
	for p := range z.wild {
		if p == "." {
			out = append(out, "*.")
		} else {
			out = append(out, "*."+p)
		}
	}
	sort.Strings(out)
	return out
}

func hdr(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: DefaultTTL}
}

// splitTXT cuts a value into the 255-byte character-strings a TXT record
// is made of; resolvers join them back.
func splitTXT(v string) []string {
	if len(v) <= 255 {
		return []string{v}
	}
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// route53SOA is the SOA Route 53 gives a new hosted zone; its minimum
// (and TTL) bound how long resolvers cache a negative answer.
func route53SOA(apex string) mdns.RR {
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: apex, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: 900},
		Ns:      "ns-1536.awsdns-00.co.uk.",
		Mbox:    "awsdns-hostmaster.amazon.com.",
		Serial:  1,
		Refresh: 7200,
		Retry:   900,
		Expire:  1209600,
		Minttl:  86400,
	}
}

// rootSOA is the authority of a negative answer for a name no zone holds.
func rootSOA() mdns.RR {
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: ".", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: DefaultTTL},
		Ns:      "a.root-servers.net.",
		Mbox:    "nstld.verisign-grs.com.",
		Serial:  1,
		Refresh: 1800,
		Retry:   900,
		Expire:  604800,
		Minttl:  86400,
	}
}
