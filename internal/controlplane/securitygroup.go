package controlplane

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// maxRulesPerDirection is AWS's default quota of inbound (and, separately,
// outbound) rules per security group.
const maxRulesPerDirection = 60

// CreateSecurityGroupInput is CreateSecurityGroup's parameters.
type CreateSecurityGroupInput struct {
	GroupName   string
	Description string
	VpcID       string
	Tags        []TagSpec
}

// SecurityGroupARN is the ARN of a security group.
func SecurityGroupARN(g *cloud.SecurityGroup) string {
	return cloud.EC2ARN(g.Region, g.OwnerID, "security-group", g.ID)
}

// SecurityGroupRuleARN is the ARN of a security group rule.
func SecurityGroupRuleARN(region, owner, ruleID string) string {
	return cloud.EC2ARN(region, owner, "security-group-rule", ruleID)
}

// CreateSecurityGroup creates a group in a VPC with AWS's default egress
// rule (all traffic to 0.0.0.0/0).
func (cp *ControlPlane) CreateSecurityGroup(ctx context.Context, c *Call, in CreateSecurityGroupInput) (*cloud.SecurityGroup, error) {
	if in.GroupName == "" {
		return nil, cloud.MissingParameter("GroupName")
	}
	if in.Description == "" {
		return nil, cloud.MissingParameter("GroupDescription")
	}
	if !validSGText(in.GroupName) {
		return nil, cloud.InvalidParameterValue("GroupName", in.GroupName, "Group names are at most 255 characters of a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*.")
	}
	if !validSGText(in.Description) {
		return nil, cloud.InvalidParameterValue("GroupDescription", in.Description, "Group descriptions are at most 255 characters of a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*.")
	}
	if strings.HasPrefix(strings.ToLower(in.GroupName), "sg-") {
		return nil, cloud.Errorf("InvalidParameterValue", "Group names may not be in the format sg-*.")
	}
	if in.GroupName == "default" {
		return nil, cloud.Errorf("InvalidParameterValue", "Cannot use reserved security group name: default")
	}
	if in.VpcID == "" {
		// privlink models no default VPC, so every group names its VPC.
		return nil, cloud.Errorf("VPCIdNotSpecified", "No default VPC for this user")
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "security-group")
	if err != nil {
		return nil, err
	}
	var sg *cloud.SecurityGroup
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, in.VpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", in.VpcID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "security-group", "*")); err != nil {
			return err
		}
		if findSecurityGroupByName(tx, c, in.GroupName, in.VpcID) != nil {
			return cloud.Errorf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", in.GroupName, in.VpcID)
		}
		sg = &cloud.SecurityGroup{
			Meta:        cp.newMeta(c, cloud.NewID("sg"), tags),
			GroupName:   in.GroupName,
			Description: in.Description,
			VpcID:       in.VpcID,
			Rules: []cloud.SecurityGroupRule{{
				ID: cloud.NewID("sgr"), Egress: true, IPProtocol: "-1", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0",
			}},
		}
		tx.Put(cloud.KindSecurityGroup, sg.ID, sg)
		return nil
	})
	return sg, err
}

// findSecurityGroupByName returns the caller's group named name in vpcID ("" for any VPC).
func findSecurityGroupByName(tx *store.Tx, c *Call, name, vpcID string) *cloud.SecurityGroup {
	groups := listOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, func(g *cloud.SecurityGroup) bool {
		return g.GroupName == name && (vpcID == "" || g.VpcID == vpcID)
	})
	if len(groups) == 0 {
		return nil
	}
	return groups[0]
}

// resolveSecurityGroup finds the caller's group by ID, or else by name; a name used
// in several VPCs is ambiguous, since privlink has no default VPC to prefer.
func resolveSecurityGroup(tx *store.Tx, c *Call, id, name string) (*cloud.SecurityGroup, error) {
	if id != "" {
		g := getOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, id)
		if g == nil {
			return nil, cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		}
		return g, nil
	}
	if name == "" {
		return nil, cloud.MissingParameter("GroupId")
	}
	groups := listOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, func(g *cloud.SecurityGroup) bool { return g.GroupName == name })
	switch len(groups) {
	case 0:
		return nil, cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", name)
	case 1:
		return groups[0], nil
	}
	return nil, cloud.Errorf("InvalidParameterValue", "The security group name '%s' is used in more than one VPC; specify the group by GroupId.", name)
}

// DeleteSecurityGroup deletes a group that nothing uses, returning its ID.
func (cp *ControlPlane) DeleteSecurityGroup(ctx context.Context, c *Call, groupID, groupName string) (string, error) {
	var id string
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		g, err := resolveSecurityGroup(tx, c, groupID, groupName)
		if err != nil {
			return err
		}
		id = g.ID
		if err := cp.authorize(ctx, c, SecurityGroupARN(g)); err != nil {
			return err
		}
		if g.IsDefault {
			return cloud.Errorf("CannotDelete", "the specified group: \"%s\" name: \"%s\" cannot be deleted by a user", g.ID, g.GroupName)
		}
		if securityGroupInUse(tx, g.ID) {
			return cloud.Errorf("DependencyViolation", "resource %s has a dependent object", g.ID)
		}
		tx.Delete(cloud.KindSecurityGroup, g.ID)
		return nil
	})
	return id, err
}

// sgUserKinds are the kinds whose records name security groups; a group
// that any of them uses cannot be deleted.
var sgUserKinds = []struct {
	kind   string
	groups func(v any) []string
}{
	{cloud.KindNetworkInterface, func(v any) []string { return v.(*cloud.NetworkInterface).SecurityGroupIDs }},
	{cloud.KindInstance, func(v any) []string { return v.(*cloud.Instance).SecurityGroupIDs }},
	{cloud.KindVpcEndpoint, func(v any) []string { return v.(*cloud.VpcEndpoint).SecurityGroupIDs }},
	{cloud.KindLoadBalancer, func(v any) []string { return v.(*cloud.LoadBalancer).SecurityGroupIDs }},
}

// securityGroupInUse reports whether an interface, instance, endpoint or load
// balancer uses the group, or another group's rule references it.
func securityGroupInUse(tx *store.Tx, id string) bool {
	used := false
	for _, u := range sgUserKinds {
		if !tx.HasKind(u.kind) {
			continue
		}
		tx.Each(u.kind, func(_ string, v any) bool {
			if contains1(u.groups(v), id) {
				used = true
			}
			return !used
		})
		if used {
			return true
		}
	}
	tx.Each(cloud.KindSecurityGroup, func(gid string, v any) bool {
		if gid == id {
			return true
		}
		for _, r := range v.(*cloud.SecurityGroup).Rules {
			if r.GroupID == id {
				used = true
			}
		}
		return !used
	})
	return used
}

var sgFilters = filterer[cloud.SecurityGroup]{
	tags: func(g *cloud.SecurityGroup) cloud.Tags { return g.Tags },
	fields: withRuleFields(fields[cloud.SecurityGroup]{
		"group-id":    func(g *cloud.SecurityGroup) []string { return one(g.ID) },
		"group-name":  func(g *cloud.SecurityGroup) []string { return one(g.GroupName) },
		"vpc-id":      func(g *cloud.SecurityGroup) []string { return one(g.VpcID) },
		"owner-id":    func(g *cloud.SecurityGroup) []string { return one(g.OwnerID) },
		"description": func(g *cloud.SecurityGroup) []string { return one(g.Description) },
	}),
}

// withRuleFields adds the ip-permission.* (ingress) and
// egress.ip-permission.* filters, which match any rule of the direction.
func withRuleFields(f fields[cloud.SecurityGroup]) fields[cloud.SecurityGroup] {
	ruleFields := map[string]func(r *cloud.SecurityGroupRule) []string{
		"protocol": func(r *cloud.SecurityGroupRule) []string {
			if n, ok := sgProtocolNumbers[r.IPProtocol]; ok {
				return []string{r.IPProtocol, n}
			}
			return one(r.IPProtocol)
		},
		"from-port":      func(r *cloud.SecurityGroupRule) []string { return []string{strconv.Itoa(r.FromPort)} },
		"to-port":        func(r *cloud.SecurityGroupRule) []string { return []string{strconv.Itoa(r.ToPort)} },
		"cidr":           func(r *cloud.SecurityGroupRule) []string { return one(r.CidrIPv4) },
		"ipv6-cidr":      func(r *cloud.SecurityGroupRule) []string { return one(r.CidrIPv6) },
		"group-id":       func(r *cloud.SecurityGroupRule) []string { return one(r.GroupID) },
		"user-id":        func(r *cloud.SecurityGroupRule) []string { return one(r.GroupOwner) },
		"prefix-list-id": func(r *cloud.SecurityGroupRule) []string { return one(r.PrefixList) },
	}
	for name, get := range ruleFields {
		for _, egress := range []bool{false, true} {
			key := "ip-permission." + name
			if egress {
				key = "egress." + key
			}
			get, egress := get, egress
			f[key] = func(g *cloud.SecurityGroup) []string {
				var out []string
				for i := range g.Rules {
					if g.Rules[i].Egress == egress {
						out = append(out, get(&g.Rules[i])...)
					}
				}
				return out
			}
		}
	}
	return f
}

// DescribeSecurityGroupsInput adds group names to the common describe input.
type DescribeSecurityGroupsInput struct {
	DescribeInput
	GroupNames []string
}

// DescribeSecurityGroups lists the caller's security groups. GroupNames
// are matched literally (each must exist), as are GroupIds.
func (cp *ControlPlane) DescribeSecurityGroups(ctx context.Context, c *Call, in DescribeSecurityGroupsInput) ([]*cloud.SecurityGroup, string, error) {
	id := func(g *cloud.SecurityGroup) string { return g.ID }
	if len(in.GroupNames) == 0 {
		return describe(ctx, cp, c, in.DescribeInput, cloud.KindSecurityGroup, sgFilters, "InvalidGroup.NotFound", "security group", id)
	}
	err := cp.db.View(func(tx *store.Tx) error {
		for _, n := range in.GroupNames {
			if findSecurityGroupByName(tx, c, n, "") == nil {
				return cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	all := in.DescribeInput
	all.Page = Page{}
	groups, _, err := describe(ctx, cp, c, all, cloud.KindSecurityGroup, sgFilters, "InvalidGroup.NotFound", "security group", id)
	if err != nil {
		return nil, "", err
	}
	names := idSet(in.GroupNames)
	var kept []*cloud.SecurityGroup
	for _, g := range groups {
		if names[g.GroupName] {
			kept = append(kept, g)
		}
	}
	return paginate(kept, id, in.Page, 5, 1000)
}

// IPPermission is one IpPermissions entry: a protocol and port range with
// the peers it applies to (each peer becomes one stored rule).
type IPPermission struct {
	IPProtocol string
	FromPort   *int
	ToPort     *int
	IPRanges   []RulePeer // CidrIPv4
	IPv6Ranges []RulePeer // CidrIPv6
	PrefixList []RulePeer // PrefixListID
	Groups     []RulePeer // GroupID or GroupName, UserID
}

// RulePeer is one source or destination of a permission.
type RulePeer struct {
	CidrIPv4, CidrIPv6, PrefixListID string
	GroupID, GroupName, UserID       string
	Description                      string
}

// GroupPermissions renders one direction's stored rules as AWS's
// IpPermissions: one entry per (protocol, from, to) in the order they were
// first added, with each rule's peer in the list of its type.
func GroupPermissions(rules []cloud.SecurityGroupRule, egress bool) []IPPermission {
	var out []IPPermission
	index := map[string]int{}
	for _, r := range rules {
		if r.Egress != egress {
			continue
		}
		k := fmt.Sprintf("%s/%d/%d", r.IPProtocol, r.FromPort, r.ToPort)
		i, ok := index[k]
		if !ok {
			p := IPPermission{IPProtocol: r.IPProtocol}
			if sgHasPorts(r.IPProtocol) {
				from, to := r.FromPort, r.ToPort
				p.FromPort, p.ToPort = &from, &to
			}
			out = append(out, p)
			i = len(out) - 1
			index[k] = i
		}
		peer := RulePeer{Description: r.Description}
		switch {
		case r.CidrIPv4 != "":
			peer.CidrIPv4 = r.CidrIPv4
			out[i].IPRanges = append(out[i].IPRanges, peer)
		case r.CidrIPv6 != "":
			peer.CidrIPv6 = r.CidrIPv6
			out[i].IPv6Ranges = append(out[i].IPv6Ranges, peer)
		case r.PrefixList != "":
			peer.PrefixListID = r.PrefixList
			out[i].PrefixList = append(out[i].PrefixList, peer)
		default:
			peer.GroupID, peer.UserID = r.GroupID, r.GroupOwner
			out[i].Groups = append(out[i].Groups, peer)
		}
	}
	return out
}

// sgHasPorts reports whether a stored protocol carries ports (or ICMP
// type/code); for all others AWS omits fromPort/toPort.
func sgHasPorts(proto string) bool {
	switch proto {
	case "tcp", "udp", "icmp", "icmpv6":
		return true
	}
	return false
}
