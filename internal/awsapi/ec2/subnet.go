package ec2

import (
	"context"
	"strings"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerSubnet(m map[string]awsapi.Handler) {
	m["CreateSubnet"] = withCall(a.createSubnet)
	m["DescribeSubnets"] = withCall(a.describeSubnets)
	m["DeleteSubnet"] = withCall(a.deleteSubnet)
	m["ModifySubnetAttribute"] = withCall(a.modifySubnetAttribute)
}

// SubnetXML is the Subnet shape.
type SubnetXML struct {
	SubnetID                      string             `xml:"subnetId"`
	SubnetArn                     string             `xml:"subnetArn"`
	State                         string             `xml:"state"`
	VpcID                         string             `xml:"vpcId"`
	OwnerID                       string             `xml:"ownerId"`
	CidrBlock                     string             `xml:"cidrBlock"`
	AvailableIPAddressCount       int                `xml:"availableIpAddressCount"`
	AvailabilityZone              string             `xml:"availabilityZone"`
	AvailabilityZoneID            string             `xml:"availabilityZoneId"`
	DefaultForAz                  bool               `xml:"defaultForAz"`
	MapPublicIPOnLaunch           bool               `xml:"mapPublicIpOnLaunch"`
	MapCustomerOwnedIPOnLaunch    bool               `xml:"mapCustomerOwnedIpOnLaunch"`
	AssignIpv6AddressOnCreation   bool               `xml:"assignIpv6AddressOnCreation"`
	EnableDns64                   bool               `xml:"enableDns64"`
	Ipv6Native                    bool               `xml:"ipv6Native"`
	TagSet                        []Tag              `xml:"tagSet>item,omitempty"`
	PrivateDNSNameOptionsOnLaunch privateDNSOptions  `xml:"privateDnsNameOptionsOnLaunch"`
	BlockPublicAccessStates       *blockPublicAccess `xml:"blockPublicAccessStates,omitempty"`
}

type privateDNSOptions struct {
	HostnameType                    string `xml:"hostnameType"`
	EnableResourceNameDNSARecord    bool   `xml:"enableResourceNameDnsARecord"`
	EnableResourceNameDNSAAAARecord bool   `xml:"enableResourceNameDnsAAAARecord"`
}

func subnetXML(v *controlplane.SubnetView) SubnetXML {
	return SubnetXML{
		SubnetID: v.ID, SubnetArn: controlplane.SubnetARN(v.Subnet), State: v.State, VpcID: v.VpcID, OwnerID: v.OwnerID,
		CidrBlock: v.CidrBlock, AvailableIPAddressCount: v.AvailableIPAddressCount,
		AvailabilityZone: v.AvailabilityZone, AvailabilityZoneID: v.AvailabilityZoneID,
		DefaultForAz: v.DefaultForAz, MapPublicIPOnLaunch: v.MapPublicIPOnLaunch, TagSet: tagSet(v.Tags),
		PrivateDNSNameOptionsOnLaunch: privateDNSOptions{HostnameType: "ip-name"},
		BlockPublicAccessStates:       &blockPublicAccess{InternetGatewayBlockMode: "off"},
	}
}

func (a *API) createSubnet(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if v := r.Params.Get("Ipv6Native"); v != "" && !strings.EqualFold(v, "false") {
		return nil, cloud.Errorf("UnsupportedOperation", "IPv6-only subnets are not supported by privlink.")
	}
	for _, p := range []string{"Ipv6CidrBlock", "Ipv4IpamPoolId", "Ipv4NetmaskLength", "Ipv6IpamPoolId", "Ipv6NetmaskLength", "OutpostArn"} {
		if r.Params.Has(p) {
			return nil, cloud.Errorf("UnsupportedOperation", "The parameter %s is not supported by privlink: subnets are IPv4 with an explicit CidrBlock.", p)
		}
	}
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	s, err := a.cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{
		VpcID: r.Params.Get("VpcId"), CidrBlock: r.Params.Get("CidrBlock"),
		AvailabilityZone: r.Params.Get("AvailabilityZone"), AvailabilityZoneID: r.Params.Get("AvailabilityZoneId"),
		Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		Subnet SubnetXML `xml:"subnet"`
	}{subnetXML(s)}, nil
}

func (a *API) describeSubnets(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "SubnetId")
	if err != nil {
		return nil, err
	}
	subnets, next, err := a.cp.DescribeSubnets(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Subnets   []SubnetXML `xml:"subnetSet>item"`
		NextToken string      `xml:"nextToken,omitempty"`
	}{NextToken: next}
	out.Subnets = make([]SubnetXML, 0, len(subnets))
	for _, s := range subnets {
		out.Subnets = append(out.Subnets, subnetXML(s))
	}
	return out, nil
}

func (a *API) deleteSubnet(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DeleteSubnet(ctx, c, r.Params.Get("SubnetId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) modifySubnetAttribute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in := controlplane.ModifySubnetAttributeInput{SubnetID: r.Params.Get("SubnetId")}
	var err error
	if in.MapPublicIPOnLaunch, err = r.Params.OptBool("MapPublicIpOnLaunch.Value"); err != nil {
		return nil, err
	}
	// Attributes privlink does not model always hold AWS's defaults; setting
	// one to its default is a no-op, anything else is unsupported.
	for _, p := range []struct{ name, def string }{
		{"AssignIpv6AddressOnCreation.Value", "false"}, {"MapCustomerOwnedIpOnLaunch.Value", "false"}, {"EnableDns64.Value", "false"},
		{"EnableResourceNameDnsARecordOnLaunch.Value", "false"}, {"EnableResourceNameDnsAAAARecordOnLaunch.Value", "false"},
		{"PrivateDnsHostnameTypeOnLaunch", "ip-name"}, {"DisableLniAtDeviceIndex.Value", "false"},
		{"CustomerOwnedIpv4Pool", ""}, {"EnableLniAtDeviceIndex", ""},
	} {
		if !r.Params.Has(p.name) {
			continue
		}
		if v := r.Params.Get(p.name); p.def == "" || !strings.EqualFold(v, p.def) {
			return nil, cloud.Errorf("UnsupportedOperation", "The subnet attribute %s=%s is not supported by privlink; only MapPublicIpOnLaunch can be changed.", p.name, v)
		}
		if in.AtDefault != "" {
			return nil, cloud.Errorf("InvalidParameterCombination", "Exactly one attribute must be specified per request.")
		}
		in.AtDefault = p.name
	}
	if err := a.cp.ModifySubnetAttribute(ctx, c, in); err != nil {
		return nil, err
	}
	return ok, nil
}
