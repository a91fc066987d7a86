package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// DefaultEndpointPolicy is the full-access policy AWS gives an endpoint
// that is created without one.
const DefaultEndpointPolicy = `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`

// EndpointRequesterID is the RequesterId AWS shows on endpoint interfaces.
const EndpointRequesterID = "727180483921"

// Endpoint quotas (AWS's defaults).
const (
	maxInterfaceEndpointsPerVpc = 50
	maxGatewayEndpointsPerVpc   = 20
	maxEndpointSecurityGroups   = 5
)

// vpceHostedZones are the public hosted zones of vpce.amazonaws.com names.
var vpceHostedZones = map[string]string{
	"us-east-1": "Z7HUB22UULQXV",
	"us-east-2": "ZC8PG0KIFKBRI",
	"us-west-1": "Z12I86A8N7VCZO",
	"us-west-2": "Z1YSA3EXCYUU9Z",
	"eu-west-1": "Z38GZ743OKFT7T",
}

// stableZoneID derives a hosted zone ID from a seed (regions without a
// known vpce zone, private hosted zones of endpoints).
func stableZoneID(seed string) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	return strings.ToUpper(fmt.Sprintf("Z%013x", h.Sum64()>>12))
}

func vpceHostedZone(region string) string {
	if z, ok := vpceHostedZones[region]; ok {
		return z
	}
	return stableZoneID("vpce/" + region)
}

func endpointARN(c *Call, id string) string {
	return cloud.EC2ARN(c.Region, c.Account(), "vpc-endpoint", id)
}

func endpointNotFound(id string) *cloud.Error {
	return cloud.Errorf("InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '%s' does not exist", id)
}

// validateEndpointPolicy checks an endpoint policy document with the policy
// engine (VPC endpoint policy rules, 20,480 characters at most).
func validateEndpointPolicy(doc string) error {
	if _, err := policy.Parse([]byte(doc), policy.Endpoint); err != nil {
		msg := err.Error()
		if ve, ok := err.(*policy.ValidationError); ok {
			msg = strings.Join(ve.Messages, "; ")
		}
		return cloud.Errorf("InvalidPolicyDocument", "The Policy Document is not valid. %s", msg)
	}
	return nil
}

// isDefaultPolicy reports whether doc means the same as DefaultEndpointPolicy.
func isDefaultPolicy(doc string) bool {
	var a, b any
	if json.Unmarshal([]byte(doc), &a) != nil {
		return false
	}
	json.Unmarshal([]byte(DefaultEndpointPolicy), &b)
	return reflect.DeepEqual(a, b)
}

// SubnetConfig requests a specific IPv4 address for an endpoint's interface.
type SubnetConfig struct {
	SubnetID string
	IPv4     string
}

// CreateEndpointInput is CreateVpcEndpoint's parameters.
type CreateEndpointInput struct {
	Type              string
	VpcID             string
	ServiceName       string
	PolicyDocument    string
	RouteTableIDs     []string
	SubnetIDs         []string
	SecurityGroupIDs  []string
	IPAddressType     string
	DNSRecordIPType   string
	PrivateDNSEnabled *bool
	SubnetConfigs     []SubnetConfig
	Tags              []TagSpec
	ClientToken       string
}

func checkEndpointIPTypes(ipType, dnsType string) error {
	switch ipType {
	case "", "ipv4":
	case "ipv6", "dualstack":
		return cloud.Errorf("InvalidParameter", "IP address type %s is not supported by privlink; only ipv4 is.", ipType)
	default:
		return cloud.InvalidParameterValue("IpAddressType", ipType, "Valid values: ipv4, dualstack, ipv6.")
	}
	switch dnsType {
	case "", "ipv4", "service-defined":
	case "ipv6", "dualstack":
		return cloud.Errorf("InvalidParameter", "DNS record IP type %s is not supported by privlink; only ipv4 is.", dnsType)
	default:
		return cloud.InvalidParameterValue("DnsRecordIpType", dnsType, "Valid values: ipv4, dualstack, ipv6, service-defined.")
	}
	return nil
}

// CreateVpcEndpoint creates an Interface, Gateway or GatewayLoadBalancer
// endpoint. The API never makes it available: it starts pendingAcceptance
// (a custom service that requires acceptance) or pending, and the
// controller calls EndpointAvailable once the data plane is ready.
func (cp *ControlPlane) CreateVpcEndpoint(ctx context.Context, c *Call, in CreateEndpointInput) (*cloud.VpcEndpoint, error) {
	if in.Type == "" {
		// AWS's default VpcEndpointType is Gateway.
		in.Type = cloud.EndpointGateway
	}
	switch in.Type {
	case cloud.EndpointInterface, cloud.EndpointGateway, cloud.EndpointGatewayLoadBalancer:
	default:
		return nil, cloud.InvalidParameterValue("VpcEndpointType", in.Type, "Valid values: Interface, Gateway, GatewayLoadBalancer.")
	}
	if in.VpcID == "" {
		return nil, cloud.MissingParameter("VpcId")
	}
	if in.ServiceName == "" {
		return nil, cloud.MissingParameter("ServiceName")
	}
	if err := checkEndpointIPTypes(in.IPAddressType, in.DNSRecordIPType); err != nil {
		return nil, err
	}
	if err := checkEndpointTypeParams(in.Type, len(in.RouteTableIDs) > 0, len(in.SubnetIDs)+len(in.SubnetConfigs) > 0, len(in.SecurityGroupIDs) > 0, in.PrivateDNSEnabled); err != nil {
		return nil, err
	}
	if in.PolicyDocument != "" {
		if err := validateEndpointPolicy(in.PolicyDocument); err != nil {
			return nil, err
		}
	}
	region, err := cp.region(c)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "vpc-endpoint")
	if err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, endpointARN(c, "*")); err != nil {
		return nil, err
	}
	var ep *cloud.VpcEndpoint
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				ep, _ = store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
			}
			return err
		}
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, in.VpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcId.NotFound", "vpc ID", in.VpcID)
		}
		svc, err := cp.resolveService(tx, c, in.ServiceName)
		if err != nil {
			return err
		}
		if !svc.offers(in.Type) {
			return cloud.Errorf("InvalidParameter", "The Vpc Endpoint Service '%s' does not support the endpoint type %s.", in.ServiceName, in.Type)
		}
		if err := checkEndpointQuota(tx, vpc.ID, in.Type); err != nil {
			return err
		}
		id := cloud.NewID("vpce")
		ep = &cloud.VpcEndpoint{
			Meta:          cp.newMeta(c, id, tags),
			Type:          in.Type,
			VpcID:         vpc.ID,
			ServiceName:   in.ServiceName,
			ServiceID:     svc.id(),
			State:         cloud.StatePending,
			IPAddressType: "ipv4",
			ClientToken:   in.ClientToken,
		}
		if svc.needsAcceptance(c) {
			ep.State = cloud.StatePendingAcceptance
		}
		if in.Type != cloud.EndpointGatewayLoadBalancer {
			ep.PolicyDocument = DefaultEndpointPolicy
		}
		if in.PolicyDocument != "" {
			if in.Type == cloud.EndpointGatewayLoadBalancer || (!svc.policySupported() && !isDefaultPolicy(in.PolicyDocument)) {
				return cloud.Errorf("InvalidParameter", "The VPC endpoint service %s does not support policy documents.", in.ServiceName)
			}
			ep.PolicyDocument = in.PolicyDocument
		}
		switch in.Type {
		case cloud.EndpointGateway:
			if err := cp.addGatewayRoutes(tx, c, ep, in.RouteTableIDs); err != nil {
				return err
			}
		default:
			ep.DNSRecordIPType = "ipv4"
			configs := append([]SubnetConfig(nil), in.SubnetConfigs...)
			for _, s := range in.SubnetIDs {
				if !hasSubnetConfig(configs, s) {
					configs = append(configs, SubnetConfig{SubnetID: s})
				}
			}
			if in.Type == cloud.EndpointGatewayLoadBalancer && len(configs) != 1 {
				return cloud.Errorf("InvalidParameter", "A GatewayLoadBalancer type VPC endpoint must have exactly one subnet.")
			}
			if in.Type == cloud.EndpointInterface {
				groups, err := endpointGroups(tx, c, vpc, in.SecurityGroupIDs)
				if err != nil {
					return err
				}
				ep.SecurityGroupIDs = groups
			}
			if err := cp.addEndpointSubnets(tx, c, region, svc, ep, configs); err != nil {
				return err
			}
			if in.Type == cloud.EndpointInterface {
				ep.DNSSuffix = randomLabel(8)
				enabled := len(svc.privateNames(c.Region)) > 0
				if in.PrivateDNSEnabled != nil {
					enabled = *in.PrivateDNSEnabled
				}
				if enabled {
					if err := checkPrivateDNS(tx, vpc, svc, ep); err != nil {
						return err
					}
				}
				ep.PrivateDNSEnabled = enabled
			}
		}
		ep.DNSEntries = endpointDNSEntries(ep, endpointZones(tx, ep), svc.privateNames(c.Region))
		tx.Put(cloud.KindVpcEndpoint, id, ep)
		cp.recordEvent(tx, "Connect", ep)
		cp.rememberToken(tx, c, in.ClientToken, in, id)
		return nil
	})
	return ep, err
}

func hasSubnetConfig(configs []SubnetConfig, id string) bool {
	for _, sc := range configs {
		if sc.SubnetID == id {
			return true
		}
	}
	return false
}

// checkEndpointTypeParams refuses parameters that do not apply to a type.
func checkEndpointTypeParams(typ string, routeTables, subnets, groups bool, privateDNS *bool) error {
	switch {
	case routeTables && typ != cloud.EndpointGateway:
		return cloud.Errorf("InvalidParameter", "Route table IDs are only supported for Gateway type VPC Endpoint.")
	case subnets && typ == cloud.EndpointGateway:
		return cloud.Errorf("InvalidParameter", "Subnet IDs are not supported for Gateway type VPC Endpoint.")
	case groups && typ != cloud.EndpointInterface:
		return cloud.Errorf("InvalidParameter", "Security group IDs are only supported for Interface type VPC Endpoint.")
	case privateDNS != nil && *privateDNS && typ != cloud.EndpointInterface:
		return cloud.Errorf("InvalidParameter", "Private DNS can only be enabled for Interface type VPC Endpoint.")
	case !subnets && typ != cloud.EndpointGateway:
		return cloud.MissingParameter("SubnetId")
	}
	return nil
}

// checkEndpointQuota enforces the per-VPC endpoint quotas.
func checkEndpointQuota(tx *store.Tx, vpcID, typ string) error {
	gateway := typ == cloud.EndpointGateway
	n := 0
	tx.Each(cloud.KindVpcEndpoint, func(_ string, v any) bool {
		ep := v.(*cloud.VpcEndpoint)
		if ep.VpcID == vpcID && (ep.Type == cloud.EndpointGateway) == gateway && ep.State != cloud.StateDeleted {
			n++
		}
		return true
	})
	limit := maxInterfaceEndpointsPerVpc
	if gateway {
		limit = maxGatewayEndpointsPerVpc
	}
	if n >= limit {
		return cloud.Errorf("VpcEndpointLimitExceeded", "The maximum number of %s VPC endpoints (%d) for the VPC %s has been reached.", strings.ToLower(typ), limit, vpcID)
	}
	return nil
}

// endpointGroups resolves an Interface endpoint's security groups: the
// given ones (the caller's, in the VPC) or the VPC's default group.
func endpointGroups(tx *store.Tx, c *Call, vpc *cloud.Vpc, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return []string{vpc.DefaultSecurityGroupID}, nil
	}
	var out []string
	for _, id := range ids {
		if contains1(out, id) {
			continue
		}
		g := getOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, id)
		if g == nil {
			return nil, cloud.Errorf("InvalidSecurityGroupId.NotFound", "The security group '%s' does not exist", id)
		}
		if g.VpcID != vpc.ID {
			return nil, cloud.Errorf("InvalidParameter", "Security group %s and VPC %s belong to different networks.", id, vpc.ID)
		}
		out = append(out, id)
	}
	if len(out) > maxEndpointSecurityGroups {
		return nil, cloud.Errorf("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface (%d) has been reached.", maxEndpointSecurityGroups)
	}
	return out, nil
}

// addEndpointSubnets checks subnets (the caller's, in the endpoint's VPC,
// one per zone, in zones the service offers) and allocates one
// requester-managed interface in each.
func (cp *ControlPlane) addEndpointSubnets(tx *store.Tx, c *Call, region cloud.Region, svc *endpointService, ep *cloud.VpcEndpoint, configs []SubnetConfig) error {
	zones := map[string]string{} // zone → subnet, of the endpoint's subnets
	for _, sid := range ep.SubnetIDs {
		if s, ok := store.Get[cloud.Subnet](tx, cloud.KindSubnet, sid); ok {
			zones[s.AvailabilityZone] = sid
		}
	}
	offered := svc.zones(region)
	var subnets []*cloud.Subnet
	for _, sc := range configs {
		s := getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, sc.SubnetID)
		if s == nil {
			return cloud.NotFound("InvalidSubnetID.NotFound", "subnet ID", sc.SubnetID)
		}
		if s.VpcID != ep.VpcID {
			return cloud.Errorf("InvalidParameter", "The subnet ID '%s' does not belong to the VPC '%s'.", s.ID, ep.VpcID)
		}
		if contains1(ep.SubnetIDs, s.ID) {
			return cloud.Errorf("InvalidParameter", "The subnet %s is already a subnet of the VPC endpoint %s.", s.ID, ep.ID)
		}
		if other, dup := zones[s.AvailabilityZone]; dup {
			return cloud.Errorf("DuplicateSubnetsInSameZone", "Found another VPC endpoint subnet in the availability zone of %s (%s). VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.", s.ID, other)
		}
		if !contains1(offered, s.AvailabilityZone) {
			return cloud.Errorf("InvalidParameter", "The VPC endpoint service %s does not support the availability zone of the subnet: %s.", svc.name, s.ID)
		}
		zones[s.AvailabilityZone] = s.ID
		subnets = append(subnets, s)
	}
	itype := cloud.InterfaceTypeVpcEndpoint
	if ep.Type == cloud.EndpointGatewayLoadBalancer {
		itype = cloud.InterfaceTypeGWLBE
	}
	for i, s := range subnets {
		eni, err := cp.allocateInterface(tx, c, s, InterfaceSpec{
			PrivateIP:        configs[i].IPv4,
			InterfaceType:    itype,
			Description:      "VPC Endpoint Interface " + ep.ID,
			SecurityGroupIDs: ep.SecurityGroupIDs,
			RequesterManaged: true,
			RequesterID:      EndpointRequesterID,
			OwnerResource:    ep.ID,
		})
		if err != nil {
			return err
		}
		ep.SubnetIDs = append(append([]string(nil), ep.SubnetIDs...), s.ID)
		ep.NetworkInterfaceIDs = append(append([]string(nil), ep.NetworkInterfaceIDs...), eni.ID)
	}
	return nil
}

// endpointHoldsNames reports whether an endpoint still holds its resources and
// names (not rejected, failed, deleting or deleted).
func endpointHoldsNames(ep *cloud.VpcEndpoint) bool {
	switch ep.State {
	case cloud.StatePendingAcceptance, cloud.StatePending, cloud.StateAvailable:
		return true
	}
	return false
}

// checkPrivateDNS enforces the rules of private DNS on an interface
// endpoint: the service has private names, the VPC resolves and names
// hosts, and no other endpoint in the VPC claims the same names.
func checkPrivateDNS(tx *store.Tx, vpc *cloud.Vpc, svc *endpointService, ep *cloud.VpcEndpoint) error {
	names := svc.privateNames(ep.Region)
	if len(names) == 0 {
		return cloud.Errorf("InvalidParameter", "Private DNS can't be enabled because the service %s does not provide a private DNS name.", svc.name)
	}
	if !vpc.EnableDnsSupport || !vpc.EnableDnsHostnames {
		return cloud.Errorf("InvalidParameter", "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for %s", vpc.ID)
	}
	var conflict string
	tx.Each(cloud.KindVpcEndpoint, func(id string, v any) bool {
		o := v.(*cloud.VpcEndpoint)
		if id == ep.ID || o.VpcID != vpc.ID || !o.PrivateDNSEnabled || !endpointHoldsNames(o) {
			return true
		}
		for _, e := range o.DNSEntries {
			if contains1(names, e.DNSName) {
				conflict = e.DNSName
				return false
			}
		}
		return true
	})
	if conflict != "" {
		return cloud.Errorf("InvalidParameter", "private-dns-enabled cannot be set because there is already a conflicting DNS domain for %s in the VPC %s", conflict, vpc.ID)
	}
	return nil
}

// endpointDNSEntries builds an interface endpoint's DNS entries: regional,
// one per zone, then the private names when private DNS is enabled.
func endpointDNSEntries(ep *cloud.VpcEndpoint, zones, privateNames []string) []cloud.DNSEntry {
	if ep.Type != cloud.EndpointInterface || ep.DNSSuffix == "" {
		return nil
	}
	zone := vpceHostedZone(ep.Region)
	wild := ""
	if dns.EndpointNamesAreWildcard(ep.ServiceName) {
		wild = "*."
	}
	var out []cloud.DNSEntry
	if n, err := dns.EndpointRegionalName(ep.ID, ep.DNSSuffix, ep.ServiceName, ep.Region); err == nil {
		out = append(out, cloud.DNSEntry{DNSName: wild + n, HostedZoneID: zone})
	}
	for _, az := range zones {
		if n, err := dns.EndpointZonalName(ep.ID, ep.DNSSuffix, az, ep.ServiceName, ep.Region); err == nil {
			out = append(out, cloud.DNSEntry{DNSName: wild + n, HostedZoneID: zone})
		}
	}
	if ep.PrivateDNSEnabled {
		phz := stableZoneID("phz/" + ep.ID)
		for _, n := range privateNames {
			out = append(out, cloud.DNSEntry{DNSName: n, HostedZoneID: phz})
		}
	}
	return out
}

// endpointZones lists the zones of an endpoint's subnets.
func endpointZones(tx *store.Tx, ep *cloud.VpcEndpoint) []string {
	var out []string
	for _, sid := range ep.SubnetIDs {
		if s, ok := store.Get[cloud.Subnet](tx, cloud.KindSubnet, sid); ok {
			out = append(out, s.AvailabilityZone)
		}
	}
	sort.Strings(out)
	return out
}

var endpointFilters = filterer[cloud.VpcEndpoint]{
	tags: func(e *cloud.VpcEndpoint) cloud.Tags { return e.Tags },
	fields: fields[cloud.VpcEndpoint]{
		"service-name":       func(e *cloud.VpcEndpoint) []string { return one(e.ServiceName) },
		"service-region":     func(e *cloud.VpcEndpoint) []string { return one(e.Region) },
		"vpc-id":             func(e *cloud.VpcEndpoint) []string { return one(e.VpcID) },
		"vpc-endpoint-id":    func(e *cloud.VpcEndpoint) []string { return one(e.ID) },
		"vpc-endpoint-state": func(e *cloud.VpcEndpoint) []string { return one(e.State) },
		"vpc-endpoint-type":  func(e *cloud.VpcEndpoint) []string { return one(e.Type) },
		"ip-address-type":    func(e *cloud.VpcEndpoint) []string { return one(e.IPAddressType) },
	},
}

// DescribeVpcEndpoints lists the caller's endpoints (deleted ones until
// PurgeDeletedEndpoints drops them, as AWS shows them for a while).
func (cp *ControlPlane) DescribeVpcEndpoints(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.VpcEndpoint, string, error) {
	return describe(ctx, cp, c, in, cloud.KindVpcEndpoint, endpointFilters, "InvalidVpcEndpointId.NotFound", "Vpc Endpoint Id", func(e *cloud.VpcEndpoint) string { return e.ID })
}

// DeleteVpcEndpoints moves endpoints to deleting; the controller tears
// down their data plane and calls EndpointDeleted. Unknown IDs are
// reported per item.
func (cp *ControlPlane) DeleteVpcEndpoints(ctx context.Context, c *Call, ids []string) ([]Unsuccessful, error) {
	if len(ids) == 0 {
		return nil, cloud.MissingParameter("VpcEndpointId")
	}
	var failed []Unsuccessful
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		failed = nil
		for _, id := range ids {
			old := getOwned[cloud.VpcEndpoint](tx, c, cloud.KindVpcEndpoint, id)
			if old == nil || old.State == cloud.StateDeleted {
				failed = append(failed, unsuccessful(id, endpointNotFound(id)))
				continue
			}
			if err := cp.authorize(ctx, c, endpointARN(c, id)); err != nil {
				return err
			}
			if old.State == cloud.StateDeleting {
				continue
			}
			ep := store.Clone(old)
			ep.State = cloud.StateDeleting
			tx.Put(cloud.KindVpcEndpoint, id, ep)
			cp.recordEvent(tx, "Delete", ep)
		}
		return nil
	})
	return failed, err
}

// EndpointGroupNames maps the security group IDs of endpoints to their
// names (for the groupSet of DescribeVpcEndpoints).
func (cp *ControlPlane) EndpointGroupNames(eps []*cloud.VpcEndpoint) map[string]string {
	out := map[string]string{}
	cp.db.View(func(tx *store.Tx) error {
		for _, ep := range eps {
			for _, id := range ep.SecurityGroupIDs {
				if _, done := out[id]; done {
					continue
				}
				if g, ok := store.Get[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, id); ok {
					out[id] = g.GroupName
				}
			}
		}
		return nil
	})
	return out
}
