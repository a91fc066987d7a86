package controlplane

import (
	"context"
	"sort"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// CreateVpcInput is CreateVpc's parameters.
type CreateVpcInput struct {
	CidrBlock       string
	InstanceTenancy string
	Tags            []TagSpec
	ClientToken     string
}

// CreateVpc creates a VPC with its main route table, default network ACL and
// default security group, as AWS does.
func (cp *ControlPlane) CreateVpc(ctx context.Context, c *Call, in CreateVpcInput) (*cloud.Vpc, error) {
	if in.CidrBlock == "" {
		return nil, cloud.MissingParameter("CidrBlock")
	}
	prefix, ok := parseIPv4Prefix(in.CidrBlock)
	if !ok {
		return nil, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", in.CidrBlock)
	}
	if prefix.Bits() < 16 || prefix.Bits() > 28 {
		return nil, cloud.Errorf("InvalidVpc.Range", "The CIDR '%s' is invalid.", in.CidrBlock)
	}
	switch in.InstanceTenancy {
	case "", "default", "dedicated":
	default:
		return nil, cloud.InvalidParameterValue("InstanceTenancy", in.InstanceTenancy, "")
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "vpc")
	if err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "vpc", "*")); err != nil {
		return nil, err
	}
	var vpc *cloud.Vpc
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				vpc, _ = store.Get[cloud.Vpc](tx, cloud.KindVpc, id)
			}
			return err
		}
		vpcID := cloud.NewID("vpc")
		vpc = &cloud.Vpc{
			Meta:              cp.newMeta(c, vpcID, tags),
			CidrBlock:         prefix.String(),
			CidrAssociationID: cloud.NewID("vpc-cidr-assoc"),
			State:             "available",
			InstanceTenancy:   "default",
			EnableDnsSupport:  true,
		}
		if in.InstanceTenancy != "" {
			vpc.InstanceTenancy = in.InstanceTenancy
		}
		rtb := &cloud.RouteTable{
			Meta:         cp.newMeta(c, cloud.NewID("rtb"), nil),
			VpcID:        vpcID,
			Routes:       []cloud.Route{{DestinationCidrBlock: vpc.CidrBlock, GatewayID: "local", Origin: "CreateRouteTable", State: "active"}},
			Associations: []cloud.RouteTableAssociation{{ID: cloud.NewID("rtbassoc"), Main: true}},
		}
		acl := &cloud.NetworkAcl{
			Meta:      cp.newMeta(c, cloud.NewID("acl"), nil),
			VpcID:     vpcID,
			IsDefault: true,
			Entries:   defaultACLEntries(true),
		}
		sg := &cloud.SecurityGroup{
			Meta:        cp.newMeta(c, cloud.NewID("sg"), nil),
			GroupName:   "default",
			Description: "default VPC security group",
			VpcID:       vpcID,
			IsDefault:   true,
		}
		sg.Rules = []cloud.SecurityGroupRule{
			{ID: cloud.NewID("sgr"), IPProtocol: "-1", FromPort: -1, ToPort: -1, GroupID: sg.ID, GroupOwner: c.Account()},
			{ID: cloud.NewID("sgr"), Egress: true, IPProtocol: "-1", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0"},
		}
		vpc.MainRouteTableID, vpc.DefaultNetworkAclID, vpc.DefaultSecurityGroupID = rtb.ID, acl.ID, sg.ID
		tx.Put(cloud.KindVpc, vpc.ID, vpc)
		tx.Put(cloud.KindRouteTable, rtb.ID, rtb)
		tx.Put(cloud.KindNetworkAcl, acl.ID, acl)
		tx.Put(cloud.KindSecurityGroup, sg.ID, sg)
		cp.rememberToken(tx, c, in.ClientToken, in, vpc.ID)
		return nil
	})
	return vpc, err
}

// defaultACLEntries are the rules of a default ACL (allow all, rule 100) or
// a new custom ACL (deny all); both end with the * rule (32767, deny).
func defaultACLEntries(allowAll bool) []cloud.NetworkAclEntry {
	var out []cloud.NetworkAclEntry
	for _, egress := range []bool{false, true} {
		if allowAll {
			out = append(out, cloud.NetworkAclEntry{RuleNumber: 100, Egress: egress, Protocol: "-1", RuleAction: "allow", CidrBlock: "0.0.0.0/0"})
		}
		out = append(out, cloud.NetworkAclEntry{RuleNumber: 32767, Egress: egress, Protocol: "-1", RuleAction: "deny", CidrBlock: "0.0.0.0/0"})
	}
	return out
}

var vpcFilters = filterer[cloud.Vpc]{
	tags: func(v *cloud.Vpc) cloud.Tags { return v.Tags },
	fields: fields[cloud.Vpc]{
		"cidr":                                  func(v *cloud.Vpc) []string { return one(v.CidrBlock) },
		"cidr-block":                            func(v *cloud.Vpc) []string { return one(v.CidrBlock) },
		"cidr-block-association.cidr-block":     func(v *cloud.Vpc) []string { return one(v.CidrBlock) },
		"cidr-block-association.association-id": func(v *cloud.Vpc) []string { return one(v.CidrAssociationID) },
		"cidr-block-association.state":          func(v *cloud.Vpc) []string { return one("associated") },
		"dhcp-options-id":                       func(v *cloud.Vpc) []string { return one("default") },
		"is-default":                            func(v *cloud.Vpc) []string { return boolStr(v.IsDefault) },
		"owner-id":                              func(v *cloud.Vpc) []string { return one(v.OwnerID) },
		"state":                                 func(v *cloud.Vpc) []string { return one(v.State) },
		"vpc-id":                                func(v *cloud.Vpc) []string { return one(v.ID) },
	},
}

// DescribeInput is the common input of Describe calls.
type DescribeInput struct {
	IDs     []string
	Filters []cloud.Filter
	Page    Page
}

// DescribeVpcs lists the caller's VPCs.
func (cp *ControlPlane) DescribeVpcs(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.Vpc, string, error) {
	return describe(ctx, cp, c, in, cloud.KindVpc, vpcFilters, "InvalidVpcID.NotFound", "vpc ID", func(v *cloud.Vpc) string { return v.ID })
}

// describe is the shared implementation of Describe<Kind>s: IDs (each must
// exist), filters, sort by ID, pagination.
func describe[T any, PT interface {
	*T
	cloud.Resource
}](ctx context.Context, cp *ControlPlane, c *Call, in DescribeInput, kind string, f filterer[T], notFoundCode, what string, id func(*T) string) ([]*T, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := f.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	want := idSet(in.IDs)
	var items []*T
	err = cp.db.View(func(tx *store.Tx) error {
		for wid := range want {
			if getOwned[T, PT](tx, c, kind, wid) == nil {
				return cloud.Errorf(notFoundCode, "The %s '%s' does not exist", what, wid)
			}
		}
		eachCandidate(tx, kind, in.Filters, func(_ string, v any) bool {
			t := v.(*T)
			if visible(c, PT(t).Base()) && (want == nil || want[id(t)]) && keep(t) {
				items = append(items, t)
			}
			return true
		})
		sort.Slice(items, func(i, j int) bool { return id(items[i]) < id(items[j]) })
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return paginate(items, id, in.Page, 5, 1000)
}

// DeleteVpc deletes a VPC once nothing but its defaults remains in it.
func (cp *ControlPlane) DeleteVpc(ctx context.Context, c *Call, vpcID string) error {
	if vpcID == "" {
		return cloud.MissingParameter("VpcId")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, vpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", vpcID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "vpc", vpcID)); err != nil {
			return err
		}
		dependency := func(what string) error {
			return cloud.Errorf("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted. (%s remain)", vpcID, what)
		}
		inVpc := func(kind string, match func(v any) bool) bool {
			found := false
			tx.Each(kind, func(_ string, v any) bool {
				if match(v) {
					found = true
					return false
				}
				return true
			})
			return found
		}
		if inVpc(cloud.KindSubnet, func(v any) bool { return v.(*cloud.Subnet).VpcID == vpcID }) {
			return dependency("subnets")
		}
		if inVpc(cloud.KindInternetGateway, func(v any) bool {
			for _, a := range v.(*cloud.InternetGateway).Attachments {
				if a.VpcID == vpcID {
					return true
				}
			}
			return false
		}) {
			return dependency("internet gateways")
		}
		if inVpc(cloud.KindSecurityGroup, func(v any) bool {
			g := v.(*cloud.SecurityGroup)
			return g.VpcID == vpcID && !g.IsDefault
		}) {
			return dependency("security groups")
		}
		if inVpc(cloud.KindRouteTable, func(v any) bool {
			r := v.(*cloud.RouteTable)
			return r.VpcID == vpcID && !r.IsMain()
		}) {
			return dependency("route tables")
		}
		if inVpc(cloud.KindNetworkAcl, func(v any) bool {
			a := v.(*cloud.NetworkAcl)
			return a.VpcID == vpcID && !a.IsDefault
		}) {
			return dependency("network ACLs")
		}
		for _, hook := range vpcDependencyKinds {
			if tx.HasKind(hook.kind) && inVpc(hook.kind, func(v any) bool { return hook.inVpc(v, vpcID) }) {
				return dependency(hook.what)
			}
		}
		tx.Delete(cloud.KindVpc, vpcID)
		tx.Delete(cloud.KindRouteTable, vpc.MainRouteTableID)
		tx.Delete(cloud.KindNetworkAcl, vpc.DefaultNetworkAclID)
		tx.Delete(cloud.KindSecurityGroup, vpc.DefaultSecurityGroupID)
		return nil
	})
}

// vpcDependencyKinds lists further kinds (endpoints, load balancers) whose
// records keep a VPC from being deleted.
var vpcDependencyKinds = []struct {
	kind, what string
	inVpc      func(v any, vpcID string) bool
}{
	{kind: cloud.KindNetworkInterface, what: "network interfaces", inVpc: func(v any, vpcID string) bool { return v.(*cloud.NetworkInterface).VpcID == vpcID }},
	{kind: cloud.KindVpcEndpoint, what: "VPC endpoints", inVpc: func(v any, vpcID string) bool {
		ep := v.(*cloud.VpcEndpoint)
		return ep.VpcID == vpcID && ep.State != cloud.StateDeleted
	}},
	{kind: cloud.KindLoadBalancer, what: "load balancers", inVpc: func(v any, vpcID string) bool { return v.(*cloud.LoadBalancer).VpcID == vpcID }},
	{kind: cloud.KindTargetGroup, what: "target groups", inVpc: func(v any, vpcID string) bool { return v.(*cloud.TargetGroup).VpcID == vpcID }},
}

// VpcAttribute is one of the attributes of Describe/ModifyVpcAttribute.
type VpcAttribute string

// ModifyVpcAttribute sets enableDnsSupport or enableDnsHostnames.
func (cp *ControlPlane) ModifyVpcAttribute(ctx context.Context, c *Call, vpcID string, dnsSupport, dnsHostnames *bool) error {
	if vpcID == "" {
		return cloud.MissingParameter("VpcId")
	}
	if (dnsSupport == nil) == (dnsHostnames == nil) {
		return cloud.Errorf("InvalidParameterCombination", "Exactly one attribute must be specified per request.")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, vpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", vpcID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "vpc", vpcID)); err != nil {
			return err
		}
		v := store.Clone(vpc)
		if dnsSupport != nil {
			v.EnableDnsSupport = *dnsSupport
		}
		if dnsHostnames != nil {
			if *dnsHostnames && !v.EnableDnsSupport {
				return cloud.Errorf("InvalidParameterValue", "Cannot enable DNS hostnames unless DNS support is enabled.")
			}
			v.EnableDnsHostnames = *dnsHostnames
		}
		if dnsSupport != nil && !*dnsSupport && v.EnableDnsHostnames {
			return cloud.Errorf("InvalidParameterValue", "Cannot disable DNS support while DNS hostnames are enabled.")
		}
		if err := cp.checkPrivateDNSAttributes(tx, v); err != nil {
			return err
		}
		tx.Put(cloud.KindVpc, v.ID, v)
		return nil
	})
}

// privateDNSChecks lets endpoint rules refuse turning off DNS attributes that
// a private-DNS endpoint in the VPC needs.
func (cp *ControlPlane) checkPrivateDNSAttributes(tx *store.Tx, v *cloud.Vpc) error {
	for _, check := range cp.vpcAttributeChecks {
		if err := check(tx, v); err != nil {
			return err
		}
	}
	return nil
}

// DescribeVpcAttribute returns one attribute's value.
func (cp *ControlPlane) DescribeVpcAttribute(ctx context.Context, c *Call, vpcID, attribute string) (bool, error) {
	if vpcID == "" {
		return false, cloud.MissingParameter("VpcId")
	}
	if err := cp.checkDryRun(ctx, c); err != nil {
		return false, err
	}
	var out bool
	err := cp.db.View(func(tx *store.Tx) error {
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, vpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", vpcID)
		}
		switch attribute {
		case "enableDnsSupport":
			out = vpc.EnableDnsSupport
		case "enableDnsHostnames":
			out = vpc.EnableDnsHostnames
		case "":
			return cloud.MissingParameter("Attribute")
		default:
			return cloud.InvalidParameterValue("Attribute", attribute, "Supported attributes: enableDnsSupport, enableDnsHostnames.")
		}
		return nil
	})
	return out, err
}

// DescribeRegions lists the modelled regions.
func (cp *ControlPlane) DescribeRegions(ctx context.Context, c *Call, names []string) ([]cloud.Region, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, err
	}
	var out []cloud.Region
	for _, r := range cp.Regions() {
		if len(names) == 0 || contains1(names, r.Name) {
			out = append(out, r)
		}
	}
	for _, n := range names {
		if _, ok := cp.regions[n]; !ok {
			return nil, cloud.Errorf("InvalidParameterValue", "Invalid region: %s", n)
		}
	}
	return out, nil
}

// DescribeAvailabilityZones lists the zones of the call's region.
func (cp *ControlPlane) DescribeAvailabilityZones(ctx context.Context, c *Call, names, ids []string) ([]cloud.AZ, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, err
	}
	r, err := cp.region(c)
	if err != nil {
		return nil, err
	}
	var out []cloud.AZ
	for _, az := range r.AZs {
		if (len(names) == 0 && len(ids) == 0) || contains1(names, az.Name) || contains1(ids, az.ID) {
			out = append(out, az)
		}
	}
	for _, n := range append(append([]string{}, names...), ids...) {
		if _, ok := r.AZ(n); !ok {
			return nil, cloud.Errorf("InvalidParameterValue", "Invalid availability zone: [%s]", n)
		}
	}
	return out, nil
}

func contains1(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
