package cloud

// Store kinds of the ELBv2 resources.
const (
	KindLoadBalancer = "load-balancer"
	KindTargetGroup  = "target-group"
	KindListener     = "listener"
)

// LoadBalancerAZ is one zone of a load balancer: its subnet and the
// requester-managed interface that carries its traffic there.
type LoadBalancerAZ struct {
	ZoneName           string `json:"zone"`
	ZoneID             string `json:"zoneId"`
	SubnetID           string `json:"subnet"`
	NetworkInterfaceID string `json:"eni"`
	PrivateIPv4Address string `json:"ip"`
}

// LoadBalancer is a network or gateway load balancer. Meta.ID is the ARN's
// final segment ("net/<name>/<16 hex>"); ARN holds the full ARN.
type LoadBalancer struct {
	Meta
	ARN               string            `json:"arn"`
	Name              string            `json:"name"`
	Type              string            `json:"type"`   // network, gateway
	Scheme            string            `json:"scheme"` // internal, internet-facing
	VpcID             string            `json:"vpc"`
	State             string            `json:"state"` // provisioning, active, failed
	StateReason       string            `json:"stateReason,omitempty"`
	DNSName           string            `json:"dns"`
	IPAddressType     string            `json:"ipType"`
	AZs               []LoadBalancerAZ  `json:"azs"`
	SecurityGroupIDs  []string          `json:"groups,omitempty"`
	Attributes        map[string]string `json:"attrs,omitempty"`
	CanonicalHostedZn string            `json:"hostedZone"`
}

// TargetHealth is the observed health of a registered target, written by
// the health-check controller (never assumed healthy).
type TargetHealth struct {
	State       string `json:"state"` // initial, healthy, unhealthy, unused, draining, unavailable
	Reason      string `json:"reason,omitempty"`
	Description string `json:"desc,omitempty"`
}

// Target is a registered target of a target group.
type Target struct {
	ID               string       `json:"id"` // instance ID or IP address
	Port             int          `json:"port"`
	AvailabilityZone string       `json:"az,omitempty"`
	Health           TargetHealth `json:"health"`
	// DrainingSince is set while a deregistered target drains.
	DrainingSince string `json:"drainingSince,omitempty"`
}

// HealthCheck is a target group's health-check configuration.
type HealthCheck struct {
	Enabled            bool   `json:"enabled"`
	Protocol           string `json:"protocol"`
	Port               string `json:"port"` // "traffic-port" or a number
	Path               string `json:"path,omitempty"`
	Matcher            string `json:"matcher,omitempty"`
	IntervalSeconds    int    `json:"interval"`
	TimeoutSeconds     int    `json:"timeout"`
	HealthyThreshold   int    `json:"healthy"`
	UnhealthyThreshold int    `json:"unhealthy"`
}

// TargetGroup is a target group.
type TargetGroup struct {
	Meta
	ARN              string            `json:"arn"`
	Name             string            `json:"name"`
	Protocol         string            `json:"protocol"` // TCP, UDP, TCP_UDP, TLS, GENEVE
	Port             int               `json:"port"`
	VpcID            string            `json:"vpc"`
	TargetType       string            `json:"targetType"` // instance, ip
	HealthCheck      HealthCheck       `json:"healthCheck"`
	Attributes       map[string]string `json:"attrs,omitempty"`
	Targets          []Target          `json:"targets,omitempty"`
	LoadBalancerARNs []string          `json:"lbs,omitempty"`
}

// Listener forwards a load balancer's port to a target group.
type Listener struct {
	Meta
	ARN             string `json:"arn"`
	LoadBalancerARN string `json:"lb"`
	Port            int    `json:"port"`
	Protocol        string `json:"protocol"`
	TargetGroupARN  string `json:"tg"` // default forward action
}
