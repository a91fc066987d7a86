package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// DataPlane is what the controllers need of the Linux data plane: realize
// VPCs, and open sockets inside their namespaces.
type DataPlane interface {
	dataplane.Realizer
	ListenTCP(ctx context.Context, ns, addr string) (net.Listener, error)
	ListenUDP(ctx context.Context, ns, addr string) (net.PacketConn, error)
	DialTCP(ctx context.Context, ns, addr string) (net.Conn, error)
}

// LinuxDataPlane adapts *dataplane.Linux and the package's socket helpers.
type LinuxDataPlane struct{ *dataplane.Linux }

// ListenTCP opens a TCP listener inside namespace ns.
func (LinuxDataPlane) ListenTCP(ctx context.Context, ns, addr string) (net.Listener, error) {
	return dataplane.ListenTCP(ctx, ns, addr)
}

// ListenUDP opens a UDP socket inside namespace ns.
func (LinuxDataPlane) ListenUDP(ctx context.Context, ns, addr string) (net.PacketConn, error) {
	return dataplane.ListenUDP(ctx, ns, addr)
}

// DialTCP connects from inside namespace ns.
func (LinuxDataPlane) DialTCP(ctx context.Context, ns, addr string) (net.Conn, error) {
	return dataplane.DialTCP(ctx, ns, addr)
}

// Network realizes VPCs: the kernel state through the data plane, and the
// VPC's Amazon DNS resolver (a UDP and a TCP socket on port 53 in the router
// namespace, which answers at base+2 and 169.254.169.253). It is keyed by
// VPC ID and re-derives everything from the store on each reconcile.
type Network struct {
	db       *store.DB
	dp       DataPlane
	resolver *dns.Resolver
	log      *slog.Logger
	// life bounds the DNS servers; it outlives single reconciles.
	life context.Context

	mu         sync.Mutex
	dnsServers map[string]context.CancelFunc
	ready      map[string]map[string]bool // VPC ID → realized interface IDs
	published  map[string]map[string]bool // VPC ID → endpoints whose names the resolver serves
	onReady    []func(vpcID string)
}

// NewNetwork builds the network reconciler. life bounds background DNS
// servers (normally the server's lifetime).
func NewNetwork(life context.Context, db *store.DB, dp DataPlane, resolver *dns.Resolver, log *slog.Logger) *Network {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Network{db: db, dp: dp, resolver: resolver, log: log, life: life,
		dnsServers: map[string]context.CancelFunc{}, ready: map[string]map[string]bool{}, published: map[string]map[string]bool{}}
}

// OnReady registers fn to run (outside any lock) after a VPC was realized.
func (n *Network) OnReady(fn func(vpcID string)) { n.onReady = append(n.onReady, fn) }

// InterfaceReady reports whether an interface exists in the kernel.
func (n *Network) InterfaceReady(vpcID, eniID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready[vpcID][eniID]
}

// EndpointNamesReady reports whether the VPC's resolver answers the
// endpoint's DNS names.
func (n *Network) EndpointNamesReady(vpcID, endpointID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.published[vpcID][endpointID]
}

// Kinds implements Reconciler.
func (n *Network) Kinds() []string {
	return []string{cloud.KindVpc, cloud.KindSubnet, cloud.KindSecurityGroup, cloud.KindNetworkAcl, cloud.KindRouteTable,
		cloud.KindNetworkInterface, cloud.KindPrefixList, cloud.KindInternetGateway, cloud.KindVpcEndpoint, cloud.KindVpcEndpointService}
}

// Map implements Mapper: the VPCs a change touches.
func (n *Network) Map(e store.Event) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range []any{e.Value, e.Prev} {
		var id string
		switch r := v.(type) {
		case *cloud.Vpc:
			id = r.ID
		case *cloud.Subnet:
			id = r.VpcID
		case *cloud.SecurityGroup:
			id = r.VpcID
		case *cloud.NetworkAcl:
			id = r.VpcID
		case *cloud.RouteTable:
			id = r.VpcID
		case *cloud.NetworkInterface:
			id = r.VpcID
		case *cloud.VpcEndpoint:
			id = r.VpcID
		case *cloud.InternetGateway:
			for _, a := range r.Attachments {
				if !seen[a.VpcID] {
					seen[a.VpcID] = true
					out = append(out, a.VpcID)
				}
			}
		case *cloud.ManagedPrefixList, *cloud.VpcEndpointService:
			// Rare: the periodic resync re-applies every VPC.
		}
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Keys implements Lister: every stored VPC and every realized one (so VPCs
// deleted while the server was down are torn down).
func (n *Network) Keys(tx *store.Tx) []string {
	seen := map[string]bool{}
	var out []string
	tx.Each(cloud.KindVpc, func(id string, _ any) bool {
		seen[id] = true
		out = append(out, id)
		return true
	})
	n.mu.Lock()
	for id := range n.ready {
		if !seen[id] {
			out = append(out, id)
		}
	}
	n.mu.Unlock()
	return out
}

// Reconcile implements Reconciler.
func (n *Network) Reconcile(ctx context.Context, vpcID string) (Result, error) {
	var (
		desired   dataplane.VPC
		exists    bool
		view      *dns.View
		viewErr   error
		published map[string]bool
	)
	n.db.View(func(tx *store.Tx) error {
		desired, exists = desiredVPC(tx, vpcID)
		if exists {
			vpc, _ := store.Get[cloud.Vpc](tx, cloud.KindVpc, vpcID)
			view, published, viewErr = buildView(tx, vpc)
		}
		return nil
	})
	if !exists {
		n.stopDNS(vpcID)
		n.resolver.RemoveView(vpcID)
		if err := n.dp.DeleteVPC(ctx, vpcID); err != nil {
			return Result{}, fmt.Errorf("delete vpc %s: %w", vpcID, err)
		}
		n.mu.Lock()
		delete(n.ready, vpcID)
		delete(n.published, vpcID)
		n.mu.Unlock()
		return Result{}, nil
	}
	res, err := n.dp.ApplyVPC(ctx, desired)
	if err != nil {
		if errors.Is(err, dataplane.ErrInvalidModel) {
			return Result{}, &TerminalError{Err: err}
		}
		return Result{}, fmt.Errorf("apply vpc %s: %w", vpcID, err)
	}
	if res.Changed() {
		n.log.Info("vpc realized", "vpc", vpcID, "created", len(res.Created), "updated", len(res.Updated), "deleted", len(res.Deleted))
	}
	if viewErr != nil {
		n.log.Warn("dns view", "vpc", vpcID, "err", viewErr)
		published = nil
	} else {
		n.resolver.SetView(vpcID, view)
	}
	if err := n.ensureDNS(ctx, vpcID); err != nil {
		return Result{}, err
	}
	ifaces := make(map[string]bool, len(desired.Interfaces))
	for _, i := range desired.Interfaces {
		ifaces[i.ID] = true
	}
	n.mu.Lock()
	n.ready[vpcID] = ifaces
	n.published[vpcID] = published
	n.mu.Unlock()
	for _, fn := range n.onReady {
		fn(vpcID)
	}
	return Result{}, nil
}

// ensureDNS starts the VPC's resolver sockets once.
func (n *Network) ensureDNS(ctx context.Context, vpcID string) error {
	n.mu.Lock()
	_, running := n.dnsServers[vpcID]
	n.mu.Unlock()
	if running {
		return nil
	}
	ns := n.dp.RouterNamespace(vpcID)
	pc, err := n.dp.ListenUDP(ctx, ns, "0.0.0.0:53")
	if err != nil {
		return fmt.Errorf("dns for %s: %w", vpcID, err)
	}
	ln, err := n.dp.ListenTCP(ctx, ns, "0.0.0.0:53")
	if err != nil {
		pc.Close()
		return fmt.Errorf("dns for %s: %w", vpcID, err)
	}
	sctx, cancel := context.WithCancel(n.life)
	n.mu.Lock()
	n.dnsServers[vpcID] = cancel
	n.mu.Unlock()
	go func() {
		if err := n.resolver.Serve(sctx, vpcID, pc, ln); err != nil {
			n.log.Warn("dns server stopped", "vpc", vpcID, "err", err)
			n.mu.Lock()
			delete(n.dnsServers, vpcID)
			n.mu.Unlock()
		}
	}()
	return nil
}

func (n *Network) stopDNS(vpcID string) {
	n.mu.Lock()
	cancel, ok := n.dnsServers[vpcID]
	delete(n.dnsServers, vpcID)
	n.mu.Unlock()
	if ok {
		cancel()
	}
}

// Cleanup removes realized VPCs the store no longer has (orphans after a
// crash); call it once at start, before the runner.
func (n *Network) Cleanup(ctx context.Context) error {
	var keep []string
	n.db.View(func(tx *store.Tx) error {
		tx.Each(cloud.KindVpc, func(id string, _ any) bool {
			keep = append(keep, id)
			return true
		})
		return nil
	})
	return n.dp.Cleanup(ctx, keep)
}
