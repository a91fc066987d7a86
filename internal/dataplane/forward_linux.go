package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// fabricTable is the nftables table (family ip) of the fabric in a
	// provider router.
	fabricTable = "privlink-fabric"
	// fabricRawTable holds the fabric's conntrack zones: the kernel takes
	// the CT target only in a table of this name.
	fabricRawTable = "raw"
	// fabricRulePriority is the policy-rule priority of the per-link
	// lookups, after the subnets' (rulePriority): only replies of fabric
	// connections carry a link's mark, and they meet the subnet rules first.
	fabricRulePriority = 2000
	// fabricRouteProto marks the fabric's routes, which the VPC's route
	// sync (routeProto) leaves alone.
	fabricRouteProto = netlink.RouteProtocol(251)
	// probeSettle is how long the reset probes of a cut may take before
	// the conntrack entries they created are removed.
	probeSettle = 1500 * time.Millisecond
	// Priorities of the fabric's chains in a provider router, around the
	// router's own prerouting chain (mangle, -150) and NAT (-100).
	fabricZonePriority    = -310 // before conntrack (-200)
	fabricRoutePriority   = -90  // after the router's checks (-150) and the translation
	fabricForwardPriority = -10  // before the router's forward chain
)

// routerLink is what a provider router's fabric table holds for one link.
type routerLink struct {
	index    int              // the provider end's interface index
	peerMAC  net.HardwareAddr // source of every frame the consumer router sends over it
	lbIndex  int              // interface index of the load balancer interface's router-side veth
	nodeAddr netip.Addr
	rules    []dnatRule // this link's ports
	eniAddr  netip.Addr
	idle     timeouts
}

// ApplyForwarding makes the kernel forward f's ports and nothing else of
// the endpoint interface: it creates the fabric links between the consumer
// and provider routers, their redirects, routes and translation rules.
// Connections already forwarded keep their target. Both VPCs must be
// realized first.
func (l *Linux) ApplyForwarding(ctx context.Context, f Forwarding) error {
	if err := f.Validate(); err != nil {
		return err
	}
	l.fabricMu.Lock()
	defer l.fabricMu.Unlock()
	rcNS := l.RouterNamespace(f.VPC)
	if !nsExists(rcNS) {
		return fmt.Errorf("dataplane: forwarding of %s: router namespace %s does not exist yet", f.ENI, rcNS)
	}
	rc, err := openNSHandles(rcNS)
	if err != nil {
		return err
	}
	defer rc.close()
	eniLink, err := rc.nl.LinkByName(routerLinkName(f.ENI))
	if err != nil {
		return fmt.Errorf("dataplane: forwarding of %s: its veth in %s: %w", f.ENI, rcNS, err)
	}
	eniMAC, err := l.interfaceMAC(f.ENI)
	if err != nil {
		return err
	}
	links := map[string]netlink.Link{} // by load balancer interface
	want := map[string]bool{}
	for _, node := range f.nodes() {
		link, err := l.ensureRouterLink(rc, rcNS, eniLink, eniMAC, f, node)
		if err != nil {
			return err
		}
		links[node] = link
		want[link.Attrs().Name] = true
	}
	var redirects []portRedirect
	for _, p := range f.Ports {
		redirects = append(redirects, portRedirect{proto: l4proto(p.proto()), port: p.Port, to: links[p.Node].Attrs().Index})
	}
	// The redirects change before the links they no longer use go, so no
	// packet finds a redirect to a missing link; a cut connection's client
	// then reaches the endpoint interface's namespace, which resets it.
	if err := syncPortRedirects(rc, rcNS, eniLink, f.Addr, redirects); err != nil {
		return err
	}
	probes, err := l.dropRouterLinks(rc, rcNS, func(eni string, link netlink.Link) bool {
		return eni == f.ENI && !want[link.Attrs().Name]
	})
	if err != nil {
		return err
	}
	sendProbes(probes, l.log)
	return nil
}

// RemoveForwarding stops forwarding for the endpoint interface and cuts
// every connection it forwarded: the provider router forgets each
// connection and each side gets an out-of-window probe, whose answer our
// stack, no longer knowing the flow, resets. Fabric links of endpoint
// interfaces that no longer exist go too. A missing router is not an error.
func (l *Linux) RemoveForwarding(ctx context.Context, eni string) error {
	l.fabricMu.Lock()
	defer l.fabricMu.Unlock()
	routers, err := listNamedNS(l.cfg.Prefix + "-r-")
	if err != nil {
		return err
	}
	var probes []probe
	for _, rcNS := range routers {
		rc, err := openNSHandles(rcNS)
		if err != nil {
			return err
		}
		if eniLink, err := rc.nl.LinkByName(routerLinkName(eni)); err == nil {
			err = syncPortRedirects(rc, rcNS, eniLink, netip.Addr{}, nil)
			if err != nil {
				rc.close()
				return err
			}
		}
		cut, err := l.dropRouterLinks(rc, rcNS, func(linkENI string, _ netlink.Link) bool { return linkENI == eni })
		rc.close()
		if err != nil {
			return err
		}
		probes = append(probes, cut...)
	}
	sendProbes(probes, l.log)
	return nil
}

// interfaceMAC returns the MAC address of an interface's own end: the
// provider end of its fabric links takes it, so frames the consumer router
// addresses to the interface are for that end.
func (l *Linux) interfaceMAC(eni string) (net.HardwareAddr, error) {
	nsName := l.InterfaceNamespace(eni)
	h, err := openNSHandles(nsName)
	if err != nil {
		return nil, err
	}
	defer h.close()
	link, err := h.nl.LinkByName(ifaceLink)
	if err != nil {
		return nil, fmt.Errorf("dataplane: %s in %s: %w", ifaceLink, nsName, err)
	}
	return link.Attrs().HardwareAddr, nil
}

// ensureRouterLink makes the fabric link of an endpoint interface to one
// of its load balancer interfaces (node): the veth pair, its redirects, the
// provider router's route back over it and the translation rules of f's
// ports there. It returns the consumer end.
func (l *Linux) ensureRouterLink(rc nsHandles, rcNS string, eniLink netlink.Link, eniMAC net.HardwareAddr, f Forwarding, node string) (netlink.Link, error) {
	var ports []ForwardedPort
	for _, p := range f.Ports {
		if p.Node == node {
			ports = append(ports, p)
		}
	}
	rpNS := l.RouterNamespace(ports[0].NodeVPC)
	if !nsExists(rpNS) {
		return nil, fmt.Errorf("dataplane: forwarding of %s: router namespace %s does not exist yet", f.ENI, rpNS)
	}
	rp, err := openNSHandles(rpNS)
	if err != nil {
		return nil, err
	}
	defer rp.close()
	lbLink, err := rp.nl.LinkByName(routerLinkName(node))
	if err != nil {
		return nil, fmt.Errorf("dataplane: forwarding of %s: load balancer interface %s's veth in %s: %w", f.ENI, node, rpNS, err)
	}
	cName, pName := fabricLinkNames(f.ENI, node)
	alias := f.ENI + " " + node + " " + rpNS
	link, err := rc.nl.LinkByName(cName)
	if err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, fmt.Errorf("dataplane: find %s in %s: %w", cName, rcNS, err)
	}
	if link != nil && link.Attrs().Alias != alias {
		// Left by an interface that moved; start afresh.
		if err := rc.nl.LinkDel(link); err != nil {
			return nil, fmt.Errorf("dataplane: delete stale %s in %s: %w", cName, rcNS, err)
		}
		link = nil
	}
	if link == nil {
		// A half left by a crash between create and alias would block the name.
		if stale, err := rp.nl.LinkByName(pName); err == nil {
			if err := rp.nl.LinkDel(stale); err != nil {
				return nil, fmt.Errorf("dataplane: delete stale %s in %s: %w", pName, rpNS, err)
			}
		}
		veth := &netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: cName, MTU: ifaceMTU},
			PeerName:         pName,
			PeerNamespace:    netlink.NsFd(rp.ns),
			PeerMTU:          ifaceMTU,
			PeerHardwareAddr: eniMAC,
		}
		if err := rc.nl.LinkAdd(veth); err != nil {
			return nil, fmt.Errorf("dataplane: add fabric link %s in %s: %w", cName, rcNS, err)
		}
		if link, err = rc.nl.LinkByName(cName); err != nil {
			return nil, fmt.Errorf("dataplane: find new %s in %s: %w", cName, rcNS, err)
		}
	}
	peer, err := rp.nl.LinkByName(pName)
	if err != nil {
		return nil, fmt.Errorf("dataplane: fabric link %s has no peer %s in %s: %w", cName, pName, rpNS, err)
	}
	var res Result
	for _, side := range []struct {
		h    nsHandles
		ns   string
		link netlink.Link
		to   netlink.Link // where what arrives over the link is redirected
	}{{rc, rcNS, link, eniLink}, {rp, rpNS, peer, lbLink}} {
		if side.link.Attrs().Alias != alias {
			if err := side.h.nl.LinkSetAlias(side.link, alias); err != nil {
				return nil, fmt.Errorf("dataplane: alias of %s in %s: %w", side.link.Attrs().Name, side.ns, err)
			}
		}
		if err := ensureUp(side.h.nl, side.link, &res, side.ns); err != nil {
			return nil, err
		}
		// The routers' veths send big TCP segments; a link with smaller
		// limits would make the kernel cut each one in software.
		ensureBigTCP(side.h.nl, side.link, &res, side.ns)
		if err := ensureIngressRedirect(side.h, side.ns, side.link, side.to); err != nil {
			return nil, err
		}
	}
	if err := ensureFabricRoute(rp, rpNS, peer, link.Attrs().HardwareAddr); err != nil {
		return nil, err
	}
	sub := Forwarding{ENI: f.ENI, Addr: f.Addr, Ports: ports}
	if l.links[rpNS] == nil {
		l.links[rpNS] = map[string]routerLink{}
	}
	l.links[rpNS][pName] = routerLink{
		index: peer.Attrs().Index, peerMAC: eniLink.Attrs().HardwareAddr, lbIndex: lbLink.Attrs().Index,
		nodeAddr: ports[0].NodeAddr, rules: sub.dnatRules(), eniAddr: f.Addr, idle: f.timeouts(),
	}
	alive, err := pruneRouterFabric(rp, rpNS, l.links[rpNS])
	if err != nil {
		return nil, err
	}
	if err := l.writeRouterFabric(rp, rpNS, l.links[rpNS], alive); err != nil {
		return nil, err
	}
	return link, nil
}

// pruneRouterFabric forgets the links of a provider router whose provider
// end is gone (the consumer router went with its VPC, say) and removes
// fabric rules that name no existing link. It returns the provider ends'
// interface indexes of the links that exist.
func pruneRouterFabric(rp nsHandles, rpNS string, links map[string]routerLink) (alive map[int]bool, err error) {
	all, err := rp.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("dataplane: list links in %s: %w", rpNS, err)
	}
	alive = map[int]bool{}
	names := map[string]bool{}
	for _, link := range all {
		if strings.HasPrefix(link.Attrs().Name, fabricProviderPrefix) {
			alive[link.Attrs().Index] = true
			names[link.Attrs().Name] = true
		}
	}
	for name := range links {
		if !names[name] {
			delete(links, name)
		}
	}
	rules, err := rp.nl.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("dataplane: list rules in %s: %w", rpNS, err)
	}
	for _, r := range rules {
		if r.Priority == fabricRulePriority && !alive[int(r.Mark&fabricIndexMax)] {
			if err := dropFabricRoute(rp, rpNS, r.Mark); err != nil {
				return nil, err
			}
		}
	}
	return alive, nil
}

// dropRouterLinks deletes the fabric links of a consumer router that drop
// says should go (given the endpoint interface each serves), and those of
// endpoint interfaces whose veth is gone. It cuts their connections in the
// provider router and returns the probes that reset both ends.
func (l *Linux) dropRouterLinks(rc nsHandles, rcNS string, drop func(eni string, link netlink.Link) bool) ([]probe, error) {
	all, err := rc.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("dataplane: list links in %s: %w", rcNS, err)
	}
	var probes []probe
	for _, link := range all {
		if !strings.HasPrefix(link.Attrs().Name, fabricConsumerPrefix) || link.Type() != "veth" {
			continue
		}
		f := strings.Fields(link.Attrs().Alias)
		if len(f) != 3 {
			if err := rc.nl.LinkDel(link); err != nil {
				return nil, fmt.Errorf("dataplane: delete fabric link %s in %s: %w", link.Attrs().Name, rcNS, err)
			}
			continue
		}
		eni, node, rpNS := f[0], f[1], f[2]
		if _, err := rc.nl.LinkByName(routerLinkName(eni)); err == nil && !drop(eni, link) {
			continue
		}
		cut, err := l.dropRouterLink(rc, rcNS, link, eni, node, rpNS)
		if err != nil {
			return nil, err
		}
		probes = append(probes, cut...)
	}
	return probes, nil
}

// dropRouterLink removes one fabric link: its translation rules and route
// in the provider router, its connections there, and the veth pair.
func (l *Linux) dropRouterLink(rc nsHandles, rcNS string, link netlink.Link, eni, node, rpNS string) ([]probe, error) {
	_, pName := fabricLinkNames(eni, node)
	var probes []probe
	if nsExists(rpNS) {
		rp, err := openNSHandles(rpNS)
		if err != nil {
			return nil, err
		}
		defer rp.close()
		if links := l.links[rpNS]; links != nil {
			delete(links, pName)
			alive, err := pruneRouterFabric(rp, rpNS, links)
			if err != nil {
				return nil, err
			}
			if err := l.writeRouterFabric(rp, rpNS, links, alive); err != nil {
				return nil, err
			}
		}
		if peer, err := rp.nl.LinkByName(pName); err == nil {
			mark := fabricMark(peer.Attrs().Index)
			cut, err := deleteFlows(rp, func(fl *netlink.ConntrackFlow) bool { return fl.Mark == mark })
			if err != nil {
				return nil, fmt.Errorf("dataplane: cut forwarded connections in %s: %w", rpNS, err)
			}
			for _, fl := range cut {
				if fl.Forward.Protocol != unix.IPPROTO_TCP {
					continue // a UDP flow just ends
				}
				// The client's end from the endpoint interface's address;
				// the target's from the load balancer's address and
				// translated port (the reply tuple, reversed).
				probes = append(probes,
					probe{ns: l.InterfaceNamespace(eni), src: tupleDst(fl.Forward), dst: tupleSrc(fl.Forward)},
					probe{ns: l.InterfaceNamespace(node), src: tupleDst(fl.Reverse), dst: tupleSrc(fl.Reverse)})
			}
			if err := dropFabricRoute(rp, rpNS, mark); err != nil {
				return nil, err
			}
		}
	}
	if err := rc.nl.LinkDel(link); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, fmt.Errorf("dataplane: delete fabric link %s in %s: %w", link.Attrs().Name, rcNS, err)
	}
	l.log.Debug("removed fabric link", "router", rcNS, "endpoint_interface", eni, "node", node)
	return probes, nil
}

// ensureFabricRoute gives one fabric link its routing table and rule in the
// provider router: replies marked with the link leave over it.
func ensureFabricRoute(rp nsHandles, rpNS string, link netlink.Link, consumerEnd net.HardwareAddr) error {
	m := fabricMark(link.Attrs().Index)
	neigh := &netlink.Neigh{LinkIndex: link.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
		IP: fabricGateway.AsSlice(), HardwareAddr: consumerEnd}
	if err := rp.nl.NeighSet(neigh); err != nil {
		return fmt.Errorf("dataplane: fabric neighbour on %s in %s: %w", link.Attrs().Name, rpNS, err)
	}
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       prefixIPNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)),
		Gw:        fabricGateway.AsSlice(),
		Table:     int(m),
		Flags:     int(netlink.FLAG_ONLINK),
		Protocol:  fabricRouteProto,
	}
	if err := rp.nl.RouteReplace(route); err != nil {
		return fmt.Errorf("dataplane: fabric route over %s in %s: %w", link.Attrs().Name, rpNS, err)
	}
	all := uint32(0xffffffff)
	r := netlink.NewRule()
	r.Family, r.Priority, r.Mark, r.Mask, r.Table = netlink.FAMILY_V4, fabricRulePriority, m, &all, int(m)
	if err := rp.nl.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("dataplane: fabric rule for %s in %s: %w", link.Attrs().Name, rpNS, err)
	}
	return nil
}

// dropFabricRoute removes a link's rule; its table went with the link.
func dropFabricRoute(rp nsHandles, rpNS string, mark uint32) error {
	all := uint32(0xffffffff)
	r := netlink.NewRule()
	r.Family, r.Priority, r.Mark, r.Mask, r.Table = netlink.FAMILY_V4, fabricRulePriority, mark, &all, int(mark)
	if err := rp.nl.RuleDel(r); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("dataplane: delete fabric rule in %s: %w", rpNS, err)
	}
	return nil
}

// Register numbers of nftables: the four 128-bit registers are 1-4; the
// 32-bit ones start at 8, so 12 and 13 are the first two words of 2.
const (
	reg1   = 1
	reg2   = 2
	reg32b = 13
)

// reg32 is the nth 32-bit register, as concatenated keys are loaded.
func reg32(n uint32) uint32 { return 8 + n }

// matches turns set-less matches into expressions, as the router table's
// rules are built; those cannot fail.
func matches(ms ...nftMatch) []expr.Any {
	var out []expr.Any
	for _, m := range ms {
		e, err := matchExprs(m, nil)
		if err != nil {
			panic(fmt.Sprintf("dataplane: fabric match %v: %v", m, err))
		}
		out = append(out, e...)
	}
	return out
}

func l4proto(p string) byte {
	if p == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

func timeoutName(proto byte, seconds int) string {
	if proto == unix.IPPROTO_UDP {
		return "udp-" + strconv.Itoa(seconds)
	}
	return "tcp-" + strconv.Itoa(seconds)
}

// fabricTables is what a provider router's fabric table holds, as this
// process last wrote it: its link chains and its timeout objects.
type fabricTables struct {
	chains, timeouts map[string]bool
	// kept is what the kernel held for links this process has not written
	// yet: after a restart, until each is applied again.
	kept keptElems
}

// writeRouterFabric brings a provider router's fabric table to the links
// given, in one batch. What the consumer router sends over a link arrives,
// redirected, on the load balancer interface's veth, and that veth and its
// source MAC (the consumer router's end of the endpoint interface) name the
// link. A new connection from a link takes the link's mark as its
// connection mark, is translated to a target (the link's chain, by a hash
// of the client's address and port, as NLB picks) and to the load
// balancer's address, and gets the endpoint's idle timeouts. Replies are
// routed by the mark back over the link; a segment of no known connection
// (cut, or idle past its timeout) is reset over the link, as NLB does.
//
// The first write of a process replaces the table; later ones change maps
// and link chains only, as registering a base chain's hooks makes the
// kernel wait for every CPU. After a restart, links this process has not
// written yet but which exist (alive, by their provider end's index) keep
// what the kernel holds for them: with tables of this build's layout their
// translation, so new connections carry on; otherwise their zones, so
// established ones do.
func (l *Linux) writeRouterFabric(rp nsHandles, rpNS string, links map[string]routerLink, alive map[int]bool) error {
	prev := l.fabric[rpNS]
	delete(l.fabric, rpNS) // unknown until this write succeeds
	next, err := writeFabricTables(rp, rpNS, links, prev, alive)
	if err != nil {
		return err
	}
	if next != nil {
		l.fabric[rpNS] = next
	}
	return nil
}

func writeFabricTables(rp nsHandles, rpNS string, links map[string]routerLink, prev *fabricTables, alive map[int]bool) (*fabricTables, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(rp.ns)), nftables.WithSockOptions(largeBatches))
	if err != nil {
		return nil, fmt.Errorf("dataplane: nftables conn: %w", err)
	}
	ip := &nftables.Table{Name: fabricTable, Family: nftables.TableFamilyIPv4}
	raw := &nftables.Table{Name: fabricRawTable, Family: nftables.TableFamilyIPv4}
	zonesMap := &nftables.Set{Table: raw, Name: "zones", ID: 4, KeyType: linkKey, Concatenation: true, IsMap: true, DataType: nftables.TypeMark}
	linksMap := &nftables.Set{Table: ip, Name: "links", ID: 2, KeyType: linkKey, Concatenation: true, IsMap: true, DataType: nftables.TypeVerdict}
	snatMap := &nftables.Set{Table: ip, Name: "snat", ID: 3, KeyType: nftables.TypeMark, KeyByteOrder: binaryutil.NativeEndian, IsMap: true, DataType: nftables.TypeIPAddr}
	names := slices.Sorted(maps.Keys(links))
	var written keptElems
	var linkElems []nftables.SetElement
	for _, n := range names {
		lk := links[n]
		chain := linkChainName(lk.index)
		a := lk.nodeAddr.As4()
		linkElems = append(linkElems, nftables.SetElement{Key: linkKeyOf(lk), VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}})
		written.snat = append(written.snat, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(fabricMark(lk.index)), Val: a[:]})
		written.zones = append(written.zones, nftables.SetElement{Key: linkKeyOf(lk), Val: binaryutil.NativeEndian.PutUint32(uint32(conntrackZone(lk.index)))})
	}
	var kept keptElems
	switch {
	case prev != nil:
		kept = prev.kept
	default:
		if adopted := readFabricTables(c, ip, snatMap, zonesMap); adopted != nil {
			prev, kept = adopted, adopted.kept
		} else if elems, err := c.GetSetElements(zonesMap); err == nil {
			kept.zones = elems // none when the table is not there yet
		}
	}
	kept = kept.still(alive, written)
	// Builds before this one marked links in a netdev table; a full write
	// removes it with the rest.
	legacy := &nftables.Table{Name: fabricTable, Family: nftables.TableFamilyNetdev}
	empty := len(links) == 0 && kept.none()
	full := prev == nil || empty
	if full {
		for _, t := range []*nftables.Table{legacy, ip, raw} {
			c.AddTable(t)
			c.DelTable(t)
		}
	}
	if empty {
		if err := c.Flush(); err != nil {
			return nil, fmt.Errorf("dataplane: delete fabric tables in %s: %w", rpNS, err)
		}
		return nil, nil
	}
	if full {
		c.AddTable(ip)
		c.AddTable(raw)
		prev = &fabricTables{chains: map[string]bool{}, timeouts: map[string]bool{}}
	}
	next := &fabricTables{chains: map[string]bool{}, timeouts: map[string]bool{}, kept: kept}
	if kept.translated {
		// A kept link goes on to its chain, as the kernel has it.
		byZone := map[uint16]int{}
		for i := range alive {
			byZone[conntrackZone(i)] = i
		}
		for _, e := range kept.zones {
			chain := linkChainName(byZone[uint16(binaryutil.NativeEndian.Uint32(e.Val))])
			if prev.chains[chain] {
				next.chains[chain] = true
				linkElems = append(linkElems, nftables.SetElement{Key: e.Key, VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}})
			}
		}
	}
	accept := nftables.ChainPolicyAccept

	// Timeouts, the maps, the chains.
	for _, n := range names {
		lk := links[n]
		for _, o := range []struct {
			proto   byte
			seconds int
			policy  expr.CtStatePolicyTimeout
			state   uint16
		}{{unix.IPPROTO_TCP, lk.idle.tcp, expr.CtStateTCPTimeoutDefaults, expr.CtStateTCPESTABLISHED}, {unix.IPPROTO_UDP, lk.idle.udp, expr.CtStateUDPTimeoutDefaults, expr.CtStateUDPREPLIED}} {
			name := timeoutName(o.proto, o.seconds)
			if next.timeouts[name] {
				continue
			}
			next.timeouts[name] = true
			if prev.timeouts[name] {
				continue // an object in use stays, and unused ones are few
			}
			policy := expr.CtStatePolicyTimeout{}
			for k, v := range o.policy {
				policy[k] = v
			}
			// TCP established; UDP replied and unreplied: NLB ends a flow
			// after the idle timeout whether or not it was answered.
			policy[o.state] = uint32(o.seconds)
			if o.proto == unix.IPPROTO_UDP {
				policy[expr.CtStateUDPUNREPLIED] = uint32(o.seconds)
			}
			c.AddObj(&nftables.NamedObj{Table: ip, Name: name, Type: nftables.ObjTypeCtTimeout,
				Obj: &expr.CtTimeout{L3Proto: unix.NFPROTO_IPV4, L4Proto: o.proto, Policy: policy}})
		}
	}
	for name := range prev.timeouts {
		next.timeouts[name] = true
	}
	var linkChains []fabricChain
	for _, n := range names {
		lk := links[n]
		chain := linkChainName(lk.index)
		linkChains = append(linkChains, fabricChain{name: chain, rules: linkChainExprs(lk)})
		next.chains[chain] = true
	}
	// Link chains first: the verdict map names them.
	for _, ch := range linkChains {
		chain := &nftables.Chain{Name: ch.name, Table: ip}
		if prev.chains[ch.name] {
			c.FlushChain(chain)
		} else {
			c.AddChain(chain)
		}
		for _, e := range ch.rules {
			c.AddRule(&nftables.Rule{Table: ip, Chain: chain, Exprs: e})
		}
	}
	if err := fillSets(c, !full,
		setFill{linksMap, linkElems},
		setFill{snatMap, append(written.snat, kept.snat...)},
		setFill{zonesMap, append(written.zones, kept.zones...)}); err != nil {
		return nil, fmt.Errorf("dataplane: fabric map in %s: %w", rpNS, err)
	}
	// Chains of links that went, once the map no longer names them.
	for name := range prev.chains {
		if !next.chains[name] {
			c.DelChain(&nftables.Chain{Name: name, Table: ip})
		}
	}
	if full {
		for _, ch := range baseFabricChains(linksMap, snatMap, zonesMap) {
			t := ip
			if ch.raw {
				t = raw
			}
			chain := c.AddChain(&nftables.Chain{Name: ch.name, Table: t, Type: ch.kind, Hooknum: ch.hook, Priority: ch.prio, Policy: &accept})
			for _, e := range ch.rules {
				c.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: e, UserData: ch.userData})
			}
		}
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("dataplane: write fabric tables in %s: %w", rpNS, err)
	}
	return next, nil
}

// baseFabricChains are the hooked chains of a provider router's fabric
// table, written once; the maps they look up follow the links.
func baseFabricChains(linksMap, snatMap, zonesMap *nftables.Set) []fabricChain {
	prio := func(p int32) *nftables.ChainPriority { v := nftables.ChainPriority(p); return &v }
	// Conditions, in the router table's match model.
	fabricConn := nftMatch{Field: fieldCtMark, Mask: fabricMarkMask, Value: fabricMarkBase} // the connection mark names a link
	original := nftMatch{Field: fieldCtDirection, Value: ctDirOriginal}
	reply := nftMatch{Field: fieldCtDirection, Value: ctDirReply}
	untranslated := nftMatch{Field: fieldCtStatus, Neg: true, Value: ctStatusDstNAT}
	stray := matches(fabricConn, original, untranslated)
	markFromConn := []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
	}
	return []fabricChain{
		// What a link brings is looked up, and tracked, in a conntrack zone
		// of the link's own, in the original direction only: two consumers
		// whose clients and endpoint interfaces have the same addresses and
		// ports (alike VPCs), or the consumer's and the load balancer's pass
		// of one connection through one router (an endpoint in the
		// provider's own VPC), are then different connections. Replies, to
		// the load balancer's address and a port the translation keeps
		// unique, are found in the common zone. The zone is the packet mark
		// when conntrack looks (the router sets its own mark later).
		{name: "zone", raw: true, kind: nftables.ChainTypeFilter, hook: nftables.ChainHookPrerouting, prio: prio(fabricZonePriority), rules: [][]expr.Any{{
			&expr.Meta{Key: expr.MetaKeyIIF, Register: reg32(0)},
			&expr.Payload{DestRegister: reg32(1), Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
			&expr.Lookup{SourceRegister: reg32(0), SetName: zonesMap.Name, SetID: zonesMap.ID, IsDestRegSet: true, DestRegister: reg1},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
			ctZoneFromMarkOriginal(),
		}}},
		// A new connection that came over a link, named by the veth it was
		// redirected to and its source MAC (the consumer router's end of
		// the endpoint interface), goes to the link's chain: it takes the
		// link as its connection mark and is translated there. A NAT chain
		// sees only a connection's first packet, so this costs the packets
		// after it nothing.
		{name: "dnat", userData: []byte(fabricLayout), kind: nftables.ChainTypeNAT, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityNATDest, rules: [][]expr.Any{{
			&expr.Meta{Key: expr.MetaKeyIIF, Register: reg32(0)},
			&expr.Payload{DestRegister: reg32(1), Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
			&expr.Lookup{SourceRegister: reg32(0), SetName: linksMap.Name, SetID: linksMap.ID, IsDestRegSet: true, DestRegister: 0},
		}}},
		// After the router checked a reply (at -150) and the translation:
		// replies leave over their link, and what the link brought that was
		// not translated (no connection known: cut, or idle past its
		// timeout) is routed back over it, where the forward chain resets
		// or drops it.
		{name: "route", kind: nftables.ChainTypeFilter, hook: nftables.ChainHookPrerouting, prio: prio(fabricRoutePriority), rules: [][]expr.Any{
			append(matches(fabricConn, reply), markFromConn...),
			append(slices.Clone(stray), markFromConn...),
		}},
		{name: "forward", kind: nftables.ChainTypeFilter, hook: nftables.ChainHookForward, prio: prio(fabricForwardPriority), rules: [][]expr.Any{
			append(append(slices.Clone(stray), matches(nftMatch{Field: fieldL4proto, Value: unix.IPPROTO_TCP})...),
				&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}),
			append(slices.Clone(stray), &expr.Verdict{Kind: expr.VerdictDrop}),
		}},
		{name: "snat", kind: nftables.ChainTypeNAT, hook: nftables.ChainHookPostrouting, prio: nftables.ChainPriorityNATSource, rules: [][]expr.Any{
			append(matches(fabricConn, original),
				&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
				&expr.Lookup{SourceRegister: reg1, SetName: snatMap.Name, SetID: snatMap.ID, IsDestRegSet: true, DestRegister: reg1},
				&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1}),
		}},
	}
}

// linkChainPrefix starts the name of each link's chain, which ends in the
// provider end's interface index.
const linkChainPrefix = "link-"

func linkChainName(index int) string { return linkChainPrefix + strconv.Itoa(index) }

// linkKey is the key of the links map: the load balancer veth a link's
// packets are redirected to, and their source MAC.
var linkKey = nftables.MustConcatSetType(nftables.TypeIFIndex, nftables.TypeEtherAddr)

// linkKeyOf is a link's key in that map: each part padded to whole
// registers, as the lookup loads them.
func linkKeyOf(lk routerLink) []byte {
	key := make([]byte, 0, linkKey.Bytes)
	key = append(key, binaryutil.NativeEndian.PutUint32(uint32(lk.lbIndex))...)
	key = append(key, lk.peerMAC...)
	return append(key, make([]byte, int(linkKey.Bytes)-len(key))...)
}

// setFill is a set and the elements it is to hold.
type setFill struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// fillSets writes each set's elements: a new set, or an existing one
// flushed and refilled (in the same batch, so lookups never see it empty).
func fillSets(c *nftables.Conn, existing bool, fills ...setFill) error {
	for _, f := range fills {
		if !existing {
			if err := addSet(c, f.set, f.elems); err != nil {
				return err
			}
			continue
		}
		c.FlushSet(f.set)
		if err := addElements(c, f.set, f.elems); err != nil {
			return err
		}
	}
	return nil
}

// addSet adds a set and its elements in messages the kernel accepts.
func addSet(c *nftables.Conn, set *nftables.Set, elems []nftables.SetElement) error {
	if err := c.AddSet(set, nil); err != nil {
		return err
	}
	return addElements(c, set, elems)
}

func addElements(c *nftables.Conn, set *nftables.Set, elems []nftables.SetElement) error {
	for _, chunk := range elementChunks(elems) {
		if err := c.SetAddElements(set, chunk); err != nil {
			return err
		}
	}
	return nil
}

// ctZoneFromMarkOriginal is iptables' "CT --zone-orig mark": the packet's
// connection is looked up in the zone its mark names, in the original
// direction only. nftables' own "ct original zone set" cannot be written
// through the netlink library (it sends no direction for zones), so the
// xtables target is used, which the kernel runs inside nftables too, in a
// table named raw only.
func ctZoneFromMarkOriginal() *expr.Target {
	const (
		zoneDirOrig = 1 << 2 // XT_CT_ZONE_DIR_ORIG
		zoneMark    = 1 << 4 // XT_CT_ZONE_MARK
		infoSize    = 72     // struct xt_ct_target_info_v1, with the kernel's pointer
	)
	info := make(xt.Unknown, infoSize)
	copy(info[0:2], binaryutil.NativeEndian.PutUint16(zoneDirOrig|zoneMark))
	return &expr.Target{Name: "CT", Rev: 2, Info: &info}
}

// keptElems are elements of the fabric's maps, kept for links this process
// has not written: their zones, and when translated their translations'
// source addresses (their link chains stay as the kernel has them).
type keptElems struct {
	snat, zones []nftables.SetElement
	translated  bool
}

func (k keptElems) none() bool { return len(k.snat)+len(k.zones) == 0 }

// still keeps the elements whose link exists (alive, by its provider end's
// index) and which written does not have.
func (k keptElems) still(alive map[int]bool, written keptElems) keptElems {
	zones := map[uint16]bool{}
	for i := range alive {
		zones[conntrackZone(i)] = true
	}
	keep := func(kept, written []nftables.SetElement, live func(nftables.SetElement) bool) []nftables.SetElement {
		have := map[string]bool{}
		for _, e := range written {
			have[string(e.Key)] = true
		}
		var out []nftables.SetElement
		for _, e := range kept {
			if live(e) && !have[string(e.Key)] {
				out = append(out, e)
			}
		}
		return out
	}
	return keptElems{
		translated: k.translated,
		snat: keep(k.snat, written.snat, func(e nftables.SetElement) bool {
			if len(e.Key) != 4 {
				return false
			}
			m := binaryutil.NativeEndian.Uint32(e.Key)
			return m&fabricMarkMask == fabricMarkBase && alive[int(m&fabricIndexMax)]
		}),
		zones: keep(k.zones, written.zones, func(e nftables.SetElement) bool {
			return len(e.Val) == 4 && zones[uint16(binaryutil.NativeEndian.Uint32(e.Val))]
		}),
	}
}

// fabricLayout names the layout of the fabric tables this build writes. It
// is the user data of the dnat chain's rule: a process adopts only tables
// of its own layout. Change it whenever the tables change
// (TestFabricLayoutNamesTheChains holds their digest).
const fabricLayout = "privlink-fabric/3"

// readFabricTables reads what a provider router's fabric tables hold, when
// they have this build's layout: their link chains, timeout objects and the
// maps' elements, all kept (see still). It returns nil otherwise.
func readFabricTables(c *nftables.Conn, ip *nftables.Table, snatMap, zonesMap *nftables.Set) *fabricTables {
	rules, err := c.GetRules(ip, &nftables.Chain{Name: "dnat", Table: ip})
	if err != nil || len(rules) != 1 || string(rules[0].UserData) != fabricLayout {
		return nil
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil
	}
	objs, err := c.GetNamedObjects(ip)
	if err != nil {
		return nil
	}
	t := &fabricTables{chains: map[string]bool{}, timeouts: map[string]bool{}}
	for _, ch := range chains {
		if ch.Table.Name == fabricTable && strings.HasPrefix(ch.Name, linkChainPrefix) {
			t.chains[ch.Name] = true
		}
	}
	for _, o := range objs {
		if n, ok := o.(*nftables.NamedObj); ok {
			t.timeouts[n.Name] = true
		}
	}
	// The links map's verdicts do not read back; a link's zone names it.
	for _, m := range []struct {
		set  *nftables.Set
		into *[]nftables.SetElement
	}{{snatMap, &t.kept.snat}, {zonesMap, &t.kept.zones}} {
		if *m.into, err = c.GetSetElements(m.set); err != nil {
			return nil
		}
	}
	t.kept.translated = true
	return t
}

// conntrackZone is the zone of a link, by its provider end's interface
// index: never 0, the zone of everything else.
func conntrackZone(ifindex int) uint16 { return uint16(1 + ifindex%0xffff) }

// fabricChain is one chain of a fabric table.
type fabricChain struct {
	name     string
	raw      bool   // in the raw table
	userData []byte // of its rules
	kind     nftables.ChainType
	hook     *nftables.ChainHook
	prio     *nftables.ChainPriority
	rules    [][]expr.Any
}

// linkChainExprs are one link's chain: a new connection takes the link's
// mark, and one (only a SYN opens one: a stray segment is reset) or a UDP
// flow to a forwarded port of the endpoint interface goes to the target its
// client hash picks, with the endpoint's idle timeout.
func linkChainExprs(lk routerLink) [][]expr.Any {
	addr := lk.eniAddr.As4()
	out := [][]expr.Any{{
		&expr.Immediate{Register: reg1, Data: binaryutil.NativeEndian.PutUint32(fabricMark(lk.index))},
		&expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: reg1},
	}}
	for _, r := range lk.rules {
		proto := l4proto(r.Proto)
		e := []expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: addr[:]},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proto}},
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(r.Port)},
		}
		seconds := lk.idle.tcp
		if proto == unix.IPPROTO_TCP {
			e = append(e,
				&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
				&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{0x02}})
		} else {
			seconds = lk.idle.udp
		}
		if r.Of > 1 {
			e = append(e,
				&expr.Payload{DestRegister: reg2, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Payload{DestRegister: reg32b, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
				&expr.Hash{SourceRegister: reg2, DestRegister: reg1, Length: 8, Modulus: r.Of, Seed: 0x5eed, Type: expr.HashTypeJenkins},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(r.Slot)})
		}
		target := r.Target.Addr().As4()
		e = append(e,
			&expr.Objref{Type: unix.NFT_OBJECT_CT_TIMEOUT, Name: timeoutName(proto, seconds)},
			&expr.Immediate{Register: reg1, Data: target[:]},
			&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(r.Target.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true})
		out = append(out, e)
	}
	return out
}

// flowFilter adapts a predicate to netlink's conntrack filter.
type flowFilter func(*netlink.ConntrackFlow) bool

func (f flowFilter) MatchConntrackFlow(fl *netlink.ConntrackFlow) bool { return f(fl) }

// deleteFlows removes the namespace's TCP and UDP conntrack entries that
// match and returns them.
func deleteFlows(h nsHandles, match func(*netlink.ConntrackFlow) bool) ([]*netlink.ConntrackFlow, error) {
	flows, err := h.nl.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		return nil, err
	}
	var out []*netlink.ConntrackFlow
	for _, fl := range flows {
		if isTCPOrUDP(fl) && match(fl) {
			out = append(out, fl)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	_, err = h.nl.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, flowFilter(func(fl *netlink.ConntrackFlow) bool {
		return isTCPOrUDP(fl) && match(fl)
	}))
	return out, err
}

func isTCPOrUDP(fl *netlink.ConntrackFlow) bool {
	return fl.Forward.Protocol == unix.IPPROTO_TCP || fl.Forward.Protocol == unix.IPPROTO_UDP
}

func tupleSrc(t netlink.IPTuple) netip.AddrPort {
	a, _ := netip.AddrFromSlice(t.SrcIP.To4())
	return netip.AddrPortFrom(a, t.SrcPort)
}

func tupleDst(t netlink.IPTuple) netip.AddrPort {
	a, _ := netip.AddrFromSlice(t.DstIP.To4())
	return netip.AddrPortFrom(a, t.DstPort)
}

// probe is one out-of-window ACK to send from src to dst inside ns.
type probe struct {
	ns       string
	src, dst netip.AddrPort
}

// sendProbes sends each probe twice, its sequence numbers half the space
// apart, so at least one lies outside the peer's window: the peer answers
// with an ACK carrying its exact numbers, which the local stack, having no
// socket for it, answers with a reset the peer accepts. After probeSettle
// the conntrack entries the probes created are removed, so the same client
// port can connect again at once.
func sendProbes(probes []probe, log interface{ Debug(string, ...any) }) {
	if len(probes) == 0 {
		return
	}
	byNS := map[string][]probe{}
	for _, p := range probes {
		if p.src.IsValid() && p.dst.IsValid() {
			byNS[p.ns] = append(byNS[p.ns], p)
		}
	}
	for ns, ps := range byNS {
		err := RunInNamespace(ns, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			var seed [8]byte
			_, _ = rand.Read(seed[:])
			seq, ack := binary.BigEndian.Uint32(seed[:4]), binary.BigEndian.Uint32(seed[4:])
			for _, p := range ps {
				for _, s := range []uint32{seq, seq + 1<<31} {
					pkt := ackSegment(p.src, p.dst, s, ack)
					if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: p.dst.Addr().As4()}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			log.Debug("reset probes failed", "namespace", ns, "err", err)
		}
	}
	time.AfterFunc(probeSettle, func() {
		for ns, ps := range byNS {
			h, err := openNSHandles(ns)
			if err != nil {
				continue
			}
			_, _ = deleteFlows(h, func(fl *netlink.ConntrackFlow) bool {
				for _, p := range ps {
					if tupleSrc(fl.Forward) == p.src && tupleDst(fl.Forward) == p.dst {
						return true
					}
				}
				return false
			})
			h.close()
		}
	})
}

// ackSegment builds an IPv4 packet holding a bare TCP ACK.
func ackSegment(src, dst netip.AddrPort, seq, ack uint32) []byte {
	const ipLen, tcpLen = 20, 20
	b := make([]byte, ipLen+tcpLen)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], ipLen+tcpLen)
	binary.BigEndian.PutUint16(b[6:], 0x4000) // don't fragment
	b[8] = 64
	b[9] = unix.IPPROTO_TCP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:ipLen], 0))
	t := b[ipLen:]
	binary.BigEndian.PutUint16(t[0:], src.Port())
	binary.BigEndian.PutUint16(t[2:], dst.Port())
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = 5 << 4
	t[13] = 0x10 // ACK
	binary.BigEndian.PutUint16(t[14:], 512)
	// Pseudo-header: addresses, protocol and TCP length.
	var pseudo uint32
	for i := 0; i < 4; i += 2 {
		pseudo += uint32(binary.BigEndian.Uint16(s[i:])) + uint32(binary.BigEndian.Uint16(d[i:]))
	}
	pseudo += unix.IPPROTO_TCP + tcpLen
	binary.BigEndian.PutUint16(t[16:], checksum(t, pseudo))
	return b
}

// checksum is the Internet checksum of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
