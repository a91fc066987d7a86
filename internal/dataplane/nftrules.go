package dataplane

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file builds the router namespace's nftables ruleset as a small,
// OS-neutral model (so it is unit-testable without root); nft_linux.go
// translates the model into netlink expressions.

const (
	nftTableName     = "privlink"
	allInterfacesSet = "interfaces"
	fromMap          = "from"          // link : jump to the checks on what its interface sends
	toMap            = "to"            // link : jump to the checks on what its interface receives
	eniEgressMap     = "eni-egress"    // link : jump to its interface's egress groups
	eniIngressMap    = "eni-ingress"   // link : jump to its interface's ingress groups
	aclEgressMap     = "acl-egress"    // subnet mark : jump to its subnet's egress ACL
	toAddrMap        = "to-addr"       // interface address : jump to its to chain (fabric replies)
	subnetTablesMap  = "subnet-tables" // link : its subnet's routing table, as a packet mark
)

type setKind int

const (
	setIfname setKind = iota
	setAddr
	setAddrInterval
	mapIfnameJump // verdict map: Ifnames[i] : jump Chains[i]
	mapIfnameMark // data map: Ifnames[i] : Marks[i]
	mapMarkJump   // verdict map: Marks[i] : jump Chains[i]
	mapAddrJump   // verdict map: Prefixes[i] (a /32) : jump Chains[i]
)

type nftSet struct {
	Name     string
	Kind     setKind
	Ifnames  []string
	Prefixes []netip.Prefix // setAddr: /32s; setAddrInterval: merged ranges as prefixes
	Chains   []string       // verdict maps: jump targets, parallel to the keys
	Marks    []uint32       // mapIfnameMark: values, parallel to Ifnames; mapMarkJump: keys
}

type matchField int

const (
	fieldNfproto matchField = iota // value: Proto (2 = ipv4)
	fieldIifname
	fieldOifname
	fieldSaddr
	fieldDaddr
	fieldL4proto
	fieldDport
	fieldICMPType
	fieldICMPCode
	fieldCtState
	fieldMark        // the packet mark (and Mask, when set): Value
	fieldCtMark      // the connection mark and Mask: Value
	fieldCtDirection // 0 original, 1 reply
	fieldCtStatus    // status bits Value set (or, negated, all clear)
)

// Conntrack state bits as the kernel encodes them.
const (
	ctInvalid     = 1
	ctEstablished = 2
	ctRelated     = 4
	ctNew         = 8
)

type nftMatch struct {
	Field  matchField
	Neg    bool
	Name   string       // iifname/oifname literal
	Set    string       // lookup in a named set instead of a literal
	Prefix netip.Prefix // saddr/daddr literal
	Value  uint32       // nfproto, l4proto, ct state bits, mark, direction
	Mask   uint32       // fieldCtMark, fieldMark
	Lo, Hi uint16       // dport range, icmp type/code (Lo==Hi)
}

type verdictKind int

const (
	verdictAccept verdictKind = iota
	verdictDrop
	verdictReturn
	verdictJump
	verdictMasquerade
	verdictVmap    // look MapKey up in the verdict map Map
	verdictMarkMap // a statement: set the packet mark to MapKey's value in Map
)

type nftRule struct {
	Matches []nftMatch
	Verdict verdictKind
	Jump    string
	Map     string     // verdictVmap, verdictMarkMap
	MapKey  matchField // verdictVmap: fieldIifname, fieldOifname or fieldMark; verdictMarkMap: a name
}

// chainHook says which base chain a chain is, if any.
type chainHook int

const (
	hookNone        chainHook = iota
	hookForward               // filter, policy drop
	hookInput                 // filter, policy accept
	hookPostrouting           // nat at srcnat, policy accept
	hookPrerouting            // filter at mangle, policy accept
	hookFabricOut             // filter at postrouting after srcnat, policy accept
)

// fabricOutPriority runs the fabric-out chain after source NAT (100).
const fabricOutPriority = 200

// ctStatusDstNAT is IPS_DST_NAT: the connection's destination is translated.
const ctStatusDstNAT = 1 << 5

type nftChain struct {
	Name  string
	Hook  chainHook
	Rules []nftRule
}

type nftRuleset struct {
	Sets   []nftSet
	Chains []nftChain
}

// ifaceInfo is what the builder needs to know about one interface.
type ifaceInfo struct {
	Interface
	Link string // router-side veth
}

func sgSetName(id string) string        { return "sg-" + idSuffix(id) }
func plSetName(id string) string        { return "pl-" + idSuffix(id) }
func aclChain(id, dir string) string    { return "acl-" + idSuffix(id) + "-" + dir }
func crossChain(subnetID string) string { return "cross-" + idSuffix(subnetID) }
func fromChain(link string) string      { return "from-" + link }
func toChain(link string) string        { return "to-" + link }

// groupsChain names the chain that holds the rules of a set of security
// groups in one direction. Every interface with the same groups shares it,
// so the table grows with the distinct group sets, not the interfaces.
func groupsChain(ids []string, dir string) string {
	set := slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(set) == 1 {
		return "sg-" + idSuffix(set[0]) + "-" + dir
	}
	sum := sha256.Sum256([]byte(strings.Join(set, ",")))
	return "sgs-" + hex.EncodeToString(sum[:6]) + "-" + dir
}

// buildRuleset computes the whole table for a validated VPC.
//
// Order in the forward chain: non-IPv4 drop; what the sending interface may
// send and what the receiving one may receive (EC2's source/destination
// check, and the network ACLs of a packet crossing a subnet boundary: egress
// of the source subnet, then ingress of the destination subnet, for replies
// too); established/related accept; then a new connection must pass the
// source interface's egress and the destination interface's ingress
// security groups, and both ends must be interfaces of the model. Traffic
// to the router itself (DNS) uses the input hook, which this table leaves
// alone.
//
// Every per-interface choice is one verdict-map lookup by link, and every
// per-subnet choice a compare or lookup of the packet mark (its source
// subnet's routing table, set at prerouting), so the rules a packet meets do
// not grow with the VPC: a chain of one rule per interface cost 23 % of the
// new-connection rate at 200 rules. An established packet meets two map
// lookups here, where a layout of shared sets needed eight.
func buildRuleset(v VPC) nftRuleset {
	var rs nftRuleset
	ifaces := make([]ifaceInfo, 0, len(v.Interfaces))
	for _, i := range sortedBy(v.Interfaces, func(i Interface) string { return i.ID }) {
		ifaces = append(ifaces, ifaceInfo{Interface: i, Link: routerLinkName(i.ID)})
	}
	subnets := sortedBy(v.Subnets, func(s Subnet) string { return s.ID })
	// Policy routing picks a subnet's table by the packet mark the
	// prerouting map sets, so the kernel walks one rule per subnet instead
	// of one per interface; the forward chain reuses the mark to tell
	// whether a packet stays in its subnet.
	tables := subnetTables(v.Subnets)
	acls := map[string]NetworkACL{}
	for _, a := range v.NetworkACLs {
		acls[a.ID] = a
	}
	usedACLs := map[string]bool{}
	aclOut := nftSet{Name: aclEgressMap, Kind: mapMarkJump}
	for _, s := range subnets {
		if s.ACLID != "" {
			usedACLs[s.ACLID] = true
			aclOut.Marks, aclOut.Chains = append(aclOut.Marks, uint32(tables[s.ID])), append(aclOut.Chains, aclChain(s.ACLID, "egress"))
		}
	}
	// A packet whose source subnet (its mark) is not the destination's
	// crosses a subnet boundary: the cross chain of the destination subnet
	// applies the source subnet's egress ACL and its own ingress ACL.
	gated := len(usedACLs) > 0
	var perLink, crossing []nftChain
	if gated {
		for _, s := range subnets {
			c := nftChain{Name: crossChain(s.ID), Rules: []nftRule{{Verdict: verdictVmap, MapKey: fieldMark, Map: aclEgressMap}}}
			if s.ACLID != "" {
				c.Rules = append(c.Rules, nftRule{Verdict: verdictJump, Jump: aclChain(s.ACLID, "ingress")})
			}
			crossing = append(crossing, c)
		}
	}

	all := nftSet{Name: allInterfacesSet, Kind: setIfname}
	from := nftSet{Name: fromMap, Kind: mapIfnameJump}
	to := nftSet{Name: toMap, Kind: mapIfnameJump}
	toAddr := nftSet{Name: toAddrMap, Kind: mapAddrJump}
	eniOut := nftSet{Name: eniEgressMap, Kind: mapIfnameJump}
	eniIn := nftSet{Name: eniIngressMap, Kind: mapIfnameJump}
	marks := nftSet{Name: subnetTablesMap, Kind: mapIfnameMark}
	for _, i := range ifaces {
		all.Ifnames = append(all.Ifnames, i.Link)
		own := netip.PrefixFrom(i.IP, 32)
		var toRules []nftRule
		if !i.NoSourceDestCheck {
			// EC2's source/destination check: an interface sends only from
			// its own address and receives only for it, unless it is off.
			perLink = append(perLink, nftChain{Name: fromChain(i.Link), Rules: []nftRule{{Matches: []nftMatch{{Field: fieldSaddr, Neg: true, Prefix: own}}, Verdict: verdictDrop}}})
			from.Ifnames, from.Chains = append(from.Ifnames, i.Link), append(from.Chains, fromChain(i.Link))
			toRules = append(toRules, nftRule{Matches: []nftMatch{{Field: fieldDaddr, Neg: true, Prefix: own}}, Verdict: verdictDrop})
		}
		if gated {
			toRules = append(toRules, nftRule{Matches: []nftMatch{{Field: fieldMark, Neg: true, Value: uint32(tables[i.SubnetID])}}, Verdict: verdictJump, Jump: crossChain(i.SubnetID)})
		}
		if len(toRules) > 0 {
			perLink = append(perLink, nftChain{Name: toChain(i.Link), Rules: toRules})
			to.Ifnames, to.Chains = append(to.Ifnames, i.Link), append(to.Chains, toChain(i.Link))
			toAddr.Prefixes, toAddr.Chains = append(toAddr.Prefixes, own), append(toAddr.Chains, toChain(i.Link))
		}
		eniOut.Ifnames, eniOut.Chains = append(eniOut.Ifnames, i.Link), append(eniOut.Chains, groupsChain(i.SecurityGroupIDs, "egress"))
		eniIn.Ifnames, eniIn.Chains = append(eniIn.Ifnames, i.Link), append(eniIn.Chains, groupsChain(i.SecurityGroupIDs, "ingress"))
		marks.Ifnames, marks.Marks = append(marks.Ifnames, i.Link), append(marks.Marks, uint32(tables[i.SubnetID]))
	}
	uplink := needsUplink(v)
	if uplink && gated {
		// Leaving the VPC leaves the source subnet: its egress ACL applies.
		// (Entering from the uplink, the mark is no subnet's, so the
		// destination's cross chain applies its ingress ACL.)
		perLink = append(perLink, nftChain{Name: toChain(uplinkLink), Rules: []nftRule{{Verdict: verdictVmap, MapKey: fieldMark, Map: aclEgressMap}}})
		to.Ifnames, to.Chains = append(to.Ifnames, uplinkLink), append(to.Chains, toChain(uplinkLink))
	}
	rs.Sets = append(rs.Sets, all, marks, from, to, toAddr, aclOut)
	for _, g := range sortedBy(v.SecurityGroups, func(g SecurityGroup) string { return g.ID }) {
		set := nftSet{Name: sgSetName(g.ID), Kind: setAddr}
		for _, i := range ifaces {
			if slices.Contains(i.SecurityGroupIDs, g.ID) {
				set.Prefixes = append(set.Prefixes, netip.PrefixFrom(i.IP, 32))
			}
		}
		rs.Sets = append(rs.Sets, set)
	}
	for _, p := range sortedBy(v.PrefixLists, func(p PrefixList) string { return p.ID }) {
		rs.Sets = append(rs.Sets, nftSet{Name: plSetName(p.ID), Kind: setAddrInterval, Prefixes: mergePrefixes(p.CIDRs)})
	}
	rs.Sets = append(rs.Sets, eniOut, eniIn)

	fwd := nftChain{Name: "forward", Hook: hookForward}
	add := func(v verdictKind, jump string, m ...nftMatch) {
		fwd.Rules = append(fwd.Rules, nftRule{Matches: m, Verdict: v, Jump: jump})
	}
	vmap := func(key matchField, name string) {
		fwd.Rules = append(fwd.Rules, nftRule{Verdict: verdictVmap, MapKey: key, Map: name})
	}
	add(verdictDrop, "", nftMatch{Field: fieldNfproto, Neg: true, Value: 2})
	// A connection the PrivateLink fabric translates is checked where its
	// packets carry the addresses this VPC sees: originals after the
	// translation (fabric-out), replies before it (fabric-reply).
	fabric := nftMatch{Field: fieldCtMark, Mask: fabricMarkMask, Value: fabricMarkBase}
	add(verdictAccept, "", fabric)
	vmap(fieldIifname, fromMap)
	checksFrom := len(fwd.Rules)
	vmap(fieldOifname, toMap)
	add(verdictAccept, "", nftMatch{Field: fieldCtState, Value: ctEstablished | ctRelated})
	add(verdictDrop, "", nftMatch{Field: fieldCtState, Neg: true, Value: ctNew})
	vmap(fieldIifname, eniEgressMap)
	vmap(fieldOifname, eniIngressMap)
	// Only traffic between interfaces of this model passes: a link the
	// table does not know yet (created before the next apply) is dropped.
	add(verdictAccept, "", nftMatch{Field: fieldIifname, Set: allInterfacesSet}, nftMatch{Field: fieldOifname, Set: allInterfacesSet})
	if uplink {
		// New connections may leave through the uplink (after the source
		// interface's egress groups above); from it, only replies enter.
		add(verdictAccept, "", nftMatch{Field: fieldIifname, Set: allInterfacesSet}, nftMatch{Field: fieldOifname, Name: uplinkLink})
	}
	notFabric := fabric
	notFabric.Neg = true
	// Originals leave with the load balancer interface's own address, so
	// the source check would always pass: the checks from the destination
	// on apply.
	out := nftChain{Name: "fabric-out", Hook: hookFabricOut, Rules: []nftRule{
		{Matches: []nftMatch{notFabric}, Verdict: verdictAccept},
		{Matches: []nftMatch{{Field: fieldCtDirection, Value: ctDirReply}}, Verdict: verdictAccept},
	}}
	out.Rules = append(out.Rules, fwd.Rules[checksFrom:]...)
	out.Rules = append(out.Rules, nftRule{Verdict: verdictDrop})
	reply := nftChain{Name: "fabric-reply", Rules: []nftRule{
		{Verdict: verdictVmap, MapKey: fieldIifname, Map: fromMap},
		{Verdict: verdictVmap, MapKey: fieldDaddr, Map: toAddrMap},
	}}
	rs.Chains = append(rs.Chains, fwd, nftChain{Name: "prerouting", Hook: hookPrerouting,
		Rules: []nftRule{
			{Verdict: verdictMarkMap, MapKey: fieldIifname, Map: subnetTablesMap},
			{Matches: []nftMatch{{Field: fieldCtDirection, Value: ctDirReply}, fabric}, Verdict: verdictJump, Jump: reply.Name},
		}}, out, reply)
	// EC2's source check holds for what an interface sends the router
	// itself (its resolver) too; the kernel refuses no source here, as the
	// router accepts its own addresses as sources (realize_linux.go).
	input := nftChain{Name: "input", Hook: hookInput, Rules: []nftRule{{Verdict: verdictVmap, MapKey: fieldIifname, Map: fromMap}}}
	if uplink {
		input.Rules = append(input.Rules, uplinkInput()...)
	}
	rs.Chains = append(rs.Chains, input)
	if uplink {
		rs.Chains = append(rs.Chains, uplinkPostrouting())
	}
	rs.Chains = append(rs.Chains, perLink...)
	rs.Chains = append(rs.Chains, crossing...)

	for _, id := range slices.Sorted(maps.Keys(usedACLs)) {
		for _, egress := range []bool{true, false} {
			rs.Chains = append(rs.Chains, aclChainRules(acls[id], egress))
		}
	}
	groups := map[string]SecurityGroup{}
	for _, g := range v.SecurityGroups {
		groups[g.ID] = g
	}
	done := map[string]bool{}
	for _, i := range ifaces {
		for _, egress := range []bool{true, false} {
			c := groupsChainRules(i.SecurityGroupIDs, groups, egress)
			if !done[c.Name] {
				done[c.Name] = true
				rs.Chains = append(rs.Chains, c)
			}
		}
	}
	return rs
}

// uplinkInput keeps the internet from opening connections to the router
// itself (its resolver, say).
func uplinkInput() []nftRule {
	up := nftMatch{Field: fieldIifname, Name: uplinkLink}
	return []nftRule{
		{Matches: []nftMatch{up, {Field: fieldCtState, Value: ctEstablished | ctRelated}}, Verdict: verdictAccept},
		{Matches: []nftMatch{up}, Verdict: verdictDrop},
	}
}

// uplinkPostrouting masquerades what leaves on the uplink to the uplink
// address, unique per VPC, so overlapping VPCs get their replies.
func uplinkPostrouting() nftChain {
	return nftChain{Name: "postrouting", Hook: hookPostrouting, Rules: []nftRule{
		{Matches: []nftMatch{{Field: fieldOifname, Name: uplinkLink}}, Verdict: verdictMasquerade},
	}}
}

func aclChainRules(a NetworkACL, egress bool) nftChain {
	dir, peer := "ingress", fieldSaddr
	if egress {
		dir, peer = "egress", fieldDaddr
	}
	c := nftChain{Name: aclChain(a.ID, dir)}
	entries := slices.Clone(a.Entries)
	slices.SortStableFunc(entries, func(x, y ACLEntry) int { return cmp.Compare(x.RuleNumber, y.RuleNumber) })
	for _, e := range entries {
		if e.Egress != egress || !e.CIDR.Addr().Is4() {
			continue
		}
		m := protoMatches(e.Protocol, e.PortFrom, e.PortTo, e.ICMPType, e.ICMPCode)
		if e.CIDR.Bits() > 0 {
			m = append(m, nftMatch{Field: peer, Prefix: e.CIDR.Masked()})
		}
		verdict := verdictDrop
		if e.Allow {
			verdict = verdictReturn
		}
		c.Rules = append(c.Rules, nftRule{Matches: m, Verdict: verdict})
	}
	c.Rules = append(c.Rules, nftRule{Verdict: verdictDrop}) // the implicit "*" deny
	return c
}

// groupsChainRules: a packet passes (returns) if any rule of any of the
// groups allows it, and is dropped otherwise.
func groupsChainRules(ids []string, groups map[string]SecurityGroup, egress bool) nftChain {
	dir, peer := "ingress", fieldSaddr
	if egress {
		dir, peer = "egress", fieldDaddr
	}
	c := nftChain{Name: groupsChain(ids, dir)}
	for _, gid := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		rules := groups[gid].Ingress
		if egress {
			rules = groups[gid].Egress
		}
		for _, r := range rules {
			// For ICMP, AWS carries the type in FromPort and the code in ToPort.
			proto := protoMatches(r.Protocol, r.FromPort, r.ToPort, r.FromPort, r.ToPort)
			var peers [][]nftMatch // nil entry: any peer (0.0.0.0/0)
			for _, p := range r.CIDRs {
				switch {
				case !p.Addr().Is4(): // IPv6 is not realized
				case p.Bits() == 0:
					peers = append(peers, nil)
				default:
					peers = append(peers, []nftMatch{{Field: peer, Prefix: p.Masked()}})
				}
			}
			for _, pl := range r.PrefixListIDs {
				peers = append(peers, []nftMatch{{Field: peer, Set: plSetName(pl)}})
			}
			for _, g := range r.GroupIDs {
				peers = append(peers, []nftMatch{{Field: peer, Set: sgSetName(g)}})
			}
			for _, p := range peers {
				m := append(slices.Clone(proto), p...)
				c.Rules = append(c.Rules, nftRule{Matches: m, Verdict: verdictReturn})
			}
		}
	}
	c.Rules = append(c.Rules, nftRule{Verdict: verdictDrop})
	return c
}

// protoMatches turns an AWS protocol and port/ICMP fields into matches.
func protoMatches(protocol string, from, to, icmpType, icmpCode int) []nftMatch {
	p, _ := parseProtocol(protocol) // validated before building
	if p < 0 {
		return nil
	}
	m := []nftMatch{{Field: fieldL4proto, Value: uint32(p)}}
	switch p {
	case 6, 17:
		if from < 0 || to < 0 || (from <= 0 && to >= 65535) {
			return m
		}
		return append(m, nftMatch{Field: fieldDport, Lo: uint16(from), Hi: uint16(to)})
	case 1:
		if icmpType >= 0 {
			m = append(m, nftMatch{Field: fieldICMPType, Lo: uint16(icmpType), Hi: uint16(icmpType)})
			if icmpCode >= 0 {
				m = append(m, nftMatch{Field: fieldICMPCode, Lo: uint16(icmpCode), Hi: uint16(icmpCode)})
			}
		}
	}
	return m
}

// parseProtocol maps an AWS protocol string to an IP protocol number, -1 for all.
func parseProtocol(s string) (int, error) {
	switch strings.ToLower(s) {
	case "-1", "all":
		return -1, nil
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("invalid protocol %q", s)
	}
	return n, nil
}

// mergePrefixes sorts and coalesces IPv4 prefixes into disjoint ranges,
// returned as [start,end] address pairs encoded in prefixes of length 32
// pairs: even index start, odd index end (inclusive).
func mergePrefixes(ps []netip.Prefix) []netip.Prefix {
	type span struct{ lo, hi uint32 }
	var spans []span
	for _, p := range ps {
		if !p.Addr().Is4() {
			continue
		}
		lo := addrU32(p.Masked().Addr())
		spans = append(spans, span{lo, addrU32(lastAddr(p))})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	var merged []span
	for _, s := range spans {
		if n := len(merged); n > 0 && (s.lo <= merged[n-1].hi || s.lo == merged[n-1].hi+1) {
			merged[n-1].hi = max(merged[n-1].hi, s.hi)
			continue
		}
		merged = append(merged, s)
	}
	out := make([]netip.Prefix, 0, 2*len(merged))
	for _, s := range merged {
		out = append(out, netip.PrefixFrom(u32Addr(s.lo), 32), netip.PrefixFrom(u32Addr(s.hi), 32))
	}
	return out
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func sortedBy[T any](in []T, key func(T) string) []T {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}
