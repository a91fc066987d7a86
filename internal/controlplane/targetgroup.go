package controlplane

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// HealthCheckInput holds the health-check parameters of CreateTargetGroup
// and ModifyTargetGroup; nil means "not given".
type HealthCheckInput struct {
	Protocol, Port, Path, Matcher *string
	Enabled                       *bool
	IntervalSeconds               *int
	TimeoutSeconds                *int
	HealthyThreshold              *int
	UnhealthyThreshold            *int
}

// CreateTargetGroupInput is CreateTargetGroup's parameters.
type CreateTargetGroupInput struct {
	Name            string
	Protocol        string
	ProtocolVersion string
	Port            *int
	VpcID           string
	TargetType      string
	IPAddressType   string
	HealthCheck     HealthCheckInput
	Tags            cloud.Tags
}

// maxTargetGroups is the default quota of target groups per account and Region.
const maxTargetGroups = 3000

// isGeneve reports whether a target group belongs to gateway load balancers.
func isGeneve(protocol string) bool { return protocol == "GENEVE" }

func rangeError(field string, v, min, max int) error {
	return elbValidation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between %d and %d", v, field, min, max)
}

// validMatcher accepts "200", "200,202" and "200-299" within [min, max].
func validMatcher(m string, min, max int) bool {
	if m == "" {
		return false
	}
	for _, part := range strings.Split(m, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < min || b > max || a > b {
			return false
		}
	}
	return true
}

// resolveHealthCheck applies in over base (a target group's current
// settings, or the zero value on create) with AWS's defaults and ranges for
// network and gateway target groups.
func resolveHealthCheck(tgProtocol, targetType string, base cloud.HealthCheck, in HealthCheckInput, create bool) (cloud.HealthCheck, error) {
	hc := base
	geneve := isGeneve(tgProtocol)
	if create {
		hc = cloud.HealthCheck{Enabled: true, Protocol: "TCP", Port: "traffic-port", IntervalSeconds: 30, HealthyThreshold: 5, UnhealthyThreshold: 2}
		if geneve {
			hc.Port, hc.IntervalSeconds = "80", 10
		}
	}
	if in.Enabled != nil && !*in.Enabled {
		return hc, elbValidation("Health checks cannot be disabled for target groups with target type '%s'", targetType)
	}
	if in.Protocol != nil {
		p := strings.ToUpper(*in.Protocol)
		switch p {
		case "TCP", "HTTP", "HTTPS":
		case "GENEVE", "TLS", "UDP", "TCP_UDP":
			return hc, elbValidation("Health check protocol '%s' is not supported", p)
		default:
			return hc, elbValidation("1 validation error detected: Value '%s' at 'healthCheckProtocol' failed to satisfy constraint: Member must satisfy enum value set: [HTTP, HTTPS, TCP]", *in.Protocol)
		}
		if p != hc.Protocol {
			hc.Protocol = p
			hc.Path, hc.Matcher = "", ""
			if create || in.TimeoutSeconds != nil {
				hc.TimeoutSeconds = 0
			}
		}
	}
	http := hc.Protocol == "HTTP" || hc.Protocol == "HTTPS"
	if hc.TimeoutSeconds == 0 {
		switch {
		case geneve:
			hc.TimeoutSeconds = 5
		case hc.Protocol == "HTTP":
			hc.TimeoutSeconds = 6
		default:
			hc.TimeoutSeconds = 10
		}
	}
	if http && hc.Path == "" {
		hc.Path = "/"
	}
	if http && hc.Matcher == "" {
		hc.Matcher = "200-399"
	}
	if in.Port != nil {
		if *in.Port != "traffic-port" {
			n, err := strconv.Atoi(*in.Port)
			if err != nil || n < 1 || n > 65535 {
				return hc, elbValidation("Health check port '%s' must be 'traffic-port' or a number between 1 and 65535", *in.Port)
			}
		}
		hc.Port = *in.Port
	}
	if in.Path != nil {
		if !http {
			return hc, elbValidation("A health check path can only be specified for HTTP or HTTPS health checks")
		}
		if !strings.HasPrefix(*in.Path, "/") || len(*in.Path) > 1024 {
			return hc, elbValidation("Health check path '%s' must begin with '/' and be at most 1024 characters long", *in.Path)
		}
		hc.Path = *in.Path
	}
	if in.Matcher != nil {
		if !http {
			return hc, elbValidation("A health check matcher can only be specified for HTTP or HTTPS health checks")
		}
		max := 599
		if geneve {
			max = 399
		}
		if !validMatcher(*in.Matcher, 200, max) {
			return hc, elbValidation("Health check matcher HTTP code '%s' must be a value, list or range of codes between 200 and %d", *in.Matcher, max)
		}
		hc.Matcher = *in.Matcher
	}
	for _, f := range []struct {
		v        *int
		dst      *int
		name     string
		min, max int
	}{
		{in.IntervalSeconds, &hc.IntervalSeconds, "healthCheckIntervalSeconds", 5, 300},
		{in.TimeoutSeconds, &hc.TimeoutSeconds, "healthCheckTimeoutSeconds", 2, 120},
		{in.HealthyThreshold, &hc.HealthyThreshold, "healthyThresholdCount", 2, 10},
		{in.UnhealthyThreshold, &hc.UnhealthyThreshold, "unhealthyThresholdCount", 2, 10},
	} {
		if f.v == nil {
			continue
		}
		if *f.v < f.min || *f.v > f.max {
			return hc, rangeError(f.name, *f.v, f.min, f.max)
		}
		*f.dst = *f.v
	}
	if hc.TimeoutSeconds >= hc.IntervalSeconds {
		return hc, elbValidation("Health check timeout '%d' must be smaller than the interval '%d'", hc.TimeoutSeconds, hc.IntervalSeconds)
	}
	return hc, nil
}

// tgAttributeChecks lists a target group's attribute keys.
func tgAttributeChecks(tg *cloud.TargetGroup) map[string]attrCheck {
	intRange := func(key string, min, max int) attrCheck {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < min || n > max {
				return elbValidation("The value of attribute '%s' must be an integer between %d and %d", key, min, max)
			}
			return nil
		}
	}
	offOr := func(key string, min, max int) attrCheck {
		return func(v string) error {
			if v == "off" {
				return nil
			}
			return intRange(key, min, max)(v)
		}
	}
	m := map[string]attrCheck{
		"deregistration_delay.timeout_seconds": intRange("deregistration_delay.timeout_seconds", 0, 3600),
		"stickiness.enabled":                   boolAttr("stickiness.enabled"),
		"load_balancing.cross_zone.enabled":    enumAttr("load_balancing.cross_zone.enabled", "true", "false", "use_load_balancer_configuration"),
	}
	if isGeneve(tg.Protocol) {
		m["stickiness.type"] = enumAttr("stickiness.type", "source_ip_dest_ip", "source_ip_dest_ip_proto")
		m["target_failover.on_deregistration"] = enumAttr("target_failover.on_deregistration", "rebalance", "no_rebalance")
		m["target_failover.on_unhealthy"] = enumAttr("target_failover.on_unhealthy", "rebalance", "no_rebalance")
		return m
	}
	m["stickiness.type"] = enumAttr("stickiness.type", "source_ip")
	m["deregistration_delay.connection_termination.enabled"] = boolAttr("deregistration_delay.connection_termination.enabled")
	m["preserve_client_ip.enabled"] = boolAttr("preserve_client_ip.enabled")
	m["proxy_protocol_v2.enabled"] = func(v string) error {
		if err := boolAttr("proxy_protocol_v2.enabled")(v); err != nil {
			return err
		}
		if v == "true" && (tg.Protocol == "UDP" || tg.Protocol == "TCP_UDP") {
			return cloud.Errorf("InvalidConfigurationRequest", "Proxy protocol v2 is not supported for target groups with the %s protocol", tg.Protocol)
		}
		return nil
	}
	m["target_health_state.unhealthy.connection_termination.enabled"] = boolAttr("target_health_state.unhealthy.connection_termination.enabled")
	m["target_health_state.unhealthy.draining_interval_seconds"] = intRange("target_health_state.unhealthy.draining_interval_seconds", 0, 360000)
	m["target_group_health.dns_failover.minimum_healthy_targets.count"] = offOr("target_group_health.dns_failover.minimum_healthy_targets.count", 1, 1000)
	m["target_group_health.dns_failover.minimum_healthy_targets.percentage"] = offOr("target_group_health.dns_failover.minimum_healthy_targets.percentage", 1, 100)
	m["target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"] = intRange("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", 1, 1000)
	m["target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"] = offOr("target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", 1, 100)
	return m
}

func defaultTGAttributes(tg *cloud.TargetGroup) map[string]string {
	m := map[string]string{
		"deregistration_delay.timeout_seconds": "300",
		"stickiness.enabled":                   "false",
		"load_balancing.cross_zone.enabled":    "use_load_balancer_configuration",
	}
	if isGeneve(tg.Protocol) {
		m["stickiness.type"] = "source_ip_dest_ip_proto"
		m["target_failover.on_deregistration"] = "no_rebalance"
		m["target_failover.on_unhealthy"] = "no_rebalance"
		return m
	}
	preserve := "false"
	if tg.TargetType == "instance" || tg.Protocol == "UDP" || tg.Protocol == "TCP_UDP" {
		preserve = "true"
	}
	m["stickiness.type"] = "source_ip"
	m["deregistration_delay.connection_termination.enabled"] = "false"
	m["preserve_client_ip.enabled"] = preserve
	m["proxy_protocol_v2.enabled"] = "false"
	m["target_health_state.unhealthy.connection_termination.enabled"] = "true"
	m["target_health_state.unhealthy.draining_interval_seconds"] = "0"
	m["target_group_health.dns_failover.minimum_healthy_targets.count"] = "1"
	m["target_group_health.dns_failover.minimum_healthy_targets.percentage"] = "off"
	m["target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"] = "1"
	m["target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"] = "off"
	return m
}

// TargetGroupAttributes returns a target group's attributes with defaults
// filled in (the data plane reads proxy_protocol_v2, deregistration delay).
func TargetGroupAttributes(tg *cloud.TargetGroup) map[string]string {
	return withDefaults(defaultTGAttributes(tg), tg.Attributes)
}

// CreateTargetGroup creates a target group for network or gateway load
// balancers. A repeated call with the same name and settings returns the
// existing group.
func (cp *ControlPlane) CreateTargetGroup(ctx context.Context, c *Call, in CreateTargetGroupInput) (*cloud.TargetGroup, error) {
	if err := validElbName("Target group", in.Name); err != nil {
		return nil, err
	}
	targetType := in.TargetType
	switch targetType {
	case "":
		targetType = "instance"
	case "instance", "ip":
	case "lambda", "alb":
		return nil, elbValidation("privlink models network and gateway target groups only; target type '%s' is not supported", targetType)
	default:
		return nil, elbValidation("1 validation error detected: Value '%s' at 'targetType' failed to satisfy constraint: Member must satisfy enum value set: [instance, ip, lambda, alb]", targetType)
	}
	switch in.Protocol {
	case "TCP", "UDP", "TCP_UDP", "TLS", "GENEVE":
	case "":
		return nil, elbValidation("A protocol must be specified")
	case "HTTP", "HTTPS", "QUIC", "TCP_QUIC":
		return nil, elbValidation("privlink models network and gateway target groups only; protocol '%s' is not supported", in.Protocol)
	default:
		return nil, elbValidation("1 validation error detected: Value '%s' at 'protocol' failed to satisfy constraint: Member must satisfy enum value set: [HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP, GENEVE, QUIC, TCP_QUIC]", in.Protocol)
	}
	if in.ProtocolVersion != "" {
		return nil, elbValidation("A protocol version can only be specified for HTTP and HTTPS target groups")
	}
	if in.Port == nil {
		return nil, elbValidation("A port must be specified")
	}
	if *in.Port < 1 || *in.Port > 65535 {
		return nil, rangeError("port", *in.Port, 1, 65535)
	}
	if isGeneve(in.Protocol) && *in.Port != 6081 {
		return nil, elbValidation("Port '%d' is not supported for the GENEVE protocol; the supported port is 6081", *in.Port)
	}
	if in.VpcID == "" {
		return nil, elbValidation("A VPC ID must be specified")
	}
	switch in.IPAddressType {
	case "", "ipv4":
	case "ipv6":
		return nil, elbValidation("privlink models IPv4 target groups only")
	default:
		return nil, elbValidation("1 validation error detected: Value '%s' at 'ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: [ipv4, ipv6]", in.IPAddressType)
	}
	hc, err := resolveHealthCheck(in.Protocol, targetType, cloud.HealthCheck{}, in.HealthCheck, true)
	if err != nil {
		return nil, err
	}
	if err := validElbTags(in.Tags); err != nil {
		return nil, err
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, elbARN(c, "targetgroup/"+in.Name+"/*")); err != nil {
		return nil, err
	}
	var tg *cloud.TargetGroup
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if getOwned[cloud.Vpc](tx, c, cloud.KindVpc, in.VpcID) == nil {
			return elbValidation("The VPC ID '%s' is not found", in.VpcID)
		}
		if existing := tgByName(tx, c, in.Name); existing != nil {
			if existing.Protocol == in.Protocol && existing.Port == *in.Port && existing.VpcID == in.VpcID &&
				existing.TargetType == targetType && existing.HealthCheck == hc && len(in.Tags) == 0 {
				tg = existing
				return nil
			}
			return cloud.Errorf("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", in.Name)
		}
		if tx.Count(cloud.KindTargetGroup) > 0 && len(listOwned[cloud.TargetGroup](tx, c, cloud.KindTargetGroup, nil)) >= maxTargetGroups {
			return cloud.Errorf("TooManyTargetGroups", "You've reached the limit on the number of target groups for your account in this Region (%d)", maxTargetGroups)
		}
		id := in.Name + "/" + cloud.RandomToken(16)
		tg = &cloud.TargetGroup{
			Meta:        cp.newMeta(c, id, in.Tags),
			ARN:         elbARN(c, "targetgroup/"+id),
			Name:        in.Name,
			Protocol:    in.Protocol,
			Port:        *in.Port,
			VpcID:       in.VpcID,
			TargetType:  targetType,
			HealthCheck: hc,
		}
		tg.Attributes = defaultTGAttributes(tg)
		tx.Put(cloud.KindTargetGroup, id, tg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tg, nil
}

func tgByName(tx *store.Tx, c *Call, name string) *cloud.TargetGroup {
	found := listOwned[cloud.TargetGroup](tx, c, cloud.KindTargetGroup, func(tg *cloud.TargetGroup) bool { return tg.Name == name })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

// tgByARN returns the caller's target group with arn or TargetGroupNotFound.
func tgByARN(tx *store.Tx, c *Call, arn string) (*cloud.TargetGroup, error) {
	if arn == "" {
		return nil, elbMissing("targetGroupArn")
	}
	id, ok, err := elbResourceID(c, arn, "targetgroup", "target group")
	if err != nil {
		return nil, err
	}
	if ok {
		if tg := getOwned[cloud.TargetGroup](tx, c, cloud.KindTargetGroup, id); tg != nil {
			return tg, nil
		}
	}
	return nil, cloud.Errorf("TargetGroupNotFound", "Target groups '%s' not found", arn)
}

// TargetGroupByARN finds any account's target group by ARN (controllers).
func TargetGroupByARN(tx *store.Tx, arn string) (*cloud.TargetGroup, bool) {
	a, err := cloud.ParseARN(arn)
	if err != nil || a.Service != "elasticloadbalancing" || !strings.HasPrefix(a.Resource, "targetgroup/") {
		return nil, false
	}
	tg, ok := store.Get[cloud.TargetGroup](tx, cloud.KindTargetGroup, strings.TrimPrefix(a.Resource, "targetgroup/"))
	if !ok || tg.ARN != arn {
		return nil, false
	}
	return tg, true
}

// DescribeTargetGroupsInput is DescribeTargetGroups' parameters.
type DescribeTargetGroupsInput struct {
	LoadBalancerARN string
	ARNs            []string
	Names           []string
	Marker          string
	PageSize        *int
}

// DescribeTargetGroups lists the caller's target groups: all, the ones
// named, or those a load balancer forwards to.
func (cp *ControlPlane) DescribeTargetGroups(ctx context.Context, c *Call, in DescribeTargetGroupsInput) ([]*cloud.TargetGroup, string, error) {
	n := 0
	for _, given := range []bool{in.LoadBalancerARN != "", len(in.ARNs) > 0, len(in.Names) > 0} {
		if given {
			n++
		}
	}
	if n > 1 {
		return nil, "", elbValidation("Only one of LoadBalancerArn, TargetGroupArns or Names can be specified")
	}
	if err := cp.authorize(ctx, c, "*"); err != nil {
		return nil, "", err
	}
	var items []*cloud.TargetGroup
	err := cp.db.View(func(tx *store.Tx) error {
		var keep func(*cloud.TargetGroup) bool
		switch {
		case in.LoadBalancerARN != "":
			lb, err := lbByARN(tx, c, in.LoadBalancerARN)
			if err != nil {
				return err
			}
			keep = func(tg *cloud.TargetGroup) bool { return contains1(tg.LoadBalancerARNs, lb.ARN) }
		case len(in.ARNs) > 0:
			want := map[string]bool{}
			for _, arn := range in.ARNs {
				tg, err := tgByARN(tx, c, arn)
				if err != nil {
					return err
				}
				want[tg.ID] = true
			}
			keep = func(tg *cloud.TargetGroup) bool { return want[tg.ID] }
		case len(in.Names) > 0:
			want := map[string]bool{}
			for _, name := range in.Names {
				tg := tgByName(tx, c, name)
				if tg == nil {
					return cloud.Errorf("TargetGroupNotFound", "One or more target groups not found")
				}
				want[tg.ID] = true
			}
			keep = func(tg *cloud.TargetGroup) bool { return want[tg.ID] }
		}
		items = listOwned[cloud.TargetGroup](tx, c, cloud.KindTargetGroup, keep)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return elbPage(items, func(tg *cloud.TargetGroup) string { return tg.ID }, in.Marker, in.PageSize)
}

// DeleteTargetGroup deletes a target group no listener uses. As in AWS,
// deleting one that does not exist succeeds.
func (cp *ControlPlane) DeleteTargetGroup(ctx context.Context, c *Call, arn string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if e, ok := cloud.AsError(err); ok && e.Code == "TargetGroupNotFound" {
			return cp.authorize(ctx, c, arn)
		}
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		if len(listenersForwardingTo(tx, tg.ARN)) > 0 {
			return cloud.Errorf("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", tg.ARN)
		}
		tx.Delete(cloud.KindTargetGroup, tg.ID)
		return nil
	})
}

// ModifyTargetGroup changes a target group's health-check settings.
func (cp *ControlPlane) ModifyTargetGroup(ctx context.Context, c *Call, arn string, in HealthCheckInput) (*cloud.TargetGroup, error) {
	var out *cloud.TargetGroup
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		hc, err := resolveHealthCheck(tg.Protocol, tg.TargetType, tg.HealthCheck, in, false)
		if err != nil {
			return err
		}
		n := store.Clone(tg)
		n.HealthCheck = hc
		tx.Put(cloud.KindTargetGroup, n.ID, n)
		out = n
		return nil
	})
	return out, err
}

// DescribeTargetGroupAttributes returns a target group's attributes.
func (cp *ControlPlane) DescribeTargetGroupAttributes(ctx context.Context, c *Call, arn string) ([]LoadBalancerAttribute, error) {
	var out []LoadBalancerAttribute
	err := cp.db.View(func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		out = sortedAttributes(TargetGroupAttributes(tg))
		return nil
	})
	return out, err
}

// ModifyTargetGroupAttributes changes attributes and returns all of them.
func (cp *ControlPlane) ModifyTargetGroupAttributes(ctx context.Context, c *Call, arn string, changes []LoadBalancerAttribute) ([]LoadBalancerAttribute, error) {
	var out []LoadBalancerAttribute
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		tg, err := tgByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, tg.ARN); err != nil {
			return err
		}
		attrs, err := applyAttributes(tgAttributeChecks(tg), TargetGroupAttributes(tg), changes, "Target group")
		if err != nil {
			return err
		}
		n := store.Clone(tg)
		n.Attributes = attrs
		tx.Put(cloud.KindTargetGroup, n.ID, n)
		out = sortedAttributes(attrs)
		return nil
	})
	return out, err
}

// sortTargets keeps a target group's targets in a stable order.
func sortTargets(ts []cloud.Target) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].ID != ts[j].ID {
			return ts[i].ID < ts[j].ID
		}
		return ts[i].Port < ts[j].Port
	})
}
