package controllers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/store"
)

// everyKey makes a reconciler revisit everything it owns: the Endpoints
// reconciler every endpoint (after a load balancer, listener or service
// change), the Health reconciler every target group.
const everyKey = "*"

// Endpoints drives VPC endpoints through their lifecycle and, with a data
// plane, carries their traffic. For every interface of an endpoint to a
// custom service and every load-balancer listener port and transport (TCP
// for TCP and TLS listeners, UDP for UDP, both for TCP_UDP):
//   - the kernel forwards it when the data plane can (Forwarder), unless it
//     is TCP to a target group that asks for a PROXY v2 header: connections
//     and flows are translated to a target picked among the load balancer's
//     candidates and leave from its own interface in the provider VPC;
//   - otherwise a listener inside the interface's namespace relays each
//     connection or flow to a target picked by the load balancer, dialed
//     from that same interface, adding the PROXY v2 header if asked.
//
// An endpoint carries traffic only while it is available; rejecting or
// deleting it cuts live connections and flows.
type Endpoints struct {
	DB    *store.DB
	CP    Transitions
	Ready Readiness
	// DP is nil in API-only mode: then no traffic is carried.
	DP  DataPlane
	Log *slog.Logger
	// Life bounds the listeners (normally the server's lifetime).
	Life context.Context
	// IdleTimeout overrides NLB's 350 s TCP idle timeout (tests).
	IdleTimeout time.Duration
	// UDPIdleTimeout overrides NLB's 120 s UDP flow idle timeout (tests).
	UDPIdleTimeout time.Duration
	// RealizeDeadline is how long a pending endpoint may wait for the data
	// plane before it is marked failed; zero means realizeDeadline.
	RealizeDeadline time.Duration

	once      sync.Once
	tcp       *proxy.TCPProxy
	udp       *proxy.UDPProxy
	mu        sync.Mutex
	listeners map[listenerKey]*activeListener
	balancers map[string]*proxy.Balancer // by target group ARN
	waiting   map[string]time.Time       // pending endpoints: since when
	// plans caches each endpoint's plan for the store revision it was read
	// at, so accepting a connection does not re-read the store unless
	// something changed.
	plans map[string]cachedPlan
	// forwarded is, by endpoint interface, what the kernel was last told:
	// the applied Forwarding's fingerprint, or notForwarded.
	forwarded map[string]string
	// forwardedENIs are the interfaces ever forwarded for each endpoint
	// still in the store.
	forwardedENIs map[string][]string
	endpointLocks map[string]*sync.Mutex
}

// notForwarded marks an interface whose kernel forwarding was removed.
const notForwarded = "-"

// Forwarder is implemented by data planes that forward an endpoint
// interface's TCP and UDP ports in the kernel (dataplane.Linux).
type Forwarder interface {
	ApplyForwarding(ctx context.Context, f dataplane.Forwarding) error
	RemoveForwarding(ctx context.Context, eni string) error
}

type cachedPlan struct {
	rev int64
	p   *plan
}

type listenerKey struct {
	endpointID, eniID string
	port              int
	transport         string // "tcp" or "udp"
}

// activeListener is a TCP listener or a UDP socket serving one listenerKey.
type activeListener struct {
	sock   io.Closer
	cancel context.CancelFunc
}

func (al *activeListener) stop() {
	al.cancel()
	al.sock.Close()
}

// UDPDialer is implemented by data planes that can open UDP sockets inside
// a namespace; without it, endpoints carry no UDP.
type UDPDialer interface {
	DialUDP(ctx context.Context, ns, addr string) (net.Conn, error)
}

var _ UDPDialer = LinuxDataPlane{}

// DialUDP opens a connected UDP socket from inside namespace ns.
func (LinuxDataPlane) DialUDP(ctx context.Context, ns, addr string) (net.Conn, error) {
	return dataplane.DialUDP(ctx, ns, addr)
}

// listenerTransports maps a listener protocol to the transports an
// endpoint accepts for it.
func listenerTransports(protocol string) []string {
	switch protocol {
	case "UDP":
		return []string{"udp"}
	case "TCP_UDP":
		return []string{"tcp", "udp"}
	}
	return []string{"tcp"} // TCP, TLS
}

func carries(protocol, transport string) bool {
	return slices.Contains(listenerTransports(protocol), transport)
}

func (r *Endpoints) init() {
	r.once.Do(func() {
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		if r.Life == nil {
			r.Life = context.Background()
		}
		r.tcp = proxy.NewTCPProxy(proxy.TCPConfig{IdleTimeout: r.IdleTimeout, Logger: r.Log})
		r.udp = proxy.NewUDPProxy(proxy.UDPConfig{IdleTimeout: r.UDPIdleTimeout, Logger: r.Log})
		r.listeners = map[listenerKey]*activeListener{}
		r.balancers = map[string]*proxy.Balancer{}
		r.waiting = map[string]time.Time{}
		r.plans = map[string]cachedPlan{}
		r.forwarded = map[string]string{}
		r.forwardedENIs = map[string][]string{}
		r.endpointLocks = map[string]*sync.Mutex{}
	})
}

// Stats reports the TCP proxy's counters (connections the kernel forwards
// are not counted).
func (r *Endpoints) Stats() proxy.TCPStats {
	r.init()
	return r.tcp.Stats()
}

// UDPStats reports the UDP proxy's counters.
func (r *Endpoints) UDPStats() proxy.UDPStats {
	r.init()
	return r.udp.Stats()
}

// Kinds implements Reconciler.
func (r *Endpoints) Kinds() []string {
	// Target groups: registrations, health and attributes change what the
	// kernel forwards to.
	return []string{cloud.KindVpcEndpoint, cloud.KindLoadBalancer, cloud.KindListener, cloud.KindVpcEndpointService, cloud.KindTargetGroup}
}

// Map implements Mapper.
func (r *Endpoints) Map(e store.Event) []string {
	if e.Kind == cloud.KindVpcEndpoint {
		return []string{e.ID}
	}
	return []string{everyKey}
}

// Keys implements Lister.
func (r *Endpoints) Keys(tx *store.Tx) []string {
	var out []string
	if tx.HasKind(cloud.KindVpcEndpoint) {
		tx.Each(cloud.KindVpcEndpoint, func(id string, _ any) bool {
			out = append(out, id)
			return true
		})
	}
	return out
}

// Reconcile implements Reconciler.
func (r *Endpoints) Reconcile(ctx context.Context, id string) (Result, error) {
	r.init()
	if id == everyKey {
		var ids []string
		r.DB.View(func(tx *store.Tx) error { ids = r.Keys(tx); return nil })
		var firstErr error
		var res Result
		for _, eid := range ids {
			one, err := r.reconcile(ctx, eid)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if one.RequeueAfter > 0 && (res.RequeueAfter == 0 || one.RequeueAfter < res.RequeueAfter) {
				res = one
			}
		}
		if firstErr != nil {
			return Result{}, firstErr
		}
		return res, nil
	}
	return r.reconcile(ctx, id)
}

// plan is everything needed to realize one endpoint's traffic.
type plan struct {
	ep        *cloud.VpcEndpoint
	enis      []*cloud.NetworkInterface
	listeners []*cloud.Listener
	lbs       []*cloud.LoadBalancer
	tgs       map[string]*cloud.TargetGroup
	// instances resolves instance targets; subnets gives IP targets their AZ.
	instances map[string]*cloud.Instance
	subnets   []*cloud.Subnet
	// nodes are the load balancers' interfaces, by ID.
	nodes map[string]*cloud.NetworkInterface
}

func (r *Endpoints) loadPlan(tx *store.Tx, id string) *plan {
	ep, ok := store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
	if !ok {
		return nil
	}
	p := &plan{ep: ep, tgs: map[string]*cloud.TargetGroup{}, instances: map[string]*cloud.Instance{}, nodes: map[string]*cloud.NetworkInterface{}}
	for _, eid := range ep.NetworkInterfaceIDs {
		if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, eid); ok {
			p.enis = append(p.enis, eni)
		}
	}
	if ep.ServiceID == "" || !tx.HasKind(cloud.KindVpcEndpointService) {
		return p
	}
	svc, ok := store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, ep.ServiceID)
	if !ok || !tx.HasKind(cloud.KindLoadBalancer) {
		return p
	}
	lbARNs := map[string]bool{}
	for _, arn := range svc.NetworkLoadBalancerARNs {
		lbARNs[arn] = true
	}
	tx.Each(cloud.KindLoadBalancer, func(_ string, v any) bool {
		if lb := v.(*cloud.LoadBalancer); lbARNs[lb.ARN] {
			p.lbs = append(p.lbs, lb)
		}
		return true
	})
	sort.Slice(p.lbs, func(i, j int) bool { return p.lbs[i].ARN < p.lbs[j].ARN })
	for _, lb := range p.lbs {
		for _, az := range lb.AZs {
			if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, az.NetworkInterfaceID); ok {
				p.nodes[eni.ID] = eni
			}
		}
	}
	tx.Each(cloud.KindListener, func(_ string, v any) bool {
		if l := v.(*cloud.Listener); lbARNs[l.LoadBalancerARN] {
			p.listeners = append(p.listeners, l)
		}
		return true
	})
	sort.Slice(p.listeners, func(i, j int) bool { return p.listeners[i].ARN < p.listeners[j].ARN })
	tx.Each(cloud.KindTargetGroup, func(_ string, v any) bool {
		tg := v.(*cloud.TargetGroup)
		for _, l := range p.listeners {
			if l.TargetGroupARN == tg.ARN {
				p.tgs[tg.ARN] = tg
			}
		}
		return true
	})
	vpcs := map[string]bool{}
	for _, tg := range p.tgs {
		vpcs[tg.VpcID] = true
		for _, t := range tg.Targets {
			if inst, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, t.ID); ok {
				p.instances[t.ID] = inst
			}
		}
	}
	p.subnets = store.List[cloud.Subnet](tx, cloud.KindSubnet, func(s *cloud.Subnet) bool { return vpcs[s.VpcID] })
	return p
}

// forget drops what is kept about an endpoint that left the store: it is
// not reconciled again, so nothing would clear it later.
func (r *Endpoints) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, eni := range r.forwardedENIs[id] {
		delete(r.forwarded, eni)
	}
	delete(r.forwardedENIs, id)
	delete(r.waiting, id)
	// A reconcile waiting on this lock finds no endpoint either.
	delete(r.endpointLocks, id)
}

// lockEndpoint serializes the work on one endpoint: a reconcile of the
// endpoint and one of every endpoint may run at once, and the later must
// not act on a plan older than what the earlier did.
func (r *Endpoints) lockEndpoint(id string) func() {
	r.mu.Lock()
	m := r.endpointLocks[id]
	if m == nil {
		m = &sync.Mutex{}
		r.endpointLocks[id] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (r *Endpoints) reconcile(ctx context.Context, id string) (Result, error) {
	defer r.lockEndpoint(id)()
	var p *plan
	r.DB.View(func(tx *store.Tx) error { p = r.loadPlan(tx, id); return nil })
	if p == nil {
		r.stopEndpoint(ctx, id)
		r.forget(id)
		return Result{}, nil
	}
	ep := p.ep
	var enis []string
	for _, e := range p.enis {
		enis = append(enis, e.ID)
	}
	switch ep.State {
	case cloud.StatePending, cloud.StateAvailable:
	case cloud.StateDeleting:
		r.stopEndpoint(ctx, id, enis...)
		return Result{}, ignoreGone(r.CP.EndpointDeleted(ctx, id))
	case cloud.StateDeleted:
		r.stopEndpoint(ctx, id, enis...)
		_, err := r.CP.PurgeDeletedEndpoints(ctx, time.Now().Add(-retention))
		return Result{RequeueAfter: retention}, err
	default: // pendingAcceptance, rejected, failed, expired
		r.stopEndpoint(ctx, id, enis...)
		return Result{}, nil
	}
	if !ready(r.Ready, ep.VpcID, enis...) {
		return r.notYet(ctx, ep, "its network interfaces are not in place")
	}
	if r.Ready != nil && ep.Type == cloud.EndpointInterface && !r.Ready.EndpointNamesReady(ep.VpcID, ep.ID) {
		return r.notYet(ctx, ep, "its DNS names are not published")
	}
	if r.DP != nil && ep.Type == cloud.EndpointInterface {
		for _, tg := range p.tgs {
			r.updateBalancer(p, tg)
		}
		kernel, err := r.forward(ctx, p)
		if err == nil {
			err = r.ensureListeners(p, kernel)
		}
		if err != nil {
			if ep.State == cloud.StatePending {
				return r.notYet(ctx, ep, err.Error())
			}
			return Result{}, err
		}
	}
	r.mu.Lock()
	delete(r.waiting, id)
	r.mu.Unlock()
	if ep.State == cloud.StatePending {
		return Result{}, ignoreGone(r.CP.EndpointAvailable(ctx, id))
	}
	return Result{}, nil
}

// realizeDeadline is how long a pending endpoint may wait for the data
// plane before it is marked failed with the reason (Endpoints.RealizeDeadline
// overrides it).
const realizeDeadline = 60 * time.Second

// notYet polls a pending endpoint again, and fails it with the reason once
// it has waited longer than the realize deadline.
func (r *Endpoints) notYet(ctx context.Context, ep *cloud.VpcEndpoint, reason string) (Result, error) {
	r.mu.Lock()
	since, ok := r.waiting[ep.ID]
	if !ok {
		since = time.Now()
		r.waiting[ep.ID] = since
	}
	r.mu.Unlock()
	deadline := r.RealizeDeadline
	if deadline <= 0 {
		deadline = realizeDeadline
	}
	if ep.State == cloud.StatePending && time.Since(since) > deadline {
		r.stopEndpoint(ctx, ep.ID)
		r.mu.Lock()
		delete(r.waiting, ep.ID)
		r.mu.Unlock()
		return Result{}, ignoreGone(r.CP.EndpointFailed(ctx, ep.ID, "The endpoint could not be realized: "+reason))
	}
	return Result{RequeueAfter: pollInterval}, nil
}

// ensureListeners opens the listeners the plan needs, other than those the
// kernel forwards, and closes the rest of this endpoint's.
func (r *Endpoints) ensureListeners(p *plan, kernel map[listenerKey]bool) error {
	udp, canUDP := r.DP.(UDPDialer)
	want := map[listenerKey]bool{}
	for _, eni := range p.enis {
		for _, l := range p.listeners {
			for _, tr := range listenerTransports(l.Protocol) {
				if tr == "udp" && !canUDP || kernel[listenerKey{p.ep.ID, eni.ID, l.Port, tr}] {
					continue
				}
				want[listenerKey{p.ep.ID, eni.ID, l.Port, tr}] = true
			}
		}
	}
	r.mu.Lock()
	for k, al := range r.listeners {
		if k.endpointID == p.ep.ID && !want[k] {
			al.stop()
			delete(r.listeners, k)
		}
	}
	r.mu.Unlock()
	for _, eni := range p.enis {
		for _, l := range p.listeners {
			for _, tr := range listenerTransports(l.Protocol) {
				k := listenerKey{p.ep.ID, eni.ID, l.Port, tr}
				if !want[k] {
					continue
				}
				r.mu.Lock()
				_, have := r.listeners[k]
				r.mu.Unlock()
				if have {
					continue
				}
				if err := r.listen(k, eni, udp); err != nil {
					return fmt.Errorf("endpoint %s: listen on %s %s:%d: %w", p.ep.ID, tr, eni.PrivateIPAddress, l.Port, err)
				}
			}
		}
	}
	return nil
}

// listen opens one listener (TCP) or socket (UDP) on an endpoint interface
// and serves it until the endpoint stops or the server ends.
func (r *Endpoints) listen(k listenerKey, eni *cloud.NetworkInterface, udp UDPDialer) error {
	ns := r.DP.InterfaceNamespace(eni.ID)
	addr := net.JoinHostPort(eni.PrivateIPAddress, strconv.Itoa(k.port))
	epID, port, az := k.endpointID, k.port, eni.AvailabilityZone
	lctx, cancel := context.WithCancel(r.Life)
	var serve func() error
	var sock io.Closer
	switch k.transport {
	case "udp":
		pc, err := r.DP.ListenUDP(r.Life, ns, addr)
		if err != nil {
			cancel()
			return err
		}
		local, _ := netip.ParseAddrPort(addr)
		sock = pc
		serve = func() error {
			return r.udp.Serve(lctx, pc, func(ctx context.Context, client netip.AddrPort) (proxy.UDPRoute, error) {
				return r.routeUDP(epID, az, local, client, udp)
			})
		}
	default:
		ln, err := r.DP.ListenTCP(r.Life, ns, addr)
		if err != nil {
			cancel()
			return err
		}
		sock = ln
		serve = func() error {
			return r.tcp.Serve(lctx, ln, func(ctx context.Context, c net.Conn) (proxy.Route, error) {
				return r.route(ctx, epID, eni.ID, az, port, c)
			})
		}
	}
	r.mu.Lock()
	r.listeners[k] = &activeListener{sock: sock, cancel: cancel}
	r.mu.Unlock()
	go func() {
		if err := serve(); err != nil && lctx.Err() == nil {
			r.Log.Warn("endpoint listener stopped", "endpoint", epID, "transport", k.transport, "port", port, "err", err)
		}
	}()
	return nil
}

// stopEndpoint closes an endpoint's listeners, stops the kernel forwarding
// of its interfaces (enis, and those forwarded before) and cuts its live
// connections.
func (r *Endpoints) stopEndpoint(ctx context.Context, id string, enis ...string) {
	r.init()
	r.mu.Lock()
	delete(r.plans, id)
	for k, al := range r.listeners {
		if k.endpointID == id {
			al.stop()
			delete(r.listeners, k)
		}
	}
	enis = append(enis, r.forwardedENIs[id]...)
	r.mu.Unlock()
	if fw, ok := r.DP.(Forwarder); ok {
		for _, eni := range enis {
			r.mu.Lock()
			done := r.forwarded[eni] == notForwarded
			r.mu.Unlock()
			if done {
				continue
			}
			if err := fw.RemoveForwarding(ctx, eni); err != nil {
				r.Log.Warn("stop kernel forwarding", "endpoint", id, "interface", eni, "err", err)
				continue
			}
			r.mu.Lock()
			r.forwarded[eni] = notForwarded
			r.mu.Unlock()
		}
	}
	if n := r.tcp.CloseEndpoint(id); n > 0 {
		r.Log.Info("cut endpoint connections", "endpoint", id, "connections", n)
	}
	if n := r.udp.CloseEndpoint(id); n > 0 {
		r.Log.Info("cut endpoint UDP flows", "endpoint", id, "flows", n)
	}
}

// route picks, for one accepted connection, the load balancer node and
// target, re-reading the store so changes apply to new connections at once.
func (r *Endpoints) route(ctx context.Context, epID, eniID, az string, port int, c net.Conn) (proxy.Route, error) {
	p, tg, nodeENI, target, err := r.pick(epID, az, port, "tcp", proxy.ConnFlowHash(c))
	if err != nil {
		return proxy.Route{}, err
	}
	ns := r.DP.InterfaceNamespace(nodeENI)
	dst := target.Addr.String()
	route := proxy.Route{
		EndpointID: p.ep.ID,
		Dial:       func(ctx context.Context) (net.Conn, error) { return r.DP.DialTCP(ctx, ns, dst) },
	}
	if tg.Attributes["proxy_protocol_v2.enabled"] == "true" {
		route.ProxyHeader = true
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			route.ProxySource = ap
		}
		if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
			route.ProxyDestination = ap
		}
	}
	return route, nil
}

// routeUDP picks, for one new UDP flow from client to the endpoint address
// local, the load balancer node and target; the flow's upstream socket is
// dialed from the load balancer's interface.
func (r *Endpoints) routeUDP(epID, az string, local, client netip.AddrPort, udp UDPDialer) (proxy.UDPRoute, error) {
	p, _, nodeENI, target, err := r.pick(epID, az, int(local.Port()), "udp", proxy.FlowHash(client, local, 17))
	if err != nil {
		return proxy.UDPRoute{}, err
	}
	ns := r.DP.InterfaceNamespace(nodeENI)
	dst := target.Addr.String()
	return proxy.UDPRoute{
		EndpointID: p.ep.ID,
		Dial:       func(ctx context.Context) (net.Conn, error) { return udp.DialUDP(ctx, ns, dst) },
	}, nil
}

// pick chooses, for a new flow of the given transport arriving on port of an
// endpoint interface in az, the listener's target group, the load balancer
// node (its interface in az, else its first) and the target.
// currentPlan returns the endpoint's plan as of the store's current
// revision, reloading it (and refreshing its target groups' balancers) only
// when the store changed since it was cached.
func (r *Endpoints) currentPlan(epID string) *plan {
	rev := r.DB.Revision()
	r.mu.Lock()
	c, ok := r.plans[epID]
	r.mu.Unlock()
	if ok && c.rev == rev {
		return c.p
	}
	var p *plan
	r.DB.View(func(tx *store.Tx) error { p = r.loadPlan(tx, epID); return nil })
	if p != nil {
		for _, tg := range p.tgs {
			r.updateBalancer(p, tg)
		}
	}
	r.mu.Lock()
	if p == nil {
		delete(r.plans, epID)
	} else {
		r.plans[epID] = cachedPlan{rev: rev, p: p}
	}
	r.mu.Unlock()
	return p
}

func (r *Endpoints) pick(epID, az string, port int, transport string, flowHash uint64) (*plan, *cloud.TargetGroup, string, proxy.Target, error) {
	p := r.currentPlan(epID)
	if p == nil || p.ep.State != cloud.StateAvailable {
		return nil, nil, "", proxy.Target{}, fmt.Errorf("endpoint %s is not available", epID)
	}
	var l *cloud.Listener
	for _, cand := range p.listeners {
		if cand.Port == port && carries(cand.Protocol, transport) {
			l = cand
			break
		}
	}
	if l == nil {
		return nil, nil, "", proxy.Target{}, fmt.Errorf("endpoint %s: no %s listener on port %d", epID, transport, port)
	}
	var lb *cloud.LoadBalancer
	for _, cand := range p.lbs {
		if cand.ARN == l.LoadBalancerARN {
			lb = cand
		}
	}
	tg := p.tgs[l.TargetGroupARN]
	if lb == nil || tg == nil || len(lb.AZs) == 0 {
		return nil, nil, "", proxy.Target{}, fmt.Errorf("endpoint %s: listener %s has no load balancer or target group", epID, l.ARN)
	}
	node := nodeFor(lb, az)
	bal := r.balancer(lb, tg)
	target, ok := bal.Pick(node.ZoneName, flowHash)
	if !ok {
		return nil, nil, "", proxy.Target{}, fmt.Errorf("endpoint %s: no target for %s in %s", epID, tg.Name, node.ZoneName)
	}
	return p, tg, node.NetworkInterfaceID, target, nil
}

// nodeFor returns the load balancer's node for clients in az: its
// interface in that zone, else its first.
func nodeFor(lb *cloud.LoadBalancer, az string) cloud.LoadBalancerAZ {
	node := lb.AZs[0]
	for _, n := range lb.AZs {
		if n.ZoneName == az {
			node = n
		}
	}
	return node
}

// balancer returns the target group's balancer with cross-zone balancing
// as the target group (or else the load balancer) says.
func (r *Endpoints) balancer(lb *cloud.LoadBalancer, tg *cloud.TargetGroup) *proxy.Balancer {
	r.mu.Lock()
	bal := r.balancers[tg.ARN]
	r.mu.Unlock()
	tgCZ := tg.Attributes["load_balancing.cross_zone.enabled"]
	bal.SetCrossZone(tgCZ == "true" || (lb.Attributes["load_balancing.cross_zone.enabled"] == "true" && tgCZ != "false"))
	return bal
}

// forward tells the kernel, when the data plane can forward, which TCP and
// UDP ports of each of the endpoint's interfaces it carries and to which
// targets, and returns those ports. TCP to target groups that want a PROXY
// v2 header stays with the relaying listeners, and so does every port of an
// interface whose forwarding the kernel refused.
func (r *Endpoints) forward(ctx context.Context, p *plan) (map[listenerKey]bool, error) {
	fw, ok := r.DP.(Forwarder)
	if !ok {
		return nil, nil
	}
	kernel := map[listenerKey]bool{}
	lbs := map[string]*cloud.LoadBalancer{}
	for _, lb := range p.lbs {
		lbs[lb.ARN] = lb
	}
	for _, eni := range p.enis {
		addr, err := netip.ParseAddr(eni.PrivateIPAddress)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: interface %s address %q: %w", p.ep.ID, eni.ID, eni.PrivateIPAddress, err)
		}
		f := dataplane.Forwarding{ENI: eni.ID, VPC: eni.VpcID, Addr: addr, IdleTimeout: r.IdleTimeout, UDPIdleTimeout: r.UDPIdleTimeout}
		for _, l := range p.listeners {
			lb, tg := lbs[l.LoadBalancerARN], p.tgs[l.TargetGroupARN]
			if lb == nil || tg == nil || len(lb.AZs) == 0 {
				continue
			}
			node := p.nodes[nodeFor(lb, eni.AvailabilityZone).NetworkInterfaceID]
			if node == nil {
				continue
			}
			nodeAddr, err := netip.ParseAddr(node.PrivateIPAddress)
			if err != nil {
				continue
			}
			var targets []netip.AddrPort
			for _, t := range r.balancer(lb, tg).Candidates(node.AvailabilityZone) {
				targets = append(targets, t.Addr)
			}
			for _, tr := range listenerTransports(l.Protocol) {
				// The PROXY v2 header needs the relay (NLB sends it on TCP only).
				if tr == "tcp" && tg.Attributes["proxy_protocol_v2.enabled"] == "true" {
					continue
				}
				kernel[listenerKey{p.ep.ID, eni.ID, l.Port, tr}] = true
				if len(targets) == 0 {
					continue // no target: connections are reset, as NLB does
				}
				f.Ports = append(f.Ports, dataplane.ForwardedPort{Protocol: tr, Port: uint16(l.Port), Node: node.ID, NodeVPC: node.VpcID, NodeAddr: nodeAddr, Targets: targets})
			}
		}
		fp := fmt.Sprint(f)
		r.mu.Lock()
		prev := r.forwarded[eni.ID]
		r.mu.Unlock()
		// An interface with nothing to forward that never forwarded (an
		// endpoint to an AWS service, say) needs no fabric at all.
		if prev == fp || len(f.Ports) == 0 && (prev == "" || prev == notForwarded) {
			continue
		}
		if err := fw.ApplyForwarding(ctx, f); err != nil {
			// The relay carries what the kernel cannot (a kernel without
			// NAT, say); the fabric is tried again on the next change.
			r.Log.Warn("kernel forwarding failed; relaying instead", "endpoint", p.ep.ID, "interface", eni.ID, "err", err)
			for k := range kernel {
				if k.eniID == eni.ID {
					delete(kernel, k)
				}
			}
			continue
		}
		r.mu.Lock()
		r.forwarded[eni.ID] = fp
		if !slices.Contains(r.forwardedENIs[p.ep.ID], eni.ID) {
			r.forwardedENIs[p.ep.ID] = append(r.forwardedENIs[p.ep.ID], eni.ID)
		}
		r.mu.Unlock()
	}
	return kernel, nil
}

// updateBalancer refreshes a target group's balancer from its stored
// targets and their observed health.
func (r *Endpoints) updateBalancer(p *plan, tg *cloud.TargetGroup) *proxy.Balancer {
	var targets []proxy.Target
	for _, t := range tg.Targets {
		addr, az := t.ID, t.AvailabilityZone
		if strings.HasPrefix(t.ID, "i-") {
			inst := p.instances[t.ID]
			if inst == nil {
				continue
			}
			addr, az = inst.PrivateIPAddress, inst.AvailabilityZone
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			continue
		}
		if az == "" || az == "all" {
			az = azOfIP(p.subnets, ip)
		}
		targets = append(targets, proxy.Target{ID: targetKey(t), Addr: netip.AddrPortFrom(ip, uint16(t.Port)), AZ: az, State: balancerState(t.Health.State)})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.balancers[tg.ARN]
	if !ok {
		b = proxy.NewBalancer(false)
		r.balancers[tg.ARN] = b
	}
	b.SetTargets(targets)
	return b
}

func targetKey(t cloud.Target) string { return t.ID + ":" + strconv.Itoa(t.Port) }

func azOfIP(subnets []*cloud.Subnet, ip netip.Addr) string {
	for _, s := range subnets {
		if p, err := netip.ParsePrefix(s.CidrBlock); err == nil && p.Contains(ip) {
			return s.AvailabilityZone
		}
	}
	return ""
}

func balancerState(s string) proxy.TargetState {
	switch s {
	case "healthy":
		return proxy.StateHealthy
	case "unhealthy":
		return proxy.StateUnhealthy
	case "draining":
		return proxy.StateDraining
	case "unused":
		return proxy.StateUnused
	case "unavailable":
		return proxy.StateUnavailable
	}
	return proxy.StateInitial
}
