package controllers

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/store"
)

// HealthRecorder stores observed target health (the control plane).
type HealthRecorder interface {
	SetTargetHealth(ctx context.Context, tgARN, targetID string, port int, h cloud.TargetHealth) error
}

// Health runs real health checks for every target group that is attached
// to a load balancer, from the load balancer's own interface, and records
// each change in the store. Without it (API-only mode) targets keep the
// state the control plane gave them (initial), never an invented healthy.
type Health struct {
	DB  *store.DB
	CP  HealthRecorder
	DP  DataPlane
	Log *slog.Logger
	// Life bounds the checkers.
	Life context.Context
	// TestInterval/TestTimeout shorten checks below ELB's minimums (tests).
	TestInterval, TestTimeout time.Duration

	mu       sync.Mutex
	checkers map[string]*runningChecker // by target group store ID
}

type runningChecker struct {
	hc       *proxy.HealthChecker
	cancel   context.CancelFunc
	settings cloud.HealthCheck
	nodeNS   string

	mu      sync.Mutex
	targets map[string]cloud.Target // by checker target ID
}

// Kinds implements Reconciler.
func (h *Health) Kinds() []string {
	return []string{cloud.KindTargetGroup, cloud.KindLoadBalancer, cloud.KindInstance}
}

// Map implements Mapper: target groups are keyed by their own ID; load
// balancer and instance changes revisit every target group.
func (h *Health) Map(e store.Event) []string {
	if e.Kind == cloud.KindTargetGroup {
		return []string{e.ID}
	}
	return []string{everyKey}
}

// Keys implements Lister.
func (h *Health) Keys(tx *store.Tx) []string {
	var out []string
	tx.Each(cloud.KindTargetGroup, func(id string, _ any) bool {
		out = append(out, id)
		return true
	})
	return out
}

// Reconcile implements Reconciler.
func (h *Health) Reconcile(ctx context.Context, id string) (Result, error) {
	if id == everyKey {
		var ids []string
		h.DB.View(func(tx *store.Tx) error { ids = h.Keys(tx); return nil })
		for _, tid := range ids {
			h.reconcile(tid)
		}
		return Result{}, nil
	}
	h.reconcile(id)
	return Result{}, nil
}

func (h *Health) reconcile(id string) {
	var (
		tg      *cloud.TargetGroup
		nodeNS  string
		targets = map[string]cloud.Target{}
		addrs   = map[string]proxy.HealthTarget{}
	)
	h.DB.View(func(tx *store.Tx) error {
		tg, _ = store.Get[cloud.TargetGroup](tx, cloud.KindTargetGroup, id)
		if tg == nil || len(tg.LoadBalancerARNs) == 0 {
			return nil
		}
		tx.Each(cloud.KindLoadBalancer, func(_ string, v any) bool {
			lb := v.(*cloud.LoadBalancer)
			if lb.ARN == tg.LoadBalancerARNs[0] && len(lb.AZs) > 0 && lb.State == "active" {
				nodeNS = h.DP.InterfaceNamespace(lb.AZs[0].NetworkInterfaceID)
			}
			return true
		})
		for _, t := range tg.Targets {
			if t.DrainingSince != "" {
				continue
			}
			addr := t.ID
			if strings.HasPrefix(t.ID, "i-") {
				inst, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, t.ID)
				if !ok || inst.State != "running" {
					continue
				}
				addr = inst.PrivateIPAddress
			}
			ip, err := netip.ParseAddr(addr)
			if err != nil {
				continue
			}
			key := targetKey(t)
			targets[key] = t
			addrs[key] = proxy.HealthTarget{ID: key, Addr: netip.AddrPortFrom(ip, uint16(t.Port)), AZ: t.AvailabilityZone}
		}
		return nil
	})
	h.mu.Lock()
	if h.checkers == nil {
		h.checkers = map[string]*runningChecker{}
	}
	rc := h.checkers[id]
	if tg == nil || nodeNS == "" {
		if rc != nil {
			rc.cancel()
			delete(h.checkers, id)
		}
		h.mu.Unlock()
		return
	}
	if rc != nil && (rc.settings != tg.HealthCheck || rc.nodeNS != nodeNS) {
		rc.cancel()
		rc = nil
		delete(h.checkers, id)
	}
	if rc == nil {
		var err error
		rc, err = h.start(tg, nodeNS)
		if err != nil {
			h.Log.Warn("health checker", "target_group", tg.ARN, "err", err)
			h.mu.Unlock()
			return
		}
		h.checkers[id] = rc
	}
	h.mu.Unlock()
	rc.mu.Lock()
	rc.targets = targets
	rc.mu.Unlock()
	list := make([]proxy.HealthTarget, 0, len(addrs))
	for _, a := range addrs {
		list = append(list, a)
	}
	rc.hc.SetTargets(list)
}

// start launches a checker; the caller holds h.mu.
func (h *Health) start(tg *cloud.TargetGroup, nodeNS string) (*runningChecker, error) {
	if h.Log == nil {
		h.Log = slog.New(slog.DiscardHandler)
	}
	s := tg.HealthCheck
	settings := proxy.HealthCheckSettings{
		Protocol: proxy.HealthCheckProtocol(s.Protocol), Port: s.Port, Path: s.Path, Matcher: s.Matcher,
		IntervalSeconds: s.IntervalSeconds, TimeoutSeconds: s.TimeoutSeconds,
		HealthyThresholdCount: s.HealthyThreshold, UnhealthyThresholdCount: s.UnhealthyThreshold,
	}
	life := h.Life
	if life == nil {
		life = context.Background()
	}
	ctx, cancel := context.WithCancel(life)
	rc := &runningChecker{cancel: cancel, settings: s, nodeNS: nodeNS}
	arn := tg.ARN
	hc, err := proxy.NewHealthChecker(proxy.HealthCheckerConfig{
		Settings: settings,
		Disabled: !s.Enabled,
		Dial: func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
			return h.DP.DialTCP(ctx, nodeNS, addr.String())
		},
		OnChange: func(st proxy.HealthStatus) {
			rc.mu.Lock()
			t, ok := rc.targets[st.Target.ID]
			rc.mu.Unlock()
			if !ok {
				return // deregistered: the control plane owns its state now
			}
			err := h.CP.SetTargetHealth(ctx, arn, t.ID, t.Port, cloud.TargetHealth{
				State: string(st.Health.State), Reason: st.Health.Reason, Description: st.Health.Description,
			})
			if err != nil && ctx.Err() == nil {
				h.Log.Debug("record target health", "target_group", arn, "target", t.ID, "err", err)
			}
		},
		TestInterval: h.TestInterval,
		TestTimeout:  h.TestTimeout,
		Logger:       h.Log,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	rc.hc = hc
	go hc.Run(ctx)
	return rc, nil
}
