package controllers

import (
	"context"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Transitions are the control plane's lifecycle moves the reconcilers make
// once the data plane is ready (implemented by *controlplane.ControlPlane).
type Transitions interface {
	InstanceRunning(ctx context.Context, id string) error
	InstanceTerminated(ctx context.Context, id string) error
	PurgeTerminatedInstances(ctx context.Context, olderThan time.Time) (int, error)
	LoadBalancerActive(ctx context.Context, arn string) error
	FinishDraining(ctx context.Context, now time.Time) (int, error)
	EndpointAvailable(ctx context.Context, id string) error
	EndpointFailed(ctx context.Context, id, reason string) error
	EndpointDeleted(ctx context.Context, id string) error
	PurgeDeletedEndpoints(ctx context.Context, olderThan time.Time) (int, error)
}

// Readiness tells whether the data plane realized something. A nil
// Readiness (API-only mode, no data plane) treats everything as ready.
type Readiness interface {
	// InterfaceReady reports whether an interface exists in the kernel.
	InterfaceReady(vpcID, eniID string) bool
	// EndpointNamesReady reports whether the VPC resolver answers an
	// endpoint's DNS names.
	EndpointNamesReady(vpcID, endpointID string) bool
}

// retention is how long terminated instances and deleted endpoints stay
// visible in Describe calls, as on AWS.
const retention = time.Hour

// pollInterval is how often a resource waiting on the data plane is re-checked.
const pollInterval = 200 * time.Millisecond

func ready(r Readiness, vpcID string, enis ...string) bool {
	if r == nil {
		return true
	}
	for _, e := range enis {
		if !r.InterfaceReady(vpcID, e) {
			return false
		}
	}
	return true
}

// Instances moves instances from pending to running once their interface
// is realized, and from shutting-down to terminated.
type Instances struct {
	DB    *store.DB
	CP    Transitions
	Ready Readiness
	Now   func() time.Time
}

// Kinds implements Reconciler.
func (r *Instances) Kinds() []string { return []string{cloud.KindInstance} }

// Reconcile implements Reconciler.
func (r *Instances) Reconcile(ctx context.Context, id string) (Result, error) {
	var inst *cloud.Instance
	r.DB.View(func(tx *store.Tx) error {
		inst, _ = store.Get[cloud.Instance](tx, cloud.KindInstance, id)
		return nil
	})
	if inst == nil {
		return Result{}, nil
	}
	switch inst.State {
	case "pending":
		if !ready(r.Ready, inst.VpcID, inst.NetworkInterfaceID) {
			return Result{RequeueAfter: pollInterval}, nil
		}
		return Result{}, ignoreGone(r.CP.InstanceRunning(ctx, id))
	case "shutting-down":
		return Result{RequeueAfter: retention}, ignoreGone(r.CP.InstanceTerminated(ctx, id))
	case "terminated":
		_, err := r.CP.PurgeTerminatedInstances(ctx, r.now().Add(-retention))
		return Result{RequeueAfter: retention}, err
	}
	return Result{}, nil
}

func (r *Instances) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// LoadBalancers moves load balancers from provisioning to active once their
// interfaces are realized, and finishes target draining.
type LoadBalancers struct {
	DB    *store.DB
	CP    Transitions
	Ready Readiness
}

// Kinds implements Reconciler.
func (r *LoadBalancers) Kinds() []string {
	return []string{cloud.KindLoadBalancer, cloud.KindTargetGroup}
}

// Reconcile implements Reconciler.
func (r *LoadBalancers) Reconcile(ctx context.Context, id string) (Result, error) {
	var lb *cloud.LoadBalancer
	var tg *cloud.TargetGroup
	r.DB.View(func(tx *store.Tx) error {
		lb, _ = store.Get[cloud.LoadBalancer](tx, cloud.KindLoadBalancer, id)
		tg, _ = store.Get[cloud.TargetGroup](tx, cloud.KindTargetGroup, id)
		return nil
	})
	if tg != nil {
		for _, t := range tg.Targets {
			if t.DrainingSince != "" {
				_, err := r.CP.FinishDraining(ctx, time.Now())
				return Result{RequeueAfter: time.Second}, err
			}
		}
		return Result{}, nil
	}
	if lb == nil || lb.State != "provisioning" {
		return Result{}, nil
	}
	var enis []string
	for _, az := range lb.AZs {
		enis = append(enis, az.NetworkInterfaceID)
	}
	if !ready(r.Ready, lb.VpcID, enis...) {
		return Result{RequeueAfter: pollInterval}, nil
	}
	return Result{}, ignoreGone(r.CP.LoadBalancerActive(ctx, lb.ARN))
}
