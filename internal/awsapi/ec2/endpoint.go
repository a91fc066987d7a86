package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerEndpoints(m map[string]awsapi.Handler) {
	m["CreateVpcEndpoint"] = withCall(a.createVpcEndpoint)
	m["DescribeVpcEndpoints"] = withCall(a.describeVpcEndpoints)
	m["ModifyVpcEndpoint"] = withCall(a.modifyVpcEndpoint)
	m["DeleteVpcEndpoints"] = withCall(a.deleteVpcEndpoints)
}

type dnsEntryXML struct {
	DNSName      string `xml:"dnsName"`
	HostedZoneID string `xml:"hostedZoneId"`
}

func dnsEntries(entries []cloud.DNSEntry) []dnsEntryXML {
	var out []dnsEntryXML
	for _, e := range entries {
		out = append(out, dnsEntryXML{e.DNSName, e.HostedZoneID})
	}
	return out
}

type groupIdentifierXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type lastErrorXML struct {
	Message string `xml:"message"`
	Code    string `xml:"code"`
}

type dnsOptionsXML struct {
	DNSRecordIPType                          string `xml:"dnsRecordIpType"`
	PrivateDNSOnlyForInboundResolverEndpoint bool   `xml:"privateDnsOnlyForInboundResolverEndpoint"`
}

// VpcEndpointXML is the VpcEndpoint shape.
type VpcEndpointXML struct {
	VpcEndpointID       string               `xml:"vpcEndpointId"`
	VpcEndpointType     string               `xml:"vpcEndpointType"`
	VpcID               string               `xml:"vpcId"`
	ServiceName         string               `xml:"serviceName"`
	State               string               `xml:"state"`
	PolicyDocument      string               `xml:"policyDocument,omitempty"`
	RouteTableIDs       []string             `xml:"routeTableIdSet>item,omitempty"`
	SubnetIDs           []string             `xml:"subnetIdSet>item,omitempty"`
	Groups              []groupIdentifierXML `xml:"groupSet>item,omitempty"`
	IPAddressType       string               `xml:"ipAddressType,omitempty"`
	DNSOptions          *dnsOptionsXML       `xml:"dnsOptions,omitempty"`
	PrivateDNSEnabled   bool                 `xml:"privateDnsEnabled"`
	RequesterManaged    bool                 `xml:"requesterManaged"`
	NetworkInterfaceIDs []string             `xml:"networkInterfaceIdSet>item,omitempty"`
	DNSEntries          []dnsEntryXML        `xml:"dnsEntrySet>item,omitempty"`
	CreationTimestamp   string               `xml:"creationTimestamp"`
	TagSet              []Tag                `xml:"tagSet>item,omitempty"`
	OwnerID             string               `xml:"ownerId"`
	LastError           *lastErrorXML        `xml:"lastError,omitempty"`
	FailureReason       string               `xml:"failureReason,omitempty"`
	ServiceRegion       string               `xml:"serviceRegion,omitempty"`
}

func (a *API) endpointXML(ep *cloud.VpcEndpoint, groupNames map[string]string) VpcEndpointXML {
	x := VpcEndpointXML{
		VpcEndpointID: ep.ID, VpcEndpointType: ep.Type, VpcID: ep.VpcID, ServiceName: ep.ServiceName,
		State: ep.State, PolicyDocument: ep.PolicyDocument, RouteTableIDs: ep.RouteTableIDs, SubnetIDs: ep.SubnetIDs,
		IPAddressType: ep.IPAddressType, PrivateDNSEnabled: ep.PrivateDNSEnabled, RequesterManaged: ep.RequesterManaged,
		NetworkInterfaceIDs: ep.NetworkInterfaceIDs, DNSEntries: dnsEntries(ep.DNSEntries),
		CreationTimestamp: timestamp(ep.CreatedAt), TagSet: tagSet(ep.Tags), OwnerID: ep.OwnerID,
		FailureReason: ep.StateReason, ServiceRegion: ep.Region,
	}
	if ep.DNSRecordIPType != "" {
		x.DNSOptions = &dnsOptionsXML{DNSRecordIPType: ep.DNSRecordIPType}
	}
	for _, g := range ep.SecurityGroupIDs {
		x.Groups = append(x.Groups, groupIdentifierXML{GroupID: g, GroupName: groupNames[g]})
	}
	if ep.LastErrorCode != "" {
		x.LastError = &lastErrorXML{Message: ep.LastErrorMessage, Code: ep.LastErrorCode}
	}
	return x
}

// subnetConfigs decodes SubnetConfiguration.N (IPv4 addresses only).
func subnetConfigs(r *awsapi.Request) ([]controlplane.SubnetConfig, error) {
	var out []controlplane.SubnetConfig
	for _, s := range r.Params.Structs("SubnetConfiguration") {
		if s.Get("Ipv6") != "" {
			return nil, cloud.Errorf("InvalidParameter", "IPv6 endpoint addresses are not supported by privlink.")
		}
		if s.Get("SubnetId") == "" {
			return nil, cloud.MissingParameter("SubnetConfiguration.SubnetId")
		}
		out = append(out, controlplane.SubnetConfig{SubnetID: s.Get("SubnetId"), IPv4: s.Get("Ipv4")})
	}
	return out, nil
}

func unsupportedDNSOptions(r *awsapi.Request) error {
	p := r.Params
	if p.Get("DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint") == "true" || p.Has("DnsOptions.PrivateDnsPreference") || len(p.List("DnsOptions.PrivateDnsSpecifiedDomain")) > 0 {
		return cloud.Errorf("InvalidParameter", "privlink supports DnsOptions.DnsRecordIpType only.")
	}
	return nil
}

func (a *API) createVpcEndpoint(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	p := r.Params
	if p.Has("ServiceNetworkArn") || p.Has("ResourceConfigurationArn") {
		return nil, cloud.Errorf("InvalidParameter", "Service network and resource endpoints (VPC Lattice) are not supported by privlink.")
	}
	if region := p.Get("ServiceRegion"); region != "" && region != r.Region {
		return nil, cloud.Errorf("InvalidParameter", "Cross-region endpoints are not supported by privlink: service region %s differs from %s.", region, r.Region)
	}
	if err := unsupportedDNSOptions(r); err != nil {
		return nil, err
	}
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	privateDNS, err := p.OptBool("PrivateDnsEnabled")
	if err != nil {
		return nil, err
	}
	configs, err := subnetConfigs(r)
	if err != nil {
		return nil, err
	}
	token := p.Get("ClientToken")
	ep, err := a.cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{
		Type: p.Get("VpcEndpointType"), VpcID: p.Get("VpcId"), ServiceName: p.Get("ServiceName"),
		PolicyDocument: p.Get("PolicyDocument"), RouteTableIDs: p.List("RouteTableId"), SubnetIDs: p.List("SubnetId"),
		SecurityGroupIDs: p.List("SecurityGroupId"), IPAddressType: p.Get("IpAddressType"),
		DNSRecordIPType: p.Get("DnsOptions.DnsRecordIpType"), PrivateDNSEnabled: privateDNS,
		SubnetConfigs: configs, Tags: tags, ClientToken: token,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		VpcEndpoint VpcEndpointXML `xml:"vpcEndpoint"`
		ClientToken string         `xml:"clientToken,omitempty"`
	}{a.endpointXML(ep, a.cp.EndpointGroupNames([]*cloud.VpcEndpoint{ep})), token}, nil
}

func (a *API) describeVpcEndpoints(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "VpcEndpointId")
	if err != nil {
		return nil, err
	}
	list, next, err := a.cp.DescribeVpcEndpoints(ctx, c, in)
	if err != nil {
		return nil, err
	}
	names := a.cp.EndpointGroupNames(list)
	out := &struct {
		Items     []VpcEndpointXML `xml:"vpcEndpointSet>item"`
		NextToken string           `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, ep := range list {
		out.Items = append(out.Items, a.endpointXML(ep, names))
	}
	return out, nil
}

func (a *API) modifyVpcEndpoint(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	p := r.Params
	if err := unsupportedDNSOptions(r); err != nil {
		return nil, err
	}
	reset, err := p.Bool("ResetPolicy", false)
	if err != nil {
		return nil, err
	}
	privateDNS, err := p.OptBool("PrivateDnsEnabled")
	if err != nil {
		return nil, err
	}
	configs, err := subnetConfigs(r)
	if err != nil {
		return nil, err
	}
	if err := a.cp.ModifyVpcEndpoint(ctx, c, controlplane.ModifyEndpointInput{
		VpcEndpointID: p.Get("VpcEndpointId"), ResetPolicy: reset, PolicyDocument: p.Get("PolicyDocument"),
		AddRouteTableIDs: p.List("AddRouteTableId"), RemoveRouteTableIDs: p.List("RemoveRouteTableId"),
		AddSubnetIDs: p.List("AddSubnetId"), RemoveSubnetIDs: p.List("RemoveSubnetId"),
		AddSecurityGroupIDs: p.List("AddSecurityGroupId"), RemoveSecurityGroupIDs: p.List("RemoveSecurityGroupId"),
		IPAddressType: p.Get("IpAddressType"), DNSRecordIPType: p.Get("DnsOptions.DnsRecordIpType"),
		PrivateDNSEnabled: privateDNS, SubnetConfigs: configs,
	}); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) deleteVpcEndpoints(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	failed, err := a.cp.DeleteVpcEndpoints(ctx, c, r.Params.List("VpcEndpointId"))
	if err != nil {
		return nil, err
	}
	return unsuccessfulSet(failed), nil
}
