package controlplane

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

const sgAcct = "111111111111"

func mustSG(t *testing.T, cp *ControlPlane, vpcID, name string) *cloud.SecurityGroup {
	t.Helper()
	g, err := cp.CreateSecurityGroup(context.Background(), rootCall(sgAcct, "ec2:CreateSecurityGroup"), CreateSecurityGroupInput{GroupName: name, Description: "d", VpcID: vpcID})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func getSG(t *testing.T, cp *ControlPlane, id string) *cloud.SecurityGroup {
	t.Helper()
	var g *cloud.SecurityGroup
	cp.DB().View(func(tx *store.Tx) error {
		g, _ = store.Get[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, id)
		return nil
	})
	return g
}

func ip(n int) *int { return &n }

func tcpPerm(from, to int, cidrs ...string) IPPermission {
	p := IPPermission{IPProtocol: "tcp", FromPort: ip(from), ToPort: ip(to)}
	for _, c := range cidrs {
		p.IPRanges = append(p.IPRanges, RulePeer{CidrIPv4: c})
	}
	return p
}

func TestCreateSecurityGroup(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	c := rootCall(sgAcct, "ec2:CreateSecurityGroup")
	tests := []struct {
		name string
		in   CreateSecurityGroupInput
		want string
	}{
		{"ok", CreateSecurityGroupInput{GroupName: "web", Description: "web tier", VpcID: vpc.ID}, ""},
		{"duplicate name", CreateSecurityGroupInput{GroupName: "web", Description: "x", VpcID: vpc.ID}, "InvalidGroup.Duplicate"},
		{"no name", CreateSecurityGroupInput{Description: "x", VpcID: vpc.ID}, "MissingParameter"},
		{"no description", CreateSecurityGroupInput{GroupName: "a", VpcID: vpc.ID}, "MissingParameter"},
		{"no vpc", CreateSecurityGroupInput{GroupName: "a", Description: "x"}, "VPCIdNotSpecified"},
		{"sg- prefix", CreateSecurityGroupInput{GroupName: "sg-1", Description: "x", VpcID: vpc.ID}, "InvalidParameterValue"},
		{"reserved default", CreateSecurityGroupInput{GroupName: "default", Description: "x", VpcID: vpc.ID}, "InvalidParameterValue"},
		{"unknown vpc", CreateSecurityGroupInput{GroupName: "a", Description: "x", VpcID: "vpc-00000000000000000"}, "InvalidVpcID.NotFound"},
		{"name too long", CreateSecurityGroupInput{GroupName: strings.Repeat("a", 256), Description: "x", VpcID: vpc.ID}, "InvalidParameterValue"},
		{"non-ascii description", CreateSecurityGroupInput{GroupName: "c", Description: "caf\u00e9", VpcID: vpc.ID}, "InvalidParameterValue"},
		{"wrong tag type", CreateSecurityGroupInput{GroupName: "b", Description: "x", VpcID: vpc.ID, Tags: []TagSpec{{ResourceType: "vpc"}}}, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := cp.CreateSecurityGroup(context.Background(), c, tc.in)
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
			if err == nil {
				if len(g.Rules) != 1 || !g.Rules[0].Egress || g.Rules[0].CidrIPv4 != "0.0.0.0/0" || g.Rules[0].IPProtocol != "-1" || g.Rules[0].ID == "" {
					t.Fatalf("default rules = %+v", g.Rules)
				}
			}
		})
	}
	// Same name in another VPC is fine.
	other := mustVpc(t, cp, sgAcct, "10.1.0.0/16")
	mustSG(t, cp, other.ID, "web")
}

func TestAuthorizeValidation(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	g := mustSG(t, cp, vpc.ID, "app")
	otherVpc := mustVpc(t, cp, sgAcct, "10.1.0.0/16")
	foreign := mustSG(t, cp, otherVpc.ID, "foreign")
	c := rootCall(sgAcct, "ec2:AuthorizeSecurityGroupIngress")
	s3 := cloud.AWSPrefixListID(cloud.AWSServiceName("us-east-1", "s3"))
	tests := []struct {
		name      string
		perm      IPPermission
		want      string
		wantProto string
		from, to  int
	}{
		{"tcp", tcpPerm(22, 22, "10.0.0.0/16"), "", "tcp", 22, 22},
		{"number 6 is tcp", IPPermission{IPProtocol: "6", FromPort: ip(80), ToPort: ip(80), IPRanges: []RulePeer{{CidrIPv4: "10.0.0.1/8"}}}, "", "tcp", 80, 80},
		{"all ignores ports", IPPermission{IPProtocol: "all", FromPort: ip(1), ToPort: ip(2), IPRanges: []RulePeer{{CidrIPv4: "1.2.3.4/32"}}}, "", "-1", -1, -1},
		{"icmp all", IPPermission{IPProtocol: "icmp", FromPort: ip(-1), ToPort: ip(-1), IPRanges: []RulePeer{{CidrIPv4: "1.2.3.0/24"}}}, "", "icmp", -1, -1},
		{"icmp echo", IPPermission{IPProtocol: "1", FromPort: ip(8), ToPort: ip(0), IPRanges: []RulePeer{{CidrIPv4: "1.2.3.0/24"}}}, "", "icmp", 8, 0},
		{"icmpv6 no ports", IPPermission{IPProtocol: "icmpv6", IPv6Ranges: []RulePeer{{CidrIPv6: "fd00::/8"}}}, "", "icmpv6", -1, -1},
		{"gre number", IPPermission{IPProtocol: "47", IPRanges: []RulePeer{{CidrIPv4: "1.2.3.0/24"}}}, "", "47", -1, -1},
		{"prefix list", IPPermission{IPProtocol: "tcp", FromPort: ip(443), ToPort: ip(443), PrefixList: []RulePeer{{PrefixListID: s3}}}, "", "tcp", 443, 443},
		{"group ref", IPPermission{IPProtocol: "tcp", FromPort: ip(5432), ToPort: ip(5432), Groups: []RulePeer{{GroupID: g.ID}}}, "", "tcp", 5432, 5432},
		{"tcp missing ports", IPPermission{IPProtocol: "tcp", IPRanges: []RulePeer{{CidrIPv4: "1.0.0.0/8"}}}, "InvalidParameterValue", "", 0, 0},
		{"tcp port range", tcpPerm(0, 70000, "1.0.0.0/8"), "InvalidPermission.Malformed", "", 0, 0},
		{"tcp from > to", tcpPerm(90, 80, "1.0.0.0/8"), "InvalidParameterValue", "", 0, 0},
		{"icmp missing", IPPermission{IPProtocol: "icmp", IPRanges: []RulePeer{{CidrIPv4: "1.0.0.0/8"}}}, "InvalidParameterValue", "", 0, 0},
		{"icmp -1 type with code", IPPermission{IPProtocol: "icmp", FromPort: ip(-1), ToPort: ip(3), IPRanges: []RulePeer{{CidrIPv4: "1.0.0.0/8"}}}, "InvalidParameterValue", "", 0, 0},
		{"unknown protocol", IPPermission{IPProtocol: "sctpish", IPRanges: []RulePeer{{CidrIPv4: "1.0.0.0/8"}}}, "InvalidParameterValue", "", 0, 0},
		{"protocol 256", IPPermission{IPProtocol: "256", IPRanges: []RulePeer{{CidrIPv4: "1.0.0.0/8"}}}, "InvalidParameterValue", "", 0, 0},
		{"bad cidr", tcpPerm(1, 1, "10.0.0.300/8"), "InvalidParameterValue", "", 0, 0},
		{"v6 in v4 slot", tcpPerm(1, 1, "fd00::/8"), "InvalidParameterValue", "", 0, 0},
		{"bad description", IPPermission{IPProtocol: "-1", IPRanges: []RulePeer{{CidrIPv4: "1.0.0.0/8", Description: "tab\there"}}}, "InvalidParameterValue", "", 0, 0},
		{"no peers", IPPermission{IPProtocol: "tcp", FromPort: ip(1), ToPort: ip(1)}, "InvalidParameterValue", "", 0, 0},
		{"unknown prefix list", IPPermission{IPProtocol: "-1", PrefixList: []RulePeer{{PrefixListID: "pl-00000000"}}}, "InvalidPrefixListId.NotFound", "", 0, 0},
		{"group in other vpc", IPPermission{IPProtocol: "-1", Groups: []RulePeer{{GroupID: foreign.ID}}}, "InvalidGroup.NotFound", "", 0, 0},
		{"group of other account", IPPermission{IPProtocol: "-1", Groups: []RulePeer{{GroupID: g.ID, UserID: "222222222222"}}}, "InvalidGroup.NotFound", "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(getSG(t, cp, g.ID).Rules)
			rows, err := cp.AuthorizeSecurityGroup(context.Background(), c, AuthorizeSecurityGroupInput{GroupID: g.ID, Permissions: []IPPermission{tc.perm}})
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
			after := len(getSG(t, cp, g.ID).Rules)
			if err != nil {
				if after != before {
					t.Fatalf("failed call changed rules: %d -> %d", before, after)
				}
				return
			}
			r := rows[0].Rule
			if r.IPProtocol != tc.wantProto || r.FromPort != tc.from || r.ToPort != tc.to || r.ID == "" || rows[0].GroupID != g.ID {
				t.Fatalf("rule = %+v", rows[0])
			}
		})
	}
	// Canonicalised CIDR: 10.0.0.1/8 was stored as 10.0.0.0/8.
	rules := getSG(t, cp, g.ID).Rules
	found := false
	for _, r := range rules {
		found = found || r.CidrIPv4 == "10.0.0.0/8"
	}
	if !found {
		t.Fatalf("canonical CIDR not stored: %+v", rules)
	}
}

func TestAuthorizeDuplicateAndLimit(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	g := mustSG(t, cp, vpc.ID, "app")
	c := rootCall(sgAcct, "ec2:AuthorizeSecurityGroupIngress")
	auth := func(perms ...IPPermission) error {
		_, err := cp.AuthorizeSecurityGroup(context.Background(), c, AuthorizeSecurityGroupInput{GroupID: g.ID, Permissions: perms})
		return err
	}
	if err := auth(tcpPerm(22, 22, "10.0.0.0/16")); err != nil {
		t.Fatal(err)
	}
	err := auth(tcpPerm(443, 443, "0.0.0.0/0"), tcpPerm(22, 22, "10.0.0.5/16"))
	if errCode(err) != "InvalidPermission.Duplicate" {
		t.Fatalf("duplicate: %v", err)
	}
	want := `InvalidPermission.Duplicate: the specified rule "peer: 10.0.0.0/16, TCP, from port: 22, to port: 22, ALLOW" already exists`
	if err.Error() != want {
		t.Fatalf("message = %q, want %q", err.Error(), want)
	}
	if n := len(getSG(t, cp, g.ID).Rules); n != 2 {
		t.Fatalf("all-or-nothing broken: %d rules", n)
	}
	if err := auth(tcpPerm(80, 80, "1.0.0.0/8", "1.0.0.0/8")); errCode(err) != "InvalidPermission.Duplicate" {
		t.Fatalf("duplicate within call: %v", err)
	}
	// The same peer as egress is another rule.
	if _, err := cp.AuthorizeSecurityGroup(context.Background(), c, AuthorizeSecurityGroupInput{GroupID: g.ID, Egress: true, Permissions: []IPPermission{tcpPerm(22, 22, "10.0.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	var many []string
	for i := 0; i < 59; i++ {
		many = append(many, "192.168."+strconv.Itoa(i)+".0/24")
	}
	if err := auth(tcpPerm(1, 1, many...)); err != nil {
		t.Fatal(err)
	}
	if err := auth(tcpPerm(2, 2, "8.8.8.8/32")); errCode(err) != "RulesPerSecurityGroupLimitExceeded" {
		t.Fatalf("limit: %v", err)
	}
}

func TestGroupPermissions(t *testing.T) {
	rules := []cloud.SecurityGroupRule{
		{ID: "sgr-1", IPProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIPv4: "10.0.0.0/16", Description: "ssh"},
		{ID: "sgr-2", IPProtocol: "-1", FromPort: -1, ToPort: -1, GroupID: "sg-a", GroupOwner: sgAcct},
		{ID: "sgr-3", IPProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIPv6: "fd00::/8"},
		{ID: "sgr-4", IPProtocol: "tcp", FromPort: 22, ToPort: 22, PrefixList: "pl-1"},
		{ID: "sgr-5", IPProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIPv4: "1.0.0.0/8"},
		{ID: "sgr-6", Egress: true, IPProtocol: "-1", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0"},
	}
	got := GroupPermissions(rules, false)
	want := []IPPermission{
		{IPProtocol: "tcp", FromPort: ip(22), ToPort: ip(22),
			IPRanges:   []RulePeer{{CidrIPv4: "10.0.0.0/16", Description: "ssh"}, {CidrIPv4: "1.0.0.0/8"}},
			IPv6Ranges: []RulePeer{{CidrIPv6: "fd00::/8"}},
			PrefixList: []RulePeer{{PrefixListID: "pl-1"}}},
		{IPProtocol: "-1", Groups: []RulePeer{{GroupID: "sg-a", UserID: sgAcct}}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("ingress grouping (-want +got):\n%s", d)
	}
	if eg := GroupPermissions(rules, true); len(eg) != 1 || eg[0].FromPort != nil || len(eg[0].IPRanges) != 1 {
		t.Fatalf("egress grouping = %+v", eg)
	}
}

func TestRevokeSecurityGroup(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	g := mustSG(t, cp, vpc.ID, "app")
	c := rootCall(sgAcct, "ec2:RevokeSecurityGroupIngress")
	rows, err := cp.AuthorizeSecurityGroup(context.Background(), c, AuthorizeSecurityGroupInput{GroupID: g.ID, Permissions: []IPPermission{tcpPerm(22, 22, "10.0.0.0/16", "1.0.0.0/8"), tcpPerm(80, 80, "0.0.0.0/0")}})
	if err != nil {
		t.Fatal(err)
	}
	revoke := func(in AuthorizeSecurityGroupInput) error {
		in.GroupID = g.ID
		_, err := cp.RevokeSecurityGroup(context.Background(), c, in)
		return err
	}
	tests := []struct {
		name      string
		in        AuthorizeSecurityGroupInput
		want      string
		wantRules int // ingress rules left
	}{
		{"one missing: nothing revoked", AuthorizeSecurityGroupInput{Permissions: []IPPermission{tcpPerm(22, 22, "10.0.0.0/16", "9.9.9.9/32")}}, "InvalidPermission.NotFound", 3},
		{"other ports differ", AuthorizeSecurityGroupInput{Permissions: []IPPermission{tcpPerm(22, 23, "10.0.0.0/16")}}, "InvalidPermission.NotFound", 3},
		{"exact match, description ignored", AuthorizeSecurityGroupInput{Permissions: []IPPermission{{IPProtocol: "6", FromPort: ip(22), ToPort: ip(22), IPRanges: []RulePeer{{CidrIPv4: "10.0.0.0/16", Description: "other"}}}}}, "", 2},
		{"by unknown rule ID", AuthorizeSecurityGroupInput{RuleIDs: []string{"sgr-00000000000000000"}}, "InvalidSecurityGroupRuleId.NotFound", 2},
		{"egress rule ID via ingress", AuthorizeSecurityGroupInput{RuleIDs: []string{g.Rules[0].ID}}, "InvalidSecurityGroupRuleId.NotFound", 2},
		{"by rule ID", AuthorizeSecurityGroupInput{RuleIDs: []string{rows[2].Rule.ID}}, "", 1},
		{"nothing named", AuthorizeSecurityGroupInput{}, "MissingParameter", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := revoke(tc.in)
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
			n := 0
			for _, r := range getSG(t, cp, g.ID).Rules {
				if !r.Egress {
					n++
				}
			}
			if n != tc.wantRules {
				t.Fatalf("ingress rules = %d, want %d", n, tc.wantRules)
			}
		})
	}
}

func TestDeleteSecurityGroupProtections(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	a := mustSG(t, cp, vpc.ID, "a")
	b := mustSG(t, cp, vpc.ID, "b")
	c := rootCall(sgAcct, "ec2:DeleteSecurityGroup")
	if _, err := cp.AuthorizeSecurityGroup(ctx, c, AuthorizeSecurityGroupInput{GroupID: b.ID, Permissions: []IPPermission{{IPProtocol: "-1", Groups: []RulePeer{{GroupID: a.ID}}}}}); err != nil {
		t.Fatal(err)
	}
	// An interface using b.
	cp.DB().Update(ctx, func(tx *store.Tx) error {
		tx.Put(cloud.KindNetworkInterface, "eni-1", &cloud.NetworkInterface{Meta: cloud.Meta{ID: "eni-1", OwnerID: sgAcct, Region: "us-east-1"}, VpcID: vpc.ID, SecurityGroupIDs: []string{b.ID}})
		return nil
	})
	tests := []struct {
		name, id, groupName, want string
	}{
		{"default", vpc.DefaultSecurityGroupID, "", "CannotDelete"},
		{"referenced by rule", a.ID, "", "DependencyViolation"},
		{"used by interface", b.ID, "", "DependencyViolation"},
		{"unknown", "sg-00000000000000000", "", "InvalidGroup.NotFound"},
		{"unknown name", "", "nope", "InvalidGroup.NotFound"},
		{"other account", a.ID, "", "InvalidGroup.NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			call := c
			if tc.name == "other account" {
				call = rootCall("222222222222", "ec2:DeleteSecurityGroup")
			}
			_, err := cp.DeleteSecurityGroup(ctx, call, tc.id, tc.groupName)
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	if e, _ := cloud.AsError(func() error { _, err := cp.DeleteSecurityGroup(ctx, c, vpc.DefaultSecurityGroupID, ""); return err }()); e == nil ||
		e.Message != `the specified group: "`+vpc.DefaultSecurityGroupID+`" name: "default" cannot be deleted by a user` {
		t.Fatalf("default message = %v", e)
	}
	// Free b and the reference to a, then both delete (a by name).
	cp.DB().Update(ctx, func(tx *store.Tx) error { tx.Delete(cloud.KindNetworkInterface, "eni-1"); return nil })
	if id, err := cp.DeleteSecurityGroup(ctx, c, b.ID, ""); err != nil || id != b.ID {
		t.Fatalf("delete b: %s %v", id, err)
	}
	if id, err := cp.DeleteSecurityGroup(ctx, c, "", "a"); err != nil || id != a.ID {
		t.Fatalf("delete a by name: %s %v", id, err)
	}
	// A name used in two VPCs is ambiguous.
	other := mustVpc(t, cp, sgAcct, "10.1.0.0/16")
	mustSG(t, cp, vpc.ID, "twin")
	mustSG(t, cp, other.ID, "twin")
	if _, err := cp.DeleteSecurityGroup(ctx, c, "", "twin"); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("ambiguous name: %v", err)
	}
}

func TestDescribeSecurityGroupsAndRules(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	g := mustSG(t, cp, vpc.ID, "web")
	c := rootCall(sgAcct, "ec2:DescribeSecurityGroups")
	if _, err := cp.AuthorizeSecurityGroup(ctx, c, AuthorizeSecurityGroupInput{GroupID: g.ID, Permissions: []IPPermission{tcpPerm(443, 443, "0.0.0.0/0")}, Tags: []TagSpec{{ResourceType: "security-group-rule", Tags: cloud.Tags{{Key: "k", Value: "v"}}}}}); err != nil {
		t.Fatal(err)
	}
	count := func(in DescribeSecurityGroupsInput) (int, string) {
		out, _, err := cp.DescribeSecurityGroups(ctx, c, in)
		return len(out), errCode(err)
	}
	f := func(name string, v ...string) []cloud.Filter { return []cloud.Filter{{Name: name, Values: v}} }
	tests := []struct {
		name     string
		in       DescribeSecurityGroupsInput
		n        int
		wantCode string
	}{
		{"all", DescribeSecurityGroupsInput{}, 2, ""},
		{"by name", DescribeSecurityGroupsInput{GroupNames: []string{"web"}}, 1, ""},
		{"unknown name", DescribeSecurityGroupsInput{GroupNames: []string{"nope"}}, 0, "InvalidGroup.NotFound"},
		{"unknown id", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{IDs: []string{"sg-00000000000000000"}}}, 0, "InvalidGroup.NotFound"},
		{"ingress port", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("ip-permission.from-port", "443")}}, 1, ""},
		{"ingress cidr", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("ip-permission.cidr", "0.0.0.0/0")}}, 1, ""},
		{"egress cidr", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("egress.ip-permission.cidr", "0.0.0.0/0")}}, 2, ""},
		{"protocol by number", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("ip-permission.protocol", "6")}}, 1, ""},
		{"self reference", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("ip-permission.group-id", vpc.DefaultSecurityGroupID)}}, 1, ""},
		{"group-name glob", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("group-name", "w*")}}, 1, ""},
		{"bad filter", DescribeSecurityGroupsInput{DescribeInput: DescribeInput{Filters: f("ip-permission.bogus", "x")}}, 0, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, code := count(tc.in)
			if code != tc.wantCode || n != tc.n {
				t.Fatalf("got %d groups, code %q; want %d, %q", n, code, tc.n, tc.wantCode)
			}
		})
	}
	// Another account sees none of them.
	if out, _, _ := cp.DescribeSecurityGroups(ctx, rootCall("222222222222", "ec2:DescribeSecurityGroups"), DescribeSecurityGroupsInput{}); len(out) != 0 {
		t.Fatalf("other account sees %d groups", len(out))
	}

	rows, _, err := cp.DescribeSecurityGroupRules(ctx, c, DescribeInput{Filters: f("group-id", g.ID)})
	if err != nil || len(rows) != 2 {
		t.Fatalf("rules of %s = %d, %v", g.ID, len(rows), err)
	}
	tagged, _, err := cp.DescribeSecurityGroupRules(ctx, c, DescribeInput{Filters: f("tag:k", "v")})
	if err != nil || len(tagged) != 1 || tagged[0].Rule.FromPort != 443 {
		t.Fatalf("tagged rules = %+v, %v", tagged, err)
	}
	if _, _, err := cp.DescribeSecurityGroupRules(ctx, c, DescribeInput{IDs: []string{"sgr-00000000000000000"}}); errCode(err) != "InvalidSecurityGroupRuleId.NotFound" {
		t.Fatalf("unknown rule id: %v", err)
	}
}

func TestModifySecurityGroupRules(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	g := mustSG(t, cp, vpc.ID, "web")
	c := rootCall(sgAcct, "ec2:ModifySecurityGroupRules")
	rows, err := cp.AuthorizeSecurityGroup(ctx, c, AuthorizeSecurityGroupInput{GroupID: g.ID, Permissions: []IPPermission{tcpPerm(22, 22, "10.0.0.0/16"), tcpPerm(80, 80, "10.0.0.0/16")}})
	if err != nil {
		t.Fatal(err)
	}
	id := rows[0].Rule.ID
	tests := []struct {
		name string
		u    SecurityGroupRuleUpdate
		want string
	}{
		{"change port", SecurityGroupRuleUpdate{RuleID: id, IPProtocol: "tcp", FromPort: ip(2222), ToPort: ip(2222), CidrIPv4: "10.0.0.0/16", Description: "ssh"}, ""},
		{"duplicate of other", SecurityGroupRuleUpdate{RuleID: id, IPProtocol: "tcp", FromPort: ip(80), ToPort: ip(80), CidrIPv4: "10.0.0.0/16"}, "InvalidPermission.Duplicate"},
		{"change peer type", SecurityGroupRuleUpdate{RuleID: id, IPProtocol: "-1", ReferencedGroupID: g.ID}, "InvalidParameterValue"},
		{"two peers", SecurityGroupRuleUpdate{RuleID: id, IPProtocol: "-1", CidrIPv4: "1.0.0.0/8", CidrIPv6: "fd00::/8"}, "InvalidParameterValue"},
		{"unknown rule", SecurityGroupRuleUpdate{RuleID: "sgr-00000000000000000", IPProtocol: "-1", CidrIPv4: "1.0.0.0/8"}, "InvalidSecurityGroupRuleId.NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cp.ModifySecurityGroupRules(ctx, c, g.ID, []SecurityGroupRuleUpdate{tc.u})
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	r := getSG(t, cp, g.ID).Rules[sgRuleIndex(getSG(t, cp, g.ID), id)]
	if r.FromPort != 2222 || r.Description != "ssh" || r.ID != id {
		t.Fatalf("modified rule = %+v", r)
	}
}

func TestSecurityGroupDryRun(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	g := mustSG(t, cp, vpc.ID, "app")
	c := rootCall(sgAcct, "ec2:AuthorizeSecurityGroupIngress")
	c.DryRun = true
	if _, err := cp.AuthorizeSecurityGroup(context.Background(), c, AuthorizeSecurityGroupInput{GroupID: g.ID, Permissions: []IPPermission{tcpPerm(22, 22, "10.0.0.0/8")}}); errCode(err) != "DryRunOperation" {
		t.Fatalf("dry run: %v", err)
	}
	if n := len(getSG(t, cp, g.ID).Rules); n != 1 {
		t.Fatalf("dry run wrote rules: %d", n)
	}
}
