package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultUDPIdleTimeout is NLB's UDP flow idle timeout.
const DefaultUDPIdleTimeout = 120 * time.Second

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// UDPConfig configures a UDPProxy. Zero durations take the defaults.
type UDPConfig struct {
	IdleTimeout    time.Duration
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// UDPRoute tells the proxy where a new flow (a new client address) goes.
type UDPRoute struct {
	EndpointID string
	// Dial opens the flow's own upstream socket to the chosen target.
	Dial func(ctx context.Context) (net.Conn, error)
}

// UDPRouteFunc chooses the route of a new flow; an error drops the datagram
// (UDP has nothing to reset) and the next datagram asks again.
type UDPRouteFunc func(ctx context.Context, client netip.AddrPort) (UDPRoute, error)

// UDPStats are a UDPProxy's counters since it was created.
type UDPStats struct {
	ActiveFlows   int64
	TotalFlows    uint64
	PacketsIn     uint64 // client → target
	PacketsOut    uint64 // target → client
	BytesIn       uint64
	BytesOut      uint64
	FailedDials   uint64
	DroppedPacket uint64
}

// UDPProxy relays UDP flows: each client address gets its own upstream
// socket, so replies find their way back, and a flow expires after the idle
// timeout without traffic in either direction.
type UDPProxy struct {
	idle    time.Duration
	connect time.Duration
	log     *slog.Logger
	errLog  *logLimiter

	mu     sync.Mutex
	closed bool
	conns  map[net.PacketConn]struct{}
	flows  map[*udpFlow]struct{}
	wg     sync.WaitGroup

	active                         atomic.Int64
	total, pktIn, pktOut           atomic.Uint64
	bytesIn, bytesOut, failedDials atomic.Uint64
	dropped                        atomic.Uint64
}

// NewUDPProxy returns a proxy ready to Serve packet conns.
func NewUDPProxy(cfg UDPConfig) *UDPProxy {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultUDPIdleTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultTCPConnectTimeout
	}
	log := loggerOrDiscard(cfg.Logger)
	return &UDPProxy{
		idle:    cfg.IdleTimeout,
		connect: cfg.ConnectTimeout,
		log:     log,
		errLog:  newLogLimiter(log, 10*time.Second, 10),
		conns:   make(map[net.PacketConn]struct{}),
		flows:   make(map[*udpFlow]struct{}),
	}
}

// Stats returns the proxy's counters.
func (p *UDPProxy) Stats() UDPStats {
	return UDPStats{
		ActiveFlows: p.active.Load(), TotalFlows: p.total.Load(),
		PacketsIn: p.pktIn.Load(), PacketsOut: p.pktOut.Load(),
		BytesIn: p.bytesIn.Load(), BytesOut: p.bytesOut.Load(),
		FailedDials: p.failedDials.Load(), DroppedPacket: p.dropped.Load(),
	}
}

type udpFlow struct {
	endpointID string
	client     net.Addr
	upstream   net.Conn
	lastActive atomic.Int64 // UnixNano
	closeOnce  sync.Once
}

func (f *udpFlow) close() { f.closeOnce.Do(func() { f.upstream.Close() }) }

// Serve relays datagrams arriving on pc until ctx ends, pc is closed or the
// proxy is closed; it closes pc and the flows it created before returning.
// route runs on the receive path, so it must be quick.
func (p *UDPProxy) Serve(ctx context.Context, pc net.PacketConn, route UDPRouteFunc) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pc.Close()
		return ErrClosed
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	s := &udpServer{p: p, ctx: ctx, pc: pc, route: route, flows: make(map[netip.AddrPort]*udpFlow)}
	defer func() {
		stop()
		pc.Close()
		s.closeAll()
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
	}()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || p.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read from %s: %w", pc.LocalAddr(), err)
		}
		s.forward(from, buf[:n])
	}
}

// udpServer is the per-Serve flow table.
type udpServer struct {
	p     *UDPProxy
	ctx   context.Context
	pc    net.PacketConn
	route UDPRouteFunc

	mu    sync.Mutex // the flows' reply goroutines remove themselves
	flows map[netip.AddrPort]*udpFlow
}

// forward sends one client datagram upstream. A flow that idled out between
// lookup and write is replaced once rather than losing the datagram.
func (s *udpServer) forward(from net.Addr, data []byte) {
	p := s.p
	client := addrPortOf(from)
	for attempt := 0; attempt < 2; attempt++ {
		f := s.flowFor(from, client)
		if f == nil {
			p.dropped.Add(1)
			return
		}
		f.lastActive.Store(time.Now().UnixNano())
		_, err := f.upstream.Write(data)
		if err == nil {
			p.pktIn.Add(1)
			p.bytesIn.Add(uint64(len(data)))
			return
		}
		if errors.Is(err, net.ErrClosed) && attempt == 0 {
			s.remove(client, f)
			continue
		}
		// A refused datagram (ICMP unreachable) is a normal UDP outcome.
		p.dropped.Add(1)
		p.log.Debug("send to target failed", "endpoint", f.endpointID, "client", from, "err", err)
		return
	}
}

// flowFor returns the client's flow, creating it (and its reply goroutine)
// if needed; nil means the datagram has no route.
func (s *udpServer) flowFor(from net.Addr, client netip.AddrPort) *udpFlow {
	s.mu.Lock()
	f := s.flows[client]
	s.mu.Unlock()
	if f != nil {
		return f
	}
	if f = s.p.newFlow(s.ctx, s.pc, from, client, s.route); f == nil {
		return nil
	}
	s.mu.Lock()
	s.flows[client] = f
	s.mu.Unlock()
	s.p.wg.Add(1)
	go func() {
		defer s.p.wg.Done()
		s.p.replies(s.pc, f, func() { s.remove(client, f) })
	}()
	return f
}

func (s *udpServer) remove(client netip.AddrPort, f *udpFlow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flows[client] == f {
		delete(s.flows, client)
	}
}

func (s *udpServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.flows {
		f.close()
	}
}

func (p *UDPProxy) newFlow(ctx context.Context, pc net.PacketConn, from net.Addr, client netip.AddrPort, route UDPRouteFunc) *udpFlow {
	r, err := route(ctx, client)
	if err == nil && r.Dial == nil {
		err = fmt.Errorf("route without dial function: %w", ErrNoRoute)
	}
	if err != nil {
		p.errLog.Warn("UDP flow rejected", "client", from, "local", pc.LocalAddr(), "err", err)
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, p.connect)
	up, err := r.Dial(dctx)
	cancel()
	if err != nil {
		p.failedDials.Add(1)
		p.errLog.Warn("UDP target dial failed", "endpoint", r.EndpointID, "client", from, "err", err)
		return nil
	}
	f := &udpFlow{endpointID: r.EndpointID, client: from, upstream: up}
	f.lastActive.Store(time.Now().UnixNano()) // before replies reads it
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		up.Close()
		return nil
	}
	p.flows[f] = struct{}{}
	p.mu.Unlock()
	p.total.Add(1)
	p.active.Add(1)
	return f
}

// replies copies the target's datagrams back to the client until the flow
// idles out or is closed.
func (p *UDPProxy) replies(pc net.PacketConn, f *udpFlow, remove func()) {
	defer func() {
		remove()
		f.close()
		p.mu.Lock()
		delete(p.flows, f)
		p.mu.Unlock()
		p.active.Add(-1)
	}()
	buf := make([]byte, maxDatagram)
	for {
		_ = f.upstream.SetReadDeadline(time.Unix(0, f.lastActive.Load()).Add(p.idle))
		n, err := f.upstream.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if time.Since(time.Unix(0, f.lastActive.Load())) >= p.idle {
					return
				}
				continue
			}
			var ne *net.OpError
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				continue // ICMP errors surface as read errors on connected sockets
			}
			return
		}
		f.lastActive.Store(time.Now().UnixNano())
		if _, err := pc.WriteTo(buf[:n], f.client); err != nil {
			p.dropped.Add(1)
			continue
		}
		p.pktOut.Add(1)
		p.bytesOut.Add(uint64(n))
	}
}

func (p *UDPProxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// CloseEndpoint ends every flow of the endpoint and returns how many.
func (p *UDPProxy) CloseEndpoint(endpointID string) int {
	p.mu.Lock()
	var cut []*udpFlow
	for f := range p.flows {
		if f.endpointID == endpointID {
			cut = append(cut, f)
		}
	}
	p.mu.Unlock()
	for _, f := range cut {
		f.close()
	}
	return len(cut)
}

// Close stops every Serve, ends every flow and waits for them.
func (p *UDPProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for pc := range p.conns {
		pc.Close()
	}
	var all []*udpFlow
	for f := range p.flows {
		all = append(all, f)
	}
	p.mu.Unlock()
	for _, f := range all {
		f.close()
	}
	p.wg.Wait()
	return nil
}
