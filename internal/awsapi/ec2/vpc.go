package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerVpc(m map[string]awsapi.Handler) {
	m["CreateVpc"] = withCall(a.createVpc)
	m["DescribeVpcs"] = withCall(a.describeVpcs)
	m["DeleteVpc"] = withCall(a.deleteVpc)
	m["ModifyVpcAttribute"] = withCall(a.modifyVpcAttribute)
	m["DescribeVpcAttribute"] = withCall(a.describeVpcAttribute)
	m["DescribeRegions"] = withCall(a.describeRegions)
	m["DescribeAvailabilityZones"] = withCall(a.describeAvailabilityZones)
}

// VpcXML is the Vpc shape.
type VpcXML struct {
	VpcID                   string             `xml:"vpcId"`
	OwnerID                 string             `xml:"ownerId"`
	State                   string             `xml:"state"`
	CidrBlock               string             `xml:"cidrBlock"`
	CidrBlockAssociationSet []CidrAssociation  `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID           string             `xml:"dhcpOptionsId"`
	InstanceTenancy         string             `xml:"instanceTenancy"`
	IsDefault               bool               `xml:"isDefault"`
	TagSet                  []Tag              `xml:"tagSet>item,omitempty"`
	BlockPublicAccessStates *blockPublicAccess `xml:"blockPublicAccessStates,omitempty"`
}

type blockPublicAccess struct {
	InternetGatewayBlockMode string `xml:"internetGatewayBlockMode"`
}

// CidrAssociation is a VpcCidrBlockAssociation.
type CidrAssociation struct {
	AssociationID  string `xml:"associationId"`
	CidrBlock      string `xml:"cidrBlock"`
	CidrBlockState struct {
		State string `xml:"state"`
	} `xml:"cidrBlockState"`
}

func vpcXML(v *cloud.Vpc) VpcXML {
	assoc := CidrAssociation{AssociationID: v.CidrAssociationID, CidrBlock: v.CidrBlock}
	assoc.CidrBlockState.State = "associated"
	return VpcXML{
		VpcID: v.ID, OwnerID: v.OwnerID, State: v.State, CidrBlock: v.CidrBlock,
		CidrBlockAssociationSet: []CidrAssociation{assoc}, DhcpOptionsID: "default",
		InstanceTenancy: v.InstanceTenancy, IsDefault: v.IsDefault, TagSet: tagSet(v.Tags),
		BlockPublicAccessStates: &blockPublicAccess{InternetGatewayBlockMode: "off"},
	}
}

func (a *API) createVpc(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	if r.Params.Has("Ipv4IpamPoolId") || r.Params.Has("Ipv6IpamPoolId") || r.Params.Has("AmazonProvidedIpv6CidrBlock") || r.Params.Has("Ipv6Pool") {
		return nil, cloud.Errorf("UnsupportedOperation", "privlink models IPv4 VPCs with an explicit CidrBlock only.")
	}
	v, err := a.cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{
		CidrBlock: r.Params.Get("CidrBlock"), InstanceTenancy: r.Params.Get("InstanceTenancy"),
		Tags: tags, ClientToken: r.Params.Get("ClientToken"),
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		Vpc VpcXML `xml:"vpc"`
	}{vpcXML(v)}, nil
}

func (a *API) describeVpcs(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "VpcId")
	if err != nil {
		return nil, err
	}
	vpcs, next, err := a.cp.DescribeVpcs(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Vpcs      []VpcXML `xml:"vpcSet>item"`
		NextToken string   `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, v := range vpcs {
		out.Vpcs = append(out.Vpcs, vpcXML(v))
	}
	return out, nil
}

func (a *API) deleteVpc(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DeleteVpc(ctx, c, r.Params.Get("VpcId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) modifyVpcAttribute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	support, err := r.Params.OptBool("EnableDnsSupport.Value")
	if err != nil {
		return nil, err
	}
	hostnames, err := r.Params.OptBool("EnableDnsHostnames.Value")
	if err != nil {
		return nil, err
	}
	if err := a.cp.ModifyVpcAttribute(ctx, c, r.Params.Get("VpcId"), support, hostnames); err != nil {
		return nil, err
	}
	return ok, nil
}

type attributeBool struct {
	Value bool `xml:"value"`
}

func (a *API) describeVpcAttribute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	attr := r.Params.Get("Attribute")
	v, err := a.cp.DescribeVpcAttribute(ctx, c, r.Params.Get("VpcId"), attr)
	if err != nil {
		return nil, err
	}
	out := &struct {
		VpcID              string         `xml:"vpcId"`
		EnableDnsSupport   *attributeBool `xml:"enableDnsSupport,omitempty"`
		EnableDnsHostnames *attributeBool `xml:"enableDnsHostnames,omitempty"`
	}{VpcID: r.Params.Get("VpcId")}
	if attr == "enableDnsSupport" {
		out.EnableDnsSupport = &attributeBool{v}
	} else {
		out.EnableDnsHostnames = &attributeBool{v}
	}
	return out, nil
}

func (a *API) describeRegions(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	regions, err := a.cp.DescribeRegions(ctx, c, r.Params.List("RegionName"))
	if err != nil {
		return nil, err
	}
	type regionXML struct {
		RegionName  string `xml:"regionName"`
		Endpoint    string `xml:"regionEndpoint"`
		OptInStatus string `xml:"optInStatus"`
	}
	out := &struct {
		Regions []regionXML `xml:"regionInfo>item"`
	}{}
	for _, reg := range regions {
		out.Regions = append(out.Regions, regionXML{RegionName: reg.Name, Endpoint: "ec2." + reg.Name + ".amazonaws.com", OptInStatus: "opt-in-not-required"})
	}
	return out, nil
}

func (a *API) describeAvailabilityZones(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	zones, err := a.cp.DescribeAvailabilityZones(ctx, c, r.Params.List("ZoneName"), r.Params.List("ZoneId"))
	if err != nil {
		return nil, err
	}
	type azXML struct {
		ZoneName           string `xml:"zoneName"`
		ZoneID             string `xml:"zoneId"`
		State              string `xml:"zoneState"`
		OptInStatus        string `xml:"optInStatus"`
		RegionName         string `xml:"regionName"`
		ZoneType           string `xml:"zoneType"`
		GroupName          string `xml:"groupName"`
		NetworkBorderGroup string `xml:"networkBorderGroup"`
	}
	out := &struct {
		Zones []azXML `xml:"availabilityZoneInfo>item"`
	}{}
	for _, z := range zones {
		out.Zones = append(out.Zones, azXML{ZoneName: z.Name, ZoneID: z.ID, State: "available", OptInStatus: "opt-in-not-required",
			RegionName: z.Region, ZoneType: "availability-zone", GroupName: z.Region, NetworkBorderGroup: z.Region})
	}
	return out, nil
}
