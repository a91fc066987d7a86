package dataplane

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestForwardingValidate(t *testing.T) {
	good := func() Forwarding {
		return Forwarding{ENI: "eni-1", VPC: "vpc-c", Addr: netip.MustParseAddr("10.0.1.5"), Ports: []ForwardedPort{{
			Port: 80, Node: "eni-n", NodeVPC: "vpc-p", NodeAddr: netip.MustParseAddr("10.1.0.9"),
			Targets: []netip.AddrPort{netip.MustParseAddrPort("10.1.2.3:8080")},
		}}}
	}
	tests := []struct {
		name   string
		mutate func(*Forwarding)
		ok     bool
	}{
		{"valid", func(*Forwarding) {}, true},
		{"no ports is valid", func(f *Forwarding) { f.Ports = nil }, true},
		{"no interface", func(f *Forwarding) { f.ENI = "" }, false},
		{"no VPC", func(f *Forwarding) { f.VPC = "" }, false},
		{"no load balancer VPC", func(f *Forwarding) { f.Ports[0].NodeVPC = "" }, false},
		{"one load balancer interface in two VPCs", func(f *Forwarding) {
			u := f.Ports[0]
			u.Port, u.NodeVPC = 81, "vpc-q"
			f.Ports = append(f.Ports, u)
		}, false},
		{"one load balancer interface, two ports", func(f *Forwarding) { u := f.Ports[0]; u.Port = 81; f.Ports = append(f.Ports, u) }, true},
		{"IPv6 address", func(f *Forwarding) { f.Addr = netip.MustParseAddr("fd00::1") }, false},
		{"negative idle timeout", func(f *Forwarding) { f.IdleTimeout = -time.Second }, false},
		{"port zero", func(f *Forwarding) { f.Ports[0].Port = 0 }, false},
		{"port twice", func(f *Forwarding) { f.Ports = append(f.Ports, f.Ports[0]) }, false},
		{"same port, TCP and UDP", func(f *Forwarding) { u := f.Ports[0]; u.Protocol = "udp"; f.Ports = append(f.Ports, u) }, true},
		{"unknown protocol", func(f *Forwarding) { f.Ports[0].Protocol = "sctp" }, false},
		{"negative UDP idle timeout", func(f *Forwarding) { f.UDPIdleTimeout = -time.Second }, false},
		{"no node", func(f *Forwarding) { f.Ports[0].Node = "" }, false},
		{"no targets", func(f *Forwarding) { f.Ports[0].Targets = nil }, false},
		{"target port zero", func(f *Forwarding) { f.Ports[0].Targets[0] = netip.MustParseAddrPort("10.1.2.3:0") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.mutate(&f)
			err := f.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidModel)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestForwardingDNATRules(t *testing.T) {
	t1, t2 := netip.MustParseAddrPort("10.1.2.3:8080"), netip.MustParseAddrPort("10.1.2.4:8080")
	f := Forwarding{ENI: "eni-1", Addr: netip.MustParseAddr("10.0.1.5"), Ports: []ForwardedPort{
		{Port: 443, Node: "eni-n", Targets: []netip.AddrPort{t2, t1, t2}},
		{Port: 80, Node: "eni-m", Targets: []netip.AddrPort{t1}},
		{Protocol: "udp", Port: 80, Node: "eni-m", Targets: []netip.AddrPort{t2}},
	}}
	var got []string
	for _, r := range f.dnatRules() {
		got = append(got, r.String())
	}
	want := []string{
		"tcp/80 hash%1==0 -> 10.1.2.3:8080 via eni-m",
		"udp/80 hash%1==0 -> 10.1.2.4:8080 via eni-m",
		"tcp/443 hash%2==0 -> 10.1.2.3:8080 via eni-n",
		"tcp/443 hash%2==1 -> 10.1.2.4:8080 via eni-n",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dnatRules =\n%v\nwant\n%v", got, want)
	}
	if n := f.nodes(); !slices.Equal(n, []string{"eni-m", "eni-n"}) {
		t.Fatalf("nodes = %v", n)
	}
	if got := (Forwarding{}).timeouts(); got != (timeouts{tcp: 350, udp: 120}) {
		t.Fatalf("default idle timeouts = %v, want NLB's 350 s and 120 s", got)
	}
	c1, p1 := fabricLinkNames("eni-0123456789abcdef0", "eni-n")
	c2, p2 := fabricLinkNames("eni-0123456789abcdef1", "eni-n")
	c3, _ := fabricLinkNames("eni-0123456789abcdef0", "eni-m")
	if c1 == c2 || c1 == c3 || c1 == p1 || c1[2:] != p1[2:] || p1 == p2 || len(c1) != 15 || len(p1) != 15 {
		t.Fatalf("fabric link names %q %q %q %q %q: want distinct per pair and end, 15 bytes", c1, p1, c2, p2, c3)
	}
}
