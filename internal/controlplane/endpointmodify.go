package controlplane

import (
	"context"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// gatewayPrefixList is the AWS-managed prefix list a gateway endpoint's
// routes point at (com.amazonaws.<region>.s3 → pl-…).
func gatewayPrefixList(serviceName string) string { return cloud.AWSPrefixListID(serviceName) }

// addGatewayRoutes adds the endpoint's prefix-list route to each table (the
// caller's, in the endpoint's VPC) and records the tables on ep.
func (cp *ControlPlane) addGatewayRoutes(tx *store.Tx, c *Call, ep *cloud.VpcEndpoint, rtbIDs []string) error {
	pl := gatewayPrefixList(ep.ServiceName)
	for _, id := range rtbIDs {
		if contains1(ep.RouteTableIDs, id) {
			continue
		}
		rtb := getOwned[cloud.RouteTable](tx, c, cloud.KindRouteTable, id)
		if rtb == nil {
			return cloud.NotFound("InvalidRouteTableID.NotFound", "routeTable ID", id)
		}
		if rtb.VpcID != ep.VpcID {
			return cloud.Errorf("InvalidParameter", "The route table %s does not belong to the VPC %s.", id, ep.VpcID)
		}
		if err := addGatewayEndpointRoute(tx, rtb, pl, ep.ID); err != nil {
			return err
		}
		ep.RouteTableIDs = append(append([]string(nil), ep.RouteTableIDs...), id)
	}
	return nil
}

// removeGatewayRoutes removes the endpoint's routes from the given tables.
func removeGatewayRoutes(tx *store.Tx, ep *cloud.VpcEndpoint, rtbIDs []string) {
	for _, id := range rtbIDs {
		if rtb, ok := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, id); ok {
			removeGatewayEndpointRoutes(tx, rtb, ep.ID)
		}
	}
	ep.RouteTableIDs = without(ep.RouteTableIDs, rtbIDs)
}

// freeEndpointInterfaces deletes the interfaces of the given subnets (all
// subnets when subnetIDs is nil) and drops them from ep.
func freeEndpointInterfaces(tx *store.Tx, ep *cloud.VpcEndpoint, subnetIDs []string) {
	var keptENIs []string
	for _, id := range ep.NetworkInterfaceIDs {
		eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, id)
		if ok && subnetIDs != nil && !contains1(subnetIDs, eni.SubnetID) {
			keptENIs = append(keptENIs, id)
			continue
		}
		tx.Delete(cloud.KindNetworkInterface, id)
	}
	ep.NetworkInterfaceIDs = keptENIs
	if subnetIDs == nil {
		ep.SubnetIDs = nil
	} else {
		ep.SubnetIDs = without(ep.SubnetIDs, subnetIDs)
	}
}

// ModifyEndpointInput is ModifyVpcEndpoint's parameters.
type ModifyEndpointInput struct {
	VpcEndpointID          string
	ResetPolicy            bool
	PolicyDocument         string
	AddRouteTableIDs       []string
	RemoveRouteTableIDs    []string
	AddSubnetIDs           []string
	RemoveSubnetIDs        []string
	AddSecurityGroupIDs    []string
	RemoveSecurityGroupIDs []string
	IPAddressType          string
	DNSRecordIPType        string
	PrivateDNSEnabled      *bool
	SubnetConfigs          []SubnetConfig
}

// ModifyVpcEndpoint changes an endpoint's subnets (interfaces allocated and
// freed), security groups, route tables (gateway routes), policy and
// private DNS.
func (cp *ControlPlane) ModifyVpcEndpoint(ctx context.Context, c *Call, in ModifyEndpointInput) error {
	if in.VpcEndpointID == "" {
		return cloud.MissingParameter("VpcEndpointId")
	}
	if in.ResetPolicy && in.PolicyDocument != "" {
		return cloud.Errorf("InvalidParameterCombination", "PolicyDocument and ResetPolicy cannot both be specified.")
	}
	if in.PolicyDocument != "" {
		if err := validateEndpointPolicy(in.PolicyDocument); err != nil {
			return err
		}
	}
	if err := checkEndpointIPTypes(in.IPAddressType, in.DNSRecordIPType); err != nil {
		return err
	}
	region, err := cp.region(c)
	if err != nil {
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		old := getOwned[cloud.VpcEndpoint](tx, c, cloud.KindVpcEndpoint, in.VpcEndpointID)
		if old == nil || old.State == cloud.StateDeleted {
			return endpointNotFound(in.VpcEndpointID)
		}
		if err := cp.authorize(ctx, c, endpointARN(c, old.ID)); err != nil {
			return err
		}
		if old.State == cloud.StateDeleting {
			return cloud.Errorf("IncorrectState", "The VPC endpoint %s is being deleted.", old.ID)
		}
		ep := store.Clone(old)
		typ := ep.Type
		addSubnets := len(in.AddSubnetIDs)+len(in.SubnetConfigs) > 0
		switch {
		case (len(in.AddRouteTableIDs) > 0 || len(in.RemoveRouteTableIDs) > 0) && typ != cloud.EndpointGateway:
			return cloud.Errorf("InvalidParameter", "Route table IDs are only supported for Gateway type VPC Endpoint.")
		case (addSubnets || len(in.RemoveSubnetIDs) > 0) && typ == cloud.EndpointGateway:
			return cloud.Errorf("InvalidParameter", "Subnet IDs are not supported for Gateway type VPC Endpoint.")
		case (addSubnets || len(in.RemoveSubnetIDs) > 0) && typ == cloud.EndpointGatewayLoadBalancer:
			return cloud.Errorf("InvalidParameter", "The subnet of a GatewayLoadBalancer type VPC endpoint cannot be changed.")
		case (len(in.AddSecurityGroupIDs) > 0 || len(in.RemoveSecurityGroupIDs) > 0) && typ != cloud.EndpointInterface:
			return cloud.Errorf("InvalidParameter", "Security group IDs are only supported for Interface type VPC Endpoint.")
		case in.PrivateDNSEnabled != nil && *in.PrivateDNSEnabled && typ != cloud.EndpointInterface:
			return cloud.Errorf("InvalidParameter", "Private DNS can only be enabled for Interface type VPC Endpoint.")
		}
		vpc, _ := store.Get[cloud.Vpc](tx, cloud.KindVpc, ep.VpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcId.NotFound", "vpc ID", ep.VpcID)
		}
		svc, svcErr := cp.resolveService(tx, c, ep.ServiceName)
		if svcErr != nil && old.ServiceID != "" {
			// The service may have been deleted, or its permission removed:
			// the connection lives on; resolve from the stored record.
			if s, ok := store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, old.ServiceID); ok {
				svc, svcErr = &endpointService{name: ep.ServiceName, custom: s}, nil
			}
		}

		// Policy.
		switch {
		case in.ResetPolicy && typ != cloud.EndpointGatewayLoadBalancer:
			ep.PolicyDocument = DefaultEndpointPolicy
		case in.PolicyDocument != "":
			if typ == cloud.EndpointGatewayLoadBalancer || svcErr != nil || (!svc.policySupported() && !isDefaultPolicy(in.PolicyDocument)) {
				return cloud.Errorf("InvalidParameter", "The VPC endpoint service %s does not support policy documents.", ep.ServiceName)
			}
			ep.PolicyDocument = in.PolicyDocument
		}

		// Security groups.
		if len(in.AddSecurityGroupIDs) > 0 || len(in.RemoveSecurityGroupIDs) > 0 {
			for _, id := range in.RemoveSecurityGroupIDs {
				if !contains1(ep.SecurityGroupIDs, id) {
					return cloud.Errorf("InvalidParameter", "The security group %s is not associated with the VPC endpoint %s.", id, ep.ID)
				}
			}
			added, err := endpointGroups(tx, c, vpc, in.AddSecurityGroupIDs)
			if err != nil {
				return err
			}
			if len(in.AddSecurityGroupIDs) == 0 {
				added = nil
			}
			groups := without(ep.SecurityGroupIDs, in.RemoveSecurityGroupIDs)
			for _, g := range added {
				if !contains1(groups, g) {
					groups = append(groups, g)
				}
			}
			if len(groups) == 0 {
				return cloud.Errorf("InvalidParameter", "A VPC endpoint must keep at least one security group.")
			}
			if len(groups) > maxEndpointSecurityGroups {
				return cloud.Errorf("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface (%d) has been reached.", maxEndpointSecurityGroups)
			}
			ep.SecurityGroupIDs = groups
			for _, id := range ep.NetworkInterfaceIDs {
				if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, id); ok {
					n := store.Clone(eni)
					n.SecurityGroupIDs = append([]string(nil), groups...)
					tx.Put(cloud.KindNetworkInterface, n.ID, n)
				}
			}
		}

		// Subnets: free the removed ones first so their zones can be reused.
		for _, id := range in.RemoveSubnetIDs {
			if !contains1(ep.SubnetIDs, id) {
				return cloud.Errorf("InvalidParameter", "The subnet %s is not a subnet of the VPC endpoint %s.", id, ep.ID)
			}
		}
		if len(in.RemoveSubnetIDs) > 0 {
			freeEndpointInterfaces(tx, ep, in.RemoveSubnetIDs)
		}
		if addSubnets {
			if svcErr != nil {
				return svcErr
			}
			configs := append([]SubnetConfig(nil), in.SubnetConfigs...)
			for _, s := range in.AddSubnetIDs {
				if !hasSubnetConfig(configs, s) {
					configs = append(configs, SubnetConfig{SubnetID: s})
				}
			}
			if err := cp.addEndpointSubnets(tx, c, region, svc, ep, configs); err != nil {
				return err
			}
		}

		// Route tables.
		for _, id := range in.RemoveRouteTableIDs {
			if !contains1(ep.RouteTableIDs, id) {
				return cloud.Errorf("InvalidParameter", "The route table %s is not associated with the VPC endpoint %s.", id, ep.ID)
			}
		}
		removeGatewayRoutes(tx, ep, in.RemoveRouteTableIDs)
		if err := cp.addGatewayRoutes(tx, c, ep, in.AddRouteTableIDs); err != nil {
			return err
		}

		// Private DNS and names.
		if in.PrivateDNSEnabled != nil && typ == cloud.EndpointInterface {
			if *in.PrivateDNSEnabled && !ep.PrivateDNSEnabled {
				if svcErr != nil {
					return svcErr
				}
				if err := checkPrivateDNS(tx, vpc, svc, ep); err != nil {
					return err
				}
			}
			ep.PrivateDNSEnabled = *in.PrivateDNSEnabled
		}
		if typ == cloud.EndpointInterface {
			var names []string
			if svcErr == nil {
				names = svc.privateNames(c.Region)
			}
			ep.DNSEntries = endpointDNSEntries(ep, endpointZones(tx, ep), names)
		}
		tx.Put(cloud.KindVpcEndpoint, ep.ID, ep)
		return nil
	})
}

// checkEndpointDNSAttributes refuses turning off a VPC's DNS support or
// hostnames while a private-DNS interface endpoint in it needs them; it is
// registered in cp.vpcAttributeChecks.
func checkEndpointDNSAttributes(tx *store.Tx, v *cloud.Vpc) error {
	if v.EnableDnsSupport && v.EnableDnsHostnames {
		return nil
	}
	var needing string
	tx.Each(cloud.KindVpcEndpoint, func(id string, x any) bool {
		ep := x.(*cloud.VpcEndpoint)
		if ep.VpcID == v.ID && ep.PrivateDNSEnabled && endpointHoldsNames(ep) {
			needing = id
			return false
		}
		return true
	})
	if needing != "" {
		return cloud.Errorf("InvalidParameterValue", "The VPC %s has a VPC endpoint with private DNS enabled (%s), which requires enableDnsSupport and enableDnsHostnames to be true.", v.ID, needing)
	}
	return nil
}
