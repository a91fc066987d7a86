package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Loopback addresses playing the three parties: the consumer, the load
// balancer's interface in the provider VPC, and the provider's target.
var (
	consumerIP = netip.MustParseAddr("127.0.0.3")
	lbIP       = netip.MustParseAddr("127.0.0.2")
)

// listenTCP listens on an ephemeral port of 127.0.0.1 and closes on cleanup.
func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveTarget runs handle for every connection accepted on a fresh listener.
func serveTarget(t testing.TB, handle func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln := listenTCP(t)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// echo copies everything back and passes the half-close on.
func echo(c net.Conn) {
	_, _ = io.Copy(c, c)
	_ = c.(*net.TCPConn).CloseWrite()
}

// dialFrom returns a Route dial function reaching target from the LB address.
func dialFrom(src netip.Addr, target netip.AddrPort) func(context.Context) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	return func(ctx context.Context) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", target.String())
	}
}

// startTCPProxy serves a proxy on a fresh listener; cleanup closes it and
// checks Serve returned nil.
func startTCPProxy(t testing.TB, cfg TCPConfig, route RouteFunc) (*TCPProxy, string) {
	t.Helper()
	p := NewTCPProxy(cfg)
	ln := listenTCP(t)
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(context.Background(), ln, route) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return p, ln.Addr().String()
}

func dialConsumer(t testing.TB, src netip.Addr, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads the echo with a deadline.
func roundTrip(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
	_ = c.SetDeadline(time.Time{})
}

// expectClosed waits (bounded) for the proxy to cut c.
func expectClosed(t testing.TB, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read data, want the connection cut")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", within)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTCPProxyRelaysBothDirections(t *testing.T) {
	target := serveTarget(t, echo)
	p, addr := startTCPProxy(t, TCPConfig{}, func(context.Context, net.Conn) (Route, error) {
		return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, target)}, nil
	})
	tests := []struct {
		name string
		size int
	}{
		{"small", 5},
		{"one MiB", 1 << 20},
	}
	var total uint64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialConsumer(t, consumerIP, addr)
			payload := bytes.Repeat([]byte("privlink"), tt.size/8+1)[:tt.size]
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write(payload)
				if err == nil {
					err = c.CloseWrite() // half-close must reach the target
				}
				errc <- err
			}()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c) // EOF only if the target's half-close came back
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("echoed %d bytes, want %d identical bytes", len(got), len(payload))
			}
			total += uint64(tt.size)
		})
	}
	waitFor(t, "connections to finish", 5*time.Second, func() bool { return p.Stats().ActiveConns == 0 })
	st := p.Stats()
	if st.BytesIn != total || st.BytesOut != total || st.TotalConns != uint64(len(tests)) {
		t.Fatalf("stats = %+v, want %d bytes each way over %d conns", st, total, len(tests))
	}
}

func TestTCPProxySendsProxyHeader(t *testing.T) {
	type seen struct {
		hdr    *Header
		peer   netip.AddrPort
		first  string
		hdrErr error
	}
	seenc := make(chan seen, 1)
	target := serveTarget(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		h, err := ParseV2(r)
		line, _ := r.ReadString('\n')
		seenc <- seen{h, c.RemoteAddr().(*net.TCPAddr).AddrPort(), line, err}
		_, _ = io.WriteString(c, "ok\n")
	})
	const vpce = "vpce-0a1b2c3d4e5f60718"
	_, addr := startTCPProxy(t, TCPConfig{}, func(context.Context, net.Conn) (Route, error) {
		return Route{EndpointID: vpce, Dial: dialFrom(lbIP, target), ProxyHeader: true}, nil
	})
	c := dialConsumer(t, consumerIP, addr)
	if _, err := io.WriteString(c, "hello\n"); err != nil {
		t.Fatal(err)
	}
	var s seen
	select {
	case s = <-seenc:
	case <-time.After(5 * time.Second):
		t.Fatal("target never saw the connection")
	}
	if s.hdrErr != nil {
		t.Fatalf("target ParseV2: %v", s.hdrErr)
	}
	want := Header{Command: CommandProxy, Protocol: ProtocolTCP4,
		Source:      c.LocalAddr().(*net.TCPAddr).AddrPort(),
		Destination: c.RemoteAddr().(*net.TCPAddr).AddrPort(),
		EndpointID:  vpce}
	if s.hdr.Command != want.Command || s.hdr.Protocol != want.Protocol || s.hdr.Source != want.Source ||
		s.hdr.Destination != want.Destination || s.hdr.EndpointID != want.EndpointID {
		t.Fatalf("header = %+v, want %+v", s.hdr, want)
	}
	if s.peer.Addr() != lbIP {
		t.Fatalf("target saw connection from %v, want the load balancer's %v", s.peer, lbIP)
	}
	if s.first != "hello\n" {
		t.Fatalf("first payload after header = %q, want %q", s.first, "hello\n")
	}
}

func TestTCPProxyCloseEndpoint(t *testing.T) {
	target := serveTarget(t, echo)
	otherConsumer := netip.MustParseAddr("127.0.0.4")
	p, addr := startTCPProxy(t, TCPConfig{}, func(_ context.Context, c net.Conn) (Route, error) {
		id := "vpce-b"
		if c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr() == consumerIP {
			id = "vpce-a"
		}
		return Route{EndpointID: id, Dial: dialFrom(lbIP, target)}, nil
	})
	var a, b []net.Conn
	for i := range 2 {
		ca, cb := dialConsumer(t, consumerIP, addr), dialConsumer(t, otherConsumer, addr)
		roundTrip(t, ca, fmt.Sprintf("a%d", i))
		roundTrip(t, cb, fmt.Sprintf("b%d", i))
		a, b = append(a, ca), append(b, cb)
	}
	if n := p.EndpointConns("vpce-a"); n != 2 {
		t.Fatalf("EndpointConns(vpce-a) = %d, want 2", n)
	}
	if n := p.CloseEndpoint("vpce-a"); n != 2 {
		t.Fatalf("CloseEndpoint = %d, want 2", n)
	}
	for _, c := range a {
		expectClosed(t, c, 5*time.Second)
	}
	for _, c := range b {
		roundTrip(t, c, "still here")
	}
	if n := p.CloseEndpoint("vpce-a"); n != 0 {
		t.Fatalf("second CloseEndpoint = %d, want 0", n)
	}
}

func TestTCPProxyIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	target := serveTarget(t, echo)
	_, addr := startTCPProxy(t, TCPConfig{IdleTimeout: idle}, func(context.Context, net.Conn) (Route, error) {
		return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, target)}, nil
	})
	t.Run("idle connection is cut", func(t *testing.T) {
		c := dialConsumer(t, consumerIP, addr)
		roundTrip(t, c, "ping")
		start := time.Now()
		expectClosed(t, c, 10*idle)
		if el := time.Since(start); el < idle {
			t.Fatalf("cut after %v, before the %v idle timeout", el, idle)
		}
	})
	t.Run("busy connection survives", func(t *testing.T) {
		c := dialConsumer(t, consumerIP, addr)
		for end := time.Now().Add(4 * idle); time.Now().Before(end); {
			roundTrip(t, c, "ping")
			time.Sleep(idle / 4) // traffic pacing, not synchronisation
		}
	})
	t.Run("one-way stream survives", func(t *testing.T) {
		// The target streams, the consumer never writes: only one direction
		// moves, which must still count as activity.
		stream := serveTarget(t, func(c net.Conn) {
			for range 16 {
				if _, err := io.WriteString(c, "tick"); err != nil {
					return
				}
				time.Sleep(idle / 4)
			}
		})
		_, saddr := startTCPProxy(t, TCPConfig{IdleTimeout: idle}, func(context.Context, net.Conn) (Route, error) {
			return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, stream)}, nil
		})
		c := dialConsumer(t, consumerIP, saddr)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		if len(got) != 64 {
			t.Fatalf("read %d bytes, want 64: cut while streaming", len(got))
		}
	})
}

func TestTCPProxyRejectsConnection(t *testing.T) {
	closedPort := func() netip.AddrPort {
		ln := listenTCP(t)
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		ln.Close()
		return ap
	}()
	tests := []struct {
		name  string
		route RouteFunc
		check func(TCPStats) bool
	}{
		{
			name: "route error",
			route: func(context.Context, net.Conn) (Route, error) {
				return Route{}, fmt.Errorf("endpoint pendingAcceptance: %w", ErrNoRoute)
			},
			check: func(s TCPStats) bool { return s.Rejected == 1 && s.FailedDials == 0 },
		},
		{
			name: "no dial function",
			route: func(context.Context, net.Conn) (Route, error) {
				return Route{EndpointID: "vpce-1"}, nil
			},
			check: func(s TCPStats) bool { return s.Rejected == 1 },
		},
		{
			name: "target refuses",
			route: func(context.Context, net.Conn) (Route, error) {
				return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, closedPort)}, nil
			},
			check: func(s TCPStats) bool { return s.FailedDials == 1 && s.Rejected == 0 },
		},
		{
			name: "connect timeout",
			route: func(context.Context, net.Conn) (Route, error) {
				return Route{EndpointID: "vpce-1", Dial: func(ctx context.Context) (net.Conn, error) {
					<-ctx.Done() // a target that never answers the SYN
					return nil, ctx.Err()
				}}, nil
			},
			check: func(s TCPStats) bool { return s.FailedDials == 1 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, addr := startTCPProxy(t, TCPConfig{ConnectTimeout: 100 * time.Millisecond}, tt.route)
			// On loopback the reset can beat connect(2) back to the caller.
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(consumerIP, 0))}
			c, err := d.Dial("tcp", addr)
			switch {
			case errors.Is(err, syscall.ECONNRESET):
			case err != nil:
				t.Fatalf("dial proxy: %v", err)
			default:
				defer c.Close()
				expectClosed(t, c, 5*time.Second)
			}
			waitFor(t, "stats", 5*time.Second, func() bool {
				st := p.Stats()
				return tt.check(st) && st.ActiveConns == 0
			})
		})
	}
}

func TestTCPProxyCloseStopsEverything(t *testing.T) {
	target := serveTarget(t, echo)
	p := NewTCPProxy(TCPConfig{})
	ln := listenTCP(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- p.Serve(ctx, ln, func(context.Context, net.Conn) (Route, error) {
			return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, target)}, nil
		})
	}()
	c := dialConsumer(t, consumerIP, ln.Addr().String())
	roundTrip(t, c, "x")
	p.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve after Close = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	expectClosed(t, c, 5*time.Second)
	if err := p.Serve(ctx, listenTCP(t), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve on closed proxy = %v, want ErrClosed", err)
	}
}

func BenchmarkTCPProxyRequestResponse(b *testing.B) {
	target := serveTarget(b, echo)
	_, addr := startTCPProxy(b, TCPConfig{}, func(context.Context, net.Conn) (Route, error) {
		return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, target)}, nil
	})
	c := dialConsumer(b, consumerIP, addr)
	msg := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, len(msg))
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTCPProxyConnectionRate(b *testing.B) {
	target := serveTarget(b, echo)
	_, addr := startTCPProxy(b, TCPConfig{}, func(context.Context, net.Conn) (Route, error) {
		return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, target)}, nil
	})
	buf := make([]byte, 1)
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func TestTCPProxyCloseCancelsBlockedRoute(t *testing.T) {
	p := NewTCPProxy(TCPConfig{})
	ln := listenTCP(t)
	entered := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- p.Serve(context.Background(), ln, func(ctx context.Context, _ net.Conn) (Route, error) {
			close(entered)
			<-ctx.Done() // e.g. a RouteFunc waiting on the store
			return Route{}, ctx.Err()
		})
	}()
	c := dialConsumer(t, consumerIP, ln.Addr().String())
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("RouteFunc never called")
	}
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a running RouteFunc")
	}
	if err := <-errc; err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	expectClosed(t, c, 5*time.Second)
}

func TestTCPProxyServeReturnsWhenListenerClosed(t *testing.T) {
	p := NewTCPProxy(TCPConfig{})
	defer p.Close()
	ln := listenTCP(t)
	errc := make(chan error, 1)
	go func() {
		errc <- p.Serve(context.Background(), ln, func(context.Context, net.Conn) (Route, error) {
			return Route{}, ErrNoRoute
		})
	}()
	ln.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after the data plane closed the listener", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestConnFlowHash(t *testing.T) {
	target := serveTarget(t, echo)
	a := dialConsumer(t, consumerIP, target.String())
	b := dialConsumer(t, consumerIP, target.String())
	if ConnFlowHash(a) == ConnFlowHash(b) {
		t.Fatalf("two flows with different source ports hash alike: %x", ConnFlowHash(a))
	}
	want := FlowHash(a.RemoteAddr().(*net.TCPAddr).AddrPort(), a.LocalAddr().(*net.TCPAddr).AddrPort(), 6)
	if got := ConnFlowHash(a); got != want {
		t.Fatalf("ConnFlowHash = %x, want FlowHash of the 5-tuple %x", got, want)
	}
}

func BenchmarkTCPProxyThroughput(b *testing.B) {
	sink := serveTarget(b, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	_, addr := startTCPProxy(b, TCPConfig{}, func(context.Context, net.Conn) (Route, error) {
		return Route{EndpointID: "vpce-1", Dial: dialFrom(lbIP, sink)}, nil
	})
	c := dialConsumer(b, consumerIP, addr)
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
}
