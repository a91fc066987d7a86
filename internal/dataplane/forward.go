package dataplane

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"time"
)

// Forwarding is the kernel data path of one endpoint interface, the way
// PrivateLink's own fabric works: a new TCP connection or UDP flow to the
// interface's address on a forwarded port is translated, in the kernel, to
// one of the port's targets and leaves from the load balancer's interface
// in the provider VPC, translated to that interface's address. No process
// touches the bytes, so the path costs what kernel forwarding costs.
//
// A veth pair (the "fabric link") joins the consumer VPC's router to the
// provider VPC's router for every load balancer interface the endpoint
// interface forwards to. Traffic control redirects make the link invisible
// to both routers' filters: the consumer's see the packets leave through
// the endpoint interface and come back from it, the provider's see them
// come from the load balancer interface and leave through it. The provider
// router translates both ways; a connection mark carries the link, so
// replies find their way back even when the VPCs' addresses overlap.
type Forwarding struct {
	// ENI is the endpoint interface, VPC its VPC and Addr its private IP.
	ENI  string
	VPC  string
	Addr netip.Addr
	// Ports are the forwarded listener ports; any other port of Addr is
	// left to the namespace's own sockets (or refused).
	Ports []ForwardedPort
	// IdleTimeout closes a connection that moved no packet for this long:
	// the next packet from either side gets a reset, as NLB does. Zero means
	// 350 s. It has a resolution of one second.
	IdleTimeout time.Duration
	// UDPIdleTimeout ends a UDP flow that moved no datagram for this long;
	// the next datagram starts a new flow. Zero means NLB's 120 s.
	UDPIdleTimeout time.Duration
}

// ForwardedPort is one listener port of a Forwarding.
type ForwardedPort struct {
	// Protocol is "tcp" (the default when empty) or "udp".
	Protocol string
	Port     uint16
	// Node is the load balancer interface the connections leave from,
	// NodeVPC its VPC and NodeAddr its private IP.
	Node     string
	NodeVPC  string
	NodeAddr netip.Addr
	// Targets are the candidates for new connections; a hash of the
	// client's address and port picks one, so a flow's retransmitted SYN
	// lands on the same target. Existing connections keep their target
	// when the set changes.
	Targets []netip.AddrPort
}

// NLB's idle timeouts.
const (
	DefaultIdleTimeout    = 350 * time.Second
	DefaultUDPIdleTimeout = 120 * time.Second
)

// Validate checks a Forwarding before anything is written.
func (f Forwarding) Validate() error {
	if f.ENI == "" || f.VPC == "" || !f.Addr.Is4() {
		return fmt.Errorf("dataplane: forwarding needs an interface ID, its VPC and its IPv4 address, have %q %q %v: %w", f.ENI, f.VPC, f.Addr, ErrInvalidModel)
	}
	if f.IdleTimeout < 0 || f.UDPIdleTimeout < 0 {
		return fmt.Errorf("dataplane: forwarding of %s: negative idle timeout: %w", f.ENI, ErrInvalidModel)
	}
	seen := map[string]bool{}
	nodes := map[string]ForwardedPort{} // a load balancer interface's first port
	for _, p := range f.Ports {
		if first, ok := nodes[p.Node]; ok && (first.NodeVPC != p.NodeVPC || first.NodeAddr != p.NodeAddr) {
			return fmt.Errorf("dataplane: forwarding of %s: load balancer interface %s in VPCs %q and %q or at %v and %v: %w",
				f.ENI, p.Node, first.NodeVPC, p.NodeVPC, first.NodeAddr, p.NodeAddr, ErrInvalidModel)
		}
		nodes[p.Node] = p
		key := p.proto() + "/" + fmt.Sprint(p.Port)
		switch {
		case p.Protocol != "" && p.Protocol != "tcp" && p.Protocol != "udp":
			return fmt.Errorf("dataplane: forwarding of %s port %d: protocol %q: %w", f.ENI, p.Port, p.Protocol, ErrInvalidModel)
		case p.Port == 0:
			return fmt.Errorf("dataplane: forwarding of %s: port 0: %w", f.ENI, ErrInvalidModel)
		case seen[key]:
			return fmt.Errorf("dataplane: forwarding of %s: %s twice: %w", f.ENI, key, ErrInvalidModel)
		case p.Node == "" || p.NodeVPC == "" || !p.NodeAddr.Is4():
			return fmt.Errorf("dataplane: forwarding of %s port %d: no load balancer interface: %w", f.ENI, p.Port, ErrInvalidModel)
		case len(p.Targets) == 0:
			return fmt.Errorf("dataplane: forwarding of %s port %d: no targets: %w", f.ENI, p.Port, ErrInvalidModel)
		}
		seen[key] = true
		for _, t := range p.Targets {
			if !t.Addr().Is4() || t.Port() == 0 {
				return fmt.Errorf("dataplane: forwarding of %s port %d: bad target %v: %w", f.ENI, p.Port, t, ErrInvalidModel)
			}
		}
	}
	return nil
}

// timeouts are the conntrack lifetimes, in seconds, of an idle established
// TCP connection and of an idle UDP flow.
type timeouts struct{ tcp, udp int }

func (t timeouts) String() string { return fmt.Sprintf("tcp=%ds udp=%ds", t.tcp, t.udp) }

func (f Forwarding) timeouts() timeouts {
	return timeouts{tcp: seconds(f.IdleTimeout, DefaultIdleTimeout), udp: seconds(f.UDPIdleTimeout, DefaultUDPIdleTimeout)}
}

func seconds(d, def time.Duration) int {
	if d == 0 {
		d = def
	}
	return max(1, int(d/time.Second))
}

func (p ForwardedPort) proto() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// nodes returns the distinct load balancer interfaces, sorted.
func (f Forwarding) nodes() []string {
	var out []string
	for _, p := range f.Ports {
		if !slices.Contains(out, p.Node) {
			out = append(out, p.Node)
		}
	}
	slices.Sort(out)
	return out
}

// fabricMarkBase tags the connection marks (and the packet marks of
// replies) of fabric connections in a provider router: the low 16 bits are
// the fabric link's interface index there, which also numbers the link's
// routing table. Subnet marks stay below 1<<25, so the two never meet.
const (
	fabricMarkBase = 0x40000000
	fabricMarkMask = 0xffff0000
	fabricIndexMax = 0xffff
)

// fabricMark is the mark (and routing table) of the fabric link with the
// given interface index.
func fabricMark(ifindex int) uint32 { return fabricMarkBase | uint32(ifindex&fabricIndexMax) }

// Conntrack directions.
const (
	ctDirOriginal = 0
	ctDirReply    = 1
)

// fabricGateway is the next hop a provider router's fabric routes name; no
// interface has it, a permanent neighbour entry resolves it to the consumer
// end of the link.
var fabricGateway = netip.AddrFrom4([4]byte{169, 254, 255, 1})

// fabricLinkNames names the two ends of the fabric link of an endpoint
// interface and a load balancer interface: "pc" in the consumer router,
// "pp" in the provider router (distinct, as both routers are one when the
// VPCs are). Names are limited to 15 bytes, so it is a hash; the alias
// carries the IDs.
func fabricLinkNames(eni, node string) (consumer, provider string) {
	h := fnv.New64a()
	h.Write([]byte(eni + " " + node))
	sum := fmt.Sprintf("%013x", h.Sum64())[:13]
	return fabricConsumerPrefix + sum, fabricProviderPrefix + sum
}

const (
	fabricConsumerPrefix = "pc"
	fabricProviderPrefix = "pp"
)

// dnatRule is one translation rule of an endpoint interface: new
// connections (or flows) of Proto to Port whose client hash modulo Of is
// Slot go to Target.
type dnatRule struct {
	Proto  string
	Port   uint16
	Slot   uint32
	Of     uint32
	Target netip.AddrPort
	Node   string
}

// dnatRules expands the forwarded ports into one rule per target, in a
// stable order. Targets are deduplicated and sorted so the same set always
// maps the same clients to the same targets.
func (f Forwarding) dnatRules() []dnatRule {
	ports := slices.Clone(f.Ports)
	slices.SortFunc(ports, func(a, b ForwardedPort) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.proto(), b.proto()))
	})
	var out []dnatRule
	for _, p := range ports {
		ts := slices.Clone(p.Targets)
		slices.SortFunc(ts, func(a, b netip.AddrPort) int { return a.Compare(b) })
		ts = slices.Compact(ts)
		for i, t := range ts {
			out = append(out, dnatRule{Proto: p.proto(), Port: p.Port, Slot: uint32(i), Of: uint32(len(ts)), Target: t, Node: p.Node})
		}
	}
	return out
}

// String renders the rules for fingerprints and test messages.
func (r dnatRule) String() string {
	return fmt.Sprintf("%s/%d hash%%%d==%d -> %v via %s", r.Proto, r.Port, r.Of, r.Slot, r.Target, r.Node)
}
