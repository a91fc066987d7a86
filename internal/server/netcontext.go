package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/proxy"
)

// The network-context listener is the API's second, internal door: the
// data plane relays requests made inside modelled networks (through an
// interface endpoint, or over the stand-in internet) to it, each connection
// prefixed by a PROXY v2 header that names the caller's address and, for an
// endpoint, the endpoint ID (the AWS TLV). Requests on it are authorized
// with that network context; requests on the normal listener carry none.
// It is a unix socket in the data directory (mode 0600), or loopback TCP
// when the socket path is too long.

// headerTimeout bounds how long a relayed connection may take to send its
// PROXY header.
const headerTimeout = 10 * time.Second

// proxiedListener wraps accepted connections so the PROXY header is read
// by the connection's own goroutine, never by the accept loop.
type proxiedListener struct{ net.Listener }

func (l proxiedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &proxiedConn{Conn: c, br: bufio.NewReader(c)}, nil
}

// proxiedConn reads its PROXY v2 header before the first byte of data.
type proxiedConn struct {
	net.Conn
	br   *bufio.Reader
	once sync.Once
	hdr  *proxy.Header
	err  error
}

func (c *proxiedConn) header() (*proxy.Header, error) {
	c.once.Do(func() {
		c.Conn.SetReadDeadline(time.Now().Add(headerTimeout))
		c.hdr, c.err = proxy.ParseV2(c.br)
		c.Conn.SetReadDeadline(time.Time{})
	})
	return c.hdr, c.err
}

func (c *proxiedConn) Read(b []byte) (int, error) {
	if _, err := c.header(); err != nil {
		return 0, err
	}
	return c.br.Read(b)
}

// network is the connection's network context (zero for a LOCAL header).
func (c *proxiedConn) network() cloud.NetworkContext {
	h, err := c.header()
	if err != nil || h.Command != proxy.CommandProxy {
		return cloud.NetworkContext{}
	}
	return cloud.NetworkContext{EndpointID: h.EndpointID, SourceIP: h.Source.Addr().Unmap()}
}

type proxiedConnKey struct{}

// networkHandler puts the connection's network context into each request's
// context, where awsapi and the authorizer find it.
func networkHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc, ok := r.Context().Value(proxiedConnKey{}).(*proxiedConn)
		if !ok {
			http.Error(w, "no network context", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r.WithContext(cloud.WithNetwork(r.Context(), pc.network())))
	})
}

// startInternal opens and serves the network-context listener.
func (s *Server) startInternal(api http.Handler) error {
	var ln net.Listener
	sock := filepath.Join(s.cfg.DataDir, "api-net.sock")
	if abs, err := filepath.Abs(sock); err == nil && len(abs) < 100 {
		if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("server: remove stale %s: %w", abs, err)
		}
		if ln, err = net.Listen("unix", abs); err == nil {
			if err := os.Chmod(abs, 0o600); err != nil {
				ln.Close()
				return fmt.Errorf("server: chmod %s: %w", abs, err)
			}
		}
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("server: internal listener: %w", err)
		}
	}
	s.internalLn = ln
	s.internal = &http.Server{
		Handler:           networkHandler(api),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, proxiedConnKey{}, c)
		},
	}
	go func() {
		if err := s.internal.Serve(proxiedListener{ln}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("internal http server stopped", "err", err)
		}
	}()
	return nil
}

// dialInternal connects to the network-context listener.
func (s *Server) dialInternal(ctx context.Context) (net.Conn, error) {
	if s.internalLn == nil {
		return nil, errors.New("server: no internal listener")
	}
	a := s.internalLn.Addr()
	var d net.Dialer
	return d.DialContext(ctx, a.Network(), a.String())
}

// closeInternal stops the network-context listener.
func (s *Server) closeInternal(ctx context.Context) error {
	if s.internal != nil {
		return s.internal.Shutdown(ctx)
	}
	return nil
}
