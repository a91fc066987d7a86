package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// udpEcho serves a UDP echo target that prefixes replies with "re:".
func udpEcho(t testing.TB) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("re:"), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func udpDialFrom(src netip.Addr, target netip.AddrPort) func(context.Context) (net.Conn, error) {
	d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "udp", target.String()) }
}

func startUDPProxy(t testing.TB, cfg UDPConfig, route UDPRouteFunc) (*UDPProxy, string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := NewUDPProxy(cfg)
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(context.Background(), pc, route) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return p, pc.LocalAddr().String()
}

func udpClient(t testing.TB, src netip.Addr, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	c, err := d.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func udpRoundTrip(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if got := string(buf[:n]); got != "re:"+msg {
		t.Fatalf("reply = %q, want %q", got, "re:"+msg)
	}
}

func TestUDPProxy(t *testing.T) {
	target := udpEcho(t)
	tests := []struct {
		name    string
		clients []netip.Addr
		msgs    []string
	}{
		{"one flow", []netip.Addr{consumerIP}, []string{"a", "bb", "ccc"}},
		{"two flows", []netip.Addr{consumerIP, netip.MustParseAddr("127.0.0.4")}, []string{"x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, addr := startUDPProxy(t, UDPConfig{}, func(context.Context, netip.AddrPort) (UDPRoute, error) {
				return UDPRoute{EndpointID: "vpce-u", Dial: udpDialFrom(lbIP, target)}, nil
			})
			for _, ip := range tt.clients {
				c := udpClient(t, ip, addr)
				for _, m := range tt.msgs {
					udpRoundTrip(t, c, m)
				}
			}
			want := uint64(len(tt.clients) * len(tt.msgs))
			waitFor(t, "stats", 5*time.Second, func() bool {
				st := p.Stats()
				return st.TotalFlows == uint64(len(tt.clients)) && st.PacketsIn == want && st.PacketsOut == want
			})
		})
	}
}

func TestUDPProxyFlowLifecycle(t *testing.T) {
	target := udpEcho(t)
	const idle = 150 * time.Millisecond
	p, addr := startUDPProxy(t, UDPConfig{IdleTimeout: idle}, func(context.Context, netip.AddrPort) (UDPRoute, error) {
		return UDPRoute{EndpointID: "vpce-u", Dial: udpDialFrom(lbIP, target)}, nil
	})
	c := udpClient(t, consumerIP, addr)
	t.Run("idle flow expires", func(t *testing.T) {
		udpRoundTrip(t, c, "1")
		waitFor(t, "idle flow to expire", 20*idle, func() bool { return p.Stats().ActiveFlows == 0 })
		udpRoundTrip(t, c, "2") // a new flow
		if st := p.Stats(); st.TotalFlows != 2 {
			t.Fatalf("TotalFlows = %d, want 2 after expiry", st.TotalFlows)
		}
	})
	t.Run("close endpoint ends flows", func(t *testing.T) {
		udpRoundTrip(t, c, "3")
		if n := p.CloseEndpoint("vpce-u"); n != 1 {
			t.Fatalf("CloseEndpoint = %d, want 1", n)
		}
		waitFor(t, "flow to end", 5*time.Second, func() bool { return p.Stats().ActiveFlows == 0 })
	})
}

func TestUDPProxyRouteErrorDrops(t *testing.T) {
	p, addr := startUDPProxy(t, UDPConfig{}, func(context.Context, netip.AddrPort) (UDPRoute, error) {
		return UDPRoute{}, errors.New("no endpoint")
	})
	c := udpClient(t, consumerIP, addr)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "drop to be counted", 5*time.Second, func() bool { return p.Stats().DroppedPacket == 1 })
	if st := p.Stats(); st.TotalFlows != 0 {
		t.Fatalf("stats = %+v, want no flow", st)
	}
}
