package controlplane

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// maxGroupsPerInterface is AWS's default quota of security groups per interface.
const maxGroupsPerInterface = 5

// InterfaceGroup names a security group as describe responses show it.
type InterfaceGroup struct {
	ID   string
	Name string
}

// InterfaceAttachment is an interface's attachment as DescribeNetworkInterfaces
// shows it: to an instance, or to the AWS service that manages it.
type InterfaceAttachment struct {
	ID                  string
	InstanceID          string
	InstanceOwnerID     string
	DeviceIndex         int
	Status              string
	AttachTime          time.Time
	DeleteOnTermination bool
}

// InterfaceView is a network interface with what Describe looks up elsewhere.
type InterfaceView struct {
	*cloud.NetworkInterface
	Groups     []InterfaceGroup
	Attachment *InterfaceAttachment
}

// interfaceGroups looks up the names of security groups by ID.
func interfaceGroups(tx *store.Tx, ids []string) []InterfaceGroup {
	out := make([]InterfaceGroup, 0, len(ids))
	for _, id := range ids {
		g := InterfaceGroup{ID: id}
		if sg, ok := store.Get[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, id); ok {
			g.Name = sg.GroupName
		}
		out = append(out, g)
	}
	return out
}

// interfaceView builds the Describe view of an interface.
func interfaceView(tx *store.Tx, eni *cloud.NetworkInterface) *InterfaceView {
	v := &InterfaceView{NetworkInterface: eni, Groups: interfaceGroups(tx, eni.SecurityGroupIDs)}
	switch {
	case eni.InstanceID != "":
		v.Attachment = &InterfaceAttachment{ID: eni.AttachmentID, InstanceID: eni.InstanceID, InstanceOwnerID: eni.OwnerID,
			Status: "attached", AttachTime: eni.CreatedAt, DeleteOnTermination: true}
	case eni.RequesterManaged:
		// Service-managed interfaces show an attachment to the service's
		// pseudo-account, as AWS shows endpoint and load balancer ENIs.
		owner := "amazon-aws"
		if eni.InterfaceType == cloud.InterfaceTypeNLB || eni.InterfaceType == cloud.InterfaceTypeGWLB {
			owner = "amazon-elb"
		}
		id := eni.AttachmentID
		if id == "" {
			id = "ela-attach-" + strings.TrimPrefix(eni.ID, "eni-")
		}
		v.Attachment = &InterfaceAttachment{ID: id, InstanceOwnerID: owner, DeviceIndex: 1, Status: "attached", AttachTime: eni.CreatedAt}
	}
	return v
}

// checkInterfaceGroups validates security group IDs for an interface in
// vpcID (deduplicated, at most five, each the caller's and in that VPC).
// No IDs means the VPC's default group.
func checkInterfaceGroups(tx *store.Tx, c *Call, vpc *cloud.Vpc, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return []string{vpc.DefaultSecurityGroupID}, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if !strings.HasPrefix(id, "sg-") {
			return nil, cloud.Errorf("InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id)
		}
		sg := getOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, id)
		if sg == nil || sg.VpcID != vpc.ID {
			return nil, cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", id, vpc.ID)
		}
		out = append(out, id)
	}
	if len(out) > maxGroupsPerInterface {
		return nil, cloud.Errorf("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.")
	}
	return out, nil
}

// CreateNetworkInterfaceInput is CreateNetworkInterface's parameters.
type CreateNetworkInterfaceInput struct {
	SubnetID         string
	PrivateIPAddress string
	SecurityGroupIDs []string
	Description      string
	Tags             []TagSpec
	ClientToken      string
}

// CreateNetworkInterface allocates a detached interface in a subnet.
func (cp *ControlPlane) CreateNetworkInterface(ctx context.Context, c *Call, in CreateNetworkInterfaceInput) (*InterfaceView, error) {
	if in.SubnetID == "" {
		return nil, cloud.MissingParameter("SubnetId")
	}
	if len(in.Description) > 255 {
		return nil, cloud.InvalidParameterValue("Description", in.Description, "Descriptions are at most 255 characters.")
	}
	tags, err := tagsFor(in.Tags, "network-interface")
	if err != nil {
		return nil, err
	}
	var out *InterfaceView
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "network-interface", "*")); err != nil {
					return err
				}
				eni := getOwned[cloud.NetworkInterface](tx, c, cloud.KindNetworkInterface, id)
				if eni == nil {
					return cloud.Errorf("IdempotentParameterMismatch", "The network interface created with this client token no longer exists.")
				}
				out = interfaceView(tx, eni)
			}
			return err
		}
		subnet, err := subnetFor(tx, c, in.SubnetID)
		if err != nil {
			return err
		}
		vpc, _ := store.Get[cloud.Vpc](tx, cloud.KindVpc, subnet.VpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", subnet.VpcID)
		}
		groups, err := checkInterfaceGroups(tx, c, vpc, in.SecurityGroupIDs)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "network-interface", "*")); err != nil {
			return err
		}
		eni, err := cp.allocateInterface(tx, c, subnet, InterfaceSpec{
			PrivateIP: in.PrivateIPAddress, Description: in.Description, SecurityGroupIDs: groups, Tags: tags,
		})
		if err != nil {
			return err
		}
		eni = store.Clone(eni)
		eni.Status = "available"
		tx.Put(cloud.KindNetworkInterface, eni.ID, eni)
		cp.rememberToken(tx, c, in.ClientToken, in, eni.ID)
		out = interfaceView(tx, eni)
		return nil
	})
	return out, err
}

// interfaceFor fetches the caller's interface or InvalidNetworkInterfaceID.NotFound.
func interfaceFor(tx *store.Tx, c *Call, id string) (*cloud.NetworkInterface, error) {
	if id == "" {
		return nil, cloud.MissingParameter("NetworkInterfaceId")
	}
	if !strings.HasPrefix(id, "eni-") {
		return nil, cloud.Errorf("InvalidNetworkInterfaceID.Malformed", "Invalid id: \"%s\" (expecting \"eni-...\")", id)
	}
	eni := getOwned[cloud.NetworkInterface](tx, c, cloud.KindNetworkInterface, id)
	if eni == nil {
		return nil, cloud.NotFound("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", id)
	}
	return eni, nil
}

// DeleteNetworkInterface deletes a detached interface the caller created.
func (cp *ControlPlane) DeleteNetworkInterface(ctx context.Context, c *Call, id string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		eni, err := interfaceFor(tx, c, id)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "network-interface", id)); err != nil {
			return err
		}
		if eni.RequesterManaged {
			return cloud.Errorf("OperationNotPermitted", "The network interface '%s' is managed by %s and cannot be deleted.", id, managerOf(eni))
		}
		if eni.InstanceID != "" || eni.Status == "in-use" {
			return cloud.Errorf("InvalidNetworkInterface.InUse", "The network interface '%s' is currently in use.", id)
		}
		tx.Delete(cloud.KindNetworkInterface, id)
		return nil
	})
}

func managerOf(eni *cloud.NetworkInterface) string {
	if eni.OwnerResource != "" {
		return eni.OwnerResource
	}
	if eni.RequesterID != "" {
		return eni.RequesterID
	}
	return "an AWS service"
}

// ModifyNetworkInterfaceInput is ModifyNetworkInterfaceAttribute's parameters;
// exactly one attribute is set.
type ModifyNetworkInterfaceInput struct {
	NetworkInterfaceID string
	Description        *string
	SourceDestCheck    *bool
	// SecurityGroupIDs replaces the groups when non-nil.
	SecurityGroupIDs []string
}

// ModifyNetworkInterfaceAttribute changes an interface's description, source/
// destination check or security groups. Service-managed interfaces refuse
// every change (endpoint groups change through ModifyVpcEndpoint).
func (cp *ControlPlane) ModifyNetworkInterfaceAttribute(ctx context.Context, c *Call, in ModifyNetworkInterfaceInput) error {
	set := 0
	for _, given := range []bool{in.Description != nil, in.SourceDestCheck != nil, in.SecurityGroupIDs != nil} {
		if given {
			set++
		}
	}
	if set != 1 {
		return cloud.Errorf("InvalidParameterCombination", "Exactly one attribute must be specified per request.")
	}
	if in.SecurityGroupIDs != nil && len(in.SecurityGroupIDs) == 0 {
		return cloud.MissingParameter("SecurityGroupId")
	}
	if in.Description != nil && len(*in.Description) > 255 {
		return cloud.InvalidParameterValue("Description", *in.Description, "Descriptions are at most 255 characters.")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		eni, err := interfaceFor(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "network-interface", eni.ID)); err != nil {
			return err
		}
		if eni.RequesterManaged {
			return cloud.Errorf("OperationNotPermitted", "The network interface '%s' is managed by %s and cannot be modified.", eni.ID, managerOf(eni))
		}
		n := store.Clone(eni)
		switch {
		case in.Description != nil:
			n.Description = *in.Description
		case in.SourceDestCheck != nil:
			n.SourceDestCheck = *in.SourceDestCheck
		default:
			vpc, _ := store.Get[cloud.Vpc](tx, cloud.KindVpc, eni.VpcID)
			if vpc == nil {
				return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", eni.VpcID)
			}
			groups, err := checkInterfaceGroups(tx, c, vpc, in.SecurityGroupIDs)
			if err != nil {
				return err
			}
			n.SecurityGroupIDs = groups
			// Keep the instance's record in step with its primary interface.
			if inst, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, eni.InstanceID); ok && eni.InstanceID != "" {
				ni := store.Clone(inst)
				ni.SecurityGroupIDs = append([]string(nil), groups...)
				tx.Put(cloud.KindInstance, ni.ID, ni)
			}
		}
		tx.Put(cloud.KindNetworkInterface, n.ID, n)
		return nil
	})
}

func attachmentField(get func(a *InterfaceAttachment) string) func(v *InterfaceView) []string {
	return func(v *InterfaceView) []string {
		if v.Attachment == nil {
			return nil
		}
		return one(get(v.Attachment))
	}
}

var interfaceFilters = filterer[InterfaceView]{
	tags: func(v *InterfaceView) cloud.Tags { return v.Tags },
	fields: fields[InterfaceView]{
		"addresses.private-ip-address": func(v *InterfaceView) []string { return one(v.PrivateIPAddress) },
		"addresses.primary":            func(v *InterfaceView) []string { return boolStr(true) },
		"attachment.attachment-id":     attachmentField(func(a *InterfaceAttachment) string { return a.ID }),
		"attachment.instance-id":       attachmentField(func(a *InterfaceAttachment) string { return a.InstanceID }),
		"attachment.instance-owner-id": attachmentField(func(a *InterfaceAttachment) string { return a.InstanceOwnerID }),
		"attachment.device-index":      attachmentField(func(a *InterfaceAttachment) string { return strconv.Itoa(a.DeviceIndex) }),
		"attachment.status":            attachmentField(func(a *InterfaceAttachment) string { return a.Status }),
		"attachment.attach-time": attachmentField(func(a *InterfaceAttachment) string {
			return a.AttachTime.UTC().Format("2006-01-02T15:04:05.000Z")
		}),
		"attachment.delete-on-termination": attachmentField(func(a *InterfaceAttachment) string {
			return strconv.FormatBool(a.DeleteOnTermination)
		}),
		"availability-zone":    func(v *InterfaceView) []string { return one(v.AvailabilityZone) },
		"description":          func(v *InterfaceView) []string { return []string{v.Description} },
		"group-id":             func(v *InterfaceView) []string { return v.SecurityGroupIDs },
		"group-name":           func(v *InterfaceView) []string { return groupNames(v.Groups) },
		"interface-type":       func(v *InterfaceView) []string { return one(v.InterfaceType) },
		"mac-address":          func(v *InterfaceView) []string { return one(v.MacAddress) },
		"network-interface-id": func(v *InterfaceView) []string { return one(v.ID) },
		"owner-id":             func(v *InterfaceView) []string { return one(v.OwnerID) },
		"private-dns-name":     func(v *InterfaceView) []string { return one(v.PrivateDNSName) },
		"private-ip-address":   func(v *InterfaceView) []string { return one(v.PrivateIPAddress) },
		"requester-id":         func(v *InterfaceView) []string { return one(v.RequesterID) },
		"requester-managed":    func(v *InterfaceView) []string { return boolStr(v.RequesterManaged) },
		"source-dest-check":    func(v *InterfaceView) []string { return boolStr(v.SourceDestCheck) },
		"status":               func(v *InterfaceView) []string { return one(v.Status) },
		"subnet-id":            func(v *InterfaceView) []string { return one(v.SubnetID) },
		"vpc-id":               func(v *InterfaceView) []string { return one(v.VpcID) },
	},
}

func groupNames(gs []InterfaceGroup) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

// DescribeNetworkInterfaces lists every interface in the caller's account,
// including those AWS services manage on its behalf (endpoints, load balancers).
func (cp *ControlPlane) DescribeNetworkInterfaces(ctx context.Context, c *Call, in DescribeInput) ([]*InterfaceView, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := interfaceFilters.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	want := idSet(in.IDs)
	var items []*InterfaceView
	err = cp.db.View(func(tx *store.Tx) error {
		for _, id := range in.IDs {
			if _, err := interfaceFor(tx, c, id); err != nil {
				return err
			}
		}
		for _, eni := range listOwned[cloud.NetworkInterface](tx, c, cloud.KindNetworkInterface, func(e *cloud.NetworkInterface) bool {
			return want == nil || want[e.ID]
		}) {
			if v := interfaceView(tx, eni); keep(v) {
				items = append(items, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return paginate(items, func(v *InterfaceView) string { return v.ID }, in.Page, 5, 1000)
}
