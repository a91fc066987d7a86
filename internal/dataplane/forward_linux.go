package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// fabricTable is the nftables table (family ip) of the fabric in
	// endpoint and load balancer interface namespaces.
	fabricTable = "privlink-fabric"
	// fabricRulePriority is the policy-rule priority of the per-link
	// lookups, ahead of the main table.
	fabricRulePriority = 100
	// probeSettle is how long the reset probes of a cut may take before
	// the conntrack entries they created are removed.
	probeSettle = 1500 * time.Millisecond
)

// ApplyForwarding makes the kernel forward f's ports and nothing else of
// the endpoint interface: it creates the fabric links to the load balancer
// interfaces, their routes and marks, and replaces the translation rules in
// one atomic batch. Connections already forwarded keep their target. Both
// interface namespaces must exist (the VPCs are realized first).
func (l *Linux) ApplyForwarding(ctx context.Context, f Forwarding) error {
	if err := f.Validate(); err != nil {
		return err
	}
	l.fabricMu.Lock()
	defer l.fabricMu.Unlock()
	epNS := l.InterfaceNamespace(f.ENI)
	if !nsExists(epNS) {
		return fmt.Errorf("dataplane: forwarding of %s: namespace %s does not exist yet", f.ENI, epNS)
	}
	ep, err := openNSHandles(epNS)
	if err != nil {
		return err
	}
	defer ep.close()
	idle := f.timeouts()
	if err := l.prepareOnce(epNS, idle.String(), func() error { return fabricSysctls(epNS, idle) }); err != nil {
		return err
	}
	nodeAddr := map[string]netip.Addr{}
	for _, p := range f.Ports {
		nodeAddr[p.Node] = p.NodeAddr
	}
	marks := map[string]uint32{}
	for _, node := range f.nodes() {
		nodeNS := l.InterfaceNamespace(node)
		if !nsExists(nodeNS) {
			return fmt.Errorf("dataplane: forwarding of %s: load balancer namespace %s does not exist yet", f.ENI, nodeNS)
		}
		nh, err := openNSHandles(nodeNS)
		if err != nil {
			return err
		}
		err = l.prepareOnce(nodeNS, idle.String()+" "+nodeAddr[node].String(), func() error { return l.ensureNode(nodeNS, nh, nodeAddr[node], idle) })
		if err == nil {
			var link, peer netlink.Link
			link, peer, err = ensureFabricLink(ep, epNS, f.ENI, nh, nodeNS, node)
			if err == nil {
				marks[node] = fabricMark(link.Attrs().Index)
				err = ensureFabricRoute(nh, nodeNS, peer, fabricEndpointSide)
			}
		}
		nh.close()
		if err != nil {
			return err
		}
	}
	// Links to load balancers this interface no longer forwards to: their
	// connections are cut like those of a removed endpoint.
	probes, err := l.dropFabricLinks(ep, epNS, marks)
	if err != nil {
		return err
	}
	if err := writeFabricTable(int(ep.ns), endpointChains(f, marks)); err != nil {
		return err
	}
	sendProbes(probes, l.log)
	return nil
}

// RemoveForwarding stops forwarding for the endpoint interface and cuts
// every connection it forwarded: both conntrack entries of each connection
// are removed and each side gets an out-of-window probe, whose answer our
// stack, no longer knowing the flow, resets. A missing namespace is not an
// error.
func (l *Linux) RemoveForwarding(ctx context.Context, eni string) error {
	l.fabricMu.Lock()
	defer l.fabricMu.Unlock()
	epNS := l.InterfaceNamespace(eni)
	if !nsExists(epNS) {
		return nil
	}
	ep, err := openNSHandles(epNS)
	if err != nil {
		return err
	}
	defer ep.close()
	if err := deleteTable(int(ep.ns), nftables.Table{Name: fabricTable, Family: nftables.TableFamilyIPv4}); err != nil {
		return err
	}
	// Every fabric mark: also connections whose link is already gone.
	probes, err := cutFlows(ep, epNS, 0)
	if err != nil {
		return err
	}
	more, err := l.dropFabricLinks(ep, epNS, nil)
	if err != nil {
		return err
	}
	probes = append(probes, more...)
	delete(l.prepared, epNS) // the namespace may go with the endpoint
	sendProbes(probes, l.log)
	return nil
}

// dropFabricLinks deletes the endpoint namespace's fabric links to the load
// balancer interfaces keep does not name (every link, when keep is empty),
// with dropFabricLink, and then resyncs the endpoint side's routes. It
// returns the probes that reset the cut connections' ends.
func (l *Linux) dropFabricLinks(ep nsHandles, epNS string, keep map[string]uint32) ([]probe, error) {
	links, err := fabricLinks(ep)
	if err != nil {
		return nil, err
	}
	var probes []probe
	for _, link := range links {
		if _, ok := keep[link.Attrs().Alias]; ok {
			continue
		}
		cut, err := l.dropFabricLink(ep, epNS, link)
		if err != nil {
			return nil, err
		}
		probes = append(probes, cut...)
	}
	return probes, syncFabricRoutes(ep, epNS, fabricNodeSide)
}

// dropFabricLink deletes a fabric link of an endpoint namespace, cutting
// the connections it carried on the load balancer side, and drops the load
// balancer side's routes for it. It returns the probes that reset the
// targets' ends of the TCP connections it cut.
func (l *Linux) dropFabricLink(ep nsHandles, epNS string, link netlink.Link) ([]probe, error) {
	node := link.Attrs().Alias
	nodeNS := l.InterfaceNamespace(node)
	epENI := ""
	probes, err := cutFlows(ep, epNS, fabricMark(link.Attrs().Index))
	if err != nil {
		return nil, err
	}
	if nsExists(nodeNS) {
		nh, err := openNSHandles(nodeNS)
		if err != nil {
			return nil, err
		}
		defer nh.close()
		peer, err := nh.nl.LinkByIndex(link.Attrs().ParentIndex)
		if err == nil && strings.HasPrefix(peer.Attrs().Name, fabricLinkPrefix) {
			epENI = peer.Attrs().Alias
			mark := fabricMark(peer.Attrs().Index)
			cut, err := deleteFlows(nh, func(fl *netlink.ConntrackFlow) bool { return fl.Mark == mark })
			if err != nil {
				return nil, fmt.Errorf("dataplane: cut forwarded connections in %s: %w", nodeNS, err)
			}
			for _, fl := range cut {
				if fl.Forward.Protocol == unix.IPPROTO_TCP { // a UDP flow just ends
					// The reply tuple is target → load balancer address and
					// translated port: probe the target from there.
					probes = append(probes, probe{ns: nodeNS, src: tupleDst(fl.Reverse), dst: tupleSrc(fl.Reverse)})
				}
			}
		}
		if err := ep.nl.LinkDel(link); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil, fmt.Errorf("dataplane: delete fabric link %s in %s: %w", link.Attrs().Name, epNS, err)
		}
		if err := syncFabricRoutes(nh, nodeNS, fabricEndpointSide); err != nil {
			return nil, err
		}
	} else if err := ep.nl.LinkDel(link); err != nil {
		return nil, fmt.Errorf("dataplane: delete fabric link %s in %s: %w", link.Attrs().Name, epNS, err)
	}
	l.log.Debug("removed fabric link", "namespace", epNS, "node", node, "endpoint_interface", epENI)
	return probes, nil
}

// fabricSysctls turns on forwarding in an interface namespace of the
// fabric, without reverse-path checks (replies arrive on the fabric link
// while the main table points elsewhere) and with the idle timeout as the
// lifetime of an established connection.
func fabricSysctls(nsName string, idle timeouts) error {
	var res Result
	return ensureSysctls(nsName, [][2]string{
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
		{"net.ipv4.conf.all.send_redirects", "0"},
		{"net.ipv4.conf.default.send_redirects", "0"},
		{"net.ipv4.ip_forward", "1"},
		// With overlapping VPCs a packet may come from an address this
		// namespace also has (a target with the endpoint's address).
		{"net.ipv4.conf.all.accept_local", "1"},
		// Forwarded packets need no socket lookup before routing.
		{"net.ipv4.tcp_early_demux", "0"},
		{"net.netfilter.nf_conntrack_tcp_timeout_established", strconv.Itoa(idle.tcp)},
		// NLB ends a UDP flow after its idle timeout whether or not the
		// target ever answered.
		{"net.netfilter.nf_conntrack_udp_timeout", strconv.Itoa(idle.udp)},
		{"net.netfilter.nf_conntrack_udp_timeout_stream", strconv.Itoa(idle.udp)},
		{"net.netfilter.nf_conntrack_tcp_be_liberal", "1"},
	}, &res)
}

// ensureNode prepares a load balancer interface namespace: sysctls, the
// fabric rules (the local table's after them), and its table, which marks
// connections by the fabric link they came in on and translates them to
// the load balancer's address on the way out.
func (l *Linux) ensureNode(nodeNS string, nh nsHandles, addr netip.Addr, idle timeouts) error {
	if err := fabricSysctls(nodeNS, idle); err != nil {
		return err
	}
	// Rules of links whose endpoint namespace vanished (removed as an
	// orphan while privlink was down) go; the links' own routes went with them.
	if err := syncFabricRoutes(nh, nodeNS, fabricEndpointSide); err != nil {
		return err
	}
	return writeFabricTable(int(nh.ns), nodeChains(addr))
}

// prepareOnce runs prepare unless it already ran for this very namespace
// (not one recreated under the same name) with the same key. A load
// balancer namespace serves every endpoint of its service, so this keeps
// adding one endpoint from redoing the shared work.
func (l *Linux) prepareOnce(nsName, key string, prepare func() error) error {
	var st unix.Stat_t
	if err := unix.Stat(nsPath(nsName), &st); err != nil {
		return fmt.Errorf("dataplane: stat %s: %w", nsName, err)
	}
	key = strconv.FormatUint(st.Ino, 10) + " " + key
	if l.prepared[nsName] == key {
		return nil
	}
	if err := prepare(); err != nil {
		return err
	}
	l.prepared[nsName] = key
	return nil
}

// ensureFabricLink returns the endpoint side of the fabric link between an
// endpoint interface namespace and a load balancer interface namespace,
// creating the veth pair, its addresses and its state when missing; it
// returns the load balancer side too.
func ensureFabricLink(ep nsHandles, epNS, epENI string, nh nsHandles, nodeNS, node string) (netlink.Link, netlink.Link, error) {
	name, peerName := fabricLinkName(node), fabricLinkName(epENI)
	link, err := ep.nl.LinkByName(name)
	if err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, nil, fmt.Errorf("dataplane: find %s in %s: %w", name, epNS, err)
	}
	if link == nil {
		// A half left by a crash between create and alias would block the name.
		if stale, err := nh.nl.LinkByName(peerName); err == nil {
			if err := nh.nl.LinkDel(stale); err != nil {
				return nil, nil, fmt.Errorf("dataplane: delete stale %s in %s: %w", peerName, nodeNS, err)
			}
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: name, MTU: ifaceMTU},
			PeerName:      peerName,
			PeerNamespace: netlink.NsFd(nh.ns),
			PeerMTU:       ifaceMTU,
		}
		if err := ep.nl.LinkAdd(veth); err != nil {
			return nil, nil, fmt.Errorf("dataplane: add fabric link %s in %s: %w", name, epNS, err)
		}
		if link, err = ep.nl.LinkByName(name); err != nil {
			return nil, nil, fmt.Errorf("dataplane: find new %s in %s: %w", name, epNS, err)
		}
	}
	peer, err := nh.nl.LinkByName(peerName)
	if err != nil {
		return nil, nil, fmt.Errorf("dataplane: fabric link %s has no peer %s in %s: %w", name, peerName, nodeNS, err)
	}
	for _, side := range []struct {
		h     nsHandles
		ns    string
		link  netlink.Link
		alias string
		addr  netip.Addr
	}{{ep, epNS, link, node, fabricEndpointSide}, {nh, nodeNS, peer, epENI, fabricNodeSide}} {
		var res Result
		if side.link.Attrs().Alias != side.alias {
			if err := side.h.nl.LinkSetAlias(side.link, side.alias); err != nil {
				return nil, nil, fmt.Errorf("dataplane: alias of %s in %s: %w", side.link.Attrs().Name, side.ns, err)
			}
		}
		if err := syncAddrs(side.h.nl, side.link, []netip.Prefix{netip.PrefixFrom(side.addr, 32)}, func(netip.Prefix) bool { return true }, &res, side.ns); err != nil {
			return nil, nil, err
		}
		if err := ensureUp(side.h.nl, side.link, &res, side.ns); err != nil {
			return nil, nil, err
		}
		ensureBigTCP(side.h.nl, side.link, &res, side.ns)
	}
	return link, peer, nil
}

// fabricLinks lists a namespace's fabric links.
func fabricLinks(h nsHandles) ([]netlink.Link, error) {
	all, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("dataplane: list links: %w", err)
	}
	var out []netlink.Link
	for _, link := range all {
		if strings.HasPrefix(link.Attrs().Name, fabricLinkPrefix) && link.Type() == "veth" {
			out = append(out, link)
		}
	}
	return out, nil
}

// syncFabricRoutes gives every fabric link of a namespace a routing table
// (its mark) whose default route leads over the link to the peer address,
// and a rule selecting it by mark; rules of links that are gone are removed.
func syncFabricRoutes(h nsHandles, nsName string, peer netip.Addr) error {
	links, err := fabricLinks(h)
	if err != nil {
		return err
	}
	want := map[uint32]netlink.Link{}
	for _, link := range links {
		want[fabricMark(link.Attrs().Index)] = link
	}
	rules, err := h.nl.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("dataplane: list rules in %s: %w", nsName, err)
	}
	if err := moveLocalRule(h, nsName, rules); err != nil {
		return err
	}
	have := map[uint32]bool{}
	for _, r := range rules {
		if r.Priority != fabricRulePriority {
			continue
		}
		m := uint32(r.Table)
		if _, ok := want[m]; ok && r.Mark == m {
			have[m] = true
			continue
		}
		rr := r
		if err := h.nl.RuleDel(&rr); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("dataplane: delete stale fabric rule in %s: %w", nsName, err)
		}
	}
	for m, link := range want {
		if have[m] {
			continue
		}
		if err := ensureFabricRoute(h, nsName, link, peer); err != nil {
			return err
		}
	}
	return nil
}

// fabricLocalPriority is where the local table's rule moves to, after the
// fabric rules.
const fabricLocalPriority = 200

// moveLocalRule puts the local table's lookup after the fabric rules. A
// translated connection must follow its mark even when its new address is
// one of the namespace's own: with overlapping VPCs a target may have the
// endpoint interface's address, or a client the load balancer's.
func moveLocalRule(h nsHandles, nsName string, rules []netlink.Rule) error {
	var first *netlink.Rule
	moved := false
	for i, r := range rules {
		if r.Table != unix.RT_TABLE_LOCAL || r.Mark != 0 || r.Src != nil || r.Dst != nil {
			continue
		}
		switch r.Priority {
		case 0:
			first = &rules[i]
		case fabricLocalPriority:
			moved = true
		}
	}
	if !moved {
		r := netlink.NewRule()
		r.Family, r.Priority, r.Table = netlink.FAMILY_V4, fabricLocalPriority, unix.RT_TABLE_LOCAL
		if err := h.nl.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("dataplane: move local rule in %s: %w", nsName, err)
		}
	}
	if first != nil {
		if err := h.nl.RuleDel(first); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("dataplane: move local rule in %s: %w", nsName, err)
		}
	}
	return nil
}

// ensureFabricRoute gives one fabric link its routing table and rule.
func ensureFabricRoute(h nsHandles, nsName string, link netlink.Link, peer netip.Addr) error {
	m := fabricMark(link.Attrs().Index)
	route := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       prefixIPNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)),
		Gw:        peer.AsSlice(),
		Table:     int(m),
		Flags:     int(netlink.FLAG_ONLINK),
		Protocol:  routeProto,
	}
	if err := h.nl.RouteReplace(route); err != nil {
		return fmt.Errorf("dataplane: fabric route over %s in %s: %w", link.Attrs().Name, nsName, err)
	}
	all := uint32(0xffffffff)
	r := netlink.NewRule()
	r.Family, r.Priority, r.Mark, r.Mask, r.Table = netlink.FAMILY_V4, fabricRulePriority, m, &all, int(m)
	if err := h.nl.RuleAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("dataplane: fabric rule for %s in %s: %w", link.Attrs().Name, nsName, err)
	}
	return nil
}

// fabricChain is one chain of a fabric table.
type fabricChain struct {
	name  string
	kind  nftables.ChainType
	hook  *nftables.ChainHook
	prio  *nftables.ChainPriority
	drop  bool
	rules [][]expr.Any
}

// Register numbers of nftables: the four 128-bit registers are 1-4; the
// 32-bit ones start at 8, so 12 and 13 are the first two words of 2.
const (
	reg1   = 1
	reg2   = 2
	reg32b = 13
)

func loadMarkBits() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(fabricMarkMask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(fabricMarkBase)},
	}
}

// forwardedOnly accepts the forwarded packets of fabric connections that
// leave the way their direction must (originals through an interface named
// origOut, replies through replyOut, both prefixes) and drops every other
// forwarded packet: the namespace is not a router, and a connection whose
// fabric link is gone must not fall back to the main table.
func forwardedOnly(origOut, replyOut []byte) fabricChain {
	rule := func(dir byte, out []byte) []expr.Any {
		return append([]expr.Any{
			&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{dir}},
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: out},
		}, append(loadMarkBits(), &expr.Verdict{Kind: expr.VerdictAccept})...)
	}
	return fabricChain{name: "forward", kind: nftables.ChainTypeFilter, hook: nftables.ChainHookForward, prio: nftables.ChainPriorityFilter, drop: true,
		rules: [][]expr.Any{rule(ctDirOriginal, origOut), rule(ctDirReply, replyOut)}}
}

// markFromConn copies a fabric connection's mark to packets of the given
// direction so the policy rules route them over the right link.
func markFromConn(dir byte) []expr.Any {
	return append([]expr.Any{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{dir}},
	}, append(loadMarkBits(),
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg1},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1})...)
}

const (
	ctDirOriginal = 0
	ctDirReply    = 1
)

// endpointChains are the endpoint interface's table: translate new
// connections to targets, mark them with their fabric link, and forward
// nothing else.
func endpointChains(f Forwarding, marks map[string]uint32) []fabricChain {
	dnat := fabricChain{name: "dnat", kind: nftables.ChainTypeNAT, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityNATDest}
	addr := f.Addr.As4()
	for _, r := range f.dnatRules() {
		e := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ifnameBytes(ifaceLink)},
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: addr[:]},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{l4proto(r.Proto)}},
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(r.Port)},
		}
		if r.Proto == "tcp" {
			// Only a SYN opens a connection: a stray segment of a connection
			// that was cut or timed out reaches the local stack and is reset.
			e = append(e,
				&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
				&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{0x02}})
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
			&expr.Immediate{Register: reg1, Data: binaryutil.NativeEndian.PutUint32(marks[r.Node])},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
			&expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: reg1},
			&expr.Immediate{Register: reg1, Data: target[:]},
			&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(r.Target.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1, RegProtoMin: reg2, Specified: true})
		dnat.rules = append(dnat.rules, e)
	}
	mark := fabricChain{name: "mark", kind: nftables.ChainTypeFilter, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityMangle,
		rules: [][]expr.Any{markFromConn(ctDirOriginal)}}
	return []fabricChain{mark, dnat, forwardedOnly([]byte(fabricLinkPrefix), ifnameBytes(ifaceLink))}
}

func l4proto(p string) byte {
	if p == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

// nodeChains are the load balancer interface's table: a connection that
// comes in over a fabric link is marked with that link (its interface
// index), its replies are routed back by that mark, and it leaves with
// the load balancer's address.
func nodeChains(addr netip.Addr) []fabricChain {
	a := addr.As4()
	markNew := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte(fabricLinkPrefix)},
		&expr.Ct{Key: expr.CtKeySTATE, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)},
		&expr.Meta{Key: expr.MetaKeyIIF, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(fabricIndexMax), Xor: binaryutil.NativeEndian.PutUint32(fabricMarkBase)},
		&expr.Ct{Key: expr.CtKeyMARK, SourceRegister: true, Register: reg1},
	}
	mark := fabricChain{name: "mark", kind: nftables.ChainTypeFilter, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityMangle,
		rules: [][]expr.Any{markNew, markFromConn(ctDirReply)}}
	snat := fabricChain{name: "snat", kind: nftables.ChainTypeNAT, hook: nftables.ChainHookPostrouting, prio: nftables.ChainPriorityNATSource,
		rules: [][]expr.Any{append([]expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ifnameBytes(ifaceLink)},
		}, append(loadMarkBits(),
			&expr.Immediate{Register: reg1, Data: a[:]},
			&expr.NAT{Type: expr.NATTypeSourceNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: reg1})...)}}
	return []fabricChain{mark, forwardedOnly(ifnameBytes(ifaceLink), []byte(fabricLinkPrefix)), snat}
}

// writeFabricTable replaces the namespace's fabric table in one batch.
func writeFabricTable(nsFd int, chains []fabricChain) error {
	c, err := nftables.New(nftables.WithNetNSFd(nsFd))
	if err != nil {
		return fmt.Errorf("dataplane: nftables conn: %w", err)
	}
	table := &nftables.Table{Name: fabricTable, Family: nftables.TableFamilyIPv4}
	c.AddTable(table)
	c.DelTable(table)
	c.AddTable(table)
	for _, ch := range chains {
		policy := nftables.ChainPolicyAccept
		if ch.drop {
			policy = nftables.ChainPolicyDrop
		}
		chain := c.AddChain(&nftables.Chain{Name: ch.name, Table: table, Type: ch.kind, Hooknum: ch.hook, Priority: ch.prio, Policy: &policy})
		for _, e := range ch.rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: e})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("dataplane: write table %s: %w", fabricTable, err)
	}
	return nil
}

// cutFlows removes an endpoint namespace's conntrack entries of forwarded
// connections (those with the given fabric mark, or with any when mark is
// 0) and returns the probes that reset the clients' ends of the TCP ones.
func cutFlows(ep nsHandles, epNS string, mark uint32) ([]probe, error) {
	cut, err := deleteFlows(ep, func(fl *netlink.ConntrackFlow) bool {
		return fl.Mark == mark || mark == 0 && fl.Mark&fabricMarkMask == fabricMarkBase
	})
	if err != nil {
		return nil, fmt.Errorf("dataplane: cut forwarded connections in %s: %w", epNS, err)
	}
	var probes []probe
	for _, fl := range cut {
		if fl.Forward.Protocol == unix.IPPROTO_TCP {
			probes = append(probes, probe{ns: epNS, src: tupleDst(fl.Forward), dst: tupleSrc(fl.Forward)})
		}
	}
	return probes, nil
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
