package controllers

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// HostedZoneAuthority makes a dns.Authority serve every stored public
// hosted zone, the way public DNS serves Route 53 zones: the private DNS
// verification of endpoint services and every VPC's resolver read it.
//
// It follows the store synchronously (a store watch), so a change batch is
// served by the time ChangeResourceRecordSets returns and Route 53's INSYNC
// is true. Several accounts may host zones of the same name, as on Route
// 53; without a registrar to delegate to one of them, the oldest zone of a
// name is the one served.
type HostedZoneAuthority struct {
	Authority *dns.Authority
	// Build renders a stored zone (controlplane.BuildHostedZone).
	Build func(*cloud.HostedZone) (*dns.Zone, error)
	Log   *slog.Logger

	mu      sync.Mutex
	zones   map[string]*cloud.HostedZone // by zone ID
	deleted map[string]bool              // zone IDs deleted since Start
}

// Start loads the stored zones and follows their changes. The watch is
// registered first; a zone's SOA serial and the deleted set keep the load
// from undoing a newer change seen by the watch.
func (h *HostedZoneAuthority) Start(db *store.DB) {
	h.mu.Lock()
	h.zones, h.deleted = map[string]*cloud.HostedZone{}, map[string]bool{}
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	h.mu.Unlock()
	db.Watch(func(e store.Event) {
		if e.Kind != cloud.KindHostedZone {
			return
		}
		z, _ := e.Value.(*cloud.HostedZone)
		h.apply(e.ID, z, true)
	})
	var zones []*cloud.HostedZone
	db.View(func(tx *store.Tx) error {
		if tx.HasKind(cloud.KindHostedZone) {
			zones = store.List[cloud.HostedZone](tx, cloud.KindHostedZone, nil)
		}
		return nil
	})
	for _, z := range zones {
		h.apply(z.ID, z, false)
	}
}

// apply records a zone's new value (nil: deleted) and re-serves its name.
func (h *HostedZoneAuthority) apply(id string, z *cloud.HostedZone, fromWatch bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.zones[id]
	switch {
	case z == nil:
		delete(h.zones, id)
		h.deleted[id] = true
	case !fromWatch && (h.deleted[id] || (old != nil && old.Serial >= z.Serial)):
		return // the watch already saw a newer state
	default:
		h.zones[id] = z
	}
	if old != nil && (z == nil || old.Name != z.Name) {
		h.serveLocked(old.Name)
	}
	if z != nil {
		h.serveLocked(z.Name)
	}
}

// serveLocked puts the oldest zone named apex into the Authority, or
// removes the name when no zone has it.
func (h *HostedZoneAuthority) serveLocked(apex string) {
	var cands []*cloud.HostedZone
	for _, z := range h.zones {
		if z.Name == apex {
			cands = append(cands, z)
		}
	}
	if len(cands) == 0 {
		h.Authority.RemoveZone(apex)
		return
	}
	sort.Slice(cands, func(i, j int) bool {
		if !cands[i].CreatedAt.Equal(cands[j].CreatedAt) {
			return cands[i].CreatedAt.Before(cands[j].CreatedAt)
		}
		return cands[i].ID < cands[j].ID
	})
	zone, err := h.Build(cands[0])
	if err == nil {
		err = h.Authority.PutZone(zone)
	}
	if err != nil {
		// Stored zones were validated on write; keep serving the last good one.
		h.Log.Error("cannot serve hosted zone", "zone", cands[0].ID, "name", apex, "err", err)
	}
}

// ServiceVerifier moves an endpoint service's private DNS name out of
// pendingVerification (implemented by *controlplane.ControlPlane).
type ServiceVerifier interface {
	VerifyServicePrivateDNS(ctx context.Context, serviceID string, lookupTXT func(ctx context.Context, name string) ([]string, error)) error
}

// Verification defaults: AWS keeps looking for the TXT record for a while
// before it reports failed, since records take time to publish.
const (
	DefaultVerificationWindow = time.Minute
	minVerificationInterval   = 100 * time.Millisecond
	maxVerificationInterval   = 10 * time.Second
)

// errNotYet tells VerifyServicePrivateDNS's caller that the record is not
// (yet) there and the verification window is still open.
var errNotYet = errors.New("controllers: verification record not found yet")

// Verification verifies the private DNS names of endpoint services in
// pendingVerification against the TXT records the Authority serves. A
// matching record verifies the name at once. Without one, the name stays
// pending and is looked up again every Window/10 (at least 100 ms, at most
// 10 s) until Window (default one minute) has passed since this controller
// first looked; then it is failed. StartVpcEndpointServicePrivateDnsVerification
// makes a failed name pending again, which opens a new window.
type Verification struct {
	DB     *store.DB
	CP     ServiceVerifier
	Lookup func(ctx context.Context, name string) ([]string, error)
	Window time.Duration
	Now    func() time.Time

	mu    sync.Mutex
	first map[string]attempt // by service ID
}

// attempt is the start of the window for one verification challenge.
type attempt struct {
	value string
	since time.Time
}

// Kinds implements Reconciler.
func (r *Verification) Kinds() []string { return []string{cloud.KindVpcEndpointService} }

func (r *Verification) window() time.Duration {
	if r.Window > 0 {
		return r.Window
	}
	return DefaultVerificationWindow
}

func (r *Verification) interval() time.Duration {
	return min(max(r.window()/10, minVerificationInterval), maxVerificationInterval)
}

func (r *Verification) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile implements Reconciler.
func (r *Verification) Reconcile(ctx context.Context, id string) (Result, error) {
	var svc *cloud.VpcEndpointService
	r.DB.View(func(tx *store.Tx) error {
		svc, _ = store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, id)
		return nil
	})
	if svc == nil || svc.PrivateDNSNameConfig == nil || svc.PrivateDNSNameConfig.State != "pendingVerification" {
		r.forget(id)
		return Result{}, nil
	}
	want := svc.PrivateDNSNameConfig.Value
	since := r.windowStart(id, want)
	open := r.now().Sub(since) < r.window()
	lookup := func(ctx context.Context, name string) ([]string, error) {
		values, err := r.Lookup(ctx, name)
		if !open || (err != nil && !errors.Is(err, dns.ErrNXDomain) && !errors.Is(err, dns.ErrNoData)) {
			return values, err
		}
		for _, v := range values {
			if strings.TrimSpace(strings.Trim(v, `"`)) == want {
				return values, nil
			}
		}
		return nil, errNotYet
	}
	err := r.CP.VerifyServicePrivateDNS(ctx, id, lookup)
	switch {
	case errors.Is(err, errNotYet):
		return Result{RequeueAfter: r.interval()}, nil
	case err != nil:
		return Result{}, ignoreGone(err)
	}
	r.forget(id)
	return Result{}, nil
}

// windowStart returns when the window of the service's current challenge
// opened, opening it now if this is the first look.
func (r *Verification) windowStart(id, value string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil {
		r.first = map[string]attempt{}
	}
	a, ok := r.first[id]
	if !ok || a.value != value {
		a = attempt{value: value, since: r.now()}
		r.first[id] = a
	}
	return a.since
}

func (r *Verification) forget(id string) {
	r.mu.Lock()
	delete(r.first, id)
	r.mu.Unlock()
}
