package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// This file has test helpers, exported so the controllers' integration
// tests can stand up "public AWS services" in the fake internet and call
// them from an instance.

// SourceHeader is the response header in which a PublicServer reports the
// client address it saw (the VPC's NAT address, not a private IP).
const SourceHeader = "X-Privlink-Source"

// PublicServer is a small HTTP server standing in for a public service
// endpoint: every request gets 200 with the body "<name>\n".
type PublicServer struct {
	Name string
	Addr netip.AddrPort

	srv  *http.Server
	stop func() bool

	mu    sync.Mutex
	peers []netip.AddrPort
}

// ServePublic starts a PublicServer on addr inside namespace ns (normally
// the internet namespace, where any address of a service's CIDRs can be
// bound). It stops on Close or when ctx ends.
func ServePublic(ctx context.Context, ns, name string, addr netip.AddrPort) (*PublicServer, error) {
	ln, err := ListenTCP(ctx, ns, addr.String())
	if err != nil {
		return nil, err
	}
	s := &PublicServer{Name: name, Addr: addr}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	s.stop = context.AfterFunc(ctx, func() { s.srv.Close() })
	go s.srv.Serve(ln)
	return s, nil
}

func (s *PublicServer) handle(w http.ResponseWriter, r *http.Request) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		s.mu.Lock()
		s.peers = append(s.peers, peer)
		s.mu.Unlock()
	}
	w.Header().Set(SourceHeader, r.RemoteAddr)
	fmt.Fprintln(w, s.Name)
}

// Peers returns the client addresses of the requests served so far.
func (s *PublicServer) Peers() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), s.peers...)
}

// Close stops the server and closes its connections.
func (s *PublicServer) Close() error {
	s.stop()
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// NamespaceHTTPClient returns an HTTP client that dials from inside
// namespace ns. It never uses a proxy from the environment, so a request
// cannot leave the machine's namespaces that way.
func NamespaceHTTPClient(ns string, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if network != "tcp" && network != "tcp4" {
					return nil, fmt.Errorf("dataplane: dial %s from %s: only tcp", network, ns)
				}
				return DialTCP(ctx, ns, addr)
			},
			DisableCompression: true,
		},
	}
}
