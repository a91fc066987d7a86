package cloud

// Store kinds of PrivateLink resources.
const (
	KindVpcEndpoint            = "vpc-endpoint"
	KindVpcEndpointService     = "vpc-endpoint-service"
	KindConnectionNotification = "vpc-endpoint-connection-notification"
	KindEndpointEvent          = "vpc-endpoint-event"
)

// Endpoint types.
const (
	EndpointInterface           = "Interface"
	EndpointGateway             = "Gateway"
	EndpointGatewayLoadBalancer = "GatewayLoadBalancer"
)

// Endpoint states, as DescribeVpcEndpoints reports them.
const (
	StatePendingAcceptance = "pendingAcceptance"
	StatePending           = "pending"
	StateAvailable         = "available"
	StateRejected          = "rejected"
	StateDeleting          = "deleting"
	StateDeleted           = "deleted"
	StateFailed            = "failed"
	StateExpired           = "expired"
)

// DNSEntry is one DNS name of an interface endpoint.
type DNSEntry struct {
	DNSName      string `json:"name"`
	HostedZoneID string `json:"zone"`
}

// VpcEndpoint is a consumer's VPC endpoint (interface, gateway or GWLB).
type VpcEndpoint struct {
	Meta
	Type                string     `json:"type"`
	VpcID               string     `json:"vpc"`
	ServiceName         string     `json:"service"`
	ServiceID           string     `json:"serviceId,omitempty"` // vpce-svc-… for custom services
	State               string     `json:"state"`
	StateReason         string     `json:"stateReason,omitempty"`
	PolicyDocument      string     `json:"policy,omitempty"`
	RouteTableIDs       []string   `json:"rtbs,omitempty"`
	SubnetIDs           []string   `json:"subnets,omitempty"`
	SecurityGroupIDs    []string   `json:"groups,omitempty"`
	NetworkInterfaceIDs []string   `json:"enis,omitempty"`
	PrivateDNSEnabled   bool       `json:"privateDns"`
	DNSRecordIPType     string     `json:"dnsRecordIpType,omitempty"`
	IPAddressType       string     `json:"ipType"`
	DNSEntries          []DNSEntry `json:"dns,omitempty"`
	// DNSSuffix is the 8-character token of the endpoint's DNS names.
	DNSSuffix         string `json:"dnsSuffix,omitempty"`
	RequesterManaged  bool   `json:"requesterManaged,omitempty"`
	ClientToken       string `json:"clientToken,omitempty"`
	DeletedAt         string `json:"deletedAt,omitempty"`
	LastErrorCode     string `json:"lastErrorCode,omitempty"`
	LastErrorMessage  string `json:"lastErrorMessage,omitempty"`
	ConnectionEventAt string `json:"connectionEventAt,omitempty"`
}

// PrivateDNSNameConfiguration is the verification state of a service's
// private DNS name.
type PrivateDNSNameConfiguration struct {
	State string `json:"state"` // pendingVerification, verified, failed
	Type  string `json:"type"`  // TXT
	Value string `json:"value"`
	Name  string `json:"name"`
}

// VpcEndpointService is a provider's endpoint service configuration.
type VpcEndpointService struct {
	Meta
	ServiceName             string                       `json:"name"`
	ServiceType             string                       `json:"type"`  // Interface, GatewayLoadBalancer
	ServiceState            string                       `json:"state"` // Pending, Available, Deleting, Deleted, Failed
	AcceptanceRequired      bool                         `json:"acceptance"`
	ManagesVpcEndpoints     bool                         `json:"managesEndpoints,omitempty"`
	NetworkLoadBalancerARNs []string                     `json:"nlbs,omitempty"`
	GatewayLoadBalancerARNs []string                     `json:"gwlbs,omitempty"`
	SupportedIPAddressTypes []string                     `json:"ipTypes"`
	SupportedRegions        []string                     `json:"regions,omitempty"`
	AvailabilityZones       []string                     `json:"azs"`
	BaseEndpointDNSNames    []string                     `json:"baseDns"`
	PrivateDNSName          string                       `json:"privateDns,omitempty"`
	PrivateDNSNameConfig    *PrivateDNSNameConfiguration `json:"privateDnsConfig,omitempty"`
	AllowedPrincipals       []AllowedPrincipal           `json:"principals,omitempty"`
	PayerResponsibility     string                       `json:"payer"`
}

// AllowedPrincipal is one entry of a service's permissions.
type AllowedPrincipal struct {
	Principal     string `json:"principal"` // ARN or "*"
	PrincipalType string `json:"type"`      // All, Service, OrganizationUnit, Account, User, Role
	ID            string `json:"id"`        // vpce-svc-perm-…
	Tags          Tags   `json:"tags,omitempty"`
}

// ConnectionNotification sends endpoint events of a service or an endpoint
// to a destination.
type ConnectionNotification struct {
	Meta
	ServiceID     string   `json:"service,omitempty"`
	VpcEndpointID string   `json:"endpoint,omitempty"`
	ARN           string   `json:"arn"` // the destination (see README)
	Events        []string `json:"events"`
	State         string   `json:"state"` // Enabled, Disabled
	Type          string   `json:"type"`  // Topic
}

// EndpointEvent is a recorded connection event (Connect, Accept, Reject,
// Delete) awaiting or after delivery.
type EndpointEvent struct {
	Meta
	NotificationID string `json:"notification"`
	Event          string `json:"event"`
	ServiceID      string `json:"service"`
	VpcEndpointID  string `json:"endpoint"`
	EndpointOwner  string `json:"endpointOwner"`
	State          string `json:"endpointState"`
	Delivered      bool   `json:"delivered"`
	Attempts       int    `json:"attempts"`
	LastError      string `json:"lastError,omitempty"`
}
