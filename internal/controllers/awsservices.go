package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/store"
)

// APIPort is the port the AWS service APIs privlink implements answer on
// inside modelled networks (HTTP; clients use --endpoint-url http://…).
const APIPort = 80

// ImplementedServices are the catalog services whose API privlink itself
// serves, so their interface endpoints and public addresses carry real
// requests to it.
var ImplementedServices = []string{"sts", "ec2", "elasticloadbalancing"}

func implemented(short string) bool {
	for _, s := range ImplementedServices {
		if s == short {
			return true
		}
	}
	return false
}

// endpointServiceShort returns the catalog short name of an AWS service
// endpoint ("com.amazonaws.us-east-1.sts" → "sts"), or "".
func endpointServiceShort(ep *cloud.VpcEndpoint) string {
	if ep.ServiceID != "" || !strings.HasPrefix(ep.ServiceName, "com.amazonaws.") {
		return ""
	}
	rest := strings.TrimPrefix(ep.ServiceName, "com.amazonaws.")
	region, short, ok := strings.Cut(rest, ".")
	if !ok || region == "" {
		return ""
	}
	if _, ok := cloud.LookupAWSService(region, ep.ServiceName); !ok {
		return ""
	}
	return short
}

// AWSServiceAPIs carries API requests from inside VPCs to privlink's own
// API: for every available interface endpoint to an implemented AWS
// service, a listener on each endpoint interface's address (port APIPort)
// in the interface's namespace; and, through ServePublic, a listener on
// each implemented service's public address in the stand-in internet. Each
// connection is relayed to the server's network-context listener (Dial)
// behind a PROXY v2 header naming the caller's address and, through an
// endpoint, the endpoint ID, so the request is authorized with the
// endpoint's policy and the network condition keys, as on AWS. Rejecting or
// deleting an endpoint closes its listeners and cuts its connections.
type AWSServiceAPIs struct {
	DB    *store.DB
	DP    DataPlane
	Ready Readiness
	Log   *slog.Logger
	// Life bounds the listeners (normally the server's lifetime).
	Life context.Context
	// Dial connects to the server's network-context listener from the host.
	Dial func(ctx context.Context) (net.Conn, error)

	once      sync.Once
	tcp       *proxy.TCPProxy
	mu        sync.Mutex
	listeners map[apiListenerKey]*apiListener
}

type apiListenerKey struct{ endpointID, eniID string }

type apiListener struct {
	ln     net.Listener
	cancel context.CancelFunc
}

func (l *apiListener) stop() {
	l.cancel()
	l.ln.Close()
}

func (r *AWSServiceAPIs) init() {
	r.once.Do(func() {
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		if r.Life == nil {
			r.Life = context.Background()
		}
		r.tcp = proxy.NewTCPProxy(proxy.TCPConfig{Logger: r.Log})
		r.listeners = map[apiListenerKey]*apiListener{}
	})
}

// Stats reports the proxy's counters.
func (r *AWSServiceAPIs) Stats() proxy.TCPStats {
	r.init()
	return r.tcp.Stats()
}

// Kinds implements Reconciler.
func (r *AWSServiceAPIs) Kinds() []string { return []string{cloud.KindVpcEndpoint} }

// Reconcile implements Reconciler: it opens or closes one endpoint's
// listeners to match its state.
func (r *AWSServiceAPIs) Reconcile(ctx context.Context, id string) (Result, error) {
	r.init()
	if r.DP == nil || r.Dial == nil {
		return Result{}, nil
	}
	var ep *cloud.VpcEndpoint
	var enis []*cloud.NetworkInterface
	r.DB.View(func(tx *store.Tx) error {
		e, ok := store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
		if !ok {
			return nil
		}
		ep = e
		for _, eid := range e.NetworkInterfaceIDs {
			if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, eid); ok {
				enis = append(enis, eni)
			}
		}
		return nil
	})
	if ep == nil || ep.Type != cloud.EndpointInterface || ep.State != cloud.StateAvailable || !implemented(endpointServiceShort(ep)) {
		r.stopEndpoint(id)
		return Result{}, nil
	}
	ids := make([]string, 0, len(enis))
	want := map[apiListenerKey]*cloud.NetworkInterface{}
	for _, eni := range enis {
		ids = append(ids, eni.ID)
		want[apiListenerKey{id, eni.ID}] = eni
	}
	if !ready(r.Ready, ep.VpcID, ids...) {
		return Result{RequeueAfter: pollInterval}, nil
	}
	r.mu.Lock()
	for k, l := range r.listeners {
		if k.endpointID == id && want[k] == nil {
			l.stop()
			delete(r.listeners, k)
		}
	}
	r.mu.Unlock()
	for k, eni := range want {
		r.mu.Lock()
		_, have := r.listeners[k]
		r.mu.Unlock()
		if have {
			continue
		}
		addr := net.JoinHostPort(eni.PrivateIPAddress, fmt.Sprint(APIPort))
		ln, err := r.DP.ListenTCP(ctx, r.DP.InterfaceNamespace(eni.ID), addr)
		if err != nil {
			return Result{}, fmt.Errorf("endpoint %s: listen on %s: %w", id, addr, err)
		}
		r.serve(k, ln, id)
	}
	return Result{}, nil
}

// ServePublic listens on port APIPort of every address in addrs inside the
// stand-in internet's namespace ns until Life ends; connections reach the
// API with the source address the internet sees (a VPC's NAT address).
func (r *AWSServiceAPIs) ServePublic(ctx context.Context, ns string, addrs []netip.Addr) error {
	r.init()
	if r.DP == nil || r.Dial == nil {
		return nil
	}
	for _, a := range addrs {
		addr := netip.AddrPortFrom(a, APIPort).String()
		ln, err := r.DP.ListenTCP(ctx, ns, addr)
		if err != nil {
			return fmt.Errorf("public API listener on %s: %w", addr, err)
		}
		r.serve(apiListenerKey{eniID: addr}, ln, "")
	}
	return nil
}

// serve relays ln's connections to the API until the listener stops.
func (r *AWSServiceAPIs) serve(k apiListenerKey, ln net.Listener, endpointID string) {
	lctx, cancel := context.WithCancel(r.Life)
	r.mu.Lock()
	if old := r.listeners[k]; old != nil {
		old.stop()
	}
	r.listeners[k] = &apiListener{ln: ln, cancel: cancel}
	r.mu.Unlock()
	route := func(context.Context, net.Conn) (proxy.Route, error) {
		return proxy.Route{EndpointID: endpointID, Dial: r.Dial, ProxyHeader: true}, nil
	}
	go func() {
		if err := r.tcp.Serve(lctx, ln, route); err != nil && lctx.Err() == nil {
			r.Log.Warn("AWS API listener stopped", "endpoint", endpointID, "addr", ln.Addr(), "err", err)
		}
	}()
}

// stopEndpoint closes an endpoint's listeners and cuts its connections.
func (r *AWSServiceAPIs) stopEndpoint(id string) {
	r.mu.Lock()
	for k, l := range r.listeners {
		if k.endpointID == id {
			l.stop()
			delete(r.listeners, k)
		}
	}
	r.mu.Unlock()
	if n := r.tcp.CloseEndpoint(id); n > 0 {
		r.Log.Info("cut AWS API connections", "endpoint", id, "connections", n)
	}
}

// PublicAPIAddrs lists the public addresses of the implemented services in
// regions.
func PublicAPIAddrs(regions []string) []netip.Addr {
	var out []netip.Addr
	for _, region := range regions {
		for _, s := range ImplementedServices {
			if a, ok := cloud.ServicePublicAddr(region, s); ok {
				out = append(out, a)
			}
		}
	}
	return out
}
