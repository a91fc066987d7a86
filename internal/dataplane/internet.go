package dataplane

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
)

// This file models the fake internet OS-neutrally: one namespace per data
// plane owns InternetRange, and every VPC that needs it (an attached
// internet gateway, or a gateway-endpoint route) has an uplink veth to it.
// The VPC router masquerades traffic leaving on its uplink to the uplink's
// own address, so overlapping VPC CIDRs get their replies back.

// InternetRange holds every "public" address of the fake internet. It must
// exist only inside privlink's namespaces: nothing is ever sent to a real
// address.
var InternetRange = netip.MustParsePrefix("198.18.0.0/15")

// uplinkPool holds the per-VPC /31 uplink networks. Link-local space is one
// AWS never allows as a VPC CIDR, and the lower half stays clear of the
// well-known 169.254.169.x and 169.254.170.x service addresses.
var uplinkPool = netip.MustParsePrefix("169.254.0.0/17")

// uplinkLink names the router-side end of the uplink; one per router.
const uplinkLink = "inet0"

// Internet is the desired state of the fake internet.
type Internet struct {
	Services []PublicService
}

// PublicService is one public AWS service endpoint of the region. Addr (the
// address its regional DNS name resolves to) and every address of CIDRs
// (for gateway services, the entries of its prefix list) are local in the
// internet namespace, so test servers can listen on any of them.
type PublicService struct {
	Name  string
	Addr  netip.Addr
	CIDRs []netip.Prefix
}

// Validate checks that every address lies in InternetRange.
func (in Internet) Validate() error {
	names := map[string]bool{}
	for _, s := range in.Services {
		if s.Name == "" || names[s.Name] {
			return fmt.Errorf("%w: public service name %q empty or duplicate", ErrInvalidModel, s.Name)
		}
		names[s.Name] = true
		if !s.Addr.Is4() || !InternetRange.Contains(s.Addr) {
			return fmt.Errorf("%w: public service %s address %v outside %v", ErrInvalidModel, s.Name, s.Addr, InternetRange)
		}
		for _, p := range s.CIDRs {
			if !p.IsValid() || !p.Addr().Is4() || p.Bits() < InternetRange.Bits() || !InternetRange.Contains(p.Addr()) {
				return fmt.Errorf("%w: public service %s cidr %v outside %v", ErrInvalidModel, s.Name, p, InternetRange)
			}
		}
	}
	return nil
}

// localPrefixes lists the prefixes the internet namespace treats as its
// own, merged and sorted.
func (in Internet) localPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range in.Services {
		out = append(out, netip.PrefixFrom(s.Addr, 32))
		for _, p := range s.CIDRs {
			out = append(out, p.Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	// Drop prefixes covered by an earlier (shorter or equal) one.
	var merged []netip.Prefix
	for _, p := range out {
		if n := len(merged); n > 0 && merged[n-1].Contains(p.Addr()) && merged[n-1].Bits() <= p.Bits() {
			continue
		}
		merged = append(merged, p)
	}
	return merged
}

// usesInternetGateway reports whether r leads through the VPC's attached
// internet gateway (rather than to a detached one, a blackhole).
func usesInternetGateway(v VPC, r Route) bool {
	return r.Target == TargetInternetGateway && v.InternetGatewayID != "" &&
		(r.TargetID == "" || r.TargetID == v.InternetGatewayID)
}

// usesGatewayEndpoint reports whether r leads to a gateway endpoint.
func usesGatewayEndpoint(r Route) bool {
	return r.Target == TargetGatewayEndpoint && r.PrefixListID != ""
}

// needsUplink reports whether the VPC gets a link to the fake internet: an
// attached internet gateway, or any gateway-endpoint route.
func needsUplink(v VPC) bool {
	if v.InternetGatewayID != "" {
		return true
	}
	for _, s := range v.Subnets {
		if slices.ContainsFunc(s.Routes, usesGatewayEndpoint) {
			return true
		}
	}
	return false
}

// uplink is a realized VPC uplink: the router-side link and the next hop
// (the internet-side address) of its /31.
type uplink struct {
	Link string
	Gw   netip.Addr
}

func internetNSName(prefix string) string { return prefix + "-inet" }

// internetLinkName names the internet-side end of a VPC's uplink; its alias
// carries the VPC ID.
func internetLinkName(vpcID string) string {
	h := fnv.New64a()
	h.Write([]byte(vpcID))
	return fmt.Sprintf("u%014x", h.Sum64())[:15]
}

// uplinkNet allocates the /31 of a VPC's uplink: a stable hash-chosen start
// in uplinkPool, probing past networks other VPCs already use. The router
// side (the NAT address) is the even address, the internet side the odd one.
func uplinkNet(vpcID string, used map[netip.Prefix]bool) (netip.Prefix, error) {
	n := uint32(1) << (32 - uplinkPool.Bits() - 1) // number of /31s
	h := fnv.New32a()
	h.Write([]byte(vpcID))
	base := addrU32(uplinkPool.Addr())
	start := h.Sum32() % n
	for i := range n {
		p := netip.PrefixFrom(u32Addr(base+2*((start+i)%n)), 31)
		if !used[p] {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("dataplane: uplink pool %v exhausted", uplinkPool)
}

// natAddr is the router side of an uplink /31: the source address the
// internet sees for the VPC.
func natAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr() }

// peerAddr is the internet side of an uplink /31.
func peerAddr(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }
