package dns

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// serveLoopback runs r.Serve for vpcID on fresh loopback sockets and
// returns the UDP and TCP addresses (the same port when it is free on
// both). Serve is stopped, and must return nil, at cleanup.
func serveLoopback(t *testing.T, r *Resolver, vpcID string) (udpAddr, tcpAddr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pc.Close()
		t.Fatalf("listen tcp: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, vpcID, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return pc.LocalAddr().String(), ln.Addr().String()
}

// exchange sends m and fails the test without a reply. The sockets are
// bound before Serve starts, so a query sent early waits in the socket.
func exchange(t *testing.T, c *mdns.Client, m *mdns.Msg, addr string) *mdns.Msg {
	t.Helper()
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("exchange with %s over %s: %v", addr, c.Net, err)
	}
	return resp
}

func TestServeLoopback(t *testing.T) {
	r := fixture(t)
	udpAddr, tcpAddr := serveLoopback(t, r, vpcA)
	udp := &mdns.Client{Net: "udp", Timeout: 3 * time.Second}
	tcp := &mdns.Client{Net: "tcp", Timeout: 3 * time.Second}

	tests := []struct {
		name      string
		client    *mdns.Client
		addr      string
		qname     string
		edns      uint16
		rcode     int
		wantTC    bool
		wantCount int
	}{
		{name: "udp endpoint name", client: udp, addr: udpAddr, qname: "vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com.", wantCount: 2},
		{name: "tcp private zone", client: tcp, addr: tcpAddr, qname: "sqs.us-east-1.amazonaws.com.", wantCount: 2},
		{name: "udp NXDOMAIN", client: udp, addr: udpAddr, qname: "nothing.example.net.", rcode: mdns.RcodeNameError},
		{name: "large answer over udp is truncated", client: udp, addr: udpAddr, qname: "big.internal.", wantTC: true},
		{name: "large answer retried over tcp is whole", client: tcp, addr: tcpAddr, qname: "big.internal.", wantCount: 100},
		{name: "large answer with EDNS fits in udp", client: udp, addr: udpAddr, qname: "big.internal.", edns: 4096, wantCount: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := query(tt.qname, mdns.TypeA)
			if tt.edns != 0 {
				m.SetEdns0(tt.edns, false)
			}
			resp := exchange(t, tt.client, m, tt.addr)
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if resp.Truncated != tt.wantTC {
				t.Errorf("TC = %v, want %v", resp.Truncated, tt.wantTC)
			}
			if !tt.wantTC && len(resp.Answer) != tt.wantCount {
				t.Errorf("answers = %d, want %d", len(resp.Answer), tt.wantCount)
			}
		})
	}

	t.Run("malformed packet gets FORMERR", func(t *testing.T) {
		conn, err := net.Dial("udp", udpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A header claiming one question, with the question cut off.
		pkt := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'f', 'o'}
		buf := make([]byte, 512)
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no reply: %v", err)
		}
		var resp mdns.Msg
		if err := resp.Unpack(buf[:n]); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if resp.Id != 0x1234 || resp.Rcode != mdns.RcodeFormatError {
			t.Errorf("reply id=%#x rcode=%s, want 0x1234 FORMERR", resp.Id, mdns.RcodeToString[resp.Rcode])
		}
	})

	stats, _ := r.Stats(vpcA)
	if stats.Queries < uint64(len(tests)) || stats.NXDomain < 1 {
		t.Errorf("stats = %+v, want at least %d queries and one NXDOMAIN", stats, len(tests))
	}
}

func TestServeLifecycle(t *testing.T) {
	tests := []struct {
		name    string
		run     func(t *testing.T, r *Resolver) error
		wantErr error
	}{
		{name: "no sockets", run: func(t *testing.T, r *Resolver) error {
			return r.Serve(context.Background(), vpcA, nil, nil)
		}, wantErr: ErrNoSocket},
		{name: "udp only stops on cancel", run: func(t *testing.T, r *Resolver) error {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Serve(ctx, vpcA, pc, nil) }()
			resp := exchange(t, &mdns.Client{Net: "udp", Timeout: 3 * time.Second}, query("api.example.com.", mdns.TypeA), pc.LocalAddr().String())
			if len(resp.Answer) != 1 {
				t.Errorf("answers = %d, want 1", len(resp.Answer))
			}
			cancel()
			err = <-done
			// Serve closed the socket it was given.
			if _, werr := pc.WriteTo([]byte{0}, pc.LocalAddr()); werr == nil {
				t.Error("socket still open after Serve returned")
			}
			return err
		}},
		{name: "closed listener is reported", run: func(t *testing.T, r *Resolver) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = r.Serve(ctx, vpcA, nil, ln)
			if ctx.Err() != nil {
				t.Error("Serve waited for ctx instead of reporting the dead listener")
			}
			if err == nil {
				return errors.New("nil error")
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(t, fixture(t)); !errors.Is(err, tt.wantErr) {
				t.Errorf("Serve error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
