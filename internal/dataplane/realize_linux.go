package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// routeProto marks the routes privlink owns, so the diff never touches
	// kernel-generated ones.
	routeProto = netlink.RouteProtocol(250)
	// rulePriority is the policy-rule priority of the per-subnet lookups.
	rulePriority = 1000
	// ifaceLink is the interface-side veth name inside its namespace.
	ifaceLink = "eth0"
	ifaceMTU  = 1500
)

// Linux realizes VPCs with network namespaces, veth pairs, policy routing
// and one nftables table per router namespace.
type Linux struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex // serializes applies: namespaces and tables are shared objects
	// fabricMu serializes changes to the PrivateLink fabric (forward_linux.go);
	// links and fabric are guarded by it.
	fabricMu sync.Mutex
	links    map[string]map[string]routerLink // provider router namespace → provider end → link
	fabric   map[string]*fabricTables         // provider router namespace → what its fabric tables hold
}

var _ Realizer = (*Linux)(nil)

// New returns the Linux realizer. A nil logger discards.
func New(cfg Config, log *slog.Logger) (*Linux, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Linux{cfg: cfg, log: log, links: map[string]map[string]routerLink{}, fabric: map[string]*fabricTables{}}, nil
}

// RouterNamespace names the VPC's router namespace.
func (l *Linux) RouterNamespace(vpcID string) string { return routerNSName(l.cfg.Prefix, vpcID) }

// InterfaceNamespace names the namespace of a network interface.
func (l *Linux) InterfaceNamespace(eniID string) string { return ifaceNSName(l.cfg.Prefix, eniID) }

// nsHandles holds an open namespace and a netlink handle inside it.
type nsHandles struct {
	ns netns.NsHandle
	nl *netlink.Handle
}

func (h nsHandles) close() {
	if h.nl != nil {
		h.nl.Close()
	}
	h.ns.Close()
}

// ensureNS creates the namespace if missing and opens it.
func ensureNS(name string, res *Result) (nsHandles, error) {
	if !nsExists(name) {
		if err := createNamedNS(name); err != nil {
			return nsHandles{}, err
		}
		res.created("netns %s", name)
	}
	return openNSHandles(name)
}

// openNSHandles opens an existing namespace (it never creates one).
func openNSHandles(name string) (nsHandles, error) {
	ns, err := openNS(name)
	if err != nil {
		return nsHandles{}, err
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nsHandles{}, fmt.Errorf("dataplane: netlink handle in %s: %w", name, err)
	}
	return nsHandles{ns: ns, nl: nl}, nil
}

// ApplyVPC converges the router namespace, interface namespaces, routes and
// nftables table of one VPC to v, writing only what differs.
func (l *Linux) ApplyVPC(ctx context.Context, v VPC) (Result, error) {
	var res Result
	if err := v.Validate(); err != nil {
		return res, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	routerNS := l.RouterNamespace(v.ID)
	router, err := ensureNS(routerNS, &res)
	if err != nil {
		return res, err
	}
	defer router.close()
	if err := l.ensureRouterBase(routerNS, router, v, &res); err != nil {
		return res, err
	}
	// The table goes first: it names links, which need not exist yet, so
	// a new interface is filtered from the moment its veth appears.
	wrote, err := applyRuleset(int(router.ns), buildRuleset(v))
	if err != nil {
		return res, err
	}
	if wrote {
		res.updated("nftables table inet %s in %s", nftTableName, routerNS)
	}
	subnets := map[string]Subnet{}
	for _, s := range v.Subnets {
		subnets[s.ID] = s
	}
	tables := subnetTables(v.Subnets)
	desiredLinks := map[string]bool{}
	for _, i := range sortedBy(v.Interfaces, func(i Interface) string { return i.ID }) {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("dataplane: apply vpc %s: %w", v.ID, err)
		}
		desiredLinks[routerLinkName(i.ID)] = true
		if err := l.ensureInterface(routerNS, router, i, subnets[i.SubnetID], &res); err != nil {
			return res, fmt.Errorf("dataplane: interface %s: %w", i.ID, err)
		}
	}
	if err := l.removeStaleInterfaces(router, desiredLinks, &res); err != nil {
		return res, err
	}
	if err := syncRules(router.nl, tables, &res); err != nil {
		return res, err
	}
	// The uplink goes before the routes through it and after the table
	// that filters and masquerades what crosses it.
	var up uplink
	if needsUplink(v) {
		up, err = l.ensureUplink(routerNS, router, v, &res)
	} else {
		err = l.removeUplink(router, routerNS, &res)
	}
	if err != nil {
		return res, fmt.Errorf("dataplane: uplink of vpc %s: %w", v.ID, err)
	}
	if err := syncRoutes(router.nl, v, tables, up, &res); err != nil {
		return res, err
	}
	// Forwarding last, once the first table is in place.
	if err := ensureSysctls(routerNS, [][2]string{{"net.ipv4.ip_forward", "1"}}, &res); err != nil {
		return res, err
	}
	if err := l.writeResolvConf(v); err != nil {
		return res, err
	}
	l.log.Debug("applied vpc", "vpc", v.ID, "created", len(res.Created), "updated", len(res.Updated), "deleted", len(res.Deleted))
	return res, nil
}

// ensureRouterBase sets the router sysctls (forwarding comes later) and the
// resolver addresses.
func (l *Linux) ensureRouterBase(nsName string, h nsHandles, v VPC, res *Result) error {
	if err := ensureSysctls(nsName, [][2]string{
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
		{"net.ipv4.conf.all.send_redirects", "0"},
		{"net.ipv4.conf.default.send_redirects", "0"},
		// A router forwards: looking up a local socket for every TCP
		// packet before routing it (early demux) is wasted work.
		{"net.ipv4.tcp_early_demux", "0"},
		// With policy rules in place (the subnet tables), the kernel checks
		// every forwarded packet's source with a second, reverse route
		// lookup, which with rp_filter off only refuses the router's own
		// addresses. The source check (nftrules.go, forward and input)
		// already drops what an interface may not send; the lookup was
		// 3.6 % of a connection's CPU.
		{"net.ipv4.conf.all.accept_local", "1"},
		{"net.ipv4.conf.default.accept_local", "1"},
		// A reset or ICMP error the router makes carries the mark of the
		// packet it answers, so it is routed as that packet's replies are:
		// over its subnet's table, or back over its PrivateLink fabric link.
		{"net.ipv4.fwmark_reflect", "1"},
	}, res); err != nil {
		return err
	}
	// Out-of-window segments pass as part of their connection instead of
	// being dropped as invalid, so the probes that reset a cut PrivateLink
	// connection reach both ends (forward_linux.go).
	if err := ensureSysctls(nsName, [][2]string{{"net.netfilter.nf_conntrack_tcp_be_liberal", "1"}}, res); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := disableIPv6(nsName, res); err != nil {
		return err
	}
	lo, err := h.nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("dataplane: lo in %s: %w", nsName, err)
	}
	if err := ensureUp(h.nl, lo, res, nsName); err != nil {
		return err
	}
	want := []netip.Prefix{netip.PrefixFrom(VPCResolver(v.CIDR), 32), netip.PrefixFrom(LinkLocalResolver(), 32)}
	return syncAddrs(h.nl, lo, want, func(a netip.Prefix) bool { return !a.Addr().IsLoopback() }, res, nsName)
}

func ensureSysctls(nsName string, kvs [][2]string, res *Result) error {
	changed, err := writeSysctls(nsName, kvs)
	for _, key := range changed {
		res.updated("sysctl %s in %s", key, nsName)
	}
	return err
}

// disableIPv6 keeps IPv6 (not realized yet) off the links of a namespace,
// so no router solicitations or link-local traffic bypass the model. A
// kernel without IPv6 needs nothing.
func disableIPv6(nsName string, res *Result) error {
	err := ensureSysctls(nsName, [][2]string{
		{"net.ipv6.conf.default.disable_ipv6", "1"},
		{"net.ipv6.conf.all.disable_ipv6", "1"},
	}, res)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// bigTCPSize is the largest TCP segment offload privlink's veths take and
// build (BIG TCP, Linux 6.3+ for IPv4). Every hop of a namespace path is a
// veth, and most of a hop's cost is per packet, not per byte: with 192 KiB
// super-packets instead of 64 KiB, a path of several routers and the
// PrivateLink fabric moves bulk data at close to the speed of one hop. The
// MTU, and so what any packet on the wire looks like, does not change.
const bigTCPSize = 196608

// ensureBigTCP raises a veth's GSO and GRO limits to bigTCPSize. It is best
// effort: older kernels refuse the IPv4 limits, and then the link keeps the
// 64 KiB default.
func ensureBigTCP(nl *netlink.Handle, link netlink.Link, res *Result, where string) {
	a := link.Attrs()
	if a.GSOMaxSize >= bigTCPSize && a.GROMaxSize >= bigTCPSize && a.GSOIPv4MaxSize >= bigTCPSize && a.GROIPv4MaxSize >= bigTCPSize {
		return
	}
	for _, set := range []func(netlink.Link, int) error{nl.LinkSetGSOMaxSize, nl.LinkSetGROMaxSize, nl.LinkSetGSOIPv4MaxSize, nl.LinkSetGROIPv4MaxSize} {
		if err := set(link, bigTCPSize); err != nil {
			return
		}
	}
	res.updated("offload sizes of %s in %s", a.Name, where)
}

func ensureUp(nl *netlink.Handle, link netlink.Link, res *Result, where string) error {
	if link.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("dataplane: set %s up in %s: %w", link.Attrs().Name, where, err)
	}
	res.updated("link %s up in %s", link.Attrs().Name, where)
	return nil
}

// syncAddrs makes the IPv4 addresses of link that owned() selects equal want.
func syncAddrs(nl *netlink.Handle, link netlink.Link, want []netip.Prefix, owned func(netip.Prefix) bool, res *Result, where string) error {
	have, err := nl.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("dataplane: list addresses of %s in %s: %w", link.Attrs().Name, where, err)
	}
	present := map[netip.Prefix]bool{}
	for _, a := range have {
		p, ok := ipNetPrefix(a.IPNet)
		if !ok || !owned(p) {
			continue
		}
		if slices.Contains(want, p) {
			present[p] = true
			continue
		}
		if err := nl.AddrDel(link, &a); err != nil {
			return fmt.Errorf("dataplane: delete address %v from %s in %s: %w", p, link.Attrs().Name, where, err)
		}
		res.deleted("address %v on %s in %s", p, link.Attrs().Name, where)
	}
	for _, p := range want {
		if present[p] {
			continue
		}
		if err := nl.AddrAdd(link, &netlink.Addr{IPNet: prefixIPNet(p)}); err != nil {
			return fmt.Errorf("dataplane: add address %v to %s in %s: %w", p, link.Attrs().Name, where, err)
		}
		res.created("address %v on %s in %s", p, link.Attrs().Name, where)
	}
	return nil
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// ensureInterface makes the interface namespace, its veth pair, addresses,
// default route and the router-side proxy ARP and gateway address.
func (l *Linux) ensureInterface(routerNS string, router nsHandles, i Interface, s Subnet, res *Result) error {
	ifNS := l.InterfaceNamespace(i.ID)
	iface, err := ensureNS(ifNS, res)
	if err != nil {
		return err
	}
	defer iface.close()
	if err := disableIPv6(ifNS, res); err != nil {
		return err
	}
	name := routerLinkName(i.ID)
	rlink, err := router.nl.LinkByName(name)
	if err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		return fmt.Errorf("dataplane: find %s in %s: %w", name, routerNS, err)
	}
	if rlink != nil && rlink.Attrs().Alias != i.ID {
		if rlink.Attrs().Alias != "" {
			return fmt.Errorf("dataplane: link %s in %s belongs to %q", name, routerNS, rlink.Attrs().Alias)
		}
		// Created before a crash, but never labelled: the name is ours.
		if err := router.nl.LinkSetAlias(rlink, i.ID); err != nil {
			return fmt.Errorf("dataplane: set alias of %s: %w", name, err)
		}
		res.updated("alias of %s in %s", name, routerNS)
	}
	if rlink == nil {
		// A leftover eth0 would block creating the peer.
		if stale, err := iface.nl.LinkByName(ifaceLink); err == nil {
			if err := iface.nl.LinkDel(stale); err != nil {
				return fmt.Errorf("dataplane: delete stale %s in %s: %w", ifaceLink, ifNS, err)
			}
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: name, MTU: ifaceMTU},
			PeerName:      ifaceLink,
			PeerNamespace: netlink.NsFd(iface.ns),
			PeerMTU:       ifaceMTU,
		}
		if err := router.nl.LinkAdd(veth); err != nil {
			return fmt.Errorf("dataplane: add veth %s in %s: %w", name, routerNS, err)
		}
		res.created("veth %s in %s to %s in %s", name, routerNS, ifaceLink, ifNS)
		if rlink, err = router.nl.LinkByName(name); err != nil {
			return fmt.Errorf("dataplane: find new %s: %w", name, err)
		}
		if err := router.nl.LinkSetAlias(rlink, i.ID); err != nil {
			return fmt.Errorf("dataplane: set alias of %s: %w", name, err)
		}
	}
	if err := ensureUp(router.nl, rlink, res, routerNS); err != nil {
		return err
	}
	ensureBigTCP(router.nl, rlink, res, routerNS)
	// proxy_delay 0: answer proxy ARP at once instead of after up to 0.8 s.
	if err := ensureSysctls(routerNS, [][2]string{
		{"net.ipv4.conf." + name + ".proxy_arp", "1"},
		{"net.ipv4.conf." + name + ".rp_filter", "0"},
		{"net.ipv4.conf." + name + ".send_redirects", "0"},
		{"net.ipv4.neigh." + name + ".proxy_delay", "0"},
	}, res); err != nil {
		return err
	}
	gw := SubnetRouter(s.CIDR)
	if err := syncAddrs(router.nl, rlink, []netip.Prefix{netip.PrefixFrom(gw, 32)}, func(netip.Prefix) bool { return true }, res, routerNS); err != nil {
		return err
	}

	lo, err := iface.nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("dataplane: lo in %s: %w", ifNS, err)
	}
	if err := ensureUp(iface.nl, lo, res, ifNS); err != nil {
		return err
	}
	eth, err := iface.nl.LinkByName(ifaceLink)
	if err != nil {
		return fmt.Errorf("dataplane: %s in %s: %w", ifaceLink, ifNS, err)
	}
	if eth.Attrs().MTU != ifaceMTU {
		if err := iface.nl.LinkSetMTU(eth, ifaceMTU); err != nil {
			return fmt.Errorf("dataplane: mtu of %s in %s: %w", ifaceLink, ifNS, err)
		}
		res.updated("mtu of %s in %s", ifaceLink, ifNS)
	}
	if err := ensureUp(iface.nl, eth, res, ifNS); err != nil {
		return err
	}
	ensureBigTCP(iface.nl, eth, res, ifNS)
	// privlink owns the interface's own address (and its prefix length);
	// addresses a user adds inside the instance are the instance's business,
	// as an OS's own configuration is on EC2.
	want := netip.PrefixFrom(i.IP, s.CIDR.Bits())
	owned := func(p netip.Prefix) bool { return p.Addr() == i.IP }
	if err := syncAddrs(iface.nl, eth, []netip.Prefix{want}, owned, res, ifNS); err != nil {
		return err
	}
	return syncDefaultRoute(iface.nl, eth, gw, res, ifNS)
}

func syncDefaultRoute(nl *netlink.Handle, eth netlink.Link, gw netip.Addr, res *Result, where string) error {
	routes, err := nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("dataplane: list routes in %s: %w", where, err)
	}
	existed := false
	for _, r := range routes {
		if dst, ok := ipNetPrefix(r.Dst); r.Dst != nil && (!ok || dst.Bits() != 0) {
			continue // not a default route
		}
		if r.Gw.Equal(gw.AsSlice()) && r.LinkIndex == eth.Attrs().Index {
			return nil
		}
		existed = true
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw.AsSlice(), Dst: prefixIPNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)), Protocol: routeProto}
	if err := nl.RouteReplace(route); err != nil {
		return fmt.Errorf("dataplane: default route via %v in %s: %w", gw, where, err)
	}
	if existed {
		res.updated("default route via %v in %s", gw, where)
	} else {
		res.created("default route via %v in %s", gw, where)
	}
	return nil
}

// removeStaleInterfaces deletes router-side veths (found by their ENI alias)
// and interface namespaces the VPC no longer has, with the processes that
// run in them.
func (l *Linux) removeStaleInterfaces(router nsHandles, desired map[string]bool, res *Result) error {
	links, err := router.nl.LinkList()
	if err != nil {
		return fmt.Errorf("dataplane: list links: %w", err)
	}
	var stale []netlink.Link
	var namespaces []string
	for _, link := range links {
		a := link.Attrs()
		if !ownedInterfaceLink(link) || desired[a.Name] {
			continue // other components may add their own links here
		}
		stale = append(stale, link)
		if a.Alias != "" {
			namespaces = append(namespaces, l.InterfaceNamespace(a.Alias))
		}
	}
	l.killResidents(namespaces)
	for _, link := range stale {
		a := link.Attrs()
		if err := router.nl.LinkDel(link); err != nil {
			return fmt.Errorf("dataplane: delete stale veth %s: %w", a.Name, err)
		}
		res.deleted("veth %s (%s)", a.Name, a.Alias)
		if a.Alias != "" {
			if err := deleteNamedNS(l.InterfaceNamespace(a.Alias)); err != nil {
				return err
			}
			if err := l.removeInstanceDir(a.Alias); err != nil {
				return err
			}
			res.deleted("netns %s", l.InterfaceNamespace(a.Alias))
		}
	}
	return nil
}

// DeleteVPC removes the VPC's interface namespaces, table and router namespace.
func (l *Linux) DeleteVPC(ctx context.Context, vpcID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deleteVPCLocked(ctx, l.RouterNamespace(vpcID))
}

func (l *Linux) deleteVPCLocked(ctx context.Context, routerNS string) error {
	if !nsExists(routerNS) {
		return nil
	}
	var res Result
	router, err := ensureNS(routerNS, &res)
	if err != nil {
		return err
	}
	defer router.close()
	if err := l.removeStaleInterfaces(router, nil, &res); err != nil {
		return err
	}
	// Explicitly: a socket still open in the router would keep the
	// namespace, and so the uplink into the internet, alive.
	if err := l.removeUplink(router, routerNS, &res); err != nil {
		return err
	}
	if err := deleteRuleset(int(router.ns)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataplane: delete %s: %w", routerNS, err)
	}
	l.log.Info("deleted vpc router", "netns", routerNS, "interfaces", len(res.Deleted)/2)
	return deleteNamedNS(routerNS)
}

// Cleanup removes router namespaces of VPCs not in keepVPCs, interface
// namespaces no kept router links to (orphans of a crash mid-apply) and
// internet-side uplinks of VPCs not kept. The internet namespace itself
// stays: only DeleteInternet removes it.
func (l *Linux) Cleanup(ctx context.Context, keepVPCs []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	keepRouters := map[string]bool{}
	for _, id := range keepVPCs {
		keepRouters[l.RouterNamespace(id)] = true
	}
	errs := []error{l.pruneInternetLinks(func(vpcID string) bool { return slices.Contains(keepVPCs, vpcID) })}
	routers, err := listNamedNS(l.cfg.Prefix + "-r-")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	keepIfaces := map[string]bool{}
	for _, r := range routers {
		if !keepRouters[r] {
			errs = append(errs, l.deleteVPCLocked(ctx, r))
			continue
		}
		ns, err := openNS(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nl, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("dataplane: netlink handle in %s: %w", r, err))
			continue
		}
		links, err := nl.LinkList()
		nl.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("dataplane: list links in %s: %w", r, err))
			continue
		}
		for _, link := range links {
			if ownedInterfaceLink(link) {
				keepIfaces[l.InterfaceNamespace(link.Attrs().Alias)] = true
			}
		}
	}
	ifaces, err := listNamedNS(l.cfg.Prefix + "-n-")
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var orphans []string
	for _, n := range ifaces {
		if !keepIfaces[n] {
			orphans = append(orphans, n)
		}
	}
	l.killResidents(orphans)
	for _, n := range orphans {
		l.log.Info("removing orphan interface namespace", "netns", n)
		errs = append(errs, deleteNamedNS(n))
	}
	errs = append(errs, l.removeOrphanInstanceDirs(keepIfaces))
	return errors.Join(errs...)
}

// killResidents ends the processes that run in interface namespaces about
// to be removed (see the package-level killResidents) and logs them. A
// process it cannot end does not stop the removal: the namespace then
// lives on, detached, with it, and the log says so.
func (l *Linux) killResidents(namespaces []string) {
	if len(namespaces) == 0 {
		return
	}
	killed, err := killResidents(namespaces...)
	if len(killed) > 0 {
		l.log.Info("killed the processes of removed interfaces", "pids", killed, "netns", namespaces)
	}
	if err != nil {
		l.log.Warn("processes of removed interfaces live on", "netns", namespaces, "err", err)
	}
}

// ownedInterfaceLink reports whether a router-namespace link is the veth of
// an interface: its alias is the ENI ID its name is derived from.
func ownedInterfaceLink(link netlink.Link) bool {
	a := link.Attrs()
	return link.Type() == "veth" && a.Alias != "" && a.Name == routerLinkName(a.Alias)
}
