package controlplane

import (
	"context"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// maxListenersPerLB is the ELBv2 quota of listeners per network load balancer.
const maxListenersPerLB = 50

// ListenerAction is one DefaultActions entry.
type ListenerAction struct {
	Type           string
	TargetGroupARN string
	// ForwardTargetGroups are ForwardConfig.TargetGroups' ARNs.
	ForwardTargetGroups []string
}

// CreateListenerInput is CreateListener's parameters.
type CreateListenerInput struct {
	LoadBalancerARN string
	Protocol        string
	Port            *int
	DefaultActions  []ListenerAction
	Certificates    []string
	SslPolicy       string
	AlpnPolicy      []string
	Tags            cloud.Tags
}

// ModifyListenerInput is ModifyListener's parameters ("" / nil: unchanged).
type ModifyListenerInput struct {
	ListenerARN    string
	Protocol       string
	Port           *int
	DefaultActions []ListenerAction
	Certificates   []string
	SslPolicy      string
	AlpnPolicy     []string
}

// forwardTarget returns the single target group a default action list
// forwards to: network and gateway load balancers forward, to one group.
func forwardTarget(actions []ListenerAction, lbType string) (string, error) {
	if len(actions) == 0 {
		return "", elbMissing("defaultActions")
	}
	if len(actions) > 1 {
		return "", cloud.Errorf("InvalidLoadBalancerAction", "Load balancers of type '%s' support exactly one default action", lbType)
	}
	a := actions[0]
	if a.Type == "" {
		return "", elbMissing("defaultActions.member.1.type")
	}
	if a.Type != "forward" {
		return "", cloud.Errorf("InvalidLoadBalancerAction", "The action type '%s' is not supported by load balancers of type '%s'", a.Type, lbType)
	}
	arn := a.TargetGroupARN
	switch {
	case len(a.ForwardTargetGroups) > 1:
		return "", cloud.Errorf("InvalidLoadBalancerAction", "Load balancers of type '%s' can forward to only one target group", lbType)
	case len(a.ForwardTargetGroups) == 1 && arn != "" && arn != a.ForwardTargetGroups[0]:
		return "", cloud.Errorf("InvalidLoadBalancerAction", "TargetGroupArn and ForwardConfig must name the same target group")
	case len(a.ForwardTargetGroups) == 1:
		arn = a.ForwardTargetGroups[0]
	}
	if arn == "" {
		return "", cloud.Errorf("InvalidLoadBalancerAction", "A forward action must name a target group")
	}
	return arn, nil
}

// transports maps a listener protocol to the transports it listens on.
func transports(protocol string) []string {
	switch protocol {
	case "TCP", "TLS":
		return []string{"tcp"}
	case "UDP":
		return []string{"udp"}
	case "TCP_UDP":
		return []string{"tcp", "udp"}
	}
	return nil
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if contains1(b, x) {
			return true
		}
	}
	return false
}

// compatibleTG reports whether a network listener protocol may forward to a
// target group protocol.
func compatibleTG(listener, tg string) bool {
	switch listener {
	case "TCP":
		return tg == "TCP" || tg == "TCP_UDP"
	case "UDP":
		return tg == "UDP" || tg == "TCP_UDP"
	case "TCP_UDP":
		return tg == "TCP_UDP"
	case "TLS":
		return tg == "TCP" || tg == "TLS"
	}
	return false
}

// listenerSettings validates protocol and port for the load balancer type
// and returns the stored values (gateway listeners have neither).
func listenerSettings(lb *cloud.LoadBalancer, protocol string, port *int, certs []string, sslPolicy string, alpn []string) (string, int, error) {
	if lb.Type == LBTypeGateway {
		if protocol != "" && protocol != "GENEVE" {
			return "", 0, elbValidation("A protocol cannot be specified for listeners of Gateway Load Balancers")
		}
		if port != nil {
			return "", 0, elbValidation("A port cannot be specified for listeners of Gateway Load Balancers")
		}
		if len(certs) > 0 || sslPolicy != "" || len(alpn) > 0 {
			return "", 0, elbValidation("Certificates, SSL policies and ALPN policies cannot be specified for listeners of Gateway Load Balancers")
		}
		return "", 0, nil
	}
	switch protocol {
	case "TCP", "UDP", "TCP_UDP":
	case "":
		return "", 0, elbValidation("A listener protocol must be specified")
	case "TLS":
		return "", 0, cloud.Errorf("UnsupportedProtocol", "privlink does not terminate TLS: use a TCP listener and terminate TLS on the targets")
	default:
		return "", 0, cloud.Errorf("UnsupportedProtocol", "Protocol '%s' is not supported for load balancers of type 'network'", protocol)
	}
	if len(certs) > 0 || sslPolicy != "" {
		return "", 0, elbValidation("Certificates and SSL policies can only be specified for TLS listeners")
	}
	if len(alpn) > 0 {
		return "", 0, cloud.Errorf("ALPNPolicyNotFound", "ALPN policies can only be specified for TLS listeners")
	}
	if port == nil {
		return "", 0, elbValidation("A listener port must be specified")
	}
	if *port < 1 || *port > 65535 {
		return "", 0, rangeError("port", *port, 1, 65535)
	}
	return protocol, *port, nil
}

// checkListener applies the listener rules of a load balancer: the target
// group's protocol, VPC and association, and the uniqueness of port and
// protocol. self is the listener being modified (nil on create). It returns
// an existing identical listener, if any, for idempotent creates.
func checkListener(tx *store.Tx, c *Call, lb *cloud.LoadBalancer, self *cloud.Listener, protocol string, port int, tgARN string) (*cloud.Listener, error) {
	tg, err := tgByARN(tx, c, tgARN)
	if err != nil {
		return nil, err
	}
	switch {
	case lb.Type == LBTypeGateway && !isGeneve(tg.Protocol):
		return nil, cloud.Errorf("IncompatibleProtocols", "Gateway Load Balancers can forward only to GENEVE target groups; '%s' uses %s", tg.ARN, tg.Protocol)
	case lb.Type == LBTypeNetwork && !compatibleTG(protocol, tg.Protocol):
		return nil, cloud.Errorf("IncompatibleProtocols", "Listener protocol '%s' is not supported with a target group with the protocol '%s'", protocol, tg.Protocol)
	case tg.VpcID != lb.VpcID:
		return nil, cloud.Errorf("InvalidConfigurationRequest", "The target group '%s' is in VPC '%s' and the load balancer '%s' in VPC '%s'; they must be in the same VPC", tg.ARN, tg.VpcID, lb.ARN, lb.VpcID)
	}
	for _, other := range tg.LoadBalancerARNs {
		if other != lb.ARN {
			return nil, cloud.Errorf("TargetGroupAssociationLimit", "The following target groups cannot be associated with more than one load balancer: %s", tg.ARN)
		}
	}
	siblings := listenersOf(tx, lb.ARN)
	for _, l := range siblings {
		if self != nil && l.ID == self.ID {
			continue
		}
		if lb.Type == LBTypeGateway {
			if self == nil && l.TargetGroupARN == tgARN {
				return l, nil
			}
			return nil, cloud.Errorf("DuplicateListener", "A Gateway Load Balancer can have only one listener, and '%s' has one", lb.ARN)
		}
		if l.Port == port && overlap(transports(l.Protocol), transports(protocol)) {
			if self == nil && l.Protocol == protocol && l.TargetGroupARN == tgARN {
				return l, nil
			}
			return nil, cloud.Errorf("DuplicateListener", "A listener already exists on this port for this load balancer '%s'", lb.ARN)
		}
	}
	if self == nil && len(siblings) >= maxListenersPerLB {
		return nil, cloud.Errorf("TooManyListeners", "You've reached the limit on the number of listeners per load balancer (%d)", maxListenersPerLB)
	}
	return nil, nil
}

// CreateListener adds a listener that forwards to one target group and
// attaches that group to the load balancer (its unused targets start
// registering). A repeated identical call returns the existing listener.
func (cp *ControlPlane) CreateListener(ctx context.Context, c *Call, in CreateListenerInput) (*cloud.Listener, error) {
	if in.LoadBalancerARN == "" {
		return nil, elbMissing("loadBalancerArn")
	}
	if err := validElbTags(in.Tags); err != nil {
		return nil, err
	}
	var out *cloud.Listener
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		lb, err := lbByARN(tx, c, in.LoadBalancerARN)
		if err != nil {
			return err
		}
		protocol, port, err := listenerSettings(lb, in.Protocol, in.Port, in.Certificates, in.SslPolicy, in.AlpnPolicy)
		if err != nil {
			return err
		}
		tgARN, err := forwardTarget(in.DefaultActions, lb.Type)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, elbARN(c, "listener/"+lb.ID+"/*")); err != nil {
			return err
		}
		same, err := checkListener(tx, c, lb, nil, protocol, port, tgARN)
		if err != nil {
			return err
		}
		if same != nil {
			out = same
			return nil
		}
		id := lb.ID + "/" + cloud.RandomToken(16)
		out = &cloud.Listener{
			Meta:            cp.newMeta(c, id, in.Tags),
			ARN:             elbARN(c, "listener/"+id),
			LoadBalancerARN: lb.ARN,
			Port:            port,
			Protocol:        protocol,
			TargetGroupARN:  tgARN,
		}
		tx.Put(cloud.KindListener, id, out)
		syncAttachment(tx, tgARN)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listenersOf lists a load balancer's listeners.
func listenersOf(tx *store.Tx, lbARN string) []*cloud.Listener {
	return store.List[cloud.Listener](tx, cloud.KindListener, func(l *cloud.Listener) bool { return l.LoadBalancerARN == lbARN })
}

// listenersForwardingTo lists the listeners whose default action uses a target group.
func listenersForwardingTo(tx *store.Tx, tgARN string) []*cloud.Listener {
	return store.List[cloud.Listener](tx, cloud.KindListener, func(l *cloud.Listener) bool { return l.TargetGroupARN == tgARN })
}

// syncAttachment recomputes a target group's load balancers from the
// listeners that forward to it and moves its targets' states accordingly.
func syncAttachment(tx *store.Tx, tgARN string) {
	tg, ok := TargetGroupByARN(tx, tgARN)
	if !ok {
		return
	}
	var lbs []string
	for _, l := range listenersForwardingTo(tx, tgARN) {
		lbs = append(lbs, l.LoadBalancerARN)
	}
	lbs = uniqueSorted(lbs)
	if strings.Join(lbs, ",") == strings.Join(tg.LoadBalancerARNs, ",") {
		return
	}
	n := store.Clone(tg)
	n.LoadBalancerARNs = lbs
	n.Targets = append([]cloud.Target(nil), tg.Targets...)
	refreshTargets(tx, n)
	tx.Put(cloud.KindTargetGroup, n.ID, n)
}

// listenerByARN returns the caller's listener or ListenerNotFound.
func listenerByARN(tx *store.Tx, c *Call, arn string) (*cloud.Listener, error) {
	if arn == "" {
		return nil, elbMissing("listenerArn")
	}
	id, ok, err := elbResourceID(c, arn, "listener", "listener")
	if err != nil {
		return nil, err
	}
	if ok {
		if l := getOwned[cloud.Listener](tx, c, cloud.KindListener, id); l != nil {
			return l, nil
		}
	}
	return nil, cloud.Errorf("ListenerNotFound", "One or more listeners not found")
}

// DescribeListenersInput is DescribeListeners' parameters.
type DescribeListenersInput struct {
	LoadBalancerARN string
	ARNs            []string
	Marker          string
	PageSize        *int
}

// DescribeListeners lists a load balancer's listeners, or the ones named.
func (cp *ControlPlane) DescribeListeners(ctx context.Context, c *Call, in DescribeListenersInput) ([]*cloud.Listener, string, error) {
	if (in.LoadBalancerARN == "") == (len(in.ARNs) == 0) {
		return nil, "", elbValidation("You must specify either a load balancer ARN or one or more listener ARNs, but not both")
	}
	if err := cp.authorize(ctx, c, "*"); err != nil {
		return nil, "", err
	}
	var items []*cloud.Listener
	err := cp.db.View(func(tx *store.Tx) error {
		if in.LoadBalancerARN != "" {
			lb, err := lbByARN(tx, c, in.LoadBalancerARN)
			if err != nil {
				return err
			}
			items = listenersOf(tx, lb.ARN)
			return nil
		}
		want := map[string]bool{}
		for _, arn := range in.ARNs {
			l, err := listenerByARN(tx, c, arn)
			if err != nil {
				return err
			}
			want[l.ID] = true
		}
		items = listOwned[cloud.Listener](tx, c, cloud.KindListener, func(l *cloud.Listener) bool { return want[l.ID] })
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return elbPage(items, func(l *cloud.Listener) string { return l.ID }, in.Marker, in.PageSize)
}

// DeleteListener deletes a listener; a target group no other listener of
// the load balancer uses is detached and its targets become unused.
func (cp *ControlPlane) DeleteListener(ctx context.Context, c *Call, arn string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		l, err := listenerByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, l.ARN); err != nil {
			return err
		}
		tx.Delete(cloud.KindListener, l.ID)
		syncAttachment(tx, l.TargetGroupARN)
		return nil
	})
}

// ModifyListener changes a listener's port, protocol or default action.
func (cp *ControlPlane) ModifyListener(ctx context.Context, c *Call, in ModifyListenerInput) (*cloud.Listener, error) {
	var out *cloud.Listener
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		l, err := listenerByARN(tx, c, in.ListenerARN)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, l.ARN); err != nil {
			return err
		}
		lb, ok := LoadBalancerByARN(tx, l.LoadBalancerARN)
		if !ok {
			return cloud.Errorf("LoadBalancerNotFound", "Load balancer '%s' not found", l.LoadBalancerARN)
		}
		protocol, port := in.Protocol, in.Port
		if lb.Type == LBTypeNetwork {
			if protocol == "" {
				protocol = l.Protocol
			}
			if port == nil {
				p := l.Port
				port = &p
			}
		}
		protocol, portN, err := listenerSettings(lb, protocol, port, in.Certificates, in.SslPolicy, in.AlpnPolicy)
		if err != nil {
			return err
		}
		tgARN := l.TargetGroupARN
		if len(in.DefaultActions) > 0 {
			if tgARN, err = forwardTarget(in.DefaultActions, lb.Type); err != nil {
				return err
			}
		}
		if _, err := checkListener(tx, c, lb, l, protocol, portN, tgARN); err != nil {
			return err
		}
		n := store.Clone(l)
		n.Protocol, n.Port, n.TargetGroupARN = protocol, portN, tgARN
		tx.Put(cloud.KindListener, n.ID, n)
		syncAttachment(tx, l.TargetGroupARN)
		syncAttachment(tx, tgARN)
		out = n
		return nil
	})
	return out, err
}

// ResourceTags is one TagDescriptions entry of DescribeTags.
type ResourceTags struct {
	ARN  string
	Tags cloud.Tags
}

// elbTaggable finds the caller's load balancer, target group or listener
// by ARN and returns it with its store kind.
func elbTaggable(tx *store.Tx, c *Call, arn string) (cloud.Resource, string, error) {
	a, err := cloud.ParseARN(arn)
	if err != nil || a.Service != "elasticloadbalancing" {
		return nil, "", elbValidation("'%s' is not a valid resource ARN", arn)
	}
	switch kind, _, _ := strings.Cut(a.Resource, "/"); kind {
	case "loadbalancer":
		lb, err := lbByARN(tx, c, arn)
		return lb, cloud.KindLoadBalancer, err
	case "targetgroup":
		tg, err := tgByARN(tx, c, arn)
		return tg, cloud.KindTargetGroup, err
	case "listener":
		l, err := listenerByARN(tx, c, arn)
		return l, cloud.KindListener, err
	}
	return nil, "", elbValidation("Tagging '%s' is not supported by privlink: only load balancers, target groups and listeners are modelled", arn)
}

func checkResourceARNs(arns []string) error {
	if len(arns) == 0 {
		return elbMissing("resourceArns")
	}
	if len(arns) > 20 {
		return elbValidation("You can specify at most 20 resource ARNs")
	}
	return nil
}

// AddElbTags adds or overwrites tags on ELBv2 resources (all or nothing).
func (cp *ControlPlane) AddElbTags(ctx context.Context, c *Call, arns []string, tags cloud.Tags) error {
	if err := checkResourceARNs(arns); err != nil {
		return err
	}
	if len(tags) == 0 {
		return elbMissing("tags")
	}
	if err := validElbTags(tags); err != nil {
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		for _, arn := range arns {
			r, kind, err := elbTaggable(tx, c, arn)
			if err != nil {
				return err
			}
			if err := cp.authorize(ctx, c, arn); err != nil {
				return err
			}
			merged, err := mergeTags(r.Base().Tags, tags)
			if err != nil || len(merged) > maxElbTags {
				return cloud.Errorf("TooManyTags", "The quota for the number of tags that can be assigned to '%s' has been reached", arn)
			}
			tx.Put(kind, r.Base().ID, withTags(r, merged))
		}
		return nil
	})
}

// RemoveElbTags removes tag keys from ELBv2 resources.
func (cp *ControlPlane) RemoveElbTags(ctx context.Context, c *Call, arns, keys []string) error {
	if err := checkResourceARNs(arns); err != nil {
		return err
	}
	if len(keys) == 0 {
		return elbMissing("tagKeys")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		for _, arn := range arns {
			r, kind, err := elbTaggable(tx, c, arn)
			if err != nil {
				return err
			}
			if err := cp.authorize(ctx, c, arn); err != nil {
				return err
			}
			var kept cloud.Tags
			for _, t := range r.Base().Tags {
				if !contains1(keys, t.Key) {
					kept = append(kept, t)
				}
			}
			tx.Put(kind, r.Base().ID, withTags(r, kept))
		}
		return nil
	})
}

// DescribeElbTags returns the tags of ELBv2 resources.
func (cp *ControlPlane) DescribeElbTags(ctx context.Context, c *Call, arns []string) ([]ResourceTags, error) {
	if err := checkResourceARNs(arns); err != nil {
		return nil, err
	}
	var out []ResourceTags
	err := cp.db.View(func(tx *store.Tx) error {
		for _, arn := range arns {
			r, _, err := elbTaggable(tx, c, arn)
			if err != nil {
				return err
			}
			if err := cp.authorize(ctx, c, arn); err != nil {
				return err
			}
			out = append(out, ResourceTags{ARN: arn, Tags: r.Base().Tags})
		}
		return nil
	})
	return out, err
}
