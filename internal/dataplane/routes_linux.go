package dataplane

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// syncRules keeps one "fwmark <table> lookup <table>" rule per subnet: the
// router's prerouting chain marks each packet with the table of the subnet
// it came from (see buildRuleset). Rules are walked in order for every
// packet, so there is one per subnet rather than one per interface; rules of
// that priority it does not want (the per-interface "iif" rules of older
// versions, a deleted subnet's) are removed.
func syncRules(nl *netlink.Handle, tables map[string]int, res *Result) error {
	want := map[int]bool{}
	for _, t := range tables {
		want[t] = true
	}
	have, err := nl.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("dataplane: list rules: %w", err)
	}
	for _, r := range have {
		if r.Priority != rulePriority {
			continue
		}
		if want[r.Table] && r.IifName == "" && r.Mark == uint32(r.Table) && r.Mask != nil && *r.Mask == ^uint32(0) {
			delete(want, r.Table)
			continue
		}
		if err := nl.RuleDel(&r); err != nil {
			return fmt.Errorf("dataplane: delete rule %s: %w", r, err)
		}
		res.deleted("rule %s", r)
	}
	for _, t := range slices.Sorted(maps.Keys(want)) {
		r := netlink.NewRule()
		r.Family = netlink.FAMILY_V4
		r.Priority = rulePriority
		r.Mark = uint32(t)
		mask := ^uint32(0)
		r.Mask = &mask
		r.Table = t
		if err := nl.RuleAdd(r); err != nil {
			return fmt.Errorf("dataplane: add rule fwmark %#x lookup %d: %w", t, t, err)
		}
		res.created("rule fwmark %#x lookup %d", t, t)
	}
	return nil
}

// desiredRoute is a route in comparable form.
type desiredRoute struct {
	Table int
	Dst   netip.Prefix
	Type  int // unix.RTN_*
	Link  string
	Gw    netip.Addr
}

func (r desiredRoute) String() string {
	s := fmt.Sprintf("table %d %v type %d", r.Table, r.Dst, r.Type)
	if r.Link != "" {
		s += " dev " + r.Link
	}
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	return s
}

// desiredRoutes computes the routes of the router namespace. The main table
// holds a /32 per interface and makes the rest of the VPC CIDR unreachable;
// each subnet table throws the VPC CIDR back to main (the implicit local
// route), adds the subnet's routes, and ends in an unreachable default, so
// packets with no route get ICMP net-unreachable from the subnet router.
// Internet-gateway and gateway-endpoint routes go via the uplink (up, whose
// Link is "" when the VPC has none); a detached gateway is a blackhole.
func desiredRoutes(v VPC, tables map[string]int, up uplink) []desiredRoute {
	var out []desiredRoute
	enis := map[string]Interface{}
	for _, i := range v.Interfaces {
		enis[i.ID] = i
		out = append(out, desiredRoute{Table: unix.RT_TABLE_MAIN, Dst: netip.PrefixFrom(i.IP, 32), Type: unix.RTN_UNICAST, Link: routerLinkName(i.ID)})
	}
	out = append(out, desiredRoute{Table: unix.RT_TABLE_MAIN, Dst: v.CIDR.Masked(), Type: unix.RTN_UNREACHABLE})
	pls := map[string][]netip.Prefix{}
	for _, p := range v.PrefixLists {
		pls[p.ID] = p.CIDRs
	}
	for _, s := range v.Subnets {
		t := tables[s.ID]
		out = append(out,
			desiredRoute{Table: t, Dst: v.CIDR.Masked(), Type: unix.RTN_THROW},
			desiredRoute{Table: t, Dst: netip.MustParsePrefix("0.0.0.0/0"), Type: unix.RTN_UNREACHABLE})
		for _, r := range s.Routes {
			dsts := []netip.Prefix{r.Destination}
			if r.PrefixListID != "" {
				dsts = pls[r.PrefixListID]
			}
			for _, d := range dsts {
				if !d.Addr().Is4() || d.Masked() == v.CIDR.Masked() || d.Bits() == 0 && r.Target == TargetLocal {
					continue
				}
				dr := desiredRoute{Table: t, Dst: d.Masked(), Type: unix.RTN_BLACKHOLE}
				switch r.Target {
				case TargetLocal:
					dr.Type = unix.RTN_THROW
				case TargetInterface:
					if i, ok := enis[r.TargetID]; ok {
						dr = desiredRoute{Table: t, Dst: d.Masked(), Type: unix.RTN_UNICAST, Link: routerLinkName(i.ID), Gw: i.IP}
					}
				case TargetInternetGateway, TargetGatewayEndpoint:
					if up.Link != "" && (usesInternetGateway(v, r) || usesGatewayEndpoint(r)) {
						dr = desiredRoute{Table: t, Dst: d.Masked(), Type: unix.RTN_UNICAST, Link: up.Link, Gw: up.Gw}
					}
				}
				out = append(out, dr)
			}
		}
	}
	// Later entries for the same table+destination win, like a route table
	// cannot hold two routes for one destination.
	seen := map[string]int{}
	var dedup []desiredRoute
	for _, r := range out {
		k := fmt.Sprintf("%d %v", r.Table, r.Dst)
		if idx, ok := seen[k]; ok {
			dedup[idx] = r
			continue
		}
		seen[k] = len(dedup)
		dedup = append(dedup, r)
	}
	return dedup
}

func syncRoutes(nl *netlink.Handle, v VPC, tables map[string]int, up uplink, res *Result) error {
	return syncRouteSet(nl, desiredRoutes(v, tables, up), res)
}

// syncRouteSet makes the routes of our protocol, in all tables, equal want.
func syncRouteSet(nl *netlink.Handle, desired []desiredRoute, res *Result) error {
	want := map[string]desiredRoute{}
	for _, r := range desired {
		want[r.String()] = r
	}
	have, err := nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: routeProto}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("dataplane: list routes: %w", err)
	}
	linkNames := map[int]string{}
	links, err := nl.LinkList()
	if err != nil {
		return fmt.Errorf("dataplane: list links: %w", err)
	}
	for _, link := range links {
		linkNames[link.Attrs().Index] = link.Attrs().Name
	}
	for _, r := range have {
		dst, _ := ipNetPrefix(r.Dst)
		if r.Dst == nil {
			dst = netip.MustParsePrefix("0.0.0.0/0")
		}
		obs := desiredRoute{Table: r.Table, Dst: dst, Type: r.Type, Link: linkNames[r.LinkIndex]}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			obs.Gw = gw.Unmap()
		}
		if _, ok := want[obs.String()]; ok {
			delete(want, obs.String())
			continue
		}
		if err := nl.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("dataplane: delete route %s: %w", obs, err)
		}
		res.deleted("route %s", obs)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		r := want[k]
		route := &netlink.Route{Table: r.Table, Dst: prefixIPNet(r.Dst), Type: r.Type, Protocol: routeProto}
		if r.Link != "" {
			link, err := nl.LinkByName(r.Link)
			if err != nil {
				return fmt.Errorf("dataplane: route %s: %w", r, err)
			}
			route.LinkIndex = link.Attrs().Index
			route.Scope = netlink.SCOPE_LINK
			if r.Type == unix.RTN_LOCAL {
				route.Scope = netlink.SCOPE_HOST // the kernel rejects a wider scope
			}
		}
		if r.Gw.IsValid() {
			route.Gw = r.Gw.AsSlice()
			route.Flags = int(netlink.FLAG_ONLINK)
			route.Scope = netlink.SCOPE_UNIVERSE
		}
		if err := nl.RouteReplace(route); err != nil {
			return fmt.Errorf("dataplane: add route %s: %w", r, err)
		}
		res.created("route %s", r)
	}
	return nil
}
