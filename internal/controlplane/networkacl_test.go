package controlplane

import (
	"context"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

func getACL(t *testing.T, cp *ControlPlane, id string) *cloud.NetworkAcl {
	t.Helper()
	var a *cloud.NetworkAcl
	cp.DB().View(func(tx *store.Tx) error {
		a, _ = store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, id)
		return nil
	})
	return a
}

func mustACL(t *testing.T, cp *ControlPlane, vpcID string) *cloud.NetworkAcl {
	t.Helper()
	a, err := cp.CreateNetworkAcl(context.Background(), rootCall(sgAcct, "ec2:CreateNetworkAcl"), CreateNetworkAclInput{VpcID: vpcID})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCreateNetworkAcl(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	c := rootCall(sgAcct, "ec2:CreateNetworkAcl")
	a, err := cp.CreateNetworkAcl(ctx, c, CreateNetworkAclInput{VpcID: vpc.ID, ClientToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if a.IsDefault || len(a.Entries) != 2 || a.Entries[0].RuleAction != "deny" || a.Entries[0].RuleNumber != 32767 {
		t.Fatalf("new ACL = %+v", a)
	}
	again, err := cp.CreateNetworkAcl(ctx, c, CreateNetworkAclInput{VpcID: vpc.ID, ClientToken: "tok"})
	if err != nil || again.ID != a.ID {
		t.Fatalf("idempotent create = %v, %v", again, err)
	}
	if _, err := cp.CreateNetworkAcl(ctx, c, CreateNetworkAclInput{VpcID: "vpc-00000000000000000"}); errCode(err) != "InvalidVpcID.NotFound" {
		t.Fatalf("unknown vpc: %v", err)
	}
	if _, err := cp.CreateNetworkAcl(ctx, rootCall("222222222222", "ec2:CreateNetworkAcl"), CreateNetworkAclInput{VpcID: vpc.ID}); errCode(err) != "InvalidVpcID.NotFound" {
		t.Fatalf("other account's vpc: %v", err)
	}
}

func TestNetworkAclEntries(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	a := mustACL(t, cp, vpc.ID)
	c := rootCall(sgAcct, "ec2:CreateNetworkAclEntry")
	entry := func(n int, proto string) NetworkAclEntryInput {
		return NetworkAclEntryInput{NetworkAclID: a.ID, RuleNumber: ip(n), Protocol: proto, RuleAction: "allow", CidrBlock: "10.0.0.0/16"}
	}
	withPorts := func(in NetworkAclEntryInput, from, to int) NetworkAclEntryInput {
		in.PortFrom, in.PortTo = ip(from), ip(to)
		return in
	}
	tests := []struct {
		name      string
		in        NetworkAclEntryInput
		want      string
		wantProto string
	}{
		{"tcp by name", withPorts(entry(100, "tcp"), 443, 443), "", "6"},
		{"udp by number", withPorts(entry(110, "17"), 53, 53), "", "17"},
		{"all", entry(120, "all"), "", "-1"},
		{"icmp", func() NetworkAclEntryInput {
			in := entry(130, "icmp")
			in.IcmpType, in.IcmpCode = ip(-1), ip(-1)
			return in
		}(), "", "1"},
		{"gre", entry(140, "47"), "", "47"},
		{"ipv6", func() NetworkAclEntryInput {
			in := entry(150, "-1")
			in.CidrBlock, in.Ipv6CidrBlock = "", "fd00::/8"
			return in
		}(), "", "-1"},
		{"duplicate number", entry(100, "-1"), "NetworkAclEntryAlreadyExists", ""},
		{"rule 0", entry(0, "-1"), "InvalidParameterValue", ""},
		{"rule 32767", entry(32767, "-1"), "InvalidParameterValue", ""},
		{"no rule number", NetworkAclEntryInput{NetworkAclID: a.ID, Protocol: "-1", RuleAction: "allow", CidrBlock: "10.0.0.0/16"}, "MissingParameter", ""},
		{"tcp without ports", entry(200, "6"), "MissingParameter", ""},
		{"tcp bad range", withPorts(entry(200, "6"), 90, 80), "InvalidParameterValue", ""},
		{"tcp port too big", withPorts(entry(200, "6"), 1, 70000), "InvalidParameterValue", ""},
		{"icmp without type", entry(200, "1"), "MissingParameter", ""},
		{"bad protocol", entry(200, "bogus"), "InvalidParameterValue", ""},
		{"protocol 300", entry(200, "300"), "InvalidParameterValue", ""},
		{"bad action", func() NetworkAclEntryInput { in := entry(200, "-1"); in.RuleAction = "maybe"; return in }(), "InvalidParameterValue", ""},
		{"bad cidr", func() NetworkAclEntryInput { in := entry(200, "-1"); in.CidrBlock = "10.0.0.0/33"; return in }(), "InvalidParameterValue", ""},
		{"no cidr", func() NetworkAclEntryInput { in := entry(200, "-1"); in.CidrBlock = ""; return in }(), "MissingParameter", ""},
		{"unknown acl", func() NetworkAclEntryInput {
			in := entry(200, "-1")
			in.NetworkAclID = "acl-00000000000000000"
			return in
		}(), "InvalidNetworkAclID.NotFound", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(getACL(t, cp, a.ID).Entries)
			err := cp.CreateNetworkAclEntry(ctx, c, tc.in)
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.want)
			}
			acl := getACL(t, cp, a.ID)
			if err != nil {
				if len(acl.Entries) != before {
					t.Fatalf("failed call changed entries")
				}
				return
			}
			e := acl.Entries[aclEntryIndex(acl, *tc.in.RuleNumber, false)]
			if e.Protocol != tc.wantProto {
				t.Fatalf("protocol = %q, want %q", e.Protocol, tc.wantProto)
			}
		})
	}
	// The same number is free in the other direction.
	eg := entry(100, "-1")
	eg.Egress = true
	if err := cp.CreateNetworkAclEntry(ctx, c, eg); err != nil {
		t.Fatal(err)
	}
	if err := cp.CreateNetworkAclEntry(ctx, c, eg); err == nil || err.Error() != "NetworkAclEntryAlreadyExists: The network acl entry identified by 100 already exists." {
		t.Fatalf("duplicate egress: %v", err)
	}

	// Replace and delete need the entry to exist; 32767 is untouchable.
	repl := entry(120, "-1")
	repl.RuleAction = "deny"
	if err := cp.ReplaceNetworkAclEntry(ctx, c, repl); err != nil {
		t.Fatal(err)
	}
	if acl := getACL(t, cp, a.ID); acl.Entries[aclEntryIndex(acl, 120, false)].RuleAction != "deny" {
		t.Fatalf("replace did not apply")
	}
	if err := cp.ReplaceNetworkAclEntry(ctx, c, entry(999, "-1")); errCode(err) != "InvalidNetworkAclEntry.NotFound" {
		t.Fatalf("replace missing: %v", err)
	}
	if err := cp.ReplaceNetworkAclEntry(ctx, c, entry(32767, "-1")); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("replace *: %v", err)
	}
	if err := cp.DeleteNetworkAclEntry(ctx, c, a.ID, ip(32767), false); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("delete *: %v", err)
	}
	if err := cp.DeleteNetworkAclEntry(ctx, c, a.ID, ip(999), false); errCode(err) != "InvalidNetworkAclEntry.NotFound" {
		t.Fatalf("delete missing: %v", err)
	}
	if err := cp.DeleteNetworkAclEntry(ctx, c, a.ID, ip(100), true); err != nil {
		t.Fatal(err)
	}
	if acl := getACL(t, cp, a.ID); aclEntryIndex(acl, 100, true) >= 0 || aclEntryIndex(acl, 100, false) < 0 {
		t.Fatalf("delete removed the wrong direction")
	}
}

func TestACLEntryOrdering(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	a := mustACL(t, cp, vpc.ID)
	c := rootCall(sgAcct, "ec2:CreateNetworkAclEntry")
	for _, n := range []int{300, 5, 120} {
		for _, egress := range []bool{false, true} {
			in := NetworkAclEntryInput{NetworkAclID: a.ID, RuleNumber: ip(n), Protocol: "-1", RuleAction: "allow", Egress: egress, CidrBlock: "0.0.0.0/0"}
			if err := cp.CreateNetworkAclEntry(ctx, c, in); err != nil {
				t.Fatal(err)
			}
		}
	}
	acl := getACL(t, cp, a.ID)
	var got []int
	for _, e := range EffectiveACLEntries(acl, false) {
		if e.Egress {
			t.Fatalf("egress entry in ingress list")
		}
		got = append(got, e.RuleNumber)
	}
	if want := []int{5, 120, 300, 32767}; !equalInts(got, want) {
		t.Fatalf("effective ingress = %v, want %v", got, want)
	}
	ordered := OrderedACLEntries(acl)
	if !ordered[0].Egress || ordered[0].RuleNumber != 5 || ordered[3].RuleNumber != 32767 || ordered[4].Egress || ordered[4].RuleNumber != 5 {
		t.Fatalf("listing order = %+v", ordered)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNetworkAclAssociationsAndDelete(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	other := mustVpc(t, cp, sgAcct, "10.1.0.0/16")
	custom := mustACL(t, cp, vpc.ID)
	foreign := mustACL(t, cp, other.ID)
	c := rootCall(sgAcct, "ec2:ReplaceNetworkAclAssociation")
	// A subnet's association with the default ACL, as subnet creation makes it.
	cp.DB().Update(ctx, func(tx *store.Tx) error {
		d, _ := store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, vpc.DefaultNetworkAclID)
		nd := store.Clone(d)
		nd.Associations = []cloud.NetworkAclAssociation{{ID: "aclassoc-1", SubnetID: "subnet-1"}}
		tx.Put(cloud.KindNetworkAcl, nd.ID, nd)
		return nil
	})
	if _, err := cp.ReplaceNetworkAclAssociation(ctx, c, "aclassoc-nope", custom.ID); errCode(err) != "InvalidAssociationID.NotFound" {
		t.Fatalf("unknown association: %v", err)
	}
	if _, err := cp.ReplaceNetworkAclAssociation(ctx, c, "aclassoc-1", foreign.ID); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("other VPC's ACL: %v", err)
	}
	if _, err := cp.ReplaceNetworkAclAssociation(ctx, rootCall("222222222222", "ec2:ReplaceNetworkAclAssociation"), "aclassoc-1", custom.ID); errCode(err) != "InvalidAssociationID.NotFound" {
		t.Fatalf("other account: %v", err)
	}
	newID, err := cp.ReplaceNetworkAclAssociation(ctx, c, "aclassoc-1", custom.ID)
	if err != nil || newID == "aclassoc-1" || newID == "" {
		t.Fatalf("replace association = %q, %v", newID, err)
	}
	if d := getACL(t, cp, vpc.DefaultNetworkAclID); len(d.Associations) != 0 {
		t.Fatalf("default still associated: %+v", d.Associations)
	}
	if cu := getACL(t, cp, custom.ID); len(cu.Associations) != 1 || cu.Associations[0].SubnetID != "subnet-1" || cu.Associations[0].ID != newID {
		t.Fatalf("custom associations = %+v", cu.Associations)
	}
	// Moving to the ACL it is already on yields yet another ID.
	again, err := cp.ReplaceNetworkAclAssociation(ctx, c, newID, custom.ID)
	if err != nil || again == newID || len(getACL(t, cp, custom.ID).Associations) != 1 {
		t.Fatalf("same-ACL replace = %q, %v", again, err)
	}

	del := rootCall(sgAcct, "ec2:DeleteNetworkAcl")
	if err := cp.DeleteNetworkAcl(ctx, del, vpc.DefaultNetworkAclID); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("delete default: %v", err)
	}
	if err := cp.DeleteNetworkAcl(ctx, del, custom.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("delete associated: %v", err)
	}
	if _, err := cp.ReplaceNetworkAclAssociation(ctx, c, again, vpc.DefaultNetworkAclID); err != nil {
		t.Fatal(err)
	}
	if err := cp.DeleteNetworkAcl(ctx, del, custom.ID); err != nil {
		t.Fatal(err)
	}
	if err := cp.DeleteNetworkAcl(ctx, del, custom.ID); errCode(err) != "InvalidNetworkAclID.NotFound" {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestDescribeNetworkAcls(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, sgAcct, "10.0.0.0/16")
	a := mustACL(t, cp, vpc.ID)
	c := rootCall(sgAcct, "ec2:DescribeNetworkAcls")
	in := NetworkAclEntryInput{NetworkAclID: a.ID, RuleNumber: ip(100), Protocol: "tcp", RuleAction: "allow", CidrBlock: "10.0.0.0/16", PortFrom: ip(22), PortTo: ip(22)}
	if err := cp.CreateNetworkAclEntry(ctx, c, in); err != nil {
		t.Fatal(err)
	}
	f := func(name string, v ...string) DescribeInput {
		return DescribeInput{Filters: []cloud.Filter{{Name: name, Values: v}}}
	}
	tests := []struct {
		name string
		in   DescribeInput
		n    int
		code string
	}{
		{"all", DescribeInput{}, 2, ""},
		{"default", f("default", "true"), 1, ""},
		{"vpc", f("vpc-id", vpc.ID), 2, ""},
		{"entry port", f("entry.port-range.from", "22"), 1, ""},
		{"entry protocol", f("entry.protocol", "6"), 1, ""},
		{"entry action", f("entry.rule-action", "allow"), 2, ""},
		{"entry number", f("entry.rule-number", "100"), 2, ""},
		{"by id", DescribeInput{IDs: []string{a.ID}}, 1, ""},
		{"unknown id", DescribeInput{IDs: []string{"acl-00000000000000000"}}, 0, "InvalidNetworkAclID.NotFound"},
		{"bad filter", f("entry.bogus", "1"), 0, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := cp.DescribeNetworkAcls(ctx, c, tc.in)
			if errCode(err) != tc.code || len(out) != tc.n {
				t.Fatalf("got %d ACLs, %v; want %d, %q", len(out), err, tc.n, tc.code)
			}
		})
	}
}
