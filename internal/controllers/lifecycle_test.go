package controllers

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/store"
)

// fakeReady is a Readiness whose answers the test sets.
type fakeReady struct {
	mu         sync.Mutex
	interfaces bool
	names      bool
}

func (f *fakeReady) set(interfaces, names bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.interfaces, f.names = interfaces, names
}

func (f *fakeReady) InterfaceReady(string, string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.interfaces
}

func (f *fakeReady) EndpointNamesReady(string, string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.names
}

// consumerNet is a consumer VPC with one subnet.
func consumerNet(t *testing.T, cp *controlplane.ControlPlane) (vpcID, subnetID string) {
	t.Helper()
	ctx := context.Background()
	c := root(consumerAcct)
	vpc := must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.1.0.0/16"}))(t)
	check(t, cp.ModifyVpcAttribute(ctx, c, vpc.ID, nil, ptr(true)))
	sub := must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.1.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
	return vpc.ID, sub.ID
}

func TestInstancesLifecycle(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		ready Readiness // nil: API-only mode
		want  string
	}{
		{"API-only mode", nil, "running"},
		{"interface realized", &fakeReady{interfaces: true}, "running"},
		{"interface not realized", &fakeReady{}, "pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp, db := newCP(t)
			_, sub := consumerNet(t, cp)
			now := time.Now()
			r := &Instances{DB: db, CP: cp, Ready: tc.ready, Now: func() time.Time { return now }}
			id := must(cp.RunInstances(ctx, root(consumerAcct), controlplane.RunInstancesInput{ImageID: "ami-12345678", MinCount: ptr(1), MaxCount: ptr(1), SubnetID: sub}))(t).Instances[0].ID
			state := func() string {
				if i := get[cloud.Instance](t, db, cloud.KindInstance, id); i != nil {
					return i.State
				}
				return "purged"
			}
			res := must(r.Reconcile(ctx, id))(t)
			if state() != tc.want {
				t.Fatalf("after reconcile: %s, want %s", state(), tc.want)
			}
			if tc.want == "pending" {
				if res.RequeueAfter != pollInterval {
					t.Errorf("RequeueAfter = %v, want the poll interval", res.RequeueAfter)
				}
				return
			}
			must(cp.TerminateInstances(ctx, root(consumerAcct), []string{id}))(t)
			if state() != "shutting-down" {
				t.Fatalf("after terminate: %s, want shutting-down", state())
			}
			must(r.Reconcile(ctx, id))(t)
			if state() != "terminated" {
				t.Fatalf("after reconcile: %s, want terminated", state())
			}
			must(r.Reconcile(ctx, id))(t)
			if state() != "terminated" {
				t.Fatalf("purged before retention: %s", state())
			}
			now = now.Add(retention + time.Minute)
			must(r.Reconcile(ctx, id))(t)
			if state() != "purged" {
				t.Fatalf("after retention: %s, want purged", state())
			}
			if _, err := r.Reconcile(ctx, id); err != nil {
				t.Errorf("reconcile of a purged instance: %v", err)
			}
		})
	}
}

func TestLoadBalancersLifecycle(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		ready Readiness
		want  string
	}{
		{"API-only mode", nil, "active"},
		{"interfaces realized", &fakeReady{interfaces: true}, "active"},
		{"interfaces not realized", &fakeReady{}, "provisioning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp, db := newCP(t)
			p := root(providerAcct)
			vpc := must(cp.CreateVpc(ctx, p, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
			sub := must(cp.CreateSubnet(ctx, p, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
			lb := must(cp.CreateLoadBalancer(ctx, p, controlplane.CreateLoadBalancerInput{Name: "nlb", Type: "network", Scheme: "internal", Subnets: []string{sub.ID}}))(t)
			r := &LoadBalancers{DB: db, CP: cp, Ready: tc.ready}
			res := must(r.Reconcile(ctx, lb.ID))(t)
			if got := get[cloud.LoadBalancer](t, db, cloud.KindLoadBalancer, lb.ID).State; got != tc.want {
				t.Fatalf("state = %s, want %s", got, tc.want)
			}
			if tc.want == "provisioning" && res.RequeueAfter != pollInterval {
				t.Errorf("RequeueAfter = %v, want the poll interval", res.RequeueAfter)
			}
		})
	}

	t.Run("draining targets finish", func(t *testing.T) {
		cp, db := newCP(t)
		p := root(providerAcct)
		vpc := must(cp.CreateVpc(ctx, p, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
		sub := must(cp.CreateSubnet(ctx, p, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
		lb := must(cp.CreateLoadBalancer(ctx, p, controlplane.CreateLoadBalancerInput{Name: "nlb", Type: "network", Scheme: "internal", Subnets: []string{sub.ID}}))(t)
		tg := must(cp.CreateTargetGroup(ctx, p, controlplane.CreateTargetGroupInput{Name: "tg", Protocol: "TCP", Port: ptr(80), VpcID: vpc.ID, TargetType: "ip"}))(t)
		must(cp.CreateListener(ctx, p, controlplane.CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: ptr(80),
			DefaultActions: []controlplane.ListenerAction{{Type: "forward", TargetGroupARN: tg.ARN}}}))(t)
		check(t, cp.RegisterTargets(ctx, p, tg.ARN, []controlplane.TargetSpec{{ID: "10.0.1.10"}}))
		check(t, cp.DeregisterTargets(ctx, p, tg.ARN, []controlplane.TargetSpec{{ID: "10.0.1.10"}}))
		r := &LoadBalancers{DB: db, CP: cp}
		targets := func() []cloud.Target { return get[cloud.TargetGroup](t, db, cloud.KindTargetGroup, tg.ID).Targets }
		if ts := targets(); len(ts) != 1 || ts[0].DrainingSince == "" {
			t.Fatalf("targets after deregistration = %+v, want one draining", ts)
		}
		res := must(r.Reconcile(ctx, tg.ID))(t)
		if res.RequeueAfter == 0 {
			t.Error("a draining target group is not polled")
		}
		if len(targets()) != 1 {
			t.Fatal("target removed before its deregistration delay")
		}
		mutate(t, db, cloud.KindTargetGroup, tg.ID, func(g *cloud.TargetGroup) {
			g.Targets[0].DrainingSince = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		})
		waitFor(t, "the drained target to be removed", func() bool {
			must(r.Reconcile(ctx, tg.ID))(t)
			return len(targets()) == 0
		})
	})
}

func TestEndpointsLifecycle(t *testing.T) {
	ctx := context.Background()
	newEndpoint := func(t *testing.T, cp *controlplane.ControlPlane) *cloud.VpcEndpoint {
		t.Helper()
		vpc, sub := consumerNet(t, cp)
		return must(cp.CreateVpcEndpoint(ctx, root(consumerAcct), controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: vpc,
			ServiceName: cloud.AWSServiceName(region, "sqs"), SubnetIDs: []string{sub}}))(t)
	}
	endpointOf := func(t *testing.T, db *store.DB, id string) *cloud.VpcEndpoint {
		return get[cloud.VpcEndpoint](t, db, cloud.KindVpcEndpoint, id)
	}

	t.Run("pending to available to deleted to purged", func(t *testing.T) {
		cp, db := newCP(t)
		ep := newEndpoint(t, cp)
		r := &Endpoints{DB: db, CP: cp}
		for _, step := range []struct {
			name   string
			before func()
			want   string
		}{
			{"available", nil, cloud.StateAvailable},
			{"stays available", nil, cloud.StateAvailable},
			{"deleted", func() { must(cp.DeleteVpcEndpoints(ctx, root(consumerAcct), []string{ep.ID}))(t) }, cloud.StateDeleted},
			{"kept while recent", nil, cloud.StateDeleted},
			{"purged", func() {
				mutate(t, db, cloud.KindVpcEndpoint, ep.ID, func(e *cloud.VpcEndpoint) {
					e.DeletedAt = time.Now().Add(-2 * retention).UTC().Format(time.RFC3339Nano)
				})
			}, ""},
		} {
			if step.before != nil {
				step.before()
			}
			must(r.Reconcile(ctx, ep.ID))(t)
			got := ""
			if e := endpointOf(t, db, ep.ID); e != nil {
				got = e.State
			}
			if got != step.want {
				t.Fatalf("%s: state %q, want %q", step.name, got, step.want)
			}
		}
	})

	t.Run("waiting states are left alone", func(t *testing.T) {
		for _, state := range []string{cloud.StatePendingAcceptance, cloud.StateRejected, cloud.StateFailed, cloud.StateExpired} {
			t.Run(state, func(t *testing.T) {
				cp, db := newCP(t)
				ep := newEndpoint(t, cp)
				mutate(t, db, cloud.KindVpcEndpoint, ep.ID, func(e *cloud.VpcEndpoint) { e.State = state })
				r := &Endpoints{DB: db, CP: cp}
				if res := must(r.Reconcile(ctx, ep.ID))(t); res.RequeueAfter != 0 {
					t.Errorf("RequeueAfter = %v, want none", res.RequeueAfter)
				}
				if got := endpointOf(t, db, ep.ID).State; got != state {
					t.Errorf("state = %s, want %s", got, state)
				}
			})
		}
	})

	t.Run("never realized fails with a reason", func(t *testing.T) {
		for _, tc := range []struct {
			name               string
			interfaces, names  bool
			reason             string
			wantFinal, wantNow string
		}{
			{"interfaces missing", false, false, "its network interfaces are not in place", cloud.StateFailed, cloud.StatePending},
			{"names unpublished", true, false, "its DNS names are not published", cloud.StateFailed, cloud.StatePending},
			{"realized", true, true, "", cloud.StateAvailable, cloud.StateAvailable},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cp, db := newCP(t)
				ep := newEndpoint(t, cp)
				r := &Endpoints{DB: db, CP: cp, Ready: &fakeReady{interfaces: tc.interfaces, names: tc.names}, RealizeDeadline: 50 * time.Millisecond}
				res := must(r.Reconcile(ctx, ep.ID))(t)
				if got := endpointOf(t, db, ep.ID).State; got != tc.wantNow {
					t.Fatalf("after the first reconcile: %s, want %s", got, tc.wantNow)
				}
				if tc.wantNow == cloud.StatePending && res.RequeueAfter != pollInterval {
					t.Errorf("RequeueAfter = %v, want the poll interval", res.RequeueAfter)
				}
				waitFor(t, "the endpoint to settle as "+tc.wantFinal, func() bool {
					must(r.Reconcile(ctx, ep.ID))(t)
					return endpointOf(t, db, ep.ID).State == tc.wantFinal
				})
				if e := endpointOf(t, db, ep.ID); tc.reason != "" && !strings.Contains(e.StateReason, tc.reason) {
					t.Errorf("reason = %q, want it to mention %q", e.StateReason, tc.reason)
				}
			})
		}
	})

	t.Run("recovers before the deadline", func(t *testing.T) {
		cp, db := newCP(t)
		ep := newEndpoint(t, cp)
		ready := &fakeReady{}
		r := &Endpoints{DB: db, CP: cp, Ready: ready, RealizeDeadline: time.Hour}
		must(r.Reconcile(ctx, ep.ID))(t)
		ready.set(true, true)
		must(r.Reconcile(ctx, ep.ID))(t)
		if got := endpointOf(t, db, ep.ID).State; got != cloud.StateAvailable {
			t.Errorf("state = %s, want available", got)
		}
	})

	t.Run("all-endpoints key", func(t *testing.T) {
		cp, db := newCP(t)
		a, b := newEndpoint(t, cp), newEndpoint(t, cp)
		r := &Endpoints{DB: db, CP: cp}
		var keys []string
		db.View(func(tx *store.Tx) error { keys = r.Keys(tx); return nil })
		if !slices.Contains(keys, a.ID) || !slices.Contains(keys, b.ID) {
			t.Errorf("Keys = %v", keys)
		}
		if got := r.Map(store.Event{Kind: cloud.KindVpcEndpoint, ID: a.ID}); !slices.Equal(got, []string{a.ID}) {
			t.Errorf("Map(endpoint) = %v", got)
		}
		if got := r.Map(store.Event{Kind: cloud.KindListener, ID: "x"}); !slices.Equal(got, []string{everyKey}) {
			t.Errorf("Map(listener) = %v", got)
		}
		must(r.Reconcile(ctx, everyKey))(t)
		for _, id := range []string{a.ID, b.ID} {
			if got := endpointOf(t, db, id).State; got != cloud.StateAvailable {
				t.Errorf("%s: %s, want available", id, got)
			}
		}
	})
}
