package dataplane

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fabricEnv is a consumer VPC (client a1 10.77.1.10, endpoint interface a2
// 10.77.1.11, b1 10.77.2.10) and a provider VPC with the same CIDR (load
// balancer interface b1x 10.77.2.10, targets a1x 10.77.1.10 and a2x
// 10.77.1.11), so every address of the path is also one on the other side:
// a target has the endpoint interface's address and the client's, and the
// load balancer has another consumer instance's.
type fabricEnv struct {
	*testEnv
	fwd      Forwarding
	provider VPC
}

func newFabricEnv(t *testing.T) *fabricEnv {
	e := newTestEnv(t)
	consumer := e.baseVPC()
	provider := e.baseVPC()
	provider.ID = consumer.ID + "p"
	for i := range provider.Interfaces {
		provider.Interfaces[i].ID += "x"
	}
	e.apply(consumer)
	e.apply(provider)
	for _, target := range []struct{ eni, addr string }{{"eni-a2x", "10.77.1.11:8080"}, {"eni-a1x", "10.77.1.10:8080"}} {
		e.servePeer(target.eni, target.addr)
	}
	return &fabricEnv{testEnv: e, provider: provider, fwd: Forwarding{
		ENI:         "eni-a2",
		VPC:         consumer.ID,
		Addr:        netip.MustParseAddr("10.77.1.11"),
		IdleTimeout: time.Minute,
		Ports: []ForwardedPort{{
			Port: 80, Node: "eni-b1x", NodeVPC: provider.ID, NodeAddr: netip.MustParseAddr("10.77.2.10"),
			Targets: []netip.AddrPort{netip.MustParseAddrPort("10.77.1.11:8080"), netip.MustParseAddrPort("10.77.1.10:8080")},
		}},
	}}
}

// servePeer runs a server that first writes "<its address> <peer address>"
// and then echoes lines.
func (e *testEnv) servePeer(eniID, addr string) {
	e.serveWith(eniID, addr, func(c net.Conn) {
		fmt.Fprintf(c, "%s %s\n", c.LocalAddr(), c.RemoteAddr())
		io.Copy(c, c)
	})
}

func (e *fabricEnv) applyFwd(f Forwarding) {
	e.t.Helper()
	if err := e.l.ApplyForwarding(context.Background(), f); err != nil {
		e.t.Fatalf("ApplyForwarding: %v", err)
	}
}

// second is the forwarding of the consumer's b1 (10.77.2.10) as another
// endpoint interface, to the same load balancer interface.
func (e *fabricEnv) second() Forwarding {
	f := e.fwd
	f.ENI, f.Addr = "eni-b1", netip.MustParseAddr("10.77.2.10")
	return f
}

// through opens a connection from the client to addr, reads the target's
// greeting and closes it.
func (e *fabricEnv) through(addr string) error {
	c, err := e.dial("eni-a1", addr, okTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

// connect opens a connection through the endpoint and returns it with the
// target's greeting: the target address and the peer it saw.
func (e *fabricEnv) connect(port int) (net.Conn, *bufio.Reader, string, string, error) {
	c, err := e.dial("eni-a1", fmt.Sprintf("10.77.1.11:%d", port), okTimeout)
	if err != nil {
		return nil, nil, "", "", err
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, nil, "", "", fmt.Errorf("greeting: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		c.Close()
		return nil, nil, "", "", fmt.Errorf("greeting %q", line)
	}
	c.SetDeadline(time.Time{})
	return c, r, f[0], f[1], nil
}

func TestForwardingCarriesConnectionsAcrossOverlappingVPCs(t *testing.T) {
	e := newFabricEnv(t)
	if c, err := e.dial("eni-a1", "10.77.1.11:80", okTimeout); err == nil {
		c.Close()
		t.Fatal("endpoint interface accepted a connection before forwarding was applied")
	}
	e.applyFwd(e.fwd)
	e.applyFwd(e.fwd) // idempotent

	targets := map[string]int{}
	for i := 0; i < 24; i++ {
		c, r, target, peer, err := e.connect(80)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if !strings.HasPrefix(peer, "10.77.2.10:") {
			t.Fatalf("target %s saw peer %s, want the load balancer interface 10.77.2.10", target, peer)
		}
		fmt.Fprintf(c, "ping %d\n", i)
		if got, err := r.ReadString('\n'); err != nil || got != fmt.Sprintf("ping %d\n", i) {
			t.Fatalf("echo through the endpoint = %q, %v", got, err)
		}
		targets[target]++
		c.Close()
	}
	if len(targets) != 2 {
		t.Fatalf("connections by target = %v, want both targets used", targets)
	}
	if c, err := e.dial("eni-a1", "10.77.1.11:81", okTimeout); err == nil {
		c.Close()
		t.Fatal("a port that is not forwarded accepted a connection")
	}
	// The provider's own instances are not reachable through the fabric link
	// other than by translated connections.
	if c, err := e.dial("eni-a1", "10.77.1.11:8080", dropTimeout); err == nil {
		c.Close()
		t.Fatal("the consumer reached a target port directly")
	}
}

func TestForwardingTargetChangeKeepsLiveConnections(t *testing.T) {
	e := newFabricEnv(t)
	e.applyFwd(e.fwd)
	var live net.Conn
	var liveR *bufio.Reader
	var liveTarget string
	for i := 0; i < 24 && live == nil; i++ {
		c, r, target, _, err := e.connect(80)
		if err != nil {
			t.Fatal(err)
		}
		if target == "10.77.1.11:8080" {
			live, liveR, liveTarget = c, r, target
		} else {
			c.Close()
		}
	}
	if live == nil {
		t.Fatal("no connection reached 10.77.1.11")
	}
	defer live.Close()
	only := e.fwd
	only.Ports = []ForwardedPort{e.fwd.Ports[0]}
	only.Ports[0].Targets = []netip.AddrPort{netip.MustParseAddrPort("10.77.1.10:8080")}
	e.applyFwd(only)
	for i := 0; i < 8; i++ {
		c, _, target, _, err := e.connect(80)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if target != "10.77.1.10:8080" {
			t.Fatalf("new connection went to %s after the target set changed", target)
		}
	}
	live.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(live, "still here\n")
	if got, err := liveR.ReadString('\n'); err != nil || got != "still here\n" {
		t.Fatalf("live connection to %s after the change: %q, %v", liveTarget, got, err)
	}
}

func TestRemoveForwardingCutsConnections(t *testing.T) {
	e := newFabricEnv(t)
	e.applyFwd(e.fwd)
	c, r, _, _, err := e.connect(80)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := e.l.RemoveForwarding(context.Background(), e.fwd.ENI); err != nil {
		t.Fatal(err)
	}
	// The client only reads: the cut must reach it without its help.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err == nil || isTimeoutErr(err) {
		t.Fatalf("idle live connection after RemoveForwarding: %v, want a reset", err)
	}
	if c, err := e.dial("eni-a1", "10.77.1.11:80", okTimeout); err == nil {
		c.Close()
		t.Fatal("new connection accepted after RemoveForwarding")
	}
	for _, vpc := range []string{e.fwd.VPC, e.fwd.Ports[0].NodeVPC} {
		if links, rules := e.fabricState(vpc); links != 0 || rules != 0 {
			t.Errorf("router of %s: %d fabric links and %d fabric rules left", vpc, links, rules)
		}
	}
	// Forwarding again works at once, from the same client.
	e.applyFwd(e.fwd)
	c2, _, _, _, err := e.connect(80)
	if err != nil {
		t.Fatalf("after forwarding again: %v", err)
	}
	c2.Close()
}

func TestForwardingIdleTimeout(t *testing.T) {
	e := newFabricEnv(t)
	f := e.fwd
	f.IdleTimeout = 2 * time.Second
	e.applyFwd(f)
	c, r, _, _, err := e.connect(80)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(4 * time.Second)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "late\n")
	// As NLB does, the next segment of a connection idle past the timeout
	// is reset.
	if got, err := r.ReadString('\n'); err == nil || isTimeoutErr(err) {
		t.Fatalf("connection idle past the timeout: %q, %v, want a reset", got, err)
	}
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestAckSegmentChecksums(t *testing.T) {
	pkt := ackSegment(netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:40000"), 1, 2)
	if checksum(pkt[:20], 0) != 0 {
		t.Fatal("IPv4 header checksum does not verify")
	}
	var pseudo uint32 = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20
	if checksum(pkt[20:], pseudo) != 0 {
		t.Fatal("TCP checksum does not verify")
	}
	if pkt[33] != 0x10 {
		t.Fatalf("flags = %#x, want a bare ACK", pkt[33])
	}
}

// fabricState counts a router's fabric links (either end) and fabric rules.
func (e *fabricEnv) fabricState(vpc string) (links, rules int) {
	e.t.Helper()
	h, err := openNSHandles(e.l.RouterNamespace(vpc))
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.close()
	all, _ := h.nl.LinkList()
	for _, l := range all {
		if n := l.Attrs().Name; strings.HasPrefix(n, fabricConsumerPrefix) || strings.HasPrefix(n, fabricProviderPrefix) {
			links++
		}
	}
	rs, _ := h.nl.RuleList(netlink.FAMILY_V4)
	for _, r := range rs {
		if r.Priority == fabricRulePriority {
			rules++
		}
	}
	return links, rules
}

// An endpoint interface removed while privlink was down leaves no fabric
// link or rule behind once privlink forwards again.
func TestForwardingCleansUpAfterVanishedEndpoint(t *testing.T) {
	e := newFabricEnv(t)
	e.applyFwd(e.fwd)
	// The interface leaves its VPC, which removes its veth and namespace.
	consumer := e.baseVPC()
	consumer.Interfaces = slices.DeleteFunc(consumer.Interfaces, func(i Interface) bool { return i.ID == e.fwd.ENI })
	e.apply(consumer)
	restarted, err := New(e.l.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := e.second()
	if err := restarted.ApplyForwarding(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if links, rules := e.fabricState(e.fwd.VPC); links != 1 {
		t.Fatalf("consumer router has %d fabric links (%d rules), want 1", links, rules)
	}
	if links, rules := e.fabricState(e.fwd.Ports[0].NodeVPC); links != 1 || rules != 1 {
		t.Fatalf("provider router has %d fabric links and %d fabric rules, want 1 and 1", links, rules)
	}
	if err := e.through("10.77.2.10:80"); err != nil {
		t.Fatalf("through the remaining endpoint interface: %v", err)
	}
}

// The provider's security groups and network ACLs apply to forwarded
// connections as the load balancer interface's own: to what it sends after
// translation (its address, not the client's) and to the targets' replies
// before they are translated back.
func TestForwardingMeetsProviderFilters(t *testing.T) {
	e := newFabricEnv(t)
	e.applyFwd(e.fwd)
	mustConnect := func(want bool) {
		t.Helper()
		c, _, _, _, err := e.connect(80)
		if err == nil {
			c.Close()
		}
		if (err == nil) != want {
			t.Fatalf("connection through the endpoint: %v, want success %v", err, want)
		}
	}
	mustConnect(true)
	base := e.provider
	only := func(cidr string) VPC {
		v := base
		v.SecurityGroups = []SecurityGroup{openSG, {ID: "sg-targets", Egress: []SGRule{allTraffic},
			Ingress: []SGRule{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, CIDRs: []netip.Prefix{pfx(cidr)}}}}}
		v.Interfaces = slices.Clone(base.Interfaces)
		for i := range v.Interfaces {
			if v.Interfaces[i].SubnetID == "subnet-a" {
				v.Interfaces[i].SecurityGroupIDs = []string{"sg-targets"}
			}
		}
		return v
	}
	t.Run("targets' group allows the client's address only: refused", func(t *testing.T) {
		e.apply(only("10.77.1.10/32")) // the client's address, which the targets never see
		mustConnect(false)
	})
	t.Run("targets' group allows the load balancer interface: carried", func(t *testing.T) {
		e.apply(only("10.77.2.10/32"))
		mustConnect(true)
	})
	acl := func(ephemeralOut bool) VPC {
		v := base
		v.Subnets = slices.Clone(base.Subnets)
		v.Subnets[0].ACLID = "acl-targets" // subnet-a: the targets
		entries := []ACLEntry{{RuleNumber: 100, Protocol: "tcp", PortFrom: 8080, PortTo: 8080, CIDR: pfx("10.77.2.0/24"), Allow: true}}
		if ephemeralOut {
			entries = append(entries, ACLEntry{RuleNumber: 100, Egress: true, Protocol: "tcp", PortFrom: 1024, PortTo: 65535, CIDR: pfx("10.77.2.0/24"), Allow: true})
		}
		v.NetworkACLs = []NetworkACL{{ID: "acl-targets", Entries: entries}}
		return v
	}
	t.Run("targets' subnet lets replies out to no ephemeral port: broken", func(t *testing.T) {
		e.apply(acl(false))
		mustConnect(false)
	})
	t.Run("with the ephemeral ports: carried", func(t *testing.T) {
		e.apply(acl(true))
		mustConnect(true)
	})
}

// Two endpoint interfaces share a load balancer interface: adding the
// second and removing the first leave the other's path working.
func TestForwardingSharedLoadBalancer(t *testing.T) {
	e := newFabricEnv(t)
	second := e.second()
	e.applyFwd(e.fwd)
	e.applyFwd(second)
	for _, addr := range []string{"10.77.1.11:80", "10.77.2.10:80"} {
		if err := e.through(addr); err != nil {
			t.Fatalf("through %s with both forwarded: %v", addr, err)
		}
	}
	if err := e.l.RemoveForwarding(context.Background(), e.fwd.ENI); err != nil {
		t.Fatal(err)
	}
	if err := e.through("10.77.2.10:80"); err != nil {
		t.Fatalf("through the remaining endpoint interface: %v", err)
	}
	if err := e.through("10.77.1.11:80"); err == nil {
		t.Fatal("the removed endpoint interface still forwards")
	}
	if links, rules := e.fabricState(e.fwd.Ports[0].NodeVPC); links != 1 || rules != 1 {
		t.Fatalf("provider router has %d fabric links and %d fabric rules, want 1 and 1", links, rules)
	}
}

// After a restart the controllers apply each endpoint interface again, one
// at a time. The first apply finds the provider router's fabric tables as
// the previous process left them, in this build's layout, and adopts what
// they hold for links it has not applied yet: their established
// connections carry on (the kernel keeps each connection's translation, and
// the links keep their conntrack zones), and so do their new ones.
func TestForwardingRestartKeepsOtherConnections(t *testing.T) {
	e := newFabricEnv(t)
	second, c, r := e.bothWithLiveSecond()
	restarted := e.restartApplying(e.fwd)
	fmt.Fprintf(c, "still here\n")
	if got, err := r.ReadString('\n'); err != nil || got != "still here\n" {
		t.Fatalf("connection through the endpoint not yet applied again: %q, %v", got, err)
	}
	// The tables have this build's layout, so the link keeps its
	// translation too: new connections need not wait for the apply.
	if err := e.through("10.77.2.10:80"); err != nil {
		t.Fatalf("new connection through the endpoint not yet applied again: %v", err)
	}
	// Removing the only endpoint applied since leaves the fabric to the
	// other's connections.
	if err := restarted.RemoveForwarding(context.Background(), e.fwd.ENI); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "and here\n")
	if got, err := r.ReadString('\n'); err != nil || got != "and here\n" {
		t.Fatalf("after the other endpoint was removed: %q, %v", got, err)
	}
	if err := restarted.ApplyForwarding(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if err := e.through("10.77.2.10:80"); err != nil {
		t.Fatalf("new connection once applied again: %v", err)
	}
}

// A restarted process that finds fabric tables of another layout (an
// older build's) replaces them; the links it has not applied yet keep
// their zones, so their established connections carry on.
func TestForwardingRestartFromAnotherLayout(t *testing.T) {
	e := newFabricEnv(t)
	second, c, r := e.bothWithLiveSecond()
	e.eraseFabricLayout(e.fwd.Ports[0].NodeVPC)
	restarted := e.restartApplying(e.fwd)
	fmt.Fprintf(c, "still here\n")
	if got, err := r.ReadString('\n'); err != nil || got != "still here\n" {
		t.Fatalf("connection through the endpoint not yet applied again: %q, %v", got, err)
	}
	if err := restarted.ApplyForwarding(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if err := e.through("10.77.2.10:80"); err != nil {
		t.Fatalf("new connection once applied again: %v", err)
	}
}

// bothWithLiveSecond forwards both endpoint interfaces to the load
// balancer interface and opens a connection through the second, greeted.
func (e *fabricEnv) bothWithLiveSecond() (Forwarding, net.Conn, *bufio.Reader) {
	e.t.Helper()
	second := e.second()
	e.applyFwd(e.fwd)
	e.applyFwd(second)
	c, err := e.dial("eni-a1", "10.77.2.10:80", okTimeout)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := r.ReadString('\n'); err != nil {
		e.t.Fatal(err)
	}
	return second, c, r
}

// restartApplying is a new process, as after a restart, that has applied
// f only.
func (e *fabricEnv) restartApplying(f Forwarding) *Linux {
	e.t.Helper()
	restarted, err := New(e.l.cfg, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := restarted.ApplyForwarding(context.Background(), f); err != nil {
		e.t.Fatal(err)
	}
	return restarted
}

// eraseFabricLayout rewrites a provider router's dnat rule without its
// layout name, as a build before layout names wrote it.
func (e *fabricEnv) eraseFabricLayout(vpc string) {
	e.t.Helper()
	h, err := openNSHandles(e.l.RouterNamespace(vpc))
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.close()
	c, err := nftables.New(nftables.WithNetNSFd(int(h.ns)))
	if err != nil {
		e.t.Fatal(err)
	}
	ip := &nftables.Table{Name: fabricTable, Family: nftables.TableFamilyIPv4}
	chain := &nftables.Chain{Name: "dnat", Table: ip}
	c.FlushChain(chain)
	for _, ch := range baseFabricChains(&nftables.Set{Name: "links"}, &nftables.Set{Name: "snat"}, &nftables.Set{Name: "zones"}) {
		if ch.name == chain.Name {
			for _, rule := range ch.rules {
				c.AddRule(&nftables.Rule{Table: ip, Chain: chain, Exprs: rule})
			}
		}
	}
	if err := c.Flush(); err != nil {
		e.t.Fatal(err)
	}
}

// An endpoint in the provider's own VPC: the connection passes the one
// router twice with the same addresses, as the client's and then as the
// load balancer's.
func TestForwardingWithinOneVPC(t *testing.T) {
	e := newFabricEnv(t)
	e.servePeer("eni-a1", "10.77.1.10:8080") // the client's own namespace serves too
	f := e.fwd
	f.Ports = []ForwardedPort{{Port: 80, Node: "eni-b1", NodeVPC: f.VPC, NodeAddr: netip.MustParseAddr("10.77.2.10"),
		Targets: []netip.AddrPort{netip.MustParseAddrPort("10.77.1.10:8080")}}}
	e.applyFwd(f)
	for i := 0; i < 4; i++ {
		c, r, target, peer, err := e.connect(80)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if target != "10.77.1.10:8080" || !strings.HasPrefix(peer, "10.77.2.10:") {
			t.Fatalf("target %s saw %s, want 10.77.1.10:8080 seeing the load balancer interface 10.77.2.10", target, peer)
		}
		fmt.Fprintf(c, "ping\n")
		if got, err := r.ReadString('\n'); err != nil || got != "ping\n" {
			t.Fatalf("echo = %q, %v", got, err)
		}
		c.Close()
	}
	if links, rules := e.fabricState(f.VPC); links != 2 || rules != 1 {
		t.Fatalf("router has %d fabric link ends and %d fabric rules, want 2 and 1", links, rules)
	}
}

// An endpoint within the provider's VPC beside one from another VPC, both
// to one load balancer interface and with the same address: the zone of the
// first's consumer pass must not catch what the second's link brings, and
// its arrival must not disturb the second's live connections.
func TestForwardingWithinOneVPCBesideAnotherConsumer(t *testing.T) {
	e := newFabricEnv(t)
	// The target is not the provider's endpoint interface (a2x), as on AWS.
	e.fwd.Ports[0].Targets = []netip.AddrPort{netip.MustParseAddrPort("10.77.1.10:8080")}
	e.applyFwd(e.fwd)
	live, liveR, _, _, err := e.connect(80)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	within := Forwarding{ENI: "eni-a2x", VPC: e.provider.ID, Addr: e.fwd.Addr, IdleTimeout: time.Minute, Ports: []ForwardedPort{{
		Port: 80, Node: "eni-b1x", NodeVPC: e.provider.ID, NodeAddr: netip.MustParseAddr("10.77.2.10"),
		Targets: []netip.AddrPort{netip.MustParseAddrPort("10.77.1.10:8080")},
	}}}
	e.applyFwd(within)
	fmt.Fprintf(live, "still here\n")
	if got, err := liveR.ReadString('\n'); err != nil || got != "still here\n" {
		t.Fatalf("the other consumer's live connection after the apply: %q, %v", got, err)
	}
	for i := 0; i < 4; i++ {
		if err := e.through("10.77.1.11:80"); err != nil {
			t.Fatalf("other consumer, connection %d: %v", i, err)
		}
		c, err := e.dial("eni-a1x", "10.77.1.11:80", okTimeout)
		if err != nil {
			t.Fatalf("within the provider's VPC, connection %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		greeting, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(greeting, "10.77.1.10:8080 10.77.2.10:") {
			t.Fatalf("within the provider's VPC, connection %d: greeting %q, %v", i, greeting, err)
		}
	}
}

// Two consumer VPCs laid out alike reach one load balancer interface: their
// clients' connections carry the same addresses and ports, yet are two
// connections, each answered over its own link.
func TestForwardingTwoConsumersWithTheSameAddresses(t *testing.T) {
	e := newFabricEnv(t)
	e.fwd.Ports[0].Targets = []netip.AddrPort{netip.MustParseAddrPort("10.77.1.10:8080")}
	other := e.baseVPC()
	other.ID = e.fwd.VPC + "y"
	for i := range other.Interfaces {
		other.Interfaces[i].ID += "y"
	}
	e.apply(other)
	second := e.fwd
	second.ENI, second.VPC = "eni-a2y", other.ID
	e.applyFwd(e.fwd)
	e.applyFwd(second)
	var readers []*bufio.Reader
	var conns []net.Conn
	for _, client := range []string{"eni-a1", "eni-a1y"} {
		var c net.Conn
		err := RunInNamespace(e.l.InterfaceNamespace(client), func() error {
			d := net.Dialer{Timeout: okTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.77.1.10"), Port: 40000}}
			var err error
			c, err = d.Dial("tcp", "10.77.1.11:80")
			return err
		})
		if err != nil {
			t.Fatalf("client %s: %v", client, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("client %s: greeting: %v", client, err)
		}
		conns, readers = append(conns, c), append(readers, r)
	}
	for i, c := range conns {
		line := fmt.Sprintf("from client %d\n", i)
		fmt.Fprint(c, line)
		if got, err := readers[i].ReadString('\n'); err != nil || got != line {
			t.Fatalf("client %d: echo %q, %v", i, got, err)
		}
	}
}

// serveUDPPeer answers each datagram with "<its address> <peer address>".
func (e *testEnv) serveUDPPeer(eniID, addr string) {
	e.t.Helper()
	pc, err := ListenUDP(context.Background(), e.l.InterfaceNamespace(eniID), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(fmt.Sprintf("%s %s", pc.LocalAddr(), from)), from)
		}
	}()
}

// askUDP sends one datagram from the client interface and returns the answer.
func (e *fabricEnv) askUDP(addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), okTimeout)
	defer cancel()
	c, err := DialUDP(ctx, e.l.InterfaceNamespace("eni-a1"), addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

func TestForwardingUDP(t *testing.T) {
	e := newFabricEnv(t)
	e.serveUDPPeer("eni-a2x", "10.77.1.11:5353")
	f := e.fwd
	f.Ports = append(f.Ports, ForwardedPort{Protocol: "udp", Port: 53, Node: "eni-b1x", NodeVPC: f.Ports[0].NodeVPC, NodeAddr: netip.MustParseAddr("10.77.2.10"),
		Targets: []netip.AddrPort{netip.MustParseAddrPort("10.77.1.11:5353")}})
	if _, err := e.askUDP("10.77.1.11:53"); err == nil {
		t.Fatal("UDP answered before forwarding was applied")
	}
	e.applyFwd(f)
	got, err := e.askUDP("10.77.1.11:53")
	if err != nil {
		t.Fatalf("UDP through the endpoint: %v", err)
	}
	if fields := strings.Fields(got); len(fields) != 2 || !strings.HasPrefix(fields[1], "10.77.2.10:") {
		t.Fatalf("target answered %q, want it to have seen the load balancer interface 10.77.2.10", got)
	}
	// TCP on the same port number is not forwarded: only UDP was asked for.
	if c, err := e.dial("eni-a1", "10.77.1.11:53", okTimeout); err == nil {
		c.Close()
		t.Fatal("TCP/53 accepted, only UDP/53 is forwarded")
	}
	if err := e.l.RemoveForwarding(context.Background(), f.ENI); err != nil {
		t.Fatal(err)
	}
	if got, err := e.askUDP("10.77.1.11:53"); err == nil {
		t.Fatalf("UDP answered %q after RemoveForwarding", got)
	}
}

// Moving a port to another load balancer interface cuts the connections
// the old one carried, as removing the endpoint would, and new ones take
// the new path.
func TestForwardingNodeChangeCutsOldConnections(t *testing.T) {
	e := newFabricEnv(t)
	e.applyFwd(e.fwd)
	c, r, _, _, err := e.connect(80)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	moved := e.fwd
	moved.Ports = []ForwardedPort{e.fwd.Ports[0]}
	// a1x stops being a target to become the load balancer interface.
	moved.Ports[0].Node, moved.Ports[0].NodeAddr = "eni-a1x", netip.MustParseAddr("10.77.1.10")
	moved.Ports[0].Targets = []netip.AddrPort{netip.MustParseAddrPort("10.77.1.11:8080")}
	e.applyFwd(moved)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); err == nil || isTimeoutErr(err) {
		t.Fatalf("connection through the old load balancer interface: %v, want a reset", err)
	}
	c2, _, _, peer, err := e.connect(80)
	if err != nil {
		t.Fatalf("after the move: %v", err)
	}
	c2.Close()
	if !strings.HasPrefix(peer, "10.77.1.10:") {
		t.Fatalf("target saw %s, want the new load balancer interface 10.77.1.10", peer)
	}
}

func TestKeptElements(t *testing.T) {
	u32 := binaryutil.NativeEndian.PutUint32
	zone := func(key string, link int) nftables.SetElement {
		return nftables.SetElement{Key: []byte(key), Val: u32(uint32(conntrackZone(link)))}
	}
	snat := func(link int) nftables.SetElement {
		return nftables.SetElement{Key: u32(fabricMark(link)), Val: []byte{10, 0, 0, 1}}
	}
	elems := func(e ...nftables.SetElement) []nftables.SetElement { return e }
	tests := []struct {
		name    string
		kept    keptElems
		written keptElems
		alive   map[int]bool
		want    [2]int // snat, zones kept
	}{
		{"a link that still exists is kept", keptElems{snat: elems(snat(7)), zones: elems(zone("a", 7))}, keptElems{}, map[int]bool{7: true}, [2]int{1, 1}},
		{"a link that is gone is dropped", keptElems{snat: elems(snat(7)), zones: elems(zone("a", 7))}, keptElems{}, map[int]bool{8: true}, [2]int{0, 0}},
		{"a link written again is not kept twice", keptElems{snat: elems(snat(7), snat(8)), zones: elems(zone("a", 7), zone("b", 8))},
			keptElems{snat: elems(snat(7)), zones: elems(zone("a", 7))}, map[int]bool{7: true, 8: true}, [2]int{1, 1}},
		{"malformed elements are dropped", keptElems{snat: elems(nftables.SetElement{Key: []byte{1}}, nftables.SetElement{Key: u32(7)}), zones: elems(nftables.SetElement{Key: []byte("a"), Val: []byte{8}})}, keptElems{}, map[int]bool{7: true}, [2]int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.kept.still(tt.alive, tt.written)
			if n := [2]int{len(got.snat), len(got.zones)}; n != tt.want {
				t.Fatalf("kept %v elements (snat, zones), want %v", n, tt.want)
			}
		})
	}
}

func TestLinkKeyOf(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	key := linkKeyOf(routerLink{lbIndex: 9, peerMAC: mac})
	want := append(append(binaryutil.NativeEndian.PutUint32(9), mac...), 0, 0)
	if !slices.Equal(key, want) || len(key) != int(linkKey.Bytes) {
		t.Fatalf("key %x (%d bytes), want %x (%d bytes, as the lookup loads an interface index and a padded MAC)", key, len(key), want, linkKey.Bytes)
	}
}

// A restarted process adopts fabric tables whose layout name is its own, so
// the name must change whenever the tables' shape does: their names, the
// link key, the hooked chains. This test holds the shape's digest for the
// current name: change both together.
func TestFabricLayoutNamesTheChains(t *testing.T) {
	sets := func(name string) *nftables.Set { return &nftables.Set{Name: name} }
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %s %d\n", fabricTable, fabricRawTable, linkKey.Name, linkKey.Bytes)
	for _, ch := range baseFabricChains(sets("links"), sets("snat"), sets("zones")) {
		fmt.Fprintf(h, "%s %v %v %v %v %q\n", ch.name, ch.raw, ch.kind, *ch.hook, *ch.prio, ch.userData)
		for _, rule := range ch.rules {
			for _, e := range rule {
				b, err := expr.Marshal(unix.NFPROTO_IPV4, e)
				if err != nil {
					t.Fatal(err)
				}
				h.Write(b)
			}
		}
	}
	got := hex.EncodeToString(h.Sum(nil))[:16]
	const want = "80c3d533a7eafa53"
	if fabricLayout != "privlink-fabric/3" || got != want {
		t.Fatalf("fabric chains digest %s under layout %q: bump fabricLayout when the chains change, then record the new digest here", got, fabricLayout)
	}
}
