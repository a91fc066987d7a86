package dataplane

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

func TestMain(m *testing.M) {
	if ExecMain(os.Args) {
		return
	}
	os.Exit(m.Run())
}

// testEnv is one realizer with a unique prefix and everything it made
// removed at the end of the test.
type testEnv struct {
	t      *testing.T
	l      *Linux
	prefix string
	vpcID  string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("dataplane: needs root to create network namespaces (run the tests as root)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	suffix := hex.EncodeToString(b)
	prefix := "pt" + suffix
	l, err := New(Config{Prefix: prefix, StateDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, l: l, prefix: prefix, vpcID: "vpc-" + suffix}
	t.Cleanup(func() {
		if err := l.Cleanup(context.Background(), nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := l.DeleteInternet(context.Background()); err != nil {
			t.Errorf("delete internet: %v", err)
		}
		if left, _ := listNamedNS(prefix); len(left) > 0 {
			t.Errorf("namespaces left after cleanup: %v", left)
		}
	})
	return e
}

func (e *testEnv) apply(v VPC) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.l.ApplyVPC(ctx, v)
	if err != nil {
		e.t.Fatalf("ApplyVPC: %v", err)
	}
	return res
}

// serve runs a line-echo server on addr inside the interface namespace.
func (e *testEnv) serve(eniID string, addr string) {
	e.serveWith(eniID, addr, func(c net.Conn) { io.Copy(c, c) })
}

// serveWith runs a TCP server on addr inside the interface namespace that
// hands each connection to handle and closes it afterwards.
func (e *testEnv) serveWith(eniID, addr string, handle func(net.Conn)) {
	e.t.Helper()
	ln, err := ListenTCP(context.Background(), e.l.InterfaceNamespace(eniID), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// dial connects from an interface namespace with a short timeout.
func (e *testEnv) dial(eniID, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return DialTCP(ctx, e.l.InterfaceNamespace(eniID), addr)
}

// echo checks that a line round-trips over c.
func echo(c net.Conn, line string) error {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != line {
		return errors.New("echo mismatch: " + got)
	}
	return nil
}

const (
	okTimeout   = 3 * time.Second
	dropTimeout = 400 * time.Millisecond
)

func (e *testEnv) mustReach(from, addr string) {
	e.t.Helper()
	c, err := e.dial(from, addr, okTimeout)
	if err != nil {
		e.t.Fatalf("%s -> %s: %v", from, addr, err)
	}
	defer c.Close()
	if err := echo(c, "hello"); err != nil {
		e.t.Fatalf("%s -> %s echo: %v", from, addr, err)
	}
}

func (e *testEnv) mustNotReach(from, addr string) {
	e.t.Helper()
	c, err := e.dial(from, addr, dropTimeout)
	if err == nil {
		c.Close()
		e.t.Fatalf("%s -> %s connected, want blocked", from, addr)
	}
}

var (
	allTraffic = SGRule{Protocol: "-1", CIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
	openSG     = SecurityGroup{ID: "sg-open", Ingress: []SGRule{allTraffic}, Egress: []SGRule{allTraffic}}
)

// baseVPC has subnets a (10.77.1.0/24) and b (10.77.2.0/24) and interfaces
// a1, a2 in a and b1 in b, all in the open group.
func (e *testEnv) baseVPC() VPC {
	ifc := func(id, subnet, ip string) Interface {
		return Interface{ID: id, SubnetID: subnet, IP: netip.MustParseAddr(ip), SecurityGroupIDs: []string{"sg-open"}, Kind: KindInstance, Hostname: "ip-" + strings.ReplaceAll(ip, ".", "-")}
	}
	return VPC{
		ID:   e.vpcID,
		CIDR: netip.MustParsePrefix("10.77.0.0/16"),
		Subnets: []Subnet{
			{ID: "subnet-a", CIDR: netip.MustParsePrefix("10.77.1.0/24")},
			{ID: "subnet-b", CIDR: netip.MustParsePrefix("10.77.2.0/24")},
		},
		Interfaces: []Interface{
			ifc("eni-a1", "subnet-a", "10.77.1.10"),
			ifc("eni-a2", "subnet-a", "10.77.1.11"),
			ifc("eni-b1", "subnet-b", "10.77.2.10"),
		},
		SecurityGroups: []SecurityGroup{openSG},
	}
}

func TestReachabilityAndIdempotence(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	if res := e.apply(v); !res.Changed() {
		t.Fatal("first apply reported no change")
	}
	e.serve("eni-a2", "10.77.1.11:8080")
	e.serve("eni-b1", "10.77.2.10:8080")
	t.Run("intra-subnet", func(t *testing.T) { e.mustReach("eni-a1", "10.77.1.11:8080") })
	t.Run("cross-subnet", func(t *testing.T) { e.mustReach("eni-a1", "10.77.2.10:8080") })
	t.Run("reapply unchanged", func(t *testing.T) {
		if res := e.apply(v); res.Changed() {
			t.Fatalf("re-apply changed: %+v", res)
		}
	})
	t.Run("remove interface", func(t *testing.T) {
		smaller := v
		smaller.Interfaces = v.Interfaces[:2]
		res := e.apply(smaller)
		if len(res.Deleted) == 0 {
			t.Fatalf("removing eni-b1 deleted nothing: %+v", res)
		}
		if nsExists(e.l.InterfaceNamespace("eni-b1")) {
			t.Fatal("namespace of removed interface still exists")
		}
	})
}

func TestSecurityGroups(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	web := SecurityGroup{ID: "sg-web",
		Ingress: []SGRule{{Protocol: "tcp", FromPort: 80, ToPort: 80, GroupIDs: []string{"sg-client"}}},
		Egress:  []SGRule{allTraffic}}
	client := SecurityGroup{ID: "sg-client", Egress: []SGRule{allTraffic}}
	v.SecurityGroups = append(v.SecurityGroups, web, client)
	v.Interfaces[0].SecurityGroupIDs = []string{"sg-client"} // a1: member
	v.Interfaces[2].SecurityGroupIDs = []string{"sg-web"}    // b1: web server
	e.apply(v)
	e.serve("eni-b1", "10.77.2.10:80")
	e.serve("eni-b1", "10.77.2.10:81")
	t.Run("member allowed on port", func(t *testing.T) { e.mustReach("eni-a1", "10.77.2.10:80") })
	t.Run("member denied other port", func(t *testing.T) { e.mustNotReach("eni-a1", "10.77.2.10:81") })
	t.Run("non-member denied", func(t *testing.T) { e.mustNotReach("eni-a2", "10.77.2.10:80") })

	t.Run("rule change keeps established", func(t *testing.T) {
		c, err := e.dial("eni-a1", "10.77.2.10:80", okTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := echo(c, "before"); err != nil {
			t.Fatal(err)
		}
		revoked := v
		revoked.SecurityGroups = []SecurityGroup{openSG, {ID: "sg-web", Egress: []SGRule{allTraffic}}, client}
		if res := e.apply(revoked); !res.Changed() {
			t.Fatal("revoking rule changed nothing")
		}
		if err := echo(c, "after"); err != nil {
			t.Fatalf("established connection cut by SG change: %v", err)
		}
		e.mustNotReach("eni-a1", "10.77.2.10:80")
	})
}

func TestNetworkACLs(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	any := netip.MustParsePrefix("0.0.0.0/0")
	subnetA := netip.MustParsePrefix("10.77.1.0/24")
	v.NetworkACLs = []NetworkACL{{ID: "acl-b", Entries: []ACLEntry{
		{RuleNumber: 100, Protocol: "-1", CIDR: any, Allow: true},
		{RuleNumber: 90, Protocol: "tcp", PortFrom: 80, PortTo: 80, CIDR: subnetA, Allow: false},
		{RuleNumber: 100, Egress: true, Protocol: "-1", CIDR: any, Allow: true},
	}}}
	v.Subnets[1].ACLID = "acl-b"
	v.Subnets[0].ACLID = "acl-b" // intra-subnet traffic in a must stay unaffected
	e.apply(v)
	e.serve("eni-b1", "10.77.2.10:80")
	e.serve("eni-b1", "10.77.2.10:81")
	e.serve("eni-a2", "10.77.1.11:80")
	t.Run("lower deny beats later allow", func(t *testing.T) { e.mustNotReach("eni-a1", "10.77.2.10:80") })
	t.Run("other port allowed", func(t *testing.T) { e.mustReach("eni-a1", "10.77.2.10:81") })
	t.Run("intra-subnet not filtered", func(t *testing.T) { e.mustReach("eni-a1", "10.77.1.11:80") })

	t.Run("missing ephemeral egress breaks replies", func(t *testing.T) {
		w := v
		w.NetworkACLs = []NetworkACL{{ID: "acl-b", Entries: []ACLEntry{
			{RuleNumber: 100, Protocol: "-1", CIDR: any, Allow: true},
			{RuleNumber: 100, Egress: true, Protocol: "tcp", PortFrom: 81, PortTo: 81, CIDR: any, Allow: true},
		}}}
		w.Subnets = []Subnet{v.Subnets[0], v.Subnets[1]}
		w.Subnets[0].ACLID = "" // subnet a: no ACL
		e.apply(w)
		e.mustNotReach("eni-a1", "10.77.2.10:81")
		w.NetworkACLs[0].Entries = append(w.NetworkACLs[0].Entries,
			ACLEntry{RuleNumber: 110, Egress: true, Protocol: "tcp", PortFrom: 1024, PortTo: 65535, CIDR: any, Allow: true})
		e.apply(w)
		e.mustReach("eni-a1", "10.77.2.10:81")
	})
}

func TestRoutes(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	v.Subnets[0].Routes = []Route{{Destination: netip.MustParsePrefix("10.99.0.0/16"), Target: TargetBlackhole}}
	e.apply(v)
	cases := []struct{ name, addr string }{
		{"no route", "10.98.0.1:80"},
		{"vpc address without interface", "10.77.1.99:80"},
		{"blackhole", "10.99.0.1:80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { e.mustNotReach("eni-a1", tc.addr) })
	}
	t.Run("no route is refused fast", func(t *testing.T) {
		start := time.Now()
		_, err := e.dial("eni-a1", "10.98.0.1:80", 2*time.Second)
		if err == nil || time.Since(start) > time.Second {
			t.Fatalf("want a fast ICMP unreachable error, got %v after %v", err, time.Since(start))
		}
	})
}

func TestCleanupRemovesEverything(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	e.apply(v)
	orphan := e.l.InterfaceNamespace("eni-orphan")
	if err := createNamedNS(orphan); err != nil {
		t.Fatal(err)
	}
	t.Run("cleanup keeps live vpc and drops orphan", func(t *testing.T) {
		if err := e.l.Cleanup(context.Background(), []string{v.ID}); err != nil {
			t.Fatal(err)
		}
		if nsExists(orphan) {
			t.Fatal("orphan namespace survived")
		}
		for _, i := range v.Interfaces {
			if !nsExists(e.l.InterfaceNamespace(i.ID)) {
				t.Fatalf("cleanup removed live interface %s", i.ID)
			}
		}
	})
	t.Run("delete vpc leaves nothing", func(t *testing.T) {
		if err := e.l.DeleteVPC(context.Background(), v.ID); err != nil {
			t.Fatal(err)
		}
		if left, _ := listNamedNS(e.prefix); len(left) > 0 {
			t.Fatalf("namespaces left: %v", left)
		}
		links, err := netlink.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, e.prefix) || strings.HasPrefix(l.Attrs().Alias, "eni-") {
				t.Fatalf("link %s (%s) left in host namespace", l.Attrs().Name, l.Attrs().Alias)
			}
		}
		c, err := nftables.New()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListTableOfFamily(nftTableName, nftables.TableFamilyINet); err == nil {
			t.Fatal("privlink table exists in host namespace")
		}
		if err := e.l.DeleteVPC(context.Background(), v.ID); err != nil {
			t.Fatalf("second delete: %v", err)
		}
	})
}

// TestRemovedInterfacesTakeTheirProcesses: as terminating an instance ends
// what runs on it, removing an interface (or an orphan namespace) kills the
// processes that live in its namespace, and nothing else.
func TestRemovedInterfacesTakeTheirProcesses(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	e.apply(v)
	ctx := context.Background()
	start := func(cmd *exec.Cmd) <-chan error {
		t.Helper()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return done
	}
	expectKilled := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Errorf("%s ended with %v, want SIGKILL", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s still runs", what)
		}
	}

	onInstance, err := e.l.Command(ctx, "eni-a1", "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	instanceDone := start(onInstance)
	onNeighbour, err := e.l.Command(ctx, "eni-b1", "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	neighbourDone := start(onNeighbour)
	hostDone := start(exec.Command("sleep", "60"))

	orphan := e.l.InterfaceNamespace("eni-orphan")
	if err := createNamedNS(orphan); err != nil {
		t.Fatal(err)
	}
	var orphanDone <-chan error
	if err := RunInNamespace(orphan, func() error {
		orphanDone = start(exec.Command("sleep", "60"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	without := v
	without.Interfaces = slices.DeleteFunc(slices.Clone(v.Interfaces), func(i Interface) bool { return i.ID == "eni-a1" })
	e.apply(without)
	expectKilled("a process on the removed interface", instanceDone)

	if err := e.l.Cleanup(ctx, []string{v.ID}); err != nil {
		t.Fatal(err)
	}
	expectKilled("a process in the orphan namespace", orphanDone)

	for what, done := range map[string]<-chan error{"a process on a kept interface": neighbourDone, "a process on the host": hostDone} {
		select {
		case err := <-done:
			t.Errorf("%s ended: %v", what, err)
		default:
		}
	}
}

func TestExec(t *testing.T) {
	e := newTestEnv(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("exec test needs sh")
	}
	v := e.baseVPC()
	e.apply(v)
	var out strings.Builder
	code, err := e.l.Exec(context.Background(), "eni-a1",
		[]string{"sh", "-c", "hostname; cat /etc/resolv.conf; cat /proc/net/dev; exit 3"}, nil, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"ip-10-77-1-10", "nameserver 10.77.0.2", "eth0:"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if code != 3 {
		t.Errorf("exit code = %d, want 3", code)
	}
	host, _ := os.Hostname()
	if host == "ip-10-77-1-10" {
		t.Error("exec changed the host's hostname")
	}
	if resolv, _ := os.ReadFile("/etc/resolv.conf"); strings.Contains(string(resolv), "10.77.0.2") {
		t.Error("exec leaked its resolv.conf bind mount to the host")
	}
	t.Run("stdin passes through", func(t *testing.T) {
		var out strings.Builder
		code, err := e.l.Exec(context.Background(), "eni-b1", []string{"cat"}, strings.NewReader("piped\n"), &out, io.Discard)
		if err != nil || code != 0 || out.String() != "piped\n" {
			t.Errorf("cat: code %d err %v out %q", code, err, out.String())
		}
	})
	t.Run("a signal's exit code is a shell's", func(t *testing.T) {
		code, err := e.l.Exec(context.Background(), "eni-a1", []string{"sh", "-c", "kill -9 $$"}, nil, io.Discard, io.Discard)
		if err != nil || code != 128+9 {
			t.Errorf("killed command: code %d err %v, want 137", code, err)
		}
	})
	t.Run("unknown interface", func(t *testing.T) {
		if _, err := e.l.Exec(context.Background(), "eni-none", []string{"true"}, nil, io.Discard, io.Discard); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}
