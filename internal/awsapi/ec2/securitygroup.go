package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerSecurityGroup(m map[string]awsapi.Handler) {
	m["CreateSecurityGroup"] = withCall(a.createSecurityGroup)
	m["DeleteSecurityGroup"] = withCall(a.deleteSecurityGroup)
	m["DescribeSecurityGroups"] = withCall(a.describeSecurityGroups)
	m["AuthorizeSecurityGroupIngress"] = a.authorizeSecurityGroup(false)
	m["AuthorizeSecurityGroupEgress"] = a.authorizeSecurityGroup(true)
	m["RevokeSecurityGroupIngress"] = a.revokeSecurityGroup(false)
	m["RevokeSecurityGroupEgress"] = a.revokeSecurityGroup(true)
	m["DescribeSecurityGroupRules"] = withCall(a.describeSecurityGroupRules)
	m["ModifySecurityGroupRules"] = withCall(a.modifySecurityGroupRules)
}

// SecurityGroupXML is the SecurityGroup shape.
type SecurityGroupXML struct {
	OwnerID             string                  `xml:"ownerId"`
	GroupName           string                  `xml:"groupName"`
	GroupID             string                  `xml:"groupId"`
	Description         string                  `xml:"groupDescription"`
	IPPermissions       sgList[IPPermissionXML] `xml:"ipPermissions"`
	IPPermissionsEgress sgList[IPPermissionXML] `xml:"ipPermissionsEgress"`
	VpcID               string                  `xml:"vpcId"`
	SecurityGroupArn    string                  `xml:"securityGroupArn"`
	TagSet              []Tag                   `xml:"tagSet>item,omitempty"`
}

// IPPermissionXML is the IpPermission shape.
type IPPermissionXML struct {
	IPProtocol    string                `xml:"ipProtocol"`
	FromPort      *int                  `xml:"fromPort,omitempty"`
	ToPort        *int                  `xml:"toPort,omitempty"`
	Groups        sgList[groupPairXML]  `xml:"groups"`
	IPRanges      sgList[ipRangeXML]    `xml:"ipRanges"`
	IPv6Ranges    sgList[ipv6RangeXML]  `xml:"ipv6Ranges"`
	PrefixListIDs sgList[prefixListXML] `xml:"prefixListIds"`
}

// sgList renders a list as <name><item>…</item></name>, and as an empty
// <name/> when there are no items: AWS always sends these lists, so boto3
// and the CLI show them as [] rather than leaving the key out.
type sgList[T any] struct {
	Items []T `xml:"item"`
}

type groupPairXML struct {
	Description string `xml:"description,omitempty"`
	UserID      string `xml:"userId,omitempty"`
	GroupID     string `xml:"groupId,omitempty"`
}

type ipRangeXML struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type ipv6RangeXML struct {
	CidrIPv6    string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type prefixListXML struct {
	PrefixListID string `xml:"prefixListId"`
	Description  string `xml:"description,omitempty"`
}

func permissionsXML(perms []controlplane.IPPermission) []IPPermissionXML {
	out := make([]IPPermissionXML, len(perms))
	for i, p := range perms {
		x := IPPermissionXML{IPProtocol: p.IPProtocol, FromPort: p.FromPort, ToPort: p.ToPort}
		for _, g := range p.Groups {
			x.Groups.Items = append(x.Groups.Items, groupPairXML{Description: g.Description, UserID: g.UserID, GroupID: g.GroupID})
		}
		for _, r := range p.IPRanges {
			x.IPRanges.Items = append(x.IPRanges.Items, ipRangeXML{CidrIP: r.CidrIPv4, Description: r.Description})
		}
		for _, r := range p.IPv6Ranges {
			x.IPv6Ranges.Items = append(x.IPv6Ranges.Items, ipv6RangeXML{CidrIPv6: r.CidrIPv6, Description: r.Description})
		}
		for _, r := range p.PrefixList {
			x.PrefixListIDs.Items = append(x.PrefixListIDs.Items, prefixListXML{PrefixListID: r.PrefixListID, Description: r.Description})
		}
		out[i] = x
	}
	return out
}

func securityGroupXML(g *cloud.SecurityGroup) SecurityGroupXML {
	return SecurityGroupXML{
		OwnerID: g.OwnerID, GroupName: g.GroupName, GroupID: g.ID, Description: g.Description,
		IPPermissions:       sgList[IPPermissionXML]{permissionsXML(controlplane.GroupPermissions(g.Rules, false))},
		IPPermissionsEgress: sgList[IPPermissionXML]{permissionsXML(controlplane.GroupPermissions(g.Rules, true))},
		VpcID:               g.VpcID, SecurityGroupArn: controlplane.SecurityGroupARN(g), TagSet: tagSet(g.Tags),
	}
}

// SecurityGroupRuleXML is the SecurityGroupRule shape.
type SecurityGroupRuleXML struct {
	SecurityGroupRuleID  string               `xml:"securityGroupRuleId"`
	GroupID              string               `xml:"groupId"`
	GroupOwnerID         string               `xml:"groupOwnerId"`
	IsEgress             bool                 `xml:"isEgress"`
	IPProtocol           string               `xml:"ipProtocol"`
	FromPort             int                  `xml:"fromPort"`
	ToPort               int                  `xml:"toPort"`
	CidrIPv4             string               `xml:"cidrIpv4,omitempty"`
	CidrIPv6             string               `xml:"cidrIpv6,omitempty"`
	PrefixListID         string               `xml:"prefixListId,omitempty"`
	ReferencedGroupInfo  *referencedGroupInfo `xml:"referencedGroupInfo,omitempty"`
	Description          string               `xml:"description,omitempty"`
	TagSet               []Tag                `xml:"tagSet>item,omitempty"`
	SecurityGroupRuleArn string               `xml:"securityGroupRuleArn"`
}

type referencedGroupInfo struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

func ruleXML(row controlplane.SecurityGroupRuleRow) SecurityGroupRuleXML {
	r := row.Rule
	x := SecurityGroupRuleXML{
		SecurityGroupRuleID: r.ID, GroupID: row.GroupID, GroupOwnerID: row.OwnerID, IsEgress: r.Egress,
		IPProtocol: r.IPProtocol, FromPort: r.FromPort, ToPort: r.ToPort,
		CidrIPv4: r.CidrIPv4, CidrIPv6: r.CidrIPv6, PrefixListID: r.PrefixList, Description: r.Description,
		TagSet:               tagSet(r.Tags),
		SecurityGroupRuleArn: controlplane.SecurityGroupRuleARN(row.Region, row.OwnerID, r.ID),
	}
	if r.GroupID != "" {
		x.ReferencedGroupInfo = &referencedGroupInfo{GroupID: r.GroupID, UserID: r.GroupOwner}
	}
	return x
}

func (a *API) createSecurityGroup(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	g, err := a.cp.CreateSecurityGroup(ctx, c, controlplane.CreateSecurityGroupInput{
		GroupName: r.Params.Get("GroupName"), Description: r.Params.Get("GroupDescription"),
		VpcID: r.Params.Get("VpcId"), Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		GroupID          string `xml:"groupId"`
		TagSet           []Tag  `xml:"tagSet>item,omitempty"`
		SecurityGroupArn string `xml:"securityGroupArn"`
	}{g.ID, tagSet(g.Tags), controlplane.SecurityGroupARN(g)}, nil
}

func (a *API) deleteSecurityGroup(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	id, err := a.cp.DeleteSecurityGroup(ctx, c, r.Params.Get("GroupId"), r.Params.Get("GroupName"))
	if err != nil {
		return nil, err
	}
	return &struct {
		Return  bool   `xml:"return"`
		GroupID string `xml:"groupId"`
	}{true, id}, nil
}

func (a *API) describeSecurityGroups(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "GroupId")
	if err != nil {
		return nil, err
	}
	groups, next, err := a.cp.DescribeSecurityGroups(ctx, c, controlplane.DescribeSecurityGroupsInput{DescribeInput: in, GroupNames: r.Params.List("GroupName")})
	if err != nil {
		return nil, err
	}
	out := &struct {
		Groups    []SecurityGroupXML `xml:"securityGroupInfo>item"`
		NextToken string             `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, g := range groups {
		out.Groups = append(out.Groups, securityGroupXML(g))
	}
	return out, nil
}

// parsePermissions decodes IpPermissions.N.*, or the legacy flat form
// (CidrIp/IpProtocol/FromPort/ToPort, or SourceSecurityGroupName, which
// grants all of ICMP, TCP and UDP from that group as AWS does).
func parsePermissions(p awsapi.Params) ([]controlplane.IPPermission, error) {
	flat := []string{"CidrIp", "IpProtocol", "FromPort", "ToPort", "SourceSecurityGroupName", "SourceSecurityGroupOwnerId"}
	hasFlat := false
	for _, k := range flat {
		hasFlat = hasFlat || p.Has(k)
	}
	structs := p.Structs("IpPermissions")
	if hasFlat && len(structs) > 0 {
		return nil, cloud.Errorf("InvalidParameterCombination", "The parameter 'ipPermissions' may not be used in combination with 'cidrIp', 'ipProtocol', 'fromPort', 'toPort' or 'sourceSecurityGroupName'.")
	}
	if hasFlat {
		from, err := p.OptInt("FromPort")
		if err != nil {
			return nil, err
		}
		to, err := p.OptInt("ToPort")
		if err != nil {
			return nil, err
		}
		if name := p.Get("SourceSecurityGroupName"); name != "" {
			if p.Has("CidrIp") || p.Has("IpProtocol") || from != nil || to != nil {
				return nil, cloud.Errorf("InvalidParameterCombination", "The parameter 'sourceSecurityGroupName' may not be used in combination with 'cidrIp', 'ipProtocol', 'fromPort' or 'toPort'.")
			}
			peer := []controlplane.RulePeer{{GroupName: name, UserID: p.Get("SourceSecurityGroupOwnerId")}}
			all, lo, hi := -1, 0, 65535
			return []controlplane.IPPermission{
				{IPProtocol: "icmp", FromPort: &all, ToPort: &all, Groups: peer},
				{IPProtocol: "tcp", FromPort: &lo, ToPort: &hi, Groups: peer},
				{IPProtocol: "udp", FromPort: &lo, ToPort: &hi, Groups: peer},
			}, nil
		}
		perm := controlplane.IPPermission{IPProtocol: p.Get("IpProtocol"), FromPort: from, ToPort: to}
		if p.Has("CidrIp") {
			perm.IPRanges = []controlplane.RulePeer{{CidrIPv4: p.Get("CidrIp")}}
		}
		return []controlplane.IPPermission{perm}, nil
	}
	var out []controlplane.IPPermission
	for _, s := range structs {
		from, err := s.OptInt("FromPort")
		if err != nil {
			return nil, err
		}
		to, err := s.OptInt("ToPort")
		if err != nil {
			return nil, err
		}
		perm := controlplane.IPPermission{IPProtocol: s.Get("IpProtocol"), FromPort: from, ToPort: to}
		for _, x := range s.Structs("IpRanges") {
			perm.IPRanges = append(perm.IPRanges, controlplane.RulePeer{CidrIPv4: x.Get("CidrIp"), Description: x.Get("Description")})
		}
		for _, x := range s.Structs("Ipv6Ranges") {
			perm.IPv6Ranges = append(perm.IPv6Ranges, controlplane.RulePeer{CidrIPv6: x.Get("CidrIpv6"), Description: x.Get("Description")})
		}
		for _, x := range s.Structs("PrefixListIds") {
			perm.PrefixList = append(perm.PrefixList, controlplane.RulePeer{PrefixListID: x.Get("PrefixListId"), Description: x.Get("Description")})
		}
		for _, x := range s.Structs("Groups") {
			if x.Has("VpcPeeringConnectionId") {
				return nil, cloud.Errorf("UnsupportedOperation", "privlink does not model VPC peering; security group references must be in the same VPC.")
			}
			perm.Groups = append(perm.Groups, controlplane.RulePeer{GroupID: x.Get("GroupId"), GroupName: x.Get("GroupName"), UserID: x.Get("UserId"), Description: x.Get("Description")})
		}
		out = append(out, perm)
	}
	return out, nil
}

func (a *API) authorizeSecurityGroup(egress bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		c, err := call(r)
		if err != nil {
			return nil, err
		}
		perms, err := parsePermissions(r.Params)
		if err != nil {
			return nil, err
		}
		tags, err := tagSpecs(r)
		if err != nil {
			return nil, err
		}
		in := controlplane.AuthorizeSecurityGroupInput{GroupID: r.Params.Get("GroupId"), Egress: egress, Permissions: perms, Tags: tags}
		if !egress {
			in.GroupName = r.Params.Get("GroupName")
		}
		rows, err := a.cp.AuthorizeSecurityGroup(ctx, c, in)
		if err != nil {
			return nil, err
		}
		out := &struct {
			Return bool                   `xml:"return"`
			Rules  []SecurityGroupRuleXML `xml:"securityGroupRuleSet>item"`
		}{Return: true}
		for _, row := range rows {
			out.Rules = append(out.Rules, ruleXML(row))
		}
		return out, nil
	}
}

type revokedRuleXML struct {
	SecurityGroupRuleID string `xml:"securityGroupRuleId"`
	GroupID             string `xml:"groupId"`
	IsEgress            bool   `xml:"isEgress"`
	IPProtocol          string `xml:"ipProtocol"`
	FromPort            int    `xml:"fromPort"`
	ToPort              int    `xml:"toPort"`
	CidrIPv4            string `xml:"cidrIpv4,omitempty"`
	CidrIPv6            string `xml:"cidrIpv6,omitempty"`
	PrefixListID        string `xml:"prefixListId,omitempty"`
	ReferencedGroupID   string `xml:"referencedGroupId,omitempty"`
	Description         string `xml:"description,omitempty"`
}

func (a *API) revokeSecurityGroup(egress bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		c, err := call(r)
		if err != nil {
			return nil, err
		}
		perms, err := parsePermissions(r.Params)
		if err != nil {
			return nil, err
		}
		in := controlplane.AuthorizeSecurityGroupInput{GroupID: r.Params.Get("GroupId"), Egress: egress, Permissions: perms, RuleIDs: r.Params.List("SecurityGroupRuleId")}
		if !egress {
			in.GroupName = r.Params.Get("GroupName")
		}
		rows, err := a.cp.RevokeSecurityGroup(ctx, c, in)
		if err != nil {
			return nil, err
		}
		out := &struct {
			Return  bool             `xml:"return"`
			Revoked []revokedRuleXML `xml:"revokedSecurityGroupRuleSet>item"`
		}{Return: true}
		for _, row := range rows {
			x := row.Rule
			out.Revoked = append(out.Revoked, revokedRuleXML{
				SecurityGroupRuleID: x.ID, GroupID: row.GroupID, IsEgress: x.Egress, IPProtocol: x.IPProtocol,
				FromPort: x.FromPort, ToPort: x.ToPort, CidrIPv4: x.CidrIPv4, CidrIPv6: x.CidrIPv6,
				PrefixListID: x.PrefixList, ReferencedGroupID: x.GroupID, Description: x.Description,
			})
		}
		return out, nil
	}
}

func (a *API) describeSecurityGroupRules(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "SecurityGroupRuleId")
	if err != nil {
		return nil, err
	}
	rows, next, err := a.cp.DescribeSecurityGroupRules(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Rules     []SecurityGroupRuleXML `xml:"securityGroupRuleSet>item"`
		NextToken string                 `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, row := range rows {
		out.Rules = append(out.Rules, ruleXML(*row))
	}
	return out, nil
}

func (a *API) modifySecurityGroupRules(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	var updates []controlplane.SecurityGroupRuleUpdate
	for _, s := range r.Params.Structs("SecurityGroupRule") {
		rule := s.Struct("SecurityGroupRule")
		from, err := rule.OptInt("FromPort")
		if err != nil {
			return nil, err
		}
		to, err := rule.OptInt("ToPort")
		if err != nil {
			return nil, err
		}
		updates = append(updates, controlplane.SecurityGroupRuleUpdate{
			RuleID: s.Get("SecurityGroupRuleId"), IPProtocol: rule.Get("IpProtocol"), FromPort: from, ToPort: to,
			CidrIPv4: rule.Get("CidrIpv4"), CidrIPv6: rule.Get("CidrIpv6"), PrefixListID: rule.Get("PrefixListId"),
			ReferencedGroupID: rule.Get("ReferencedGroupId"), Description: rule.Get("Description"),
		})
	}
	if err := a.cp.ModifySecurityGroupRules(ctx, c, r.Params.Get("GroupId"), updates); err != nil {
		return nil, err
	}
	return ok, nil
}
