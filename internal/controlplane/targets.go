package controlplane

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Target health states and reasons, as DescribeTargetHealth reports them.
const (
	TargetInitial     = "initial"
	TargetHealthy     = "healthy"
	TargetUnhealthy   = "unhealthy"
	TargetUnused      = "unused"
	TargetDraining    = "draining"
	TargetUnavailable = "unavailable"
)

// maxTargetsPerGroup bounds registrations (TooManyTargets).
const maxTargetsPerGroup = 1000

var (
	healthRegistering = cloud.TargetHealth{State: TargetInitial, Reason: "Elb.RegistrationInProgress", Description: "Target registration is in progress"}
	healthNotInUse    = cloud.TargetHealth{State: TargetUnused, Reason: "Target.NotInUse", Description: "Target group is not configured to receive traffic from the load balancer"}
	healthZoneOff     = cloud.TargetHealth{State: TargetUnused, Reason: "Target.NotInUse", Description: "Target is in an Availability Zone that is not enabled for the load balancer"}
	healthDraining    = cloud.TargetHealth{State: TargetDraining, Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress"}
	healthNotFound    = cloud.TargetHealth{State: TargetUnused, Reason: "Target.NotRegistered", Description: "Target is not registered to the target group"}
)

// ErrTargetNotRegistered is returned by SetTargetHealth for an unknown target.
var ErrTargetNotRegistered = errors.New("controlplane: target not registered")

// TargetSpec is one Targets entry of Register/Deregister/DescribeTargetHealth.
type TargetSpec struct {
	ID               string
	Port             *int
	AvailabilityZone string
}

// privateRanges are the addresses AWS accepts as ip targets outside the VPC.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
}

// resolveTarget validates a target against its group and returns it with
// its port and zone filled in. register selects the stricter checks of
// RegisterTargets (instance state, zones).
func (cp *ControlPlane) resolveTarget(tx *store.Tx, c *Call, tg *cloud.TargetGroup, spec TargetSpec, register bool) (cloud.Target, error) {
	t := cloud.Target{ID: spec.ID, Port: tg.Port}
	if spec.ID == "" {
		return t, elbMissing("targets.member.id")
	}
	if spec.Port != nil {
		if *spec.Port < 1 || *spec.Port > 65535 {
			return t, rangeError("port", *spec.Port, 1, 65535)
		}
		t.Port = *spec.Port
	}
	switch tg.TargetType {
	case "instance":
		if spec.AvailabilityZone != "" {
			return t, cloud.Errorf("InvalidTarget", "The Availability Zone parameter is not supported for targets of type 'instance'")
		}
		inst := getOwned[cloud.Instance](tx, c, cloud.KindInstance, spec.ID)
		if inst == nil {
			return t, cloud.Errorf("InvalidTarget", "The following targets are not valid instances: '%s'", spec.ID)
		}
		if inst.VpcID != tg.VpcID {
			return t, cloud.Errorf("InvalidTarget", "The following targets are not in the target group VPC '%s': '%s'", tg.VpcID, spec.ID)
		}
		if register && inst.State != "running" && inst.State != "pending" && inst.State != "stopped" {
			return t, cloud.Errorf("InvalidTarget", "The following targets are not in a running state and cannot be registered: '%s'", spec.ID)
		}
	case "ip":
		ip, err := netip.ParseAddr(spec.ID)
		if err != nil || !ip.Is4() {
			return t, cloud.Errorf("InvalidTarget", "The IP address '%s' is not a valid IPv4 address", spec.ID)
		}
		t.ID = ip.String()
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, tg.VpcID)
		inVpc := false
		if vpc != nil {
			if p, ok := parseIPv4Prefix(vpc.CidrBlock); ok && p.Contains(ip) {
				inVpc = true
			}
		}
		switch {
		case inVpc:
			if spec.AvailabilityZone == "all" {
				return t, cloud.Errorf("InvalidTarget", "The Availability Zone 'all' can only be used for IP addresses outside the VPC, and '%s' is inside VPC '%s'", t.ID, tg.VpcID)
			}
			for _, s := range listOwned[cloud.Subnet](tx, c, cloud.KindSubnet, func(s *cloud.Subnet) bool { return s.VpcID == tg.VpcID }) {
				if p, ok := parseIPv4Prefix(s.CidrBlock); ok && p.Contains(ip) {
					t.AvailabilityZone = s.AvailabilityZone
				}
			}
			if register && t.AvailabilityZone == "" {
				return t, cloud.Errorf("InvalidTarget", "The IP address '%s' is not in a subnet of VPC '%s'", t.ID, tg.VpcID)
			}
			if spec.AvailabilityZone != "" && spec.AvailabilityZone != t.AvailabilityZone && register {
				return t, cloud.Errorf("InvalidTarget", "The IP address '%s' is in Availability Zone '%s', not '%s'", t.ID, t.AvailabilityZone, spec.AvailabilityZone)
			}
		default:
			private := false
			for _, p := range privateRanges {
				private = private || p.Contains(ip)
			}
			if !private {
				return t, cloud.Errorf("InvalidTarget", "The IP address '%s' is not within the VPC CIDR or the private address ranges (RFC 1918, RFC 6598)", t.ID)
			}
			if register && spec.AvailabilityZone == "" {
				return t, cloud.Errorf("InvalidTarget", "An Availability Zone ('all' or a zone) must be specified for the IP address '%s', which is outside VPC '%s'", t.ID, tg.VpcID)
			}
			if spec.AvailabilityZone != "" && spec.AvailabilityZone != "all" {
				r, err := cp.region(c)
				if err != nil {
					return t, err
				}
				if _, ok := r.AZ(spec.AvailabilityZone); !ok {
					return t, cloud.Errorf("InvalidTarget", "The Availability Zone '%s' is not valid", spec.AvailabilityZone)
				}
			}
			t.AvailabilityZone = spec.AvailabilityZone
		}
	}
	return t, nil
}

// targetZone is the zone a target serves from ("all" or "" when any).
func targetZone(tx *store.Tx, tg *cloud.TargetGroup, t cloud.Target) string {
	if tg.TargetType == "instance" {
		if inst, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, t.ID); ok {
			return inst.AvailabilityZone
		}
		return ""
	}
	return t.AvailabilityZone
}

// healthOnAttach is the health of a target that starts receiving traffic
// (or not) from the group's load balancers.
func healthOnAttach(tx *store.Tx, tg *cloud.TargetGroup, t cloud.Target) cloud.TargetHealth {
	if len(tg.LoadBalancerARNs) == 0 {
		return healthNotInUse
	}
	az := targetZone(tx, tg, t)
	if az == "" || az == "all" {
		return healthRegistering
	}
	for _, arn := range tg.LoadBalancerARNs {
		if lb, ok := LoadBalancerByARN(tx, arn); ok {
			for _, z := range lb.AZs {
				if z.ZoneName == az {
					return healthRegistering
				}
			}
		}
	}
	return healthZoneOff
}

// refreshTargets recomputes the health of targets after the group's load
// balancers changed: unused targets start registering, and every
// non-draining target of a group left without load balancer becomes unused.
func refreshTargets(tx *store.Tx, tg *cloud.TargetGroup) {
	for i, t := range tg.Targets {
		switch {
		case t.Health.State == TargetDraining:
		case len(tg.LoadBalancerARNs) == 0:
			tg.Targets[i].Health = healthNotInUse
		case t.Health.State == TargetUnused:
			tg.Targets[i].Health = healthOnAttach(tx, tg, t)
		}
	}
}

// RegisterTargets registers targets with a target group. A target already
// registered is left as it is; a draining one registers again.
func (cp *ControlPlane) RegisterTargets(ctx context.Context, c *Call, arn string, specs []TargetSpec) error {
	if len(specs) == 0 {
		return elbMissing("targets")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		n := store.Clone(tg)
		n.Targets = append([]cloud.Target(nil), tg.Targets...)
		for _, spec := range specs {
			t, err := cp.resolveTarget(tx, c, tg, spec, true)
			if err != nil {
				return err
			}
			idx := findTarget(n.Targets, t.ID, t.Port)
			switch {
			case idx < 0:
				t.Health = healthOnAttach(tx, n, t)
				n.Targets = append(n.Targets, t)
			case n.Targets[idx].Health.State == TargetDraining:
				n.Targets[idx].DrainingSince = ""
				n.Targets[idx].Health = healthOnAttach(tx, n, n.Targets[idx])
			}
		}
		if len(n.Targets) > maxTargetsPerGroup {
			return cloud.Errorf("TooManyTargets", "You've reached the limit on the number of targets per target group (%d)", maxTargetsPerGroup)
		}
		sortTargets(n.Targets)
		tx.Put(cloud.KindTargetGroup, n.ID, n)
		return nil
	})
}

func findTarget(ts []cloud.Target, id string, port int) int {
	for i, t := range ts {
		if t.ID == id && t.Port == port {
			return i
		}
	}
	return -1
}

// DeregisterTargets starts draining targets; targets of a group no load
// balancer uses, or with a deregistration delay of 0, leave at once.
func (cp *ControlPlane) DeregisterTargets(ctx context.Context, c *Call, arn string, specs []TargetSpec) error {
	if len(specs) == 0 {
		return elbMissing("targets")
	}
	now := cp.now().UTC()
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		delay, _ := strconv.Atoi(TargetGroupAttributes(tg)["deregistration_delay.timeout_seconds"])
		n := store.Clone(tg)
		n.Targets = append([]cloud.Target(nil), tg.Targets...)
		for _, spec := range specs {
			t, err := cp.resolveTarget(tx, c, tg, spec, false)
			if err != nil {
				return err
			}
			idx := findTarget(n.Targets, t.ID, t.Port)
			if idx < 0 {
				return cloud.Errorf("InvalidTarget", "The target '%s' on port %d is not registered with target group '%s'", t.ID, t.Port, tg.ARN)
			}
			cur := n.Targets[idx]
			switch {
			case cur.Health.State == TargetDraining:
			case len(n.LoadBalancerARNs) == 0 || delay == 0 || cur.Health.State == TargetUnused:
				n.Targets = append(n.Targets[:idx], n.Targets[idx+1:]...)
			default:
				n.Targets[idx].Health = healthDraining
				n.Targets[idx].DrainingSince = now.Format(time.RFC3339Nano)
			}
		}
		tx.Put(cloud.KindTargetGroup, n.ID, n)
		return nil
	})
}

// FinishDraining removes targets whose deregistration delay has passed at
// now and returns how many it removed (the draining controller calls it).
func (cp *ControlPlane) FinishDraining(ctx context.Context, now time.Time) (int, error) {
	removed := 0
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		for _, tg := range store.List[cloud.TargetGroup](tx, cloud.KindTargetGroup, nil) {
			delay, _ := strconv.Atoi(TargetGroupAttributes(tg)["deregistration_delay.timeout_seconds"])
			var kept []cloud.Target
			changed := false
			for _, t := range tg.Targets {
				if t.Health.State == TargetDraining {
					since, err := time.Parse(time.RFC3339Nano, t.DrainingSince)
					if err != nil || !now.Before(since.Add(time.Duration(delay)*time.Second)) {
						removed++
						changed = true
						continue
					}
				}
				kept = append(kept, t)
			}
			if changed {
				n := store.Clone(tg)
				n.Targets = kept
				tx.Put(cloud.KindTargetGroup, n.ID, n)
			}
		}
		return nil
	})
	return removed, err
}

// SetTargetHealth records a target's observed health (the health-check
// controller calls it). Draining and unused targets keep their state: the
// load balancer does not route to them, whatever a probe says.
func (cp *ControlPlane) SetTargetHealth(ctx context.Context, tgARN, targetID string, port int, h cloud.TargetHealth) error {
	switch h.State {
	case TargetInitial, TargetHealthy, TargetUnhealthy, TargetUnavailable:
	default:
		return cloud.Errorf("ValidationError", "Health state '%s' cannot be set by a health check", h.State)
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		tg, ok := TargetGroupByARN(tx, tgARN)
		if !ok {
			return cloud.Errorf("TargetGroupNotFound", "Target groups '%s' not found", tgARN)
		}
		idx := findTarget(tg.Targets, targetID, port)
		if idx < 0 {
			return ErrTargetNotRegistered
		}
		cur := tg.Targets[idx]
		if cur.Health.State == TargetDraining || cur.Health.State == TargetUnused || cur.Health == h {
			return nil
		}
		n := store.Clone(tg)
		n.Targets = append([]cloud.Target(nil), tg.Targets...)
		n.Targets[idx].Health = h
		tx.Put(cloud.KindTargetGroup, n.ID, n)
		return nil
	})
}

// TargetHealthDescription is one row of DescribeTargetHealth.
type TargetHealthDescription struct {
	Target          cloud.Target
	HealthCheckPort string
}

// DescribeTargetHealth reports the stored, observed health of the group's
// targets (or of the targets named; unregistered ones show Target.NotRegistered).
func (cp *ControlPlane) DescribeTargetHealth(ctx context.Context, c *Call, arn string, specs []TargetSpec) ([]TargetHealthDescription, error) {
	var out []TargetHealthDescription
	err := cp.db.View(func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		hcPort := func(t cloud.Target) string {
			if tg.HealthCheck.Port == "traffic-port" || tg.HealthCheck.Port == "" {
				return strconv.Itoa(t.Port)
			}
			return tg.HealthCheck.Port
		}
		if len(specs) == 0 {
			for _, t := range tg.Targets {
				out = append(out, TargetHealthDescription{Target: t, HealthCheckPort: hcPort(t)})
			}
			return nil
		}
		for _, spec := range specs {
			t, err := cp.resolveTarget(tx, c, tg, spec, false)
			if err != nil {
				return err
			}
			matched := false
			for _, have := range tg.Targets {
				if have.ID == t.ID && (spec.Port == nil || have.Port == t.Port) {
					out = append(out, TargetHealthDescription{Target: have, HealthCheckPort: hcPort(have)})
					matched = true
				}
			}
			if !matched {
				t.Health = healthNotFound
				if tg.TargetType == "instance" {
					t.AvailabilityZone = ""
				}
				out = append(out, TargetHealthDescription{Target: t, HealthCheckPort: hcPort(t)})
			}
		}
		return nil
	})
	return out, err
}
