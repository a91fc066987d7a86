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
// in the provider VPC, translated again to that interface's address. No
// process touches the bytes, so the path costs what kernel forwarding costs.
//
// Each endpoint interface namespace gets a veth pair to every load balancer
// interface namespace it forwards to (the "fabric link"). Connection marks
// carry the link across both translations, so replies find their way back
// even when the consumer's and the provider's addresses overlap.
type Forwarding struct {
	// ENI is the endpoint interface; Addr its private IP.
	ENI  string
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
	// Node is the load balancer interface the connections leave from, and
	// NodeAddr its private IP.
	Node     string
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
	if f.ENI == "" || !f.Addr.Is4() {
		return fmt.Errorf("dataplane: forwarding needs an interface ID and IPv4 address, have %q %v: %w", f.ENI, f.Addr, ErrInvalidModel)
	}
	if f.IdleTimeout < 0 || f.UDPIdleTimeout < 0 {
		return fmt.Errorf("dataplane: forwarding of %s: negative idle timeout: %w", f.ENI, ErrInvalidModel)
	}
	seen := map[string]bool{}
	for _, p := range f.Ports {
		key := p.proto() + "/" + fmt.Sprint(p.Port)
		switch {
		case p.Protocol != "" && p.Protocol != "tcp" && p.Protocol != "udp":
			return fmt.Errorf("dataplane: forwarding of %s port %d: protocol %q: %w", f.ENI, p.Port, p.Protocol, ErrInvalidModel)
		case p.Port == 0:
			return fmt.Errorf("dataplane: forwarding of %s: port 0: %w", f.ENI, ErrInvalidModel)
		case seen[key]:
			return fmt.Errorf("dataplane: forwarding of %s: %s twice: %w", f.ENI, key, ErrInvalidModel)
		case p.Node == "" || !p.NodeAddr.Is4():
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

// fabricMarkBase tags connection and packet marks that name a fabric link:
// the low 16 bits are the link's interface index in the namespace.
const (
	fabricMarkBase = 0x10000
	fabricMarkMask = 0xffff0000
	fabricIndexMax = 0xffff
)

// fabricMark is the mark (and routing table) of the fabric link with the
// given interface index.
func fabricMark(ifindex int) uint32 { return fabricMarkBase | uint32(ifindex&fabricIndexMax) }

// Addresses of the two ends of every fabric link. They are link-local and
// outside what AWS reserves (169.254.169.x), and point-to-point, so every
// link can reuse them.
var (
	fabricEndpointSide = netip.AddrFrom4([4]byte{169, 254, 255, 1})
	fabricNodeSide     = netip.AddrFrom4([4]byte{169, 254, 255, 2})
)

// fabricLinkName names a fabric link after the interface at its other end.
// Names are limited to 15 bytes, so it is a hash; the alias carries the ID.
func fabricLinkName(peerENI string) string {
	h := fnv.New64a()
	h.Write([]byte(peerENI))
	return fmt.Sprintf("%s%013x", fabricLinkPrefix, h.Sum64())[:15]
}

// fabricLinkPrefix starts every fabric link's name; the load balancer side
// matches its links by it.
const fabricLinkPrefix = "pf"

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
