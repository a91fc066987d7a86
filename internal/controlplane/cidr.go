package controlplane

import (
	"net/netip"
)

// parseIPv4Prefix parses a CIDR and returns its canonical (masked) form.
func parseIPv4Prefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// contains reports whether inner lies entirely inside outer.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// overlaps reports whether two prefixes share any address.
func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// addrCount is the number of addresses of an IPv4 prefix.
func addrCount(p netip.Prefix) int { return 1 << (32 - p.Bits()) }

// nthAddr returns the address n positions after the prefix's base.
func nthAddr(p netip.Prefix, n int) netip.Addr {
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// reservedInSubnet reports whether ip is one of the five addresses AWS
// reserves in every subnet: network, router (+1), DNS (+2), future (+3), broadcast.
func reservedInSubnet(p netip.Prefix, ip netip.Addr) bool {
	for _, n := range []int{0, 1, 2, 3, addrCount(p) - 1} {
		if nthAddr(p, n) == ip {
			return true
		}
	}
	return false
}

// usableAddrs is the subnet's address count minus the five reserved ones.
func usableAddrs(p netip.Prefix) int { return addrCount(p) - 5 }
