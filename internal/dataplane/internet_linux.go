package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// InternetNamespace names the fake internet's namespace.
func (l *Linux) InternetNamespace() string { return internetNSName(l.cfg.Prefix) }

// ApplyInternet converges the internet namespace: every service address and
// CIDR is local there (a local route on lo, so a listener may bind any
// address of a CIDR). VPC uplinks are ApplyVPC's and left alone.
func (l *Linux) ApplyInternet(ctx context.Context, in Internet) (Result, error) {
	var res Result
	if err := in.Validate(); err != nil {
		return res, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	inet, err := l.ensureInternetBase(&res)
	if err != nil {
		return res, err
	}
	defer inet.close()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("dataplane: apply internet: %w", err)
	}
	var want []desiredRoute
	for _, p := range in.localPrefixes() {
		want = append(want, desiredRoute{Table: unix.RT_TABLE_LOCAL, Dst: p, Type: unix.RTN_LOCAL, Link: "lo"})
	}
	if err := syncRouteSet(inet.nl, want, &res); err != nil {
		return res, err
	}
	l.log.Debug("applied internet", "services", len(in.Services), "created", len(res.Created), "deleted", len(res.Deleted))
	return res, nil
}

// internetRuleset makes the internet a set of hosts, not a transit: VPCs
// cannot reach each other through it.
var internetRuleset = nftRuleset{Chains: []nftChain{{Name: "forward", Hook: hookForward, Rules: []nftRule{{Verdict: verdictDrop}}}}}

// ensureInternetBase creates the internet namespace if needed and opens it.
// Forwarding is on only so that a packet for an address nobody owns gets an
// ICMP unreachable at once (the kernel sends none with forwarding off), and
// not rate-limited, so failures stay fast; the table drops what would pass.
func (l *Linux) ensureInternetBase(res *Result) (nsHandles, error) {
	name := l.InternetNamespace()
	h, err := ensureNS(name, res)
	if err != nil {
		return nsHandles{}, err
	}
	err = disableIPv6(name, res)
	var wrote bool
	if err == nil {
		wrote, err = applyRuleset(int(h.ns), internetRuleset)
	}
	if wrote {
		res.updated("nftables table inet %s in %s", nftTableName, name)
	}
	if err == nil {
		err = ensureSysctls(name, [][2]string{{"net.ipv4.icmp_ratelimit", "0"}, {"net.ipv4.ip_forward", "1"}}, res)
	}
	if err == nil {
		var lo netlink.Link
		if lo, err = h.nl.LinkByName("lo"); err == nil {
			err = ensureUp(h.nl, lo, res, name)
		}
	}
	if err != nil {
		h.close()
		return nsHandles{}, fmt.Errorf("dataplane: internet namespace %s: %w", name, err)
	}
	return h, nil
}

// DeleteInternet removes the internet namespace and every uplink (deleting
// one end of a veth deletes both, and the routes through it).
func (l *Linux) DeleteInternet(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := l.InternetNamespace()
	if !nsExists(name) {
		return nil
	}
	if err := l.pruneInternetLinks(func(string) bool { return false }); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataplane: delete internet: %w", err)
	}
	l.log.Info("deleted internet", "netns", name)
	return deleteNamedNS(name)
}

// pruneInternetLinks deletes the internet-side uplinks of VPCs keep rejects.
func (l *Linux) pruneInternetLinks(keep func(vpcID string) bool) error {
	name := l.InternetNamespace()
	if !nsExists(name) {
		return nil
	}
	ns, err := openNS(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("dataplane: netlink handle in %s: %w", name, err)
	}
	defer nl.Close()
	links, err := nl.LinkList()
	if err != nil {
		return fmt.Errorf("dataplane: list links in %s: %w", name, err)
	}
	var errs []error
	for _, link := range links {
		a := link.Attrs()
		if link.Type() != "veth" || keep(a.Alias) {
			continue
		}
		if err := nl.LinkDel(link); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
			errs = append(errs, fmt.Errorf("dataplane: delete uplink %s in %s: %w", a.Name, name, err))
		}
	}
	return errors.Join(errs...)
}

// ensureUplink makes the VPC's veth to the internet namespace: inet0 in the
// router with the even address of a /31 of uplinkPool, its peer in the
// internet namespace with the odd one. The /31 of an existing uplink is
// kept; a new one avoids those of other VPCs.
func (l *Linux) ensureUplink(routerNS string, router nsHandles, v VPC, res *Result) (uplink, error) {
	inetNS := l.InternetNamespace()
	inet, err := l.ensureInternetBase(res)
	if err != nil {
		return uplink{}, err
	}
	defer inet.close()
	peerName := internetLinkName(v.ID)
	rlink, err := findLink(router.nl, uplinkLink)
	if err != nil {
		return uplink{}, err
	}
	ilink, err := findLink(inet.nl, peerName)
	if err != nil {
		return uplink{}, err
	}
	if (rlink == nil) != (ilink == nil) || ilink != nil && ilink.Attrs().Alias != v.ID {
		// Half an uplink, or a foreign one under our name: start over.
		for _, del := range []struct {
			nl   *netlink.Handle
			link netlink.Link
		}{{router.nl, rlink}, {inet.nl, ilink}} {
			if del.link != nil {
				if err := del.nl.LinkDel(del.link); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
					return uplink{}, fmt.Errorf("dataplane: delete stale uplink %s: %w", del.link.Attrs().Name, err)
				}
			}
		}
		rlink, ilink = nil, nil
	}
	used, err := usedUplinkNets(inet.nl, v.ID)
	if err != nil {
		return uplink{}, err
	}
	var p netip.Prefix
	if rlink != nil {
		p, err = uplinkAddr(router.nl, rlink)
		if err != nil {
			return uplink{}, err
		}
		if used[p] { // another VPC got it while ours lacked an address
			p = netip.Prefix{}
		}
	} else {
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: uplinkLink, MTU: ifaceMTU, Alias: v.ID},
			PeerName:      peerName,
			PeerNamespace: netlink.NsFd(inet.ns),
			PeerMTU:       ifaceMTU,
		}
		if err := router.nl.LinkAdd(veth); err != nil {
			return uplink{}, fmt.Errorf("dataplane: add uplink veth in %s: %w", routerNS, err)
		}
		res.created("uplink %s in %s to %s in %s", uplinkLink, routerNS, peerName, inetNS)
		if rlink, err = router.nl.LinkByName(uplinkLink); err != nil {
			return uplink{}, fmt.Errorf("dataplane: find new uplink: %w", err)
		}
		if ilink, err = inet.nl.LinkByName(peerName); err != nil {
			return uplink{}, fmt.Errorf("dataplane: find new uplink peer: %w", err)
		}
	}
	if !p.IsValid() {
		if p, err = uplinkNet(v.ID, used); err != nil {
			return uplink{}, err
		}
	}
	for _, side := range []struct {
		nl   *netlink.Handle
		link netlink.Link
		addr netip.Addr
		ns   string
	}{{router.nl, rlink, natAddr(p), routerNS}, {inet.nl, ilink, peerAddr(p), inetNS}} {
		if side.link.Attrs().Alias != v.ID {
			if err := side.nl.LinkSetAlias(side.link, v.ID); err != nil {
				return uplink{}, fmt.Errorf("dataplane: set alias of %s: %w", side.link.Attrs().Name, err)
			}
			res.updated("alias of %s in %s", side.link.Attrs().Name, side.ns)
		}
		if err := ensureUp(side.nl, side.link, res, side.ns); err != nil {
			return uplink{}, err
		}
		ensureBigTCP(side.nl, side.link, res, side.ns)
		if err := syncAddrs(side.nl, side.link, []netip.Prefix{netip.PrefixFrom(side.addr, 31)}, func(netip.Prefix) bool { return true }, res, side.ns); err != nil {
			return uplink{}, err
		}
	}
	if err := ensureSysctls(routerNS, [][2]string{
		{"net.ipv4.conf." + uplinkLink + ".rp_filter", "0"},
		{"net.ipv4.conf." + uplinkLink + ".send_redirects", "0"},
	}, res); err != nil {
		return uplink{}, err
	}
	return uplink{Link: uplinkLink, Gw: peerAddr(p)}, nil
}

// removeUplink deletes the VPC's uplink, from either side.
func (l *Linux) removeUplink(router nsHandles, routerNS string, res *Result) error {
	rlink, err := findLink(router.nl, uplinkLink)
	if err != nil || rlink == nil {
		return err
	}
	if err := router.nl.LinkDel(rlink); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		return fmt.Errorf("dataplane: delete uplink in %s: %w", routerNS, err)
	}
	res.deleted("uplink %s in %s", uplinkLink, routerNS)
	return nil
}

// findLink returns the named link, or nil if there is none.
func findLink(nl *netlink.Handle, name string) (netlink.Link, error) {
	link, err := nl.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataplane: find link %s: %w", name, err)
	}
	return link, nil
}

// usedUplinkNets collects the /31s on the internet side of other VPCs' uplinks.
func usedUplinkNets(nl *netlink.Handle, self string) (map[netip.Prefix]bool, error) {
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("dataplane: list internet links: %w", err)
	}
	used := map[netip.Prefix]bool{}
	for _, link := range links {
		if link.Type() != "veth" || link.Attrs().Alias == self {
			continue
		}
		addrs, err := nl.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("dataplane: addresses of %s: %w", link.Attrs().Name, err)
		}
		for _, a := range addrs {
			if p, ok := ipNetPrefix(a.IPNet); ok && uplinkPool.Contains(p.Addr()) {
				used[p.Masked()] = true
			}
		}
	}
	return used, nil
}

// uplinkAddr returns the /31 of an uplink's address, invalid if it has none.
func uplinkAddr(nl *netlink.Handle, link netlink.Link) (netip.Prefix, error) {
	addrs, err := nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("dataplane: addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		if p, ok := ipNetPrefix(a.IPNet); ok && p.Bits() == 31 && uplinkPool.Contains(p.Addr()) {
			return p.Masked(), nil
		}
	}
	return netip.Prefix{}, nil
}

// InternetAddress returns the address the fake internet sees as the source
// of the VPC's traffic (its uplink's NAT address); ErrNotFound if the VPC
// has no uplink.
func (l *Linux) InternetAddress(vpcID string) (netip.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := l.RouterNamespace(vpcID)
	if !nsExists(name) {
		return netip.Addr{}, fmt.Errorf("dataplane: vpc %s: %w", vpcID, ErrNotFound)
	}
	ns, err := openNS(name)
	if err != nil {
		return netip.Addr{}, err
	}
	defer ns.Close()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("dataplane: netlink handle in %s: %w", name, err)
	}
	defer nl.Close()
	link, err := findLink(nl, uplinkLink)
	if err != nil {
		return netip.Addr{}, err
	}
	if link == nil {
		return netip.Addr{}, fmt.Errorf("dataplane: uplink of %s: %w", vpcID, ErrNotFound)
	}
	p, err := uplinkAddr(nl, link)
	if err != nil {
		return netip.Addr{}, err
	}
	if !p.IsValid() {
		return netip.Addr{}, fmt.Errorf("dataplane: uplink address of %s: %w", vpcID, ErrNotFound)
	}
	return natAddr(p), nil
}
