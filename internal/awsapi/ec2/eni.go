package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerENI(m map[string]awsapi.Handler) {
	m["CreateNetworkInterface"] = withCall(a.createNetworkInterface)
	m["DescribeNetworkInterfaces"] = withCall(a.describeNetworkInterfaces)
	m["DeleteNetworkInterface"] = withCall(a.deleteNetworkInterface)
	m["ModifyNetworkInterfaceAttribute"] = withCall(a.modifyNetworkInterfaceAttribute)
}

// GroupIdentifierXML is the GroupIdentifier shape.
type GroupIdentifierXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

func groupSetXML(gs []controlplane.InterfaceGroup) []GroupIdentifierXML {
	out := make([]GroupIdentifierXML, len(gs))
	for i, g := range gs {
		out[i] = GroupIdentifierXML{GroupID: g.ID, GroupName: g.Name}
	}
	return out
}

// eniAttachmentXML is the NetworkInterfaceAttachment shape (and, without
// the instance fields, InstanceNetworkInterfaceAttachment).
type eniAttachmentXML struct {
	AttachmentID        string `xml:"attachmentId"`
	InstanceID          string `xml:"instanceId,omitempty"`
	InstanceOwnerID     string `xml:"instanceOwnerId,omitempty"`
	DeviceIndex         int    `xml:"deviceIndex"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type privateIPXML struct {
	PrivateIPAddress string `xml:"privateIpAddress"`
	PrivateDNSName   string `xml:"privateDnsName,omitempty"`
	Primary          bool   `xml:"primary"`
}

// NetworkInterfaceXML is the NetworkInterface shape.
type NetworkInterfaceXML struct {
	NetworkInterfaceID string               `xml:"networkInterfaceId"`
	SubnetID           string               `xml:"subnetId"`
	VpcID              string               `xml:"vpcId"`
	AvailabilityZone   string               `xml:"availabilityZone"`
	Description        string               `xml:"description"`
	OwnerID            string               `xml:"ownerId"`
	RequesterID        string               `xml:"requesterId,omitempty"`
	RequesterManaged   bool                 `xml:"requesterManaged"`
	Status             string               `xml:"status"`
	MacAddress         string               `xml:"macAddress"`
	PrivateIPAddress   string               `xml:"privateIpAddress"`
	PrivateDNSName     string               `xml:"privateDnsName,omitempty"`
	SourceDestCheck    bool                 `xml:"sourceDestCheck"`
	GroupSet           []GroupIdentifierXML `xml:"groupSet>item"`
	Attachment         *eniAttachmentXML    `xml:"attachment,omitempty"`
	TagSet             []Tag                `xml:"tagSet>item"`
	PrivateIPAddresses []privateIPXML       `xml:"privateIpAddressesSet>item"`
	InterfaceType      string               `xml:"interfaceType"`
	DenyAllIgwTraffic  bool                 `xml:"denyAllIgwTraffic"`
}

func attachmentXML(at *controlplane.InterfaceAttachment) *eniAttachmentXML {
	if at == nil {
		return nil
	}
	return &eniAttachmentXML{
		AttachmentID: at.ID, InstanceID: at.InstanceID, InstanceOwnerID: at.InstanceOwnerID, DeviceIndex: at.DeviceIndex,
		Status: at.Status, AttachTime: timestamp(at.AttachTime), DeleteOnTermination: at.DeleteOnTermination,
	}
}

func networkInterfaceXML(v *controlplane.InterfaceView) NetworkInterfaceXML {
	return NetworkInterfaceXML{
		NetworkInterfaceID: v.ID, SubnetID: v.SubnetID, VpcID: v.VpcID, AvailabilityZone: v.AvailabilityZone,
		Description: v.Description, OwnerID: v.OwnerID, RequesterID: v.RequesterID, RequesterManaged: v.RequesterManaged,
		Status: v.Status, MacAddress: v.MacAddress, PrivateIPAddress: v.PrivateIPAddress, PrivateDNSName: v.PrivateDNSName,
		SourceDestCheck: v.SourceDestCheck, GroupSet: groupSetXML(v.Groups), Attachment: attachmentXML(v.Attachment),
		TagSet:             tagSet(v.Tags),
		PrivateIPAddresses: []privateIPXML{{PrivateIPAddress: v.PrivateIPAddress, PrivateDNSName: v.PrivateDNSName, Primary: true}},
		InterfaceType:      v.InterfaceType,
	}
}

func (a *API) createNetworkInterface(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	switch t := r.Params.Get("InterfaceType"); t {
	case "", cloud.InterfaceTypeInterface:
	default:
		return nil, cloud.Errorf("UnsupportedOperation", "Interface type '%s' is not supported by privlink.", t)
	}
	for _, p := range []string{"PrivateIpAddresses", "SecondaryPrivateIpAddressCount", "Ipv6AddressCount", "Ipv6Addresses",
		"Ipv4Prefix", "Ipv4PrefixCount", "Ipv6Prefix", "Ipv6PrefixCount", "EnablePrimaryIpv6", "ConnectionTrackingSpecification", "Operator"} {
		if r.Params.Has(p) || len(r.Params.Struct(p)) > 0 {
			return nil, cloud.Errorf("UnsupportedOperation", "The parameter %s is not supported by privlink: interfaces have one private IPv4 address.", p)
		}
	}
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	token := r.Params.Get("ClientToken")
	v, err := a.cp.CreateNetworkInterface(ctx, c, controlplane.CreateNetworkInterfaceInput{
		SubnetID: r.Params.Get("SubnetId"), PrivateIPAddress: r.Params.Get("PrivateIpAddress"),
		SecurityGroupIDs: r.Params.List("SecurityGroupId"), Description: r.Params.Get("Description"),
		Tags: tags, ClientToken: token,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		NetworkInterface NetworkInterfaceXML `xml:"networkInterface"`
		ClientToken      string              `xml:"clientToken,omitempty"`
	}{networkInterfaceXML(v), token}, nil
}

func (a *API) describeNetworkInterfaces(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "NetworkInterfaceId")
	if err != nil {
		return nil, err
	}
	enis, next, err := a.cp.DescribeNetworkInterfaces(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		NetworkInterfaces []NetworkInterfaceXML `xml:"networkInterfaceSet>item"`
		NextToken         string                `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, v := range enis {
		out.NetworkInterfaces = append(out.NetworkInterfaces, networkInterfaceXML(v))
	}
	return out, nil
}

func (a *API) deleteNetworkInterface(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DeleteNetworkInterface(ctx, c, r.Params.Get("NetworkInterfaceId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) modifyNetworkInterfaceAttribute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if len(r.Params.Struct("Attachment")) > 0 || len(r.Params.List("AssociatedSubnetId")) > 0 ||
		r.Params.Has("EnaSrdSpecification") || len(r.Params.Struct("EnaSrdSpecification")) > 0 ||
		len(r.Params.Struct("ConnectionTrackingSpecification")) > 0 || r.Params.Has("EnablePrimaryIpv6") || r.Params.Has("AssociatePublicIpAddress") {
		return nil, cloud.Errorf("UnsupportedOperation", "privlink modifies only an interface's Description, SourceDestCheck and security groups.")
	}
	in := controlplane.ModifyNetworkInterfaceInput{NetworkInterfaceID: r.Params.Get("NetworkInterfaceId")}
	if r.Params.Has("Description.Value") {
		d := r.Params.Get("Description.Value")
		in.Description = &d
	}
	var err error
	if in.SourceDestCheck, err = r.Params.OptBool("SourceDestCheck.Value"); err != nil {
		return nil, err
	}
	if groups := r.Params.List("SecurityGroupId"); len(groups) > 0 {
		in.SecurityGroupIDs = groups
	}
	if err := a.cp.ModifyNetworkInterfaceAttribute(ctx, c, in); err != nil {
		return nil, err
	}
	return ok, nil
}
