// Package dns owns privlink's per-VPC "Amazon DNS" resolver, the hosted
// zones it answers from and the AWS DNS name formats; it never opens
// sockets in a namespace itself and never forwards a query anywhere.
package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// ErrNoSocket is returned by Serve when it is given neither socket.
var ErrNoSocket = errors.New("dns: no socket to serve")

const (
	// maxUDPPayload is the largest UDP response the resolver sends, whatever
	// size a client's EDNS0 OPT advertises.
	maxUDPPayload = 4096
	// shutdownTimeout bounds how long Serve waits for in-flight queries.
	shutdownTimeout = 5 * time.Second
)

// Stats are one VPC's resolver counters since its view was first set.
type Stats struct {
	Queries   uint64 // every request handled
	NXDomain  uint64 // answered NXDOMAIN
	Refused   uint64 // refused: DNS support off or no view
	Malformed uint64 // FORMERR, NOTIMP or BADVERS
	ServFail  uint64 // CNAME loops and over-long chains
}

// vpcState is one VPC's current view and counters. Counters outlive view
// swaps and go away with RemoveView.
type vpcState struct {
	view                                         atomic.Pointer[View]
	queries, nxdomain, refused, malformed, servf atomic.Uint64
}

// Resolver answers DNS for many VPCs, each from its own View, plus the
// region's public names and the Authority's hosted zones shared by all.
// No query is ever forwarded: a name nobody holds is NXDOMAIN. It is safe
// for concurrent use.
type Resolver struct {
	log       *slog.Logger
	authority *Authority
	public    atomic.Pointer[Zone]

	mu   sync.RWMutex
	vpcs map[string]*vpcState
}

// NewResolver returns a Resolver without views. authority may be nil; when
// set, its zones are answered in every VPC below private zones and public
// names. A nil logger discards.
func NewResolver(logger *slog.Logger, authority *Authority) *Resolver {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Resolver{log: logger.With("component", "dns"), authority: authority, vpcs: map[string]*vpcState{}}
}

// SetPublicZone sets the region's public names (sqs.us-east-1.amazonaws.com
// → 198.18.x.y …), used in every VPC for names no private zone covers.
// nil clears them.
func (r *Resolver) SetPublicZone(z *Zone) { r.public.Store(z) }

// SetView installs or atomically replaces the view of vpcID.
func (r *Resolver) SetView(vpcID string, v *View) {
	r.mu.Lock()
	st, ok := r.vpcs[vpcID]
	if !ok {
		st = &vpcState{}
		r.vpcs[vpcID] = st
	}
	r.mu.Unlock()
	st.view.Store(v)
}

// RemoveView drops vpcID's view and counters; its queries are then refused.
func (r *Resolver) RemoveView(vpcID string) {
	r.mu.Lock()
	delete(r.vpcs, vpcID)
	r.mu.Unlock()
}

// Stats returns vpcID's counters, and false if it has no view.
func (r *Resolver) Stats(vpcID string) (Stats, bool) {
	st := r.state(vpcID)
	if st == nil {
		return Stats{}, false
	}
	return Stats{
		Queries:   st.queries.Load(),
		NXDomain:  st.nxdomain.Load(),
		Refused:   st.refused.Load(),
		Malformed: st.malformed.Load(),
		ServFail:  st.servf.Load(),
	}, true
}

func (r *Resolver) state(vpcID string) *vpcState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.vpcs[vpcID]
}

// Handler returns the dns.Handler answering for vpcID. The VPC is bound to
// the handler, not read from the packet, because VPCs may overlap.
func (r *Resolver) Handler(vpcID string) mdns.Handler {
	return &vpcHandler{r: r, vpcID: vpcID, ctx: context.Background()}
}

type vpcHandler struct {
	r     *Resolver
	vpcID string
	ctx   context.Context
}

// ServeDNS implements dns.Handler.
func (h *vpcHandler) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	_, tcp := w.LocalAddr().(*net.TCPAddr)
	resp := h.r.Answer(h.ctx, h.vpcID, req, !tcp)
	if err := w.WriteMsg(resp); err != nil {
		h.r.log.Debug("dns: write reply", "vpc", h.vpcID, "err", err)
	}
}

// Answer builds the reply to req as vpcID's resolver; udp selects the
// size limit (the client's EDNS0 size, or 512 bytes) past which the reply
// is truncated with TC set so the client retries over TCP.
func (r *Resolver) Answer(ctx context.Context, vpcID string, req *mdns.Msg, udp bool) *mdns.Msg {
	st := r.state(vpcID)
	resp := new(mdns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true // as Amazon's resolver, which recurses
	reqOpt := req.IsEdns0()

	rcode := r.answerInto(ctx, st, req, resp)
	resp.Rcode = rcode
	if st != nil {
		st.queries.Add(1)
		switch rcode {
		case mdns.RcodeNameError:
			st.nxdomain.Add(1)
		case mdns.RcodeRefused:
			st.refused.Add(1)
		case mdns.RcodeServerFailure:
			st.servf.Add(1)
		case mdns.RcodeFormatError, mdns.RcodeNotImplemented, mdns.RcodeBadVers:
			st.malformed.Add(1)
		}
	}

	size := mdns.MaxMsgSize
	if reqOpt != nil {
		resp.SetEdns0(maxUDPPayload, false)
		if udp {
			size = min(max(int(reqOpt.UDPSize()), mdns.MinMsgSize), maxUDPPayload)
		}
	} else if udp {
		size = mdns.MinMsgSize
	}
	resp.Truncate(size)
	resp.Compress = true
	return resp
}

// answerInto fills resp's sections and returns the rcode.
func (r *Resolver) answerInto(ctx context.Context, st *vpcState, req, resp *mdns.Msg) int {
	if req.Opcode != mdns.OpcodeQuery {
		return mdns.RcodeNotImplemented
	}
	if len(req.Question) != 1 || req.Response {
		return mdns.RcodeFormatError
	}
	opts := 0
	for _, rr := range req.Extra {
		if rr.Header().Rrtype == mdns.TypeOPT {
			opts++
		}
	}
	if opts > 1 { // RFC 6891 6.1.1
		return mdns.RcodeFormatError
	}
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		return mdns.RcodeBadVers
	}
	q := req.Question[0]
	switch {
	case q.Qclass != mdns.ClassINET:
		return mdns.RcodeNotImplemented
	case q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR:
		return mdns.RcodeRefused
	case q.Qtype == mdns.TypeOPT || q.Qtype == mdns.TypeNone:
		return mdns.RcodeFormatError
	}
	if st == nil {
		return mdns.RcodeRefused
	}
	v := st.view.Load()
	if v == nil || !v.dnsSupport {
		return mdns.RcodeRefused
	}
	qname, err := canonicalChecked(q.Name)
	if err != nil {
		return mdns.RcodeFormatError
	}
	res, err := resolveChain(ctx, qname, q.Qtype, func(name string) *Zone { return r.zoneFor(v, name) })
	if err != nil {
		return mdns.RcodeServerFailure
	}
	resp.Answer = echoCase(res.answer, qname, q.Name)
	resp.Ns = res.authority
	return res.rcode
}

// zoneFor picks the zone that answers name in view v: the most specific
// private zone covering it (which shadows everything else), else the VPC's
// own records, the region's public names, then the Authority's zones.
func (r *Resolver) zoneFor(v *View, name string) *Zone {
	if z := v.privateZoneFor(name); z != nil {
		return z
	}
	public := r.public.Load()
	if v.records.presence(name) == withData {
		return v.records
	}
	if public != nil && public.presence(name) == withData {
		return public
	}
	if z := r.authority.zoneFor(name); z != nil {
		return z
	}
	if v.records.presence(name) == emptyNT {
		return v.records
	}
	if public != nil && public.presence(name) == emptyNT {
		return public
	}
	return nil
}

// echoCase gives answers owned by the query name the query's own spelling,
// as resolvers do, so clients using 0x20 case randomisation accept them.
func echoCase(rrs []mdns.RR, canonical, asked string) []mdns.RR {
	if canonical == asked {
		return rrs
	}
	out := make([]mdns.RR, len(rrs))
	for i, rr := range rrs {
		if rr.Header().Name == canonical {
			rr = mdns.Copy(rr)
			rr.Header().Name = asked
		}
		out[i] = rr
	}
	return out
}

// acceptRequests lets every request reach the handler, which answers
// malformed ones itself; responses are dropped so they cannot loop.
func acceptRequests(dh mdns.Header) mdns.MsgAcceptAction {
	const qrBit = 1 << 15
	if dh.Bits&qrBit != 0 {
		return mdns.MsgIgnore
	}
	return mdns.MsgAccept
}

// Serve answers vpcID's queries on pc (UDP) and ln (TCP), either of which
// may be nil, until ctx is done; it then closes both and waits for
// in-flight queries. The sockets may live in any network namespace. It
// returns nil after ctx ends, or the error that stopped a server early.
func (r *Resolver) Serve(ctx context.Context, vpcID string, pc net.PacketConn, ln net.Listener) error {
	if pc == nil && ln == nil {
		return fmt.Errorf("serve vpc %s: %w", vpcID, ErrNoSocket)
	}
	// In-flight queries finish during shutdown rather than fail on ctx.
	h := &vpcHandler{r: r, vpcID: vpcID, ctx: context.WithoutCancel(ctx)}
	type running struct {
		srv     *mdns.Server
		started chan struct{} // closed once the server accepts queries
		exited  chan struct{} // closed when ActivateAndServe returns
	}
	var servers []*running
	errc := make(chan error, 2) // one send per server, on exit
	start := func(srv *mdns.Server) {
		s := &running{srv: srv, started: make(chan struct{}), exited: make(chan struct{})}
		srv.Handler = h
		srv.MsgAcceptFunc = acceptRequests
		srv.NotifyStartedFunc = func() { close(s.started) }
		servers = append(servers, s)
		go func() {
			err := srv.ActivateAndServe()
			close(s.exited)
			errc <- err
		}()
	}
	if pc != nil {
		start(&mdns.Server{PacketConn: pc, UDPSize: mdns.MaxMsgSize})
	}
	if ln != nil {
		start(&mdns.Server{Listener: ln})
	}
	r.log.Info("dns: serving", "vpc", vpcID, "udp", pc != nil, "tcp", ln != nil)

	var firstErr error
	exited := 0
	select {
	case <-ctx.Done():
	case err := <-errc:
		exited++
		if err == nil {
			err = errors.New("dns: server stopped unexpectedly")
		}
		firstErr = fmt.Errorf("serve vpc %s: %w", vpcID, err)
	}

	// Shut down in order: stop every server still running (which closes
	// its socket), then wait for all of them to return.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		select {
		case <-s.started:
			if err := s.srv.ShutdownContext(sctx); err != nil {
				r.log.Debug("dns: shutdown", "vpc", vpcID, "err", err)
			}
		case <-s.exited:
		}
	}
	for ; exited < len(servers); exited++ {
		<-errc
	}
	r.log.Info("dns: stopped", "vpc", vpcID)
	return firstErr
}
