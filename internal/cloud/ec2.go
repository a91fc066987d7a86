package cloud

// Store kinds of the EC2 networking resources.
const (
	KindVpc              = "vpc"
	KindSubnet           = "subnet"
	KindSecurityGroup    = "security-group"
	KindNetworkAcl       = "network-acl"
	KindRouteTable       = "route-table"
	KindInternetGateway  = "internet-gateway"
	KindPrefixList       = "prefix-list"
	KindInstance         = "instance"
	KindNetworkInterface = "network-interface"
	KindClientToken      = "client-token"
)

// Vpc is a virtual private cloud.
type Vpc struct {
	Meta
	CidrBlock              string `json:"cidr"`
	CidrAssociationID      string `json:"cidrAssoc"`
	State                  string `json:"state"`
	IsDefault              bool   `json:"default,omitempty"`
	InstanceTenancy        string `json:"tenancy"`
	EnableDnsSupport       bool   `json:"dnsSupport"`
	EnableDnsHostnames     bool   `json:"dnsHostnames"`
	MainRouteTableID       string `json:"mainRtb"`
	DefaultNetworkAclID    string `json:"defaultAcl"`
	DefaultSecurityGroupID string `json:"defaultSg"`
}

// Subnet is a range of a VPC's addresses in one availability zone.
type Subnet struct {
	Meta
	VpcID               string `json:"vpc"`
	CidrBlock           string `json:"cidr"`
	AvailabilityZone    string `json:"az"`
	AvailabilityZoneID  string `json:"azId"`
	State               string `json:"state"`
	MapPublicIPOnLaunch bool   `json:"mapPublicIp,omitempty"`
	DefaultForAz        bool   `json:"defaultForAz,omitempty"`
}

// SecurityGroupRule is one rule of a security group. Rules are stored one by
// one, as DescribeSecurityGroupRules shows them; DescribeSecurityGroups groups
// them into IpPermissions.
type SecurityGroupRule struct {
	ID          string `json:"id"`
	Egress      bool   `json:"egress,omitempty"`
	IPProtocol  string `json:"proto"` // "-1", "tcp", "udp", "icmp" or a number
	FromPort    int    `json:"from"`
	ToPort      int    `json:"to"`
	CidrIPv4    string `json:"cidr,omitempty"`
	CidrIPv6    string `json:"cidr6,omitempty"`
	PrefixList  string `json:"pl,omitempty"`
	GroupID     string `json:"group,omitempty"`
	GroupOwner  string `json:"groupOwner,omitempty"`
	Description string `json:"desc,omitempty"`
	Tags        Tags   `json:"tags,omitempty"`
}

// SecurityGroup is a stateful, allow-only firewall attached to interfaces.
type SecurityGroup struct {
	Meta
	GroupName   string              `json:"name"`
	Description string              `json:"desc"`
	VpcID       string              `json:"vpc"`
	IsDefault   bool                `json:"default,omitempty"`
	Rules       []SecurityGroupRule `json:"rules"`
}

// NetworkAclEntry is one numbered rule of a network ACL.
type NetworkAclEntry struct {
	RuleNumber int    `json:"n"`
	Egress     bool   `json:"egress,omitempty"`
	Protocol   string `json:"proto"` // "-1" or a protocol number as a string
	RuleAction string `json:"action"`
	CidrBlock  string `json:"cidr,omitempty"`
	Ipv6Cidr   string `json:"cidr6,omitempty"`
	FromPort   *int   `json:"from,omitempty"`
	ToPort     *int   `json:"to,omitempty"`
	IcmpType   *int   `json:"icmpType,omitempty"`
	IcmpCode   *int   `json:"icmpCode,omitempty"`
}

// NetworkAclAssociation ties a subnet to its (only) network ACL.
type NetworkAclAssociation struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnet"`
}

// NetworkAcl is a stateless, numbered allow/deny list at the subnet boundary.
type NetworkAcl struct {
	Meta
	VpcID        string                  `json:"vpc"`
	IsDefault    bool                    `json:"default,omitempty"`
	Entries      []NetworkAclEntry       `json:"entries"`
	Associations []NetworkAclAssociation `json:"assocs,omitempty"`
}

// Route is one route of a route table.
type Route struct {
	DestinationCidrBlock    string `json:"dst,omitempty"`
	DestinationPrefixListID string `json:"dstPl,omitempty"`
	GatewayID               string `json:"gw,omitempty"` // "local", igw-…, or vpce-… for gateway endpoints
	NetworkInterfaceID      string `json:"eni,omitempty"`
	InstanceID              string `json:"instance,omitempty"`
	VpcEndpointID           string `json:"vpce,omitempty"` // GWLB endpoint target
	Origin                  string `json:"origin"`
	State                   string `json:"state"`
}

// Destination returns the route's destination: a CIDR or a prefix-list ID.
func (r Route) Destination() string {
	if r.DestinationPrefixListID != "" {
		return r.DestinationPrefixListID
	}
	return r.DestinationCidrBlock
}

// RouteTableAssociation ties a route table to a subnet (or marks it main).
type RouteTableAssociation struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnet,omitempty"`
	Main     bool   `json:"main,omitempty"`
	// GatewayID is set for an edge association (ingress routing of an igw-…).
	GatewayID string `json:"gw,omitempty"`
}

// RouteTable is a VPC route table.
type RouteTable struct {
	Meta
	VpcID        string                  `json:"vpc"`
	Routes       []Route                 `json:"routes"`
	Associations []RouteTableAssociation `json:"assocs,omitempty"`
}

// IsMain reports whether the table is its VPC's main route table.
func (rt *RouteTable) IsMain() bool {
	for _, a := range rt.Associations {
		if a.Main {
			return true
		}
	}
	return false
}

// InternetGatewayAttachment records the VPC an internet gateway is attached to.
type InternetGatewayAttachment struct {
	VpcID string `json:"vpc"`
	State string `json:"state"`
}

// InternetGateway is an internet gateway.
type InternetGateway struct {
	Meta
	Attachments []InternetGatewayAttachment `json:"attachments,omitempty"`
}

// PrefixListEntry is one CIDR of a managed prefix list.
type PrefixListEntry struct {
	Cidr        string `json:"cidr"`
	Description string `json:"desc,omitempty"`
}

// PrefixListVersion is a past version of a customer-managed prefix list.
type PrefixListVersion struct {
	Version int               `json:"v"`
	Entries []PrefixListEntry `json:"entries"`
}

// ManagedPrefixList is a customer-managed prefix list. AWS-managed lists are
// not stored: they are computed from the region catalog.
type ManagedPrefixList struct {
	Meta
	Name          string              `json:"name"`
	AddressFamily string              `json:"af"`
	MaxEntries    int                 `json:"max"`
	Version       int                 `json:"version"`
	State         string              `json:"state"`
	Entries       []PrefixListEntry   `json:"entries"`
	History       []PrefixListVersion `json:"history,omitempty"`
}

// Instance is a (networking-only) EC2 instance: a namespace with one interface.
type Instance struct {
	Meta
	ImageID            string   `json:"image"`
	InstanceType       string   `json:"type"`
	State              string   `json:"state"` // pending, running, shutting-down, terminated
	StateReason        string   `json:"stateReason,omitempty"`
	SubnetID           string   `json:"subnet"`
	VpcID              string   `json:"vpc"`
	AvailabilityZone   string   `json:"az"`
	PrivateIPAddress   string   `json:"ip"`
	PrivateDNSName     string   `json:"dns"`
	NetworkInterfaceID string   `json:"eni"`
	SecurityGroupIDs   []string `json:"groups"`
	ReservationID      string   `json:"reservation"`
	KeyName            string   `json:"key,omitempty"`
	AmiLaunchIndex     int      `json:"launchIndex"`
	TerminatedAt       string   `json:"terminatedAt,omitempty"`
	ClientToken        string   `json:"clientToken,omitempty"`
	// TransitionReason is StateTransitionReason, e.g. "User initiated (… GMT)".
	TransitionReason string `json:"reason,omitempty"`
}

// Interface types, as DescribeNetworkInterfaces reports them.
const (
	InterfaceTypeInterface   = "interface"
	InterfaceTypeVpcEndpoint = "vpc_endpoint"
	InterfaceTypeNLB         = "network_load_balancer"
	InterfaceTypeGWLB        = "gateway_load_balancer"
	InterfaceTypeGWLBE       = "gateway_load_balancer_endpoint"
)

// NetworkInterface is an elastic network interface with one private IP.
type NetworkInterface struct {
	Meta
	SubnetID         string   `json:"subnet"`
	VpcID            string   `json:"vpc"`
	AvailabilityZone string   `json:"az"`
	InterfaceType    string   `json:"type"`
	Description      string   `json:"desc,omitempty"`
	PrivateIPAddress string   `json:"ip"`
	PrivateDNSName   string   `json:"dns,omitempty"`
	MacAddress       string   `json:"mac"`
	SecurityGroupIDs []string `json:"groups"`
	Status           string   `json:"status"` // available, in-use
	RequesterID      string   `json:"requester,omitempty"`
	RequesterManaged bool     `json:"requesterManaged,omitempty"`
	SourceDestCheck  bool     `json:"srcDstCheck"`
	AttachmentID     string   `json:"attachment,omitempty"`
	InstanceID       string   `json:"instance,omitempty"`
	// OwnerResource names the resource that created a managed interface
	// (a VPC endpoint or a load balancer ID).
	OwnerResource string `json:"ownerResource,omitempty"`
}

// ClientTokenRecord remembers the result of an idempotent create.
type ClientTokenRecord struct {
	Meta
	Action     string `json:"action"`
	ParamsHash string `json:"hash"`
	ResourceID string `json:"resource"`
}
