package dataplane

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// pingOnce sends one ICMP echo request from the interface namespace over a
// raw socket and reports whether the matching reply arrived in time.
func (e *testEnv) pingOnce(from string, dst netip.Addr, timeout time.Duration) bool {
	e.t.Helper()
	var conn net.PacketConn
	err := RunInNamespace(e.l.InterfaceNamespace(from), func() error {
		var err error
		conn, err = net.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		e.t.Fatalf("icmp socket: %v", err)
	}
	defer conn.Close()
	const id, seq = 0x5a5a, 1
	msg := []byte{8, 0, 0, 0, id >> 8, id & 0xff, 0, seq, 'p', 'l'}
	binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	if _, err := conn.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return false
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			return false
		}
		if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && peer.String() == dst.String() {
			return true
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestICMP(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	echoOnly := SecurityGroup{ID: "sg-ping",
		Ingress: []SGRule{{Protocol: "icmp", FromPort: 8, ToPort: -1, CIDRs: []netip.Prefix{pfx("10.77.1.10/32")}}},
		Egress:  []SGRule{allTraffic}}
	v.SecurityGroups = append(v.SecurityGroups, echoOnly)
	v.Interfaces[2].SecurityGroupIDs = []string{"sg-ping"}
	e.apply(v)
	b1 := netip.MustParseAddr("10.77.2.10")
	t.Run("echo allowed from the listed source", func(t *testing.T) {
		if !e.pingOnce("eni-a1", b1, okTimeout) {
			t.Fatal("no echo reply")
		}
	})
	t.Run("echo from another source dropped", func(t *testing.T) {
		if e.pingOnce("eni-a2", b1, dropTimeout) {
			t.Fatal("echo reply despite security group")
		}
	})
	t.Run("subnet router answers", func(t *testing.T) {
		if !e.pingOnce("eni-a2", netip.MustParseAddr("10.77.1.1"), okTimeout) {
			t.Fatal("subnet router did not answer")
		}
	})
}

// Traffic to the VPC resolver in the router namespace is never filtered,
// even from an interface whose security group allows no egress at all.
func TestResolverNotFiltered(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	v.SecurityGroups = append(v.SecurityGroups, SecurityGroup{ID: "sg-closed"})
	v.Interfaces[0].SecurityGroupIDs = []string{"sg-closed"}
	v.NetworkACLs = []NetworkACL{{ID: "acl-deny"}}
	v.Subnets[0].ACLID = "acl-deny"
	e.apply(v)
	router := e.l.RouterNamespace(v.ID)
	for _, addr := range []string{"10.77.0.2:53", "169.254.169.253:53"} {
		ln, err := ListenTCP(context.Background(), router, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("ok\n"))
				c.Close()
			}
		}()
		t.Run(addr, func(t *testing.T) {
			c, err := e.dial("eni-a1", addr, okTimeout)
			if err != nil {
				t.Fatalf("resolver unreachable: %v", err)
			}
			c.Close()
		})
	}
	t.Run("closed group still blocks other traffic", func(t *testing.T) {
		e.serve("eni-a2", "10.77.1.11:80")
		e.mustNotReach("eni-a1", "10.77.1.11:80")
	})
}

// Two VPCs with the same CIDR are independent routers.
func TestOverlappingVPCs(t *testing.T) {
	e := newTestEnv(t)
	v1 := e.baseVPC()
	v2 := e.baseVPC()
	v2.ID = v1.ID + "2"
	for i := range v2.Interfaces {
		v2.Interfaces[i].ID += "x"
	}
	e.apply(v1)
	e.apply(v2)
	e.serve("eni-b1", "10.77.2.10:80")
	e.serve("eni-b1x", "10.77.2.10:81")
	t.Run("vpc1", func(t *testing.T) {
		e.mustReach("eni-a1", "10.77.2.10:80")
		e.mustNotReach("eni-a1", "10.77.2.10:81")
	})
	t.Run("vpc2", func(t *testing.T) {
		e.mustReach("eni-a1x", "10.77.2.10:81")
		e.mustNotReach("eni-a1x", "10.77.2.10:80")
	})
}

// Moving an interface to another address and subnet updates it in place.
func TestInterfaceUpdate(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	e.apply(v)
	v.Interfaces[1].SubnetID = "subnet-b"
	v.Interfaces[1].IP = netip.MustParseAddr("10.77.2.20")
	res := e.apply(v)
	if len(res.Created) == 0 || len(res.Deleted) == 0 {
		t.Fatalf("move reported %+v", res)
	}
	e.serve("eni-a2", "10.77.2.20:80")
	e.mustReach("eni-a1", "10.77.2.20:80")
	e.mustReach("eni-b1", "10.77.2.20:80")
	if res := e.apply(v); res.Changed() {
		t.Fatalf("re-apply after move changed: %+v", res)
	}
}

// A link another component adds to the router namespace is neither removed
// by an apply nor forwarded by the table.
func TestForeignLinkNotForwarded(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	e.apply(v)
	e.serve("eni-b1", "10.77.2.10:80")
	rogueNS := e.l.InterfaceNamespace("eni-rogue") // Cleanup removes it as an orphan
	if err := createNamedNS(rogueNS); err != nil {
		t.Fatal(err)
	}
	router, err := ensureNS(e.l.RouterNamespace(v.ID), &Result{})
	if err != nil {
		t.Fatal(err)
	}
	defer router.close()
	rogue, err := ensureNS(rogueNS, &Result{})
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(router.nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rogue0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(rogue.ns)}))
	rlink, err := router.nl.LinkByName("rogue0")
	must(err)
	must(router.nl.LinkSetUp(rlink))
	must(router.nl.AddrAdd(rlink, &netlink.Addr{IPNet: prefixIPNet(pfx("10.77.1.1/32"))}))
	must(router.nl.RouteAdd(&netlink.Route{LinkIndex: rlink.Attrs().Index, Dst: prefixIPNet(pfx("10.77.3.50/32")), Scope: netlink.SCOPE_LINK}))
	eth, err := rogue.nl.LinkByName("eth0")
	must(err)
	must(rogue.nl.LinkSetUp(eth))
	must(rogue.nl.AddrAdd(eth, &netlink.Addr{IPNet: prefixIPNet(pfx("10.77.3.50/24"))}))
	must(rogue.nl.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("10.77.1.1"), Flags: int(netlink.FLAG_ONLINK)}))

	t.Run("not forwarded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		if c, err := DialTCP(ctx, rogueNS, "10.77.2.10:80"); err == nil {
			c.Close()
			t.Fatal("foreign link reached an interface")
		}
	})
	t.Run("survives apply", func(t *testing.T) {
		e.apply(v)
		if _, err := router.nl.LinkByName("rogue0"); err != nil {
			t.Fatalf("apply removed a foreign link: %v", err)
		}
	})
}

// addAddrs adds addresses to an interface's eth0, as a user inside the
// instance would.
func (e *testEnv) addAddrs(eniID string, prefixes ...string) {
	e.t.Helper()
	h, err := ensureNS(e.l.InterfaceNamespace(eniID), &Result{})
	if err != nil {
		e.t.Fatal(err)
	}
	defer h.close()
	eth, err := h.nl.LinkByName("eth0")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range prefixes {
		if err := h.nl.AddrAdd(eth, &netlink.Addr{IPNet: prefixIPNet(pfx(p))}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestSourceCheck: an instance that sends from an address that is not its
// own (a free one, or a neighbour's) is dropped at the router, as EC2's
// source/destination check does; its own address still passes. UDP shows
// what reached the server, since no reply could come back to a spoofer.
func TestSourceCheck(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	e.apply(v)
	srv, err := ListenUDP(context.Background(), e.l.InterfaceNamespace("eni-b1"), "10.77.2.10:53")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ns := e.l.InterfaceNamespace("eni-a1")
	e.addAddrs("eni-a1", "10.77.1.99/24", "10.77.1.11/24") // free, and a2's
	tests := []struct {
		src  string
		pass bool
	}{
		{"10.77.1.10", true},
		{"10.77.1.99", false},
		{"10.77.1.11", false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			if err := sendUDPFrom(ns, tc.src, "10.77.2.10:53"); err != nil {
				t.Fatal(err)
			}
			expectDatagram(t, srv, tc.src, tc.pass)
		})
	}
	t.Run("check off: any source passes", func(t *testing.T) {
		v.Interfaces[0].NoSourceDestCheck = true
		if res := e.apply(v); !res.Changed() {
			t.Fatal("turning the check off changed nothing")
		}
		// The addresses added inside the instance survived the apply.
		if err := sendUDPFrom(ns, "10.77.1.99", "10.77.2.10:53"); err != nil {
			t.Fatal(err)
		}
		srv.SetReadDeadline(time.Now().Add(okTimeout))
		if _, _, err := srv.ReadFrom(make([]byte, 64)); err != nil {
			t.Fatalf("datagram from 10.77.1.99 with the check off: %v", err)
		}
	})
}

// TestRouteToInterface: a route only subnet a's table has, to interface
// b1, carries a's packets to b1 (so the router looks up the table of the
// subnet a packet comes from) once b1's source/destination check is off;
// with the check on, EC2 drops traffic for addresses not b1's own, and so
// does the router.
func TestRouteToInterface(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	v.Subnets[0].Routes = []Route{{Destination: pfx("10.200.0.0/16"), Target: TargetInterface, TargetID: "eni-b1"}}
	e.apply(v)
	b1 := e.l.InterfaceNamespace("eni-b1")
	e.addAddrs("eni-b1", "10.200.0.5/32") // b1 plays an appliance that owns the routed range
	srv, err := ListenUDP(context.Background(), b1, "10.200.0.5:53")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	send := func() {
		t.Helper()
		err := RunInNamespace(e.l.InterfaceNamespace("eni-a1"), func() error {
			c, err := net.Dial("udp", "10.200.0.5:53")
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("via subnet a's table"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("check on: dropped", func(t *testing.T) {
		send()
		srv.SetReadDeadline(time.Now().Add(dropTimeout))
		if _, _, err := srv.ReadFrom(make([]byte, 64)); err == nil {
			t.Fatal("a datagram for another address reached an interface with the check on")
		}
	})
	t.Run("check off: delivered", func(t *testing.T) {
		v.Interfaces[2].NoSourceDestCheck = true
		e.apply(v) // leaves the appliance's own addresses alone
		send()
		srv.SetReadDeadline(time.Now().Add(okTimeout))
		if _, _, err := srv.ReadFrom(make([]byte, 64)); err != nil {
			t.Fatalf("datagram routed by subnet a's table did not arrive: %v", err)
		}
	})
}

// TestSourceCheckToTheRouter: the source check holds for what an instance
// sends the router itself (its resolver addresses) too. A spoofed source is
// dropped, the router's own address as source included, which the kernel
// no longer refuses on its own (routers accept local sources).
func TestSourceCheckToTheRouter(t *testing.T) {
	e := newTestEnv(t)
	e.apply(e.baseVPC())
	var srv net.PacketConn
	if err := RunInNamespace(e.l.RouterNamespace(e.vpcID), func() error {
		var err error
		srv, err = net.ListenPacket("udp", "169.254.169.253:5399")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e.addAddrs("eni-a1", "10.77.1.99/24", "10.77.0.2/32") // free, and the router's resolver address
	for _, tc := range []struct {
		src  string
		pass bool
	}{{"10.77.1.10", true}, {"10.77.1.99", false}, {"10.77.0.2", false}} {
		t.Run(tc.src, func(t *testing.T) {
			if err := sendUDPFrom(e.l.InterfaceNamespace("eni-a1"), tc.src, "169.254.169.253:5399"); err != nil {
				t.Fatal(err)
			}
			expectDatagram(t, srv, tc.src, tc.pass)
		})
	}
}

// sendUDPFrom sends one datagram, its source address as payload, from src
// to dst inside the namespace.
func sendUDPFrom(ns, src, dst string) error {
	return RunInNamespace(ns, func() error {
		to, err := net.ResolveUDPAddr("udp", dst)
		if err != nil {
			return err
		}
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, to)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(src))
		return err
	})
}

// expectDatagram checks whether the datagram sent from src reached srv.
func expectDatagram(t *testing.T, srv net.PacketConn, src string, pass bool) {
	t.Helper()
	timeout := dropTimeout
	if pass {
		timeout = okTimeout
	}
	srv.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64)
	n, from, err := srv.ReadFrom(buf)
	switch {
	case pass && err != nil:
		t.Fatalf("own address blocked: %v", err)
	case !pass && err == nil:
		t.Fatalf("datagram from spoofed %s got through (from %v: %q)", src, from, buf[:n])
	}
}
