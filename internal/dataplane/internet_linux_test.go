package dataplane

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// The test internet, shaped like the catalog's region block: S3 owns two
// /24s (its prefix list), DynamoDB one, SQS a single address.
var (
	s3Addr      = netip.MustParseAddr("198.18.0.1")
	s3Other     = netip.MustParseAddr("198.18.1.77") // in S3's prefix list, not its DNS address
	dynamoAddr  = netip.MustParseAddr("198.18.2.1")
	sqsAddr     = netip.MustParseAddr("198.18.3.12")
	unownedAddr = netip.MustParseAddr("198.18.200.1")
	s3CIDRs     = []netip.Prefix{pfx("198.18.0.0/24"), pfx("198.18.1.0/24")}

	testInternet = Internet{Services: []PublicService{
		{Name: "s3", Addr: s3Addr, CIDRs: s3CIDRs},
		{Name: "dynamodb", Addr: dynamoAddr, CIDRs: []netip.Prefix{pfx("198.18.2.0/24")}},
		{Name: "sqs", Addr: sqsAddr},
	}}
)

func https(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, 443) }

// internet applies testInternet and starts its services on port 443 (and
// SQS on 80 too).
func (e *testEnv) internet() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.l.ApplyInternet(ctx, testInternet); err != nil {
		e.t.Fatalf("ApplyInternet: %v", err)
	}
	for _, s := range []struct {
		name string
		addr netip.AddrPort
	}{
		{"s3", https(s3Addr)}, {"s3", https(s3Other)}, {"dynamodb", https(dynamoAddr)},
		{"sqs", https(sqsAddr)}, {"sqs", netip.AddrPortFrom(sqsAddr, 80)},
	} {
		srv, err := ServePublic(context.Background(), e.l.InternetNamespace(), s.name, s.addr)
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { srv.Close() })
	}
}

// get fetches http://addr/ from an interface and returns the service name
// and the source address the service saw.
func (e *testEnv) get(from string, addr netip.AddrPort, timeout time.Duration) (string, netip.Addr, error) {
	c := NamespaceHTTPClient(e.l.InterfaceNamespace(from), timeout)
	defer c.CloseIdleConnections()
	return getWith(c, addr)
}

func getWith(c *http.Client, addr netip.AddrPort) (string, netip.Addr, error) {
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", netip.Addr{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", netip.Addr{}, err
	}
	src, err := netip.ParseAddrPort(resp.Header.Get(SourceHeader))
	return strings.TrimSpace(string(body)), src.Addr(), err
}

func (e *testEnv) mustGet(t *testing.T, from string, addr netip.AddrPort, wantName string) netip.Addr {
	t.Helper()
	name, src, err := e.get(from, addr, okTimeout)
	if err != nil {
		t.Fatalf("%s -> %v: %v", from, addr, err)
	}
	if name != wantName {
		t.Fatalf("%s -> %v answered %q, want %q", from, addr, name, wantName)
	}
	return src
}

// mustFailFast checks that a connection is refused at once (an ICMP
// unreachable), not merely dropped.
func (e *testEnv) mustFailFast(t *testing.T, from string, addr netip.AddrPort) {
	t.Helper()
	start := time.Now()
	c, err := e.dial(from, addr.String(), 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("%s -> %v connected, want unreachable", from, addr)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("%s -> %v failed after %v (%v), want a fast unreachable", from, addr, d, err)
	}
}

func (e *testEnv) igwVPC() VPC {
	v := e.baseVPC()
	v.InternetGatewayID = "igw-1"
	v.Subnets[0].Routes = []Route{{Destination: pfx("0.0.0.0/0"), Target: TargetInternetGateway, TargetID: "igw-1"}}
	return v
}

// mustBeBlocked checks that a connection does not come up (dropped).
func (e *testEnv) mustBeBlocked(t *testing.T, from string, addr netip.AddrPort) {
	t.Helper()
	if c, err := e.dial(from, addr.String(), dropTimeout); err == nil {
		c.Close()
		t.Fatalf("%s -> %v connected, want blocked", from, addr)
	}
}

// internetLinks lists the uplink ends in the internet namespace.
func (e *testEnv) internetLinks(t *testing.T) []string {
	t.Helper()
	h, err := ensureNS(e.l.InternetNamespace(), &Result{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	links, err := h.nl.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if l.Type() == "veth" {
			out = append(out, l.Attrs().Alias)
		}
	}
	return out
}

func TestInternetGateway(t *testing.T) {
	e := newTestEnv(t)
	e.internet()
	v := e.igwVPC()
	e.apply(v)
	nat, err := e.l.InternetAddress(v.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("service sees the NAT address", func(t *testing.T) {
		src := e.mustGet(t, "eni-a1", https(sqsAddr), "sqs")
		if src != nat || !uplinkPool.Contains(src) {
			t.Fatalf("service saw %v, want NAT address %v", src, nat)
		}
	})
	t.Run("any address of a service CIDR", func(t *testing.T) { e.mustGet(t, "eni-a2", https(s3Other), "s3") })
	t.Run("unowned public address fails fast", func(t *testing.T) { e.mustFailFast(t, "eni-a1", https(unownedAddr)) })
	t.Run("subnet without route fails fast", func(t *testing.T) { e.mustFailFast(t, "eni-b1", https(sqsAddr)) })
	t.Run("internet cannot open connections inward", func(t *testing.T) {
		ln, err := ListenTCP(context.Background(), e.l.RouterNamespace(v.ID), "0.0.0.0:5353")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for _, dst := range []string{netip.AddrPortFrom(nat, 5353).String(), "10.77.1.10:80"} {
			ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
			c, err := DialTCP(ctx, e.l.InternetNamespace(), dst)
			cancel()
			if err == nil {
				c.Close()
				t.Errorf("internet reached %s", dst)
			}
		}
	})
	t.Run("reapply unchanged", func(t *testing.T) {
		if res := e.apply(v); res.Changed() {
			t.Fatalf("re-apply changed: %+v", res)
		}
		if res, err := e.l.ApplyInternet(context.Background(), testInternet); err != nil || res.Changed() {
			t.Fatalf("re-apply internet: %+v %v", res, err)
		}
	})
	t.Run("route removed", func(t *testing.T) {
		w := v
		w.Subnets = []Subnet{{ID: "subnet-a", CIDR: v.Subnets[0].CIDR}, v.Subnets[1]}
		e.apply(w)
		e.mustFailFast(t, "eni-a1", https(sqsAddr))
		if got, err := e.l.InternetAddress(v.ID); err != nil || got != nat {
			t.Fatalf("attached gateway lost its uplink address: %v %v", got, err)
		}
	})
	t.Run("gateway detached", func(t *testing.T) {
		w := v
		w.InternetGatewayID = ""
		e.apply(w)
		e.mustBeBlocked(t, "eni-a1", https(sqsAddr)) // a blackhole
		if _, err := e.l.InternetAddress(v.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("uplink survived detaching: %v", err)
		}
		if links := e.internetLinks(t); len(links) != 0 {
			t.Fatalf("internet still has uplinks %v", links)
		}
	})
	t.Run("reattached", func(t *testing.T) {
		e.apply(v)
		e.mustGet(t, "eni-a1", https(sqsAddr), "sqs")
	})
}

// Two VPCs with the same CIDR reach the internet at once, each from its
// own NAT address, and get their own replies.
func TestInternetOverlappingVPCs(t *testing.T) {
	e := newTestEnv(t)
	e.internet()
	v1 := e.igwVPC()
	v2 := e.igwVPC()
	v2.ID = v1.ID + "2"
	for i := range v2.Interfaces {
		v2.Interfaces[i].ID += "x"
	}
	e.apply(v1)
	e.apply(v2)
	nat1, err1 := e.l.InternetAddress(v1.ID)
	nat2, err2 := e.l.InternetAddress(v2.ID)
	if err := errors.Join(err1, err2); err != nil || nat1 == nat2 {
		t.Fatalf("NAT addresses %v and %v (%v), want two distinct", nat1, nat2, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for _, c := range []struct {
		eni string
		nat netip.Addr
	}{{"eni-a1", nat1}, {"eni-a1x", nat2}, {"eni-a2", nat1}, {"eni-a2x", nat2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := NamespaceHTTPClient(e.l.InterfaceNamespace(c.eni), okTimeout)
			defer client.CloseIdleConnections()
			for range 5 { // one kept-alive connection per client, all open together
				name, src, err := getWith(client, https(sqsAddr))
				if err == nil && (name != "sqs" || src != c.nat) {
					err = errors.New(c.eni + ": got " + name + " seen from " + src.String() + ", want " + c.nat.String())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Run("no transit between vpcs", func(t *testing.T) {
		ln, err := ListenTCP(context.Background(), e.l.RouterNamespace(v2.ID), "0.0.0.0:5353")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		e.mustBeBlocked(t, "eni-a1", netip.AddrPortFrom(nat2, 5353))
	})
}

// A gateway endpoint needs no internet gateway and reaches its prefix
// list's CIDRs only.
func TestGatewayEndpoint(t *testing.T) {
	e := newTestEnv(t)
	e.internet()
	v := e.baseVPC()
	v.PrefixLists = []PrefixList{{ID: "pl-s3", CIDRs: s3CIDRs}}
	v.Subnets[0].Routes = []Route{{PrefixListID: "pl-s3", Target: TargetGatewayEndpoint, TargetID: "vpce-1"}}
	e.apply(v)
	t.Run("s3 address", func(t *testing.T) { e.mustGet(t, "eni-a1", https(s3Addr), "s3") })
	t.Run("other s3 address", func(t *testing.T) { e.mustGet(t, "eni-a1", https(s3Other), "s3") })
	t.Run("sqs fails fast", func(t *testing.T) { e.mustFailFast(t, "eni-a1", https(sqsAddr)) })
	t.Run("dynamodb fails fast", func(t *testing.T) { e.mustFailFast(t, "eni-a1", https(dynamoAddr)) })
	t.Run("subnet without route", func(t *testing.T) { e.mustFailFast(t, "eni-b1", https(s3Addr)) })
	t.Run("route to a detached gateway is a blackhole", func(t *testing.T) {
		w := v
		w.Subnets = append([]Subnet(nil), v.Subnets...)
		w.Subnets[0].Routes = append(v.Subnets[0].Routes, Route{Destination: pfx("0.0.0.0/0"), Target: TargetInternetGateway, TargetID: "igw-1"})
		e.apply(w)
		e.mustBeBlocked(t, "eni-a1", https(sqsAddr))
		e.mustGet(t, "eni-a1", https(s3Addr), "s3")
	})
}

// Security groups and network ACLs apply to traffic through the gateway.
func TestInternetFiltering(t *testing.T) {
	e := newTestEnv(t)
	e.internet()
	v := e.igwVPC()
	v.SecurityGroups = append(v.SecurityGroups, SecurityGroup{ID: "sg-http", Egress: []SGRule{
		{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}}})
	v.Interfaces[0].SecurityGroupIDs = []string{"sg-http"}
	any := pfx("0.0.0.0/0")
	v.NetworkACLs = []NetworkACL{{ID: "acl-a", Entries: []ACLEntry{
		{RuleNumber: 100, Egress: true, Protocol: "-1", CIDR: any, Allow: true},
		{RuleNumber: 100, Protocol: "tcp", PortFrom: 80, PortTo: 80, CIDR: any, Allow: true},
	}}}
	v.Subnets[0].ACLID = "acl-a"
	e.apply(v)
	t.Run("egress group without 443 blocks it", func(t *testing.T) { e.mustBeBlocked(t, "eni-a1", https(sqsAddr)) })
	t.Run("acl without ephemeral ingress drops replies", func(t *testing.T) {
		e.mustBeBlocked(t, "eni-a2", https(sqsAddr))
	})
	v.NetworkACLs[0].Entries = append(v.NetworkACLs[0].Entries,
		ACLEntry{RuleNumber: 110, Protocol: "tcp", PortFrom: 1024, PortTo: 65535, CIDR: any, Allow: true})
	e.apply(v)
	t.Run("acl with ephemeral ingress", func(t *testing.T) { e.mustGet(t, "eni-a2", https(sqsAddr), "sqs") })
	t.Run("group allows 80", func(t *testing.T) { e.mustGet(t, "eni-a1", netip.AddrPortFrom(sqsAddr, 80), "sqs") })
	t.Run("group still blocks 443", func(t *testing.T) { e.mustBeBlocked(t, "eni-a1", https(sqsAddr)) })
}

func TestInternetCleanup(t *testing.T) {
	e := newTestEnv(t)
	e.internet()
	v1 := e.igwVPC()
	v2 := e.baseVPC()
	v2.ID = v1.ID + "2"
	for i := range v2.Interfaces {
		v2.Interfaces[i].ID += "x"
	}
	v2.PrefixLists = []PrefixList{{ID: "pl-s3", CIDRs: s3CIDRs}}
	v2.Subnets[0].Routes = []Route{{PrefixListID: "pl-s3", Target: TargetGatewayEndpoint}}
	e.apply(v1)
	e.apply(v2)
	ctx := context.Background()
	if got := e.internetLinks(t); len(got) != 2 {
		t.Fatalf("uplinks %v, want two", got)
	}
	t.Run("cleanup keeps the internet", func(t *testing.T) {
		if err := e.l.Cleanup(ctx, []string{v1.ID}); err != nil {
			t.Fatal(err)
		}
		if got := e.internetLinks(t); len(got) != 1 || got[0] != v1.ID {
			t.Fatalf("uplinks after cleanup %v, want [%s]", got, v1.ID)
		}
		e.mustGet(t, "eni-a1", https(sqsAddr), "sqs")
	})
	t.Run("delete vpc removes its uplink", func(t *testing.T) {
		if err := e.l.DeleteVPC(ctx, v1.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.internetLinks(t); len(got) != 0 {
			t.Fatalf("uplinks left %v", got)
		}
		if !nsExists(e.l.InternetNamespace()) {
			t.Fatal("internet namespace removed with the last vpc")
		}
	})
	t.Run("service removed", func(t *testing.T) {
		res, err := e.l.ApplyInternet(ctx, Internet{Services: testInternet.Services[:2]})
		if err != nil || len(res.Deleted) != 1 {
			t.Fatalf("removing sqs: %+v %v", res, err)
		}
	})
	t.Run("delete internet", func(t *testing.T) {
		e.apply(v1)
		if err := e.l.DeleteInternet(ctx); err != nil {
			t.Fatal(err)
		}
		if nsExists(e.l.InternetNamespace()) {
			t.Fatal("internet namespace left")
		}
		if _, err := e.l.InternetAddress(v1.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("router kept its uplink: %v", err)
		}
		if err := e.l.DeleteInternet(ctx); err != nil {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("nothing public in the host namespace", func(t *testing.T) {
		routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{}, netlink.RT_FILTER_TABLE)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			if p, ok := ipNetPrefix(r.Dst); ok && p.Bits() >= InternetRange.Bits() && InternetRange.Contains(p.Addr()) {
				t.Errorf("host route %v", r)
			}
		}
		for _, name := range []string{uplinkLink, internetLinkName(v1.ID), internetLinkName(v2.ID)} {
			if _, err := netlink.LinkByName(name); err == nil {
				t.Errorf("link %s in the host namespace", name)
			}
		}
		addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if p, ok := ipNetPrefix(a.IPNet); ok && InternetRange.Contains(p.Addr()) {
				t.Errorf("host address %v", a)
			}
		}
	})
}
