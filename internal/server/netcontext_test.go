package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/proxy"
)

// TestInternalListenerNetwork proves that the PROXY v2 header of a
// connection to the internal listener becomes each request's network
// context, and that a connection without one is refused.
func TestInternalListenerNetwork(t *testing.T) {
	s := &Server{cfg: Config{DataDir: t.TempDir()}, log: slog.New(slog.DiscardHandler)}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok := cloud.NetworkFrom(r.Context())
		fmt.Fprintf(w, "%v %s %v", ok, n.EndpointID, n.SourceIP)
	})
	if err := s.startInternal(echo); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.closeInternal(context.Background()) })
	if s.internalLn.Addr().Network() != "unix" {
		t.Fatalf("internal listener on %s, want a unix socket", s.internalLn.Addr().Network())
	}
	src, dst := netip.MustParseAddrPort("10.0.1.5:40000"), netip.MustParseAddrPort("10.0.1.9:80")
	cases := []struct {
		name   string
		header *proxy.Header
		want   string // "" means the connection is refused
	}{
		{"through an endpoint", proxy.NewProxyHeader(false, src, dst, "vpce-0123456789abcdef0"), "true vpce-0123456789abcdef0 10.0.1.5"},
		{"over the internet", proxy.NewProxyHeader(false, netip.MustParseAddrPort("169.254.0.2:5000"), netip.MustParseAddrPort("198.18.3.14:80"), ""), "true  169.254.0.2"},
		{"LOCAL command carries no network", &proxy.Header{Command: proxy.CommandLocal, Protocol: proxy.ProtocolUnspec}, "false  invalid IP"},
		{"no header", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := s.dialInternal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if tc.header != nil {
				if _, err := tc.header.WriteTo(c); err != nil {
					t.Fatal(err)
				}
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: sts.us-east-1.amazonaws.com\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if tc.want == "" {
				// net/http answers the unreadable request itself; the
				// handler never runs.
				if err == nil && resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("a connection without a PROXY header was served: %s", resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if got := strings.TrimSpace(string(body)); got != tc.want {
				t.Fatalf("handler saw %q, want %q", got, tc.want)
			}
		})
	}
}

var _ net.Conn = (*proxiedConn)(nil)
