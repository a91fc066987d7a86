package controllers

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/controlplane/cptest"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/iam"
	"github.com/privlink/privlink/internal/store"
)

const (
	providerAcct = "111111111111"
	consumerAcct = "222222222222"
	region       = "us-east-1"
)

// newCP returns a control plane over a real bbolt store in a temp dir.
func newCP(t *testing.T) (*controlplane.ControlPlane, *store.DB) {
	return cptest.New(t, iam.Kinds())
}

// root is a call by account's root user in us-east-1.
func root(account string) *controlplane.Call {
	return &controlplane.Call{
		Caller: &cloud.Principal{AccountID: account, Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN(account), UserID: account},
		Region: region,
		Action: "test",
	}
}

// must unwraps a call's result, failing the test on error:
// must(cp.CreateVpc(ctx, c, in))(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// get reads one record from the store.
func get[T any](t *testing.T, db *store.DB, kind, id string) *T {
	t.Helper()
	var v *T
	db.View(func(tx *store.Tx) error {
		v, _ = store.Get[T](tx, kind, id)
		return nil
	})
	return v
}

// mutate rewrites a stored record in place, for states the API cannot reach.
func mutate[T any](t *testing.T, db *store.DB, kind, id string, fn func(*T)) {
	t.Helper()
	check(t, db.Update(context.Background(), func(tx *store.Tx) error {
		v, ok := store.Get[T](tx, kind, id)
		if !ok {
			return fmt.Errorf("%s %s not found", kind, id)
		}
		v = store.Clone(v)
		fn(v)
		tx.Put(kind, id, v)
		return nil
	}))
}

// loopDP is a DataPlane for tests without root: FakeRealizer for the kernel
// state, and sockets on 127.0.0.1 standing in for the namespaced addresses
// they were asked for. Dials to a virtual address reach whatever socket
// was opened (or registered with Serve) for it.
type loopDP struct {
	*dataplane.FakeRealizer

	mu      sync.Mutex
	real    map[string]string // "proto virtual ip:port" → loopback address
	listens map[string]int    // "proto ns addr" → count
	dialsNS map[string]int    // "proto ns" → dials from that namespace
}

func newLoopDP() *loopDP {
	return &loopDP{FakeRealizer: &dataplane.FakeRealizer{Prefix: "t"}, real: map[string]string{}, listens: map[string]int{}, dialsNS: map[string]int{}}
}

// Serve makes virtual address addr (proto "tcp" or "udp") reach real.
func (d *loopDP) Serve(proto, addr, real string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.real[proto+" "+addr] = real
}

func (d *loopDP) record(proto, ns, addr, real string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.listens[proto+" "+ns+" "+addr]++
	d.real[proto+" "+addr] = real
}

// Listens counts the sockets opened for proto on addr in ns.
func (d *loopDP) Listens(proto, ns, addr string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.listens[proto+" "+ns+" "+addr]
}

// Dials counts the upstream dials made from namespace ns.
func (d *loopDP) Dials(proto, ns string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dialsNS[proto+" "+ns]
}

// Real returns the loopback address behind a virtual one.
func (d *loopDP) Real(proto, addr string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.real[proto+" "+addr]
}

func (d *loopDP) ListenTCP(ctx context.Context, ns, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.record("tcp", ns, addr, ln.Addr().String())
	return ln, nil
}

func (d *loopDP) ListenUDP(ctx context.Context, ns, addr string) (net.PacketConn, error) {
	pc, err := (&net.ListenConfig{}).ListenPacket(ctx, "udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.record("udp", ns, addr, pc.LocalAddr().String())
	return pc, nil
}

func (d *loopDP) dial(ctx context.Context, proto, ns, addr string) (net.Conn, error) {
	d.mu.Lock()
	real, ok := d.real[proto+" "+addr]
	d.dialsNS[proto+" "+ns]++
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("loopDP: nothing serves %s %s", proto, addr)
	}
	return (&net.Dialer{}).DialContext(ctx, proto, real)
}

func (d *loopDP) DialTCP(ctx context.Context, ns, addr string) (net.Conn, error) {
	return d.dial(ctx, "tcp", ns, addr)
}

func (d *loopDP) DialUDP(ctx context.Context, ns, addr string) (net.Conn, error) {
	return d.dial(ctx, "udp", ns, addr)
}

var (
	_ DataPlane = (*loopDP)(nil)
	_ UDPDialer = (*loopDP)(nil)
)
