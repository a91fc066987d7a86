package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of TCPConfig, matching NLB.
const (
	DefaultTCPIdleTimeout    = 350 * time.Second
	DefaultTCPConnectTimeout = 10 * time.Second
)

// TCPConfig configures a TCPProxy. Zero durations take the defaults.
type TCPConfig struct {
	IdleTimeout    time.Duration
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// Route tells the proxy where one accepted connection goes.
type Route struct {
	// EndpointID is the VPC endpoint the consumer came through; it groups
	// connections for CloseEndpoint and is sent in the PROXY v2 header.
	EndpointID string
	// Dial opens the connection to the chosen target from the load
	// balancer's interface address. It must honour ctx (connect timeout).
	Dial func(ctx context.Context) (net.Conn, error)
	// ProxyHeader sends a PROXY v2 header before any consumer data.
	ProxyHeader bool
	// ProxySource and ProxyDestination override the header's addresses; the
	// zero value means the accepted connection's remote and local address.
	ProxySource, ProxyDestination netip.AddrPort
}

// RouteFunc chooses the Route for an accepted connection. An error rejects
// the connection: the consumer sees a reset.
type RouteFunc func(ctx context.Context, conn net.Conn) (Route, error)

// TCPStats are a TCPProxy's counters since it was created.
type TCPStats struct {
	ActiveConns int64
	TotalConns  uint64
	BytesIn     uint64 // consumer → target
	BytesOut    uint64 // target → consumer
	FailedDials uint64
	Rejected    uint64 // connections refused by the RouteFunc
}

// TCPProxy relays accepted TCP connections to targets. Between two
// *net.TCPConn, data moves with io.Copy, which Linux turns into splice(2).
type TCPProxy struct {
	idle    time.Duration
	connect time.Duration
	log     *slog.Logger
	errLog  *logLimiter

	// done ends when Close is called; it bounds RouteFuncs still running.
	done     context.Context
	closeAll context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	flows     map[string]map[*tcpFlow]struct{} // by endpoint ID
	wg        sync.WaitGroup

	active      atomic.Int64
	total       atomic.Uint64
	bytesIn     atomic.Uint64
	bytesOut    atomic.Uint64
	failedDials atomic.Uint64
	rejected    atomic.Uint64
}

// NewTCPProxy returns a proxy ready to Serve listeners.
func NewTCPProxy(cfg TCPConfig) *TCPProxy {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultTCPIdleTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultTCPConnectTimeout
	}
	log := loggerOrDiscard(cfg.Logger)
	done, closeAll := context.WithCancel(context.Background())
	return &TCPProxy{
		done:      done,
		closeAll:  closeAll,
		idle:      cfg.IdleTimeout,
		connect:   cfg.ConnectTimeout,
		log:       log,
		errLog:    newLogLimiter(log, 10*time.Second, 10),
		listeners: make(map[net.Listener]struct{}),
		flows:     make(map[string]map[*tcpFlow]struct{}),
	}
}

// Stats returns the proxy's counters.
func (p *TCPProxy) Stats() TCPStats {
	return TCPStats{
		ActiveConns: p.active.Load(),
		TotalConns:  p.total.Load(),
		BytesIn:     p.bytesIn.Load(),
		BytesOut:    p.bytesOut.Load(),
		FailedDials: p.failedDials.Load(),
		Rejected:    p.rejected.Load(),
	}
}

// EndpointConns returns the number of live relayed connections of an endpoint.
func (p *TCPProxy) EndpointConns(endpointID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flows[endpointID])
}

// Serve accepts connections on ln until ctx ends, ln is closed or the proxy
// is closed, and relays each as route decides. Relayed connections outlive
// Serve; they end on their own, on idle timeout, when ctx ends, or through
// CloseEndpoint/Close. Serve closes ln before returning; it returns nil when
// stopped by ctx, Close or closing ln.
func (p *TCPProxy) Serve(ctx context.Context, ln net.Listener, route RouteFunc) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	p.listeners[ln] = struct{}{}
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer func() {
		stop()
		ln.Close()
		p.mu.Lock()
		delete(p.listeners, ln)
		p.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || p.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAcceptError(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.errLog.Warn("accept failed; retrying", "listener", ln.Addr(), "err", err, "backoff", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		p.total.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(ctx, conn, route)
		}()
	}
}

// isTemporaryAcceptError reports descriptor exhaustion and aborted
// handshakes, after which accepting again is right.
func isTemporaryAcceptError(err error) bool {
	return errors.Is(err, errEMFILE) || errors.Is(err, errENFILE) || errors.Is(err, errECONNABORTED)
}

func (p *TCPProxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// CloseEndpoint cuts every live connection of the endpoint at once and
// returns how many it cut.
func (p *TCPProxy) CloseEndpoint(endpointID string) int {
	p.mu.Lock()
	flows := p.flows[endpointID]
	delete(p.flows, endpointID)
	p.mu.Unlock()
	for f := range flows {
		f.cancel()
	}
	return len(flows)
}

// Close stops every Serve, cuts every connection and waits for the relays
// to finish. The proxy cannot be reused.
func (p *TCPProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.closeAll()
	for ln := range p.listeners {
		ln.Close()
	}
	all := p.flows
	p.flows = make(map[string]map[*tcpFlow]struct{})
	p.mu.Unlock()
	for _, flows := range all {
		for f := range flows {
			f.cancel()
		}
	}
	p.wg.Wait()
	return nil
}

// tcpFlow is one relayed connection.
type tcpFlow struct {
	endpointID string
	ctx        context.Context
	cancel     context.CancelFunc
	client     net.Conn

	mu       sync.Mutex
	upstream net.Conn
	closed   bool

	// idle tracking: the last time each direction was seen moving bytes
	// (or finished), as UnixNano.
	quietSince [2]atomic.Int64
}

func (f *tcpFlow) closeConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.client.Close()
	if f.upstream != nil {
		f.upstream.Close()
	}
}

func (f *tcpFlow) setUpstream(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.upstream = c
	return true
}

func (p *TCPProxy) track(f *tcpFlow) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	m := p.flows[f.endpointID]
	if m == nil {
		m = make(map[*tcpFlow]struct{})
		p.flows[f.endpointID] = m
	}
	m[f] = struct{}{}
	return true
}

func (p *TCPProxy) untrack(f *tcpFlow) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := p.flows[f.endpointID]; m != nil {
		delete(m, f)
		if len(m) == 0 {
			delete(p.flows, f.endpointID)
		}
	}
}

// reset closes c with SO_LINGER 0 so the peer sees RST, as NLB does for a
// connection it cannot serve.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *TCPProxy) handle(ctx context.Context, client net.Conn, route RouteFunc) {
	rctx, rcancel := context.WithCancel(ctx)
	stopRoute := context.AfterFunc(p.done, rcancel)
	r, err := route(rctx, client)
	stopRoute()
	rcancel()
	if err == nil && r.Dial == nil {
		err = fmt.Errorf("route without dial function: %w", ErrNoRoute)
	}
	if err != nil {
		p.rejected.Add(1)
		p.errLog.Warn("connection rejected", "client", client.RemoteAddr(), "local", client.LocalAddr(), "err", err)
		reset(client)
		return
	}
	fctx, cancel := context.WithCancel(ctx)
	f := &tcpFlow{endpointID: r.EndpointID, ctx: fctx, cancel: cancel, client: client}
	if !p.track(f) {
		cancel()
		reset(client)
		return
	}
	p.active.Add(1)
	defer func() {
		p.untrack(f)
		cancel()
		p.active.Add(-1)
	}()
	stop := context.AfterFunc(fctx, f.closeConns)
	defer stop()

	dctx, dcancel := context.WithTimeout(fctx, p.connect)
	up, err := r.Dial(dctx)
	dcancel()
	if err != nil {
		p.failedDials.Add(1)
		p.errLog.Warn("target dial failed", "endpoint", r.EndpointID, "client", client.RemoteAddr(), "err", err)
		reset(client)
		return
	}
	if !f.setUpstream(up) {
		up.Close()
		return
	}
	if r.ProxyHeader {
		if err := p.sendHeader(f, r, up); err != nil {
			p.errLog.Warn("PROXY header failed", "endpoint", r.EndpointID, "client", client.RemoteAddr(), "err", err)
			reset(client)
			up.Close()
			return
		}
	}
	p.relay(f, client, up)
	f.closeConns()
}

func (p *TCPProxy) sendHeader(f *tcpFlow, r Route, up net.Conn) error {
	src, dst := r.ProxySource, r.ProxyDestination
	if !src.IsValid() {
		src = addrPortOf(f.client.RemoteAddr())
	}
	if !dst.IsValid() {
		dst = addrPortOf(f.client.LocalAddr())
	}
	if !src.IsValid() || !dst.IsValid() {
		return fmt.Errorf("PROXY header needs IP addresses, have %v -> %v: %w", f.client.RemoteAddr(), f.client.LocalAddr(), ErrBadAddress)
	}
	_ = up.SetWriteDeadline(time.Now().Add(p.connect))
	if _, err := NewProxyHeader(false, src, dst, r.EndpointID).WriteTo(up); err != nil {
		return err
	}
	return up.SetWriteDeadline(time.Time{})
}

// ConnFlowHash is FlowHash of an accepted TCP connection's 5-tuple.
func ConnFlowHash(c net.Conn) uint64 {
	return FlowHash(addrPortOf(c.RemoteAddr()), addrPortOf(c.LocalAddr()), 6)
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// relay copies both directions until both finish or the flow is cut.
func (p *TCPProxy) relay(f *tcpFlow, client, up net.Conn) {
	now := time.Now().UnixNano()
	f.quietSince[0].Store(now)
	f.quietSince[1].Store(now)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pipe(f, 0, up, client, &p.bytesIn)
	}()
	p.pipe(f, 1, client, up, &p.bytesOut)
	<-done
}

// pipe copies src to dst. Rather than refreshing a deadline per read (which
// would rule out splice), it copies in rounds bounded by a read deadline of a
// quarter of the idle timeout; a round that moved bytes marks the direction
// active. The flow is idle once neither direction has moved a byte for the
// idle timeout, so it is cut between 1 and 1.5 idle timeouts after its last
// byte. A read deadline never interrupts a splice mid-transfer, so no byte is
// lost between rounds. A direction stuck writing to a peer that stopped
// reading moves no bytes, so it counts as idle too.
func (p *TCPProxy) pipe(f *tcpFlow, dir int, dst, src net.Conn, counter *atomic.Uint64) {
	quantum := max(p.idle/4, time.Millisecond)
	for {
		_ = src.SetReadDeadline(time.Now().Add(quantum))
		n, err := io.Copy(dst, src)
		now := time.Now()
		if n > 0 {
			counter.Add(uint64(n))
			f.quietSince[dir].Store(now.UnixNano())
		}
		switch {
		case err == nil: // EOF from src: pass the half-close on.
			f.quietSince[dir].Store(now.UnixNano())
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				if cw.CloseWrite() == nil {
					return
				}
			}
			f.cancel()
			return
		case f.ctx.Err() != nil:
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			last := max(f.quietSince[0].Load(), f.quietSince[1].Load())
			if now.Sub(time.Unix(0, last)) >= p.idle {
				p.log.Debug("idle timeout", "endpoint", f.endpointID, "client", f.client.RemoteAddr())
				f.cancel()
				return
			}
		default:
			p.log.Debug("relay ended", "endpoint", f.endpointID, "client", f.client.RemoteAddr(), "err", err)
			f.cancel()
			return
		}
	}
}
