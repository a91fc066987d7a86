package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestSecurityGroupsEndToEnd(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)
	vpc := must[*ec2.CreateVpcOutput](t)(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")}))
	vpcID := vpc.Vpc.VpcId

	_, err := prov.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web")})
	wantCode(t, err, "VPCIdNotSpecified")
	web := must[*ec2.CreateSecurityGroupOutput](t)(prov.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("web"), Description: aws.String("web tier"), VpcId: vpcID,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}}}},
	}))
	webID := aws.ToString(web.GroupId)
	if aws.ToString(web.SecurityGroupArn) != "arn:aws:ec2:us-east-1:111111111111:security-group/"+webID || len(web.Tags) != 1 {
		t.Fatalf("create = %+v", web)
	}
	_, err = prov.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("x"), VpcId: vpcID})
	wantCode(t, err, "InvalidGroup.Duplicate")
	db := must[*ec2.CreateSecurityGroupOutput](t)(prov.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("db"), Description: aws.String("db"), VpcId: vpcID}))

	ssh := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
		IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16"), Description: aws.String("admin")}, {CidrIp: aws.String("192.168.0.0/24")}}}
	auth, err := prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &webID, IpPermissions: []types.IpPermission{
		ssh,
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: db.GroupId}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(auth.Return) || len(auth.SecurityGroupRules) != 3 || aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId) == "" ||
		aws.ToString(auth.SecurityGroupRules[2].ReferencedGroupInfo.GroupId) != aws.ToString(db.GroupId) {
		t.Fatalf("authorize = %+v", auth)
	}
	_, err = prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &webID, IpPermissions: []types.IpPermission{ssh}})
	wantCode(t, err, "InvalidPermission.Duplicate")
	_, err = prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &webID, IpProtocol: aws.String("tcp"), CidrIp: aws.String("1.2.3.4/32")})
	wantCode(t, err, "InvalidParameterValue")
	// The legacy flat form.
	if _, err := prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupName: aws.String("web"), IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), CidrIp: aws.String("10.1.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.EC2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: &webID, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
	}}); errCode(err) != "InvalidPermission.Duplicate" {
		t.Fatalf("default egress rule duplicate: %v", err)
	}

	// Describe groups the per-peer rules back into IpPermissions.
	out := must[*ec2.DescribeSecurityGroupsOutput](t)(prov.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{webID}}))
	g := out.SecurityGroups[0]
	if aws.ToString(g.GroupName) != "web" || aws.ToString(g.VpcId) != aws.ToString(vpcID) || len(g.IpPermissions) != 3 || len(g.IpPermissionsEgress) != 1 {
		t.Fatalf("group = %+v", g)
	}
	p0 := g.IpPermissions[0]
	if aws.ToString(p0.IpProtocol) != "tcp" || aws.ToInt32(p0.FromPort) != 22 || len(p0.IpRanges) != 2 || aws.ToString(p0.IpRanges[0].Description) != "admin" {
		t.Fatalf("ssh permission = %+v", p0)
	}
	if pg := g.IpPermissions[1]; len(pg.UserIdGroupPairs) != 1 || aws.ToString(pg.UserIdGroupPairs[0].UserId) != "111111111111" {
		t.Fatalf("group pair permission = %+v", pg)
	}
	if eg := g.IpPermissionsEgress[0]; aws.ToString(eg.IpProtocol) != "-1" || eg.FromPort != nil || aws.ToString(eg.IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Fatalf("egress = %+v", eg)
	}
	filtered := must[*ec2.DescribeSecurityGroupsOutput](t)(prov.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("ip-permission.from-port"), Values: []string{"5432"}}, {Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpcID)}}}}))
	if len(filtered.SecurityGroups) != 1 || aws.ToString(filtered.SecurityGroups[0].GroupId) != webID {
		t.Fatalf("filtered = %+v", filtered.SecurityGroups)
	}

	// Rules one by one; modify and revoke.
	rules := must[*ec2.DescribeSecurityGroupRulesOutput](t)(prov.EC2.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{webID}}}}))
	if len(rules.SecurityGroupRules) != 5 {
		t.Fatalf("rules = %d, want 5", len(rules.SecurityGroupRules))
	}
	ruleID := auth.SecurityGroupRules[1].SecurityGroupRuleId
	if _, err := prov.EC2.ModifySecurityGroupRules(ctx, &ec2.ModifySecurityGroupRulesInput{GroupId: &webID, SecurityGroupRules: []types.SecurityGroupRuleUpdate{{
		SecurityGroupRuleId: ruleID, SecurityGroupRule: &types.SecurityGroupRuleRequest{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2222), ToPort: aws.Int32(2222), CidrIpv4: aws.String("192.168.0.0/24")},
	}}}); err != nil {
		t.Fatal(err)
	}
	_, err = prov.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &webID, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}})
	wantCode(t, err, "InvalidPermission.NotFound")
	rev, err := prov.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: &webID, SecurityGroupRuleIds: []string{aws.ToString(ruleID)}})
	if err != nil || len(rev.RevokedSecurityGroupRules) != 1 || aws.ToInt32(rev.RevokedSecurityGroupRules[0].FromPort) != 2222 {
		t.Fatalf("revoke by id = %+v, %v", rev, err)
	}

	// Accounts are walls.
	_, err = cons.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{webID}})
	wantCode(t, err, "InvalidGroup.NotFound")
	if seen := must[*ec2.DescribeSecurityGroupsOutput](t)(cons.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})); len(seen.SecurityGroups) != 0 {
		t.Fatalf("consumer sees %d groups", len(seen.SecurityGroups))
	}
	_, err = cons.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: &webID})
	wantCode(t, err, "InvalidGroup.NotFound")

	// Dependencies and the default group.
	_, err = prov.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: db.GroupId})
	wantCode(t, err, "DependencyViolation")
	defaults := must[*ec2.DescribeSecurityGroupsOutput](t)(prov.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}}}))
	if len(defaults.SecurityGroups) != 1 {
		t.Fatalf("default groups = %d", len(defaults.SecurityGroups))
	}
	_, err = prov.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: defaults.SecurityGroups[0].GroupId})
	wantCode(t, err, "CannotDelete")
	// The legacy SourceSecurityGroupName form grants ICMP, TCP and UDP from
	// that group; while it stands, the source group cannot be deleted.
	legacy, err := prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: db.GroupId, SourceSecurityGroupName: aws.String("web")})
	if err != nil || len(legacy.SecurityGroupRules) != 3 || aws.ToString(legacy.SecurityGroupRules[1].IpProtocol) != "tcp" || aws.ToInt32(legacy.SecurityGroupRules[1].ToPort) != 65535 {
		t.Fatalf("legacy source group = %+v, %v", legacy, err)
	}
	_, err = prov.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: &webID})
	wantCode(t, err, "DependencyViolation")
	if _, err := prov.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: db.GroupId, SourceSecurityGroupName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: &webID}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: db.GroupId}); err != nil {
		t.Fatal(err)
	}
}

func TestNetworkAclsEndToEnd(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)
	vpc := must[*ec2.CreateVpcOutput](t)(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.2.0.0/16")}))
	vpcID := vpc.Vpc.VpcId

	created := must[*ec2.CreateNetworkAclOutput](t)(prov.EC2.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: vpcID}))
	aclID := created.NetworkAcl.NetworkAclId
	if aws.ToBool(created.NetworkAcl.IsDefault) || len(created.NetworkAcl.Entries) != 2 || created.NetworkAcl.Entries[0].RuleAction != types.RuleActionDeny {
		t.Fatalf("created = %+v", created.NetworkAcl)
	}
	entry := &ec2.CreateNetworkAclEntryInput{NetworkAclId: aclID, RuleNumber: aws.Int32(100), Protocol: aws.String("tcp"), RuleAction: types.RuleActionAllow,
		Egress: aws.Bool(false), CidrBlock: aws.String("10.0.0.0/8"), PortRange: &types.PortRange{From: aws.Int32(443), To: aws.Int32(443)}}
	if _, err := prov.EC2.CreateNetworkAclEntry(ctx, entry); err != nil {
		t.Fatal(err)
	}
	_, err := prov.EC2.CreateNetworkAclEntry(ctx, entry)
	wantCode(t, err, "NetworkAclEntryAlreadyExists")
	icmp := &ec2.CreateNetworkAclEntryInput{NetworkAclId: aclID, RuleNumber: aws.Int32(90), Protocol: aws.String("1"), RuleAction: types.RuleActionDeny,
		Egress: aws.Bool(false), CidrBlock: aws.String("0.0.0.0/0"), IcmpTypeCode: &types.IcmpTypeCode{Type: aws.Int32(8), Code: aws.Int32(0)}}
	if _, err := prov.EC2.CreateNetworkAclEntry(ctx, icmp); err != nil {
		t.Fatal(err)
	}
	bad := *entry
	bad.RuleNumber = aws.Int32(32767)
	_, err = prov.EC2.CreateNetworkAclEntry(ctx, &bad)
	wantCode(t, err, "InvalidParameterValue")
	if _, err := prov.EC2.ReplaceNetworkAclEntry(ctx, &ec2.ReplaceNetworkAclEntryInput{NetworkAclId: aclID, RuleNumber: aws.Int32(100), Protocol: aws.String("-1"), RuleAction: types.RuleActionAllow,
		Egress: aws.Bool(false), CidrBlock: aws.String("10.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	_, err = prov.EC2.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: aclID, RuleNumber: aws.Int32(555), Egress: aws.Bool(false)})
	wantCode(t, err, "InvalidNetworkAclEntry.NotFound")

	desc := must[*ec2.DescribeNetworkAclsOutput](t)(prov.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{aws.ToString(aclID)}}))
	es := desc.NetworkAcls[0].Entries
	var order []int32
	for _, e := range es {
		if !aws.ToBool(e.Egress) {
			order = append(order, aws.ToInt32(e.RuleNumber))
		}
	}
	// AWS lists egress entries first, each direction by rule number.
	if len(order) != 3 || order[0] != 90 || order[1] != 100 || order[2] != 32767 || !aws.ToBool(es[0].Egress) {
		t.Fatalf("ingress order = %v (first egress %v)", order, aws.ToBool(es[0].Egress))
	}
	for _, e := range es {
		if aws.ToInt32(e.RuleNumber) == 90 && (e.IcmpTypeCode == nil || aws.ToInt32(e.IcmpTypeCode.Type) != 8 || aws.ToString(e.Protocol) != "1") {
			t.Fatalf("icmp entry = %+v", e)
		}
		if aws.ToInt32(e.RuleNumber) == 100 && (aws.ToString(e.Protocol) != "-1" || e.PortRange != nil) {
			t.Fatalf("replaced entry = %+v", e)
		}
	}
	defs := must[*ec2.DescribeNetworkAclsOutput](t)(prov.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpcID)}}, {Name: aws.String("default"), Values: []string{"true"}}}}))
	if len(defs.NetworkAcls) != 1 || len(defs.NetworkAcls[0].Entries) != 4 {
		t.Fatalf("default ACL = %+v", defs.NetworkAcls)
	}
	_, err = prov.EC2.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: defs.NetworkAcls[0].NetworkAclId})
	wantCode(t, err, "InvalidParameterValue")
	_, err = prov.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: aws.String("aclassoc-00000000000000000"), NetworkAclId: aclID})
	wantCode(t, err, "InvalidAssociationID.NotFound")

	// The consumer cannot see or change the provider's ACLs.
	_, err = cons.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{aws.ToString(aclID)}})
	wantCode(t, err, "InvalidNetworkAclID.NotFound")
	_, err = cons.EC2.CreateNetworkAclEntry(ctx, &ec2.CreateNetworkAclEntryInput{NetworkAclId: aclID, RuleNumber: aws.Int32(1), Protocol: aws.String("-1"),
		RuleAction: types.RuleActionAllow, Egress: aws.Bool(true), CidrBlock: aws.String("0.0.0.0/0")})
	wantCode(t, err, "InvalidNetworkAclID.NotFound")

	// A new subnet starts on the default ACL; moving it makes the custom ACL
	// undeletable until it moves back.
	sub := must[*ec2.CreateSubnetOutput](t)(prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.2.1.0/24")}))
	onDefault := must[*ec2.DescribeNetworkAclsOutput](t)(prov.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{aws.ToString(sub.Subnet.SubnetId)}}}}))
	if len(onDefault.NetworkAcls) != 1 || !aws.ToBool(onDefault.NetworkAcls[0].IsDefault) {
		t.Fatalf("subnet's ACL = %+v", onDefault.NetworkAcls)
	}
	var assocID string
	for _, as := range onDefault.NetworkAcls[0].Associations {
		if aws.ToString(as.SubnetId) == aws.ToString(sub.Subnet.SubnetId) {
			assocID = aws.ToString(as.NetworkAclAssociationId)
		}
	}
	moved := must[*ec2.ReplaceNetworkAclAssociationOutput](t)(prov.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &assocID, NetworkAclId: aclID}))
	if aws.ToString(moved.NewAssociationId) == "" || aws.ToString(moved.NewAssociationId) == assocID {
		t.Fatalf("new association = %q", aws.ToString(moved.NewAssociationId))
	}
	_, err = prov.EC2.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: aclID})
	wantCode(t, err, "DependencyViolation")
	if _, err := prov.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: moved.NewAssociationId, NetworkAclId: defs.NetworkAcls[0].NetworkAclId}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.EC2.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: aclID}); err != nil {
		t.Fatal(err)
	}
}
