package ec2

import (
	"context"
	"strings"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerInstance(m map[string]awsapi.Handler) {
	m["RunInstances"] = withCall(a.runInstances)
	m["ModifyInstanceAttribute"] = withCall(a.modifyInstanceAttribute)
	m["DescribeInstances"] = withCall(a.describeInstances)
	m["TerminateInstances"] = withCall(a.terminateInstances)
}

type instanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func stateXML(name string) instanceStateXML {
	return instanceStateXML{Code: controlplane.InstanceStateCode(name), Name: name}
}

type placementXML struct {
	AvailabilityZone string `xml:"availabilityZone"`
	GroupName        string `xml:"groupName"`
	Tenancy          string `xml:"tenancy"`
}

type monitoringXML struct {
	State string `xml:"state"`
}

type stateReasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

// instanceNetworkInterfaceXML is the InstanceNetworkInterface shape.
type instanceNetworkInterfaceXML struct {
	NetworkInterfaceID string               `xml:"networkInterfaceId"`
	SubnetID           string               `xml:"subnetId"`
	VpcID              string               `xml:"vpcId"`
	Description        string               `xml:"description"`
	OwnerID            string               `xml:"ownerId"`
	Status             string               `xml:"status"`
	MacAddress         string               `xml:"macAddress"`
	PrivateIPAddress   string               `xml:"privateIpAddress"`
	PrivateDNSName     string               `xml:"privateDnsName"`
	SourceDestCheck    bool                 `xml:"sourceDestCheck"`
	GroupSet           []GroupIdentifierXML `xml:"groupSet>item"`
	Attachment         *eniAttachmentXML    `xml:"attachment,omitempty"`
	PrivateIPAddresses []privateIPXML       `xml:"privateIpAddressesSet>item"`
	InterfaceType      string               `xml:"interfaceType"`
}

// InstanceXML is the Instance shape.
type InstanceXML struct {
	InstanceID         string                        `xml:"instanceId"`
	ImageID            string                        `xml:"imageId"`
	InstanceState      instanceStateXML              `xml:"instanceState"`
	PrivateDNSName     string                        `xml:"privateDnsName"`
	DNSName            string                        `xml:"dnsName"`
	Reason             string                        `xml:"reason"`
	KeyName            string                        `xml:"keyName,omitempty"`
	AmiLaunchIndex     int                           `xml:"amiLaunchIndex"`
	InstanceType       string                        `xml:"instanceType"`
	LaunchTime         string                        `xml:"launchTime"`
	Placement          placementXML                  `xml:"placement"`
	Monitoring         monitoringXML                 `xml:"monitoring"`
	SubnetID           string                        `xml:"subnetId,omitempty"`
	VpcID              string                        `xml:"vpcId,omitempty"`
	PrivateIPAddress   string                        `xml:"privateIpAddress,omitempty"`
	SourceDestCheck    bool                          `xml:"sourceDestCheck"`
	GroupSet           []GroupIdentifierXML          `xml:"groupSet>item"`
	StateReason        *stateReasonXML               `xml:"stateReason,omitempty"`
	Architecture       string                        `xml:"architecture"`
	RootDeviceType     string                        `xml:"rootDeviceType"`
	RootDeviceName     string                        `xml:"rootDeviceName"`
	VirtualizationType string                        `xml:"virtualizationType"`
	ClientToken        string                        `xml:"clientToken,omitempty"`
	TagSet             []Tag                         `xml:"tagSet>item,omitempty"`
	Hypervisor         string                        `xml:"hypervisor"`
	NetworkInterfaces  []instanceNetworkInterfaceXML `xml:"networkInterfaceSet>item"`
	EbsOptimized       bool                          `xml:"ebsOptimized"`
	EnaSupport         bool                          `xml:"enaSupport"`
	PlatformDetails    string                        `xml:"platformDetails"`
	UsageOperation     string                        `xml:"usageOperation"`
}

var stateReasonMessages = map[string]string{
	controlplane.InstancePending:   "pending",
	"Client.UserInitiatedShutdown": "Client.UserInitiatedShutdown: User initiated shutdown",
}

func instanceXML(v *controlplane.InstanceView) InstanceXML {
	x := InstanceXML{
		InstanceID: v.ID, ImageID: v.ImageID, InstanceState: stateXML(v.State), Reason: v.TransitionReason,
		KeyName: v.KeyName, AmiLaunchIndex: v.AmiLaunchIndex, InstanceType: v.InstanceType, LaunchTime: timestamp(v.CreatedAt),
		Placement:       placementXML{AvailabilityZone: v.AvailabilityZone, Tenancy: v.Tenancy},
		SourceDestCheck: v.SourceDestCheck, GroupSet: groupSetXML(v.Groups),
		Architecture: "x86_64", RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm",
		ClientToken: v.ClientToken, TagSet: tagSet(v.Tags), Hypervisor: "xen", EnaSupport: true,
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
	}
	x.Monitoring.State = "disabled"
	if v.StateReason != "" {
		msg := stateReasonMessages[v.StateReason]
		if msg == "" {
			msg = v.StateReason
		}
		x.StateReason = &stateReasonXML{Code: v.StateReason, Message: msg}
	}
	if eni := v.Interface; eni != nil {
		x.PrivateDNSName, x.SubnetID, x.VpcID, x.PrivateIPAddress = v.PrivateDNSName, v.SubnetID, v.VpcID, v.PrivateIPAddress
		var at *eniAttachmentXML
		if a := attachmentXML(eni.Attachment); a != nil {
			a.InstanceID, a.InstanceOwnerID = "", ""
			at = a
		}
		x.NetworkInterfaces = []instanceNetworkInterfaceXML{{
			NetworkInterfaceID: eni.ID, SubnetID: eni.SubnetID, VpcID: eni.VpcID, Description: eni.Description,
			OwnerID: eni.OwnerID, Status: eni.Status, MacAddress: eni.MacAddress, PrivateIPAddress: eni.PrivateIPAddress,
			PrivateDNSName: eni.PrivateDNSName, SourceDestCheck: eni.SourceDestCheck, GroupSet: groupSetXML(eni.Groups),
			Attachment: at, InterfaceType: eni.InterfaceType,
			PrivateIPAddresses: []privateIPXML{{PrivateIPAddress: eni.PrivateIPAddress, PrivateDNSName: eni.PrivateDNSName, Primary: true}},
		}}
	}
	return x
}

// reservationXML is the Reservation shape.
type reservationXML struct {
	ReservationID string               `xml:"reservationId"`
	OwnerID       string               `xml:"ownerId"`
	GroupSet      []GroupIdentifierXML `xml:"groupSet>item"`
	Instances     []InstanceXML        `xml:"instancesSet>item"`
}

func toReservationXML(r *controlplane.Reservation) reservationXML {
	out := reservationXML{ReservationID: r.ID, OwnerID: r.OwnerID}
	for _, v := range r.Instances {
		out.Instances = append(out.Instances, instanceXML(v))
	}
	return out
}

// unsupportedRunParams are RunInstances parameters privlink cannot honour:
// instances here are network namespaces, not virtual machines.
var unsupportedRunParams = []string{
	"Ipv6AddressCount", "Ipv6Address", "LaunchTemplate", "InstanceMarketOptions", "CapacityReservationSpecification",
	"HibernationOptions", "LicenseSpecification", "EnclaveOptions", "ElasticGpuSpecification", "ElasticInferenceAccelerator",
	"SecondaryInterface", "KernelId", "RamdiskId", "Placement.GroupName", "Placement.GroupId", "Placement.HostId",
	"Placement.PartitionNumber", "Placement.HostResourceGroupArn", "Placement.Affinity", "EnablePrimaryIpv6",
	"UserData", "IamInstanceProfile", "BlockDeviceMapping", "CpuOptions",
}

func (a *API) runInstances(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	for _, p := range unsupportedRunParams {
		if r.Params.Has(p) || len(r.Params.Struct(p)) > 0 {
			return nil, cloud.Errorf("UnsupportedOperation", "The parameter %s is not supported by privlink.", p)
		}
	}
	if r.Params.Get("Monitoring.Enabled") == "true" {
		return nil, cloud.Errorf("UnsupportedOperation", "Detailed monitoring is not supported by privlink.")
	}
	if t := r.Params.Get("Placement.Tenancy"); t != "" && t != "default" {
		return nil, cloud.Errorf("UnsupportedOperation", "The tenancy '%s' is not supported by privlink.", t)
	}
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	minCount, err := r.Params.OptInt("MinCount")
	if err != nil {
		return nil, err
	}
	maxCount, err := r.Params.OptInt("MaxCount")
	if err != nil {
		return nil, err
	}
	in := controlplane.RunInstancesInput{
		ImageID: r.Params.Get("ImageId"), InstanceType: r.Params.Get("InstanceType"),
		MinCount: minCount, MaxCount: maxCount, SubnetID: r.Params.Get("SubnetId"),
		SecurityGroupIDs: r.Params.List("SecurityGroupId"), SecurityGroupNames: r.Params.List("SecurityGroup"),
		PrivateIPAddress: r.Params.Get("PrivateIpAddress"), KeyName: r.Params.Get("KeyName"),
		ClientToken: r.Params.Get("ClientToken"), Tags: tags,
	}
	for _, ni := range r.Params.Structs("NetworkInterface") {
		for k := range ni {
			switch field, _, _ := strings.Cut(k, "."); field {
			case "DeviceIndex", "SubnetId", "SecurityGroupId", "PrivateIpAddress", "Description", "DeleteOnTermination":
			case "AssociatePublicIpAddress":
				if ni.Get(k) != "false" {
					return nil, cloud.Errorf("UnsupportedOperation", "privlink instances have no public IP addresses.")
				}
			default:
				return nil, cloud.Errorf("UnsupportedOperation", "The parameter NetworkInterface.N.%s is not supported by privlink.", field)
			}
		}
		if dot, err := ni.Bool("DeleteOnTermination", true); err != nil {
			return nil, err
		} else if !dot {
			return nil, cloud.Errorf("UnsupportedOperation", "The primary network interface of a privlink instance is always deleted on termination.")
		}
		idx, err := ni.OptInt("DeviceIndex")
		if err != nil {
			return nil, err
		}
		in.NetworkInterfaces = append(in.NetworkInterfaces, controlplane.InstanceInterfaceSpec{
			DeviceIndex: idx, SubnetID: ni.Get("SubnetId"), SecurityGroupIDs: ni.List("SecurityGroupId"),
			PrivateIPAddress: ni.Get("PrivateIpAddress"), Description: ni.Get("Description"),
		})
	}
	res, err := a.cp.RunInstances(ctx, c, in)
	if err != nil {
		return nil, err
	}
	x := toReservationXML(res)
	return &x, nil
}

func (a *API) describeInstances(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "InstanceId")
	if err != nil {
		return nil, err
	}
	res, next, err := a.cp.DescribeInstances(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Reservations []reservationXML `xml:"reservationSet>item"`
		NextToken    string           `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, rv := range res {
		out.Reservations = append(out.Reservations, toReservationXML(rv))
	}
	return out, nil
}

func (a *API) terminateInstances(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	changes, err := a.cp.TerminateInstances(ctx, c, r.Params.List("InstanceId"))
	if err != nil {
		return nil, err
	}
	type changeXML struct {
		InstanceID    string           `xml:"instanceId"`
		CurrentState  instanceStateXML `xml:"currentState"`
		PreviousState instanceStateXML `xml:"previousState"`
	}
	out := &struct {
		Instances []changeXML `xml:"instancesSet>item"`
	}{}
	for _, ch := range changes {
		out.Instances = append(out.Instances, changeXML{InstanceID: ch.InstanceID, CurrentState: stateXML(ch.CurrentState), PreviousState: stateXML(ch.PreviousState)})
	}
	return out, nil
}

// modifyInstanceAttribute takes the source/destination check in either of
// EC2's forms (SourceDestCheck.Value, or Attribute=sourceDestCheck with
// Value); privlink models no other instance attribute.
func (a *API) modifyInstanceAttribute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	id := r.Params.Get("InstanceId")
	if id == "" {
		return nil, cloud.MissingParameter("InstanceId")
	}
	check, err := r.Params.OptBool("SourceDestCheck.Value")
	if err != nil {
		return nil, err
	}
	others := 0
	for k := range r.Params {
		if k != "Action" && k != "Version" && k != "InstanceId" && k != "DryRun" && k != "SourceDestCheck.Value" && k != "Attribute" && k != "Value" {
			others++
		}
	}
	switch attr := r.Params.Get("Attribute"); {
	case others > 0 || attr != "" && attr != "sourceDestCheck" || attr != "" && check != nil:
		return nil, cloud.Errorf("UnsupportedOperation", "privlink modifies only an instance's sourceDestCheck.")
	case attr == "sourceDestCheck":
		if check, err = r.Params.OptBool("Value"); err != nil {
			return nil, err
		}
		if check == nil {
			return nil, cloud.MissingParameter("Value")
		}
	case check == nil:
		return nil, cloud.MissingParameter("SourceDestCheck")
	}
	if err := a.cp.ModifyInstanceSourceDestCheck(ctx, c, id, *check); err != nil {
		return nil, err
	}
	return ok, nil
}
