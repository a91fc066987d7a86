package controlplane

import (
	"context"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

func plInt(n int) *int { return &n }

func TestAWSManagedPrefixLists(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	s3Name := "com.amazonaws.us-east-1.s3"
	s3 := cloud.AWSPrefixListID(s3Name)
	for _, account := range []string{rtAccount, "222222222222"} {
		out, _, err := cp.DescribeManagedPrefixLists(ctx, rootCall(account, "ec2:DescribeManagedPrefixLists"), DescribeInput{})
		if err != nil || len(out) != 2 {
			t.Fatalf("%s sees %d lists (%v), want the 2 AWS-managed", account, len(out), err)
		}
	}
	old, _, err := cp.DescribePrefixLists(ctx, rtCall("DescribePrefixLists"), DescribeInput{Filters: []cloud.Filter{{Name: "prefix-list-name", Values: []string{s3Name}}}})
	if err != nil || len(old) != 1 || old[0].ID != s3 || old[0].OwnerID != "AWS" || old[0].Version != 1 || old[0].State != "create-complete" {
		t.Fatalf("s3 list = %+v (%v)", old, err)
	}
	want := cloud.ServicePrefixCIDRs("us-east-1", "s3")
	if len(old[0].Entries) != len(want) || old[0].MaxEntries != len(want) || old[0].Entries[0].Cidr != want[0].String() {
		t.Fatalf("s3 entries = %+v, want %v", old[0].Entries, want)
	}
	if arn := PrefixListARN(old[0]); arn != "arn:aws:ec2:us-east-1:aws:prefix-list/"+s3 {
		t.Fatalf("arn = %s", arn)
	}
	entries, _, err := cp.GetManagedPrefixListEntries(ctx, rtCall("GetManagedPrefixListEntries"), s3, nil, Page{})
	if err != nil || len(entries) != len(want) {
		t.Fatalf("entries = %v (%v)", entries, err)
	}
	cp.DB().View(func(tx *store.Tx) error {
		got, ok := prefixListCIDRs(tx, "us-east-1", s3)
		if !ok || len(got) != len(want) || got[0] != want[0] {
			t.Errorf("prefixListCIDRs = %v %v", got, ok)
		}
		if _, ok := prefixListCIDRs(tx, "eu-west-1", s3); ok {
			t.Errorf("us-east-1's list resolved in eu-west-1")
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"modify aws list", func() error {
			_, err := cp.ModifyManagedPrefixList(ctx, rtCall("ModifyManagedPrefixList"), ModifyManagedPrefixListInput{PrefixListID: s3, Name: "x"})
			return err
		}(), "UnauthorizedOperation"},
		{"delete aws list", func() error {
			_, err := cp.DeleteManagedPrefixList(ctx, rtCall("DeleteManagedPrefixList"), s3)
			return err
		}(), "UnauthorizedOperation"},
		{"unknown id", func() error {
			_, _, err := cp.DescribePrefixLists(ctx, rtCall("DescribePrefixLists"), DescribeInput{IDs: []string{"pl-00000000"}})
			return err
		}(), "InvalidPrefixListID.NotFound"},
		{"bad filter", func() error {
			_, _, err := cp.DescribePrefixLists(ctx, rtCall("DescribePrefixLists"), DescribeInput{Filters: []cloud.Filter{{Name: "owner-id", Values: []string{"AWS"}}}})
			return err
		}(), "InvalidParameterValue"},
	} {
		if errCode(tc.err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.want)
		}
	}
}

func TestCreateManagedPrefixList(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	e := func(cidrs ...string) []cloud.PrefixListEntry {
		var out []cloud.PrefixListEntry
		for _, c := range cidrs {
			out = append(out, cloud.PrefixListEntry{Cidr: c})
		}
		return out
	}
	tests := []struct {
		name string
		in   CreateManagedPrefixListInput
		want string
	}{
		{"ok", CreateManagedPrefixListInput{Name: "office", MaxEntries: plInt(5), AddressFamily: "IPv4", Entries: e("192.0.2.0/24", "198.51.100.7/32")}, ""},
		{"ipv6", CreateManagedPrefixListInput{Name: "v6", MaxEntries: plInt(1), AddressFamily: "IPv6", Entries: e("2001:db8::/32")}, ""},
		{"empty", CreateManagedPrefixListInput{Name: "empty", MaxEntries: plInt(1), AddressFamily: "IPv4"}, ""},
		{"no name", CreateManagedPrefixListInput{MaxEntries: plInt(5), AddressFamily: "IPv4"}, "MissingParameter"},
		{"reserved name", CreateManagedPrefixListInput{Name: "com.amazonaws.mine", MaxEntries: plInt(5), AddressFamily: "IPv4"}, "InvalidParameterValue"},
		{"no max", CreateManagedPrefixListInput{Name: "a", AddressFamily: "IPv4"}, "MissingParameter"},
		{"max zero", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(0), AddressFamily: "IPv4"}, "InvalidParameterValue"},
		{"max too big", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(1001), AddressFamily: "IPv4"}, "InvalidParameterValue"},
		{"no family", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(5)}, "MissingParameter"},
		{"bad family", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(5), AddressFamily: "ipv4"}, "InvalidParameterValue"},
		{"bad cidr", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(5), AddressFamily: "IPv4", Entries: e("300.0.0.0/8")}, "InvalidParameterValue"},
		{"wrong family", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(5), AddressFamily: "IPv4", Entries: e("2001:db8::/32")}, "InvalidParameterValue"},
		{"duplicate", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(5), AddressFamily: "IPv4", Entries: e("10.0.0.0/8", "10.0.0.1/8")}, "InvalidParameterValue"},
		{"too many", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(1), AddressFamily: "IPv4", Entries: e("10.0.0.0/8", "11.0.0.0/8")}, "PrefixListMaxEntriesExceeded"},
		{"bad tag type", CreateManagedPrefixListInput{Name: "a", MaxEntries: plInt(1), AddressFamily: "IPv4", Tags: []TagSpec{{ResourceType: "vpc"}}}, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := cp.CreateManagedPrefixList(ctx, rtCall("CreateManagedPrefixList"), tc.in)
			if errCode(err) != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if err == nil && (pl.Version != 1 || pl.State != "create-complete" || pl.OwnerID != rtAccount || len(pl.Entries) != len(tc.in.Entries)) {
				t.Fatalf("list = %+v", pl)
			}
		})
	}
	out, _, _ := cp.DescribeManagedPrefixLists(ctx, rtCall("DescribeManagedPrefixLists"), DescribeInput{Filters: []cloud.Filter{{Name: "owner-id", Values: []string{rtAccount}}}})
	if len(out) != 3 {
		t.Fatalf("customer lists = %d, want 3", len(out))
	}
	other, _, _ := cp.DescribeManagedPrefixLists(ctx, rootCall("222222222222", "ec2:DescribeManagedPrefixLists"), DescribeInput{Filters: []cloud.Filter{{Name: "owner-id", Values: []string{rtAccount}}}})
	if len(other) != 0 {
		t.Fatalf("another account sees %d customer lists", len(other))
	}
	in := CreateManagedPrefixListInput{Name: "tok", MaxEntries: plInt(2), AddressFamily: "IPv4", ClientToken: "t1"}
	a, _ := cp.CreateManagedPrefixList(ctx, rtCall("CreateManagedPrefixList"), in)
	b, err := cp.CreateManagedPrefixList(ctx, rtCall("CreateManagedPrefixList"), in)
	if err != nil || a.ID != b.ID {
		t.Fatalf("ClientToken: %v %v %v", a, b, err)
	}
}

func TestModifyManagedPrefixListVersions(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	call := rtCall("ModifyManagedPrefixList")
	pl, err := cp.CreateManagedPrefixList(ctx, call, CreateManagedPrefixListInput{Name: "office", MaxEntries: plInt(3), AddressFamily: "IPv4",
		Entries: []cloud.PrefixListEntry{{Cidr: "192.0.2.0/24", Description: "hq"}}})
	if err != nil {
		t.Fatal(err)
	}
	modify := func(in ModifyManagedPrefixListInput) (*cloud.ManagedPrefixList, error) {
		in.PrefixListID = pl.ID
		return cp.ModifyManagedPrefixList(ctx, call, in)
	}
	add := func(c string) []cloud.PrefixListEntry { return []cloud.PrefixListEntry{{Cidr: c}} }
	steps := []struct {
		name        string
		in          ModifyManagedPrefixListInput
		want        string
		wantVersion int
	}{
		{"add", ModifyManagedPrefixListInput{CurrentVersion: plInt(1), AddEntries: add("198.51.100.0/24")}, "", 2},
		{"stale version", ModifyManagedPrefixListInput{CurrentVersion: plInt(1), AddEntries: add("203.0.113.0/24")}, "PrefixListVersionMismatch", 2},
		{"rename keeps version", ModifyManagedPrefixListInput{Name: "office-2"}, "", 2},
		{"remove missing", ModifyManagedPrefixListInput{RemoveEntries: []string{"10.0.0.0/8"}}, "InvalidPrefixListModification", 2},
		{"add existing", ModifyManagedPrefixListInput{AddEntries: add("192.0.2.0/24")}, "InvalidPrefixListModification", 2},
		{"exceed max", ModifyManagedPrefixListInput{AddEntries: []cloud.PrefixListEntry{{Cidr: "203.0.113.0/24"}, {Cidr: "203.0.114.0/24"}}}, "PrefixListMaxEntriesExceeded", 2},
		{"resize and entries", ModifyManagedPrefixListInput{MaxEntries: plInt(10), AddEntries: add("203.0.113.0/24")}, "InvalidParameterCombination", 2},
		{"shrink below entries", ModifyManagedPrefixListInput{MaxEntries: plInt(1)}, "InvalidParameterValue", 2},
		{"resize", ModifyManagedPrefixListInput{MaxEntries: plInt(10)}, "", 2},
		{"remove", ModifyManagedPrefixListInput{CurrentVersion: plInt(2), RemoveEntries: []string{"192.0.2.0/24"}}, "", 3},
		{"wrong family", ModifyManagedPrefixListInput{AddEntries: add("2001:db8::/32")}, "InvalidParameterValue", 3},
	}
	for _, s := range steps {
		got, err := modify(s.in)
		if errCode(err) != s.want {
			t.Fatalf("%s: err = %v, want %q", s.name, err, s.want)
		}
		cur, _, _ := cp.DescribeManagedPrefixLists(ctx, call, DescribeInput{IDs: []string{pl.ID}})
		if cur[0].Version != s.wantVersion {
			t.Fatalf("%s: version = %d, want %d", s.name, cur[0].Version, s.wantVersion)
		}
		if err == nil && got.State != "modify-complete" {
			t.Fatalf("%s: state = %s", s.name, got.State)
		}
	}
	cur, _, _ := cp.DescribeManagedPrefixLists(ctx, call, DescribeInput{IDs: []string{pl.ID}})
	if cur[0].Name != "office-2" || cur[0].MaxEntries != 10 {
		t.Fatalf("list = %+v", cur[0])
	}
	for _, tc := range []struct {
		version *int
		want    []string
		code    string
	}{
		{nil, []string{"198.51.100.0/24"}, ""},
		{plInt(1), []string{"192.0.2.0/24"}, ""},
		{plInt(2), []string{"192.0.2.0/24", "198.51.100.0/24"}, ""},
		{plInt(3), []string{"198.51.100.0/24"}, ""},
		{plInt(9), nil, "InvalidParameterValue"},
	} {
		entries, _, err := cp.GetManagedPrefixListEntries(ctx, call, pl.ID, tc.version, Page{})
		if errCode(err) != tc.code {
			t.Fatalf("version %v: %v", tc.version, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Cidr)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Fatalf("version %v entries = %v, want %v", tc.version, got, tc.want)
		}
	}
	if _, _, err := cp.GetManagedPrefixListEntries(ctx, rootCall("222222222222", "ec2:GetManagedPrefixListEntries"), pl.ID, nil, Page{}); errCode(err) != "InvalidPrefixListID.NotFound" {
		t.Fatalf("another account reads entries: %v", err)
	}
}

func TestPrefixListDependencies(t *testing.T) {
	f := newRTFixture(t)
	cp, ctx := f.cp, context.Background()
	call := rtCall("DeleteManagedPrefixList")
	pl, err := cp.CreateManagedPrefixList(ctx, call, CreateManagedPrefixListInput{Name: "partners", MaxEntries: plInt(5), AddressFamily: "IPv4",
		Entries: []cloud.PrefixListEntry{{Cidr: "203.0.113.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.CreateRoute(ctx, rtCall("CreateRoute"), RouteInput{RouteTableID: f.rtb.ID, DestinationPrefixListID: pl.ID, GatewayID: f.igw}); err != nil {
		t.Fatal(err)
	}
	// A security group rule referencing the list (written directly: the
	// security group family owns the API).
	err = cp.DB().Update(ctx, func(tx *store.Tx) error {
		sg, _ := store.Get[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, f.vpc.DefaultSecurityGroupID)
		g := store.Clone(sg)
		g.Rules = append(append([]cloud.SecurityGroupRule(nil), sg.Rules...), cloud.SecurityGroupRule{ID: "sgr-1", IPProtocol: "tcp", FromPort: 443, ToPort: 443, PrefixList: pl.ID})
		tx.Put(cloud.KindSecurityGroup, g.ID, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	assocs, _, err := cp.GetManagedPrefixListAssociations(ctx, call, pl.ID, Page{})
	if err != nil || len(assocs) != 2 {
		t.Fatalf("associations = %v (%v)", assocs, err)
	}
	if _, err := cp.DeleteManagedPrefixList(ctx, call, pl.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("delete referenced: %v", err)
	}
	if err := cp.DeleteRoute(ctx, rtCall("DeleteRoute"), f.rtb.ID, "", pl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.DeleteManagedPrefixList(ctx, call, pl.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("delete referenced by a rule: %v", err)
	}
	cp.DB().Update(ctx, func(tx *store.Tx) error {
		sg, _ := store.Get[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, f.vpc.DefaultSecurityGroupID)
		g := store.Clone(sg)
		g.Rules = sg.Rules[:len(sg.Rules)-1]
		tx.Put(cloud.KindSecurityGroup, g.ID, g)
		return nil
	})
	if _, err := cp.DeleteManagedPrefixList(ctx, rootCall("222222222222", "ec2:DeleteManagedPrefixList"), pl.ID); errCode(err) != "InvalidPrefixListID.NotFound" {
		t.Fatalf("another account deletes: %v", err)
	}
	del, err := cp.DeleteManagedPrefixList(ctx, call, pl.ID)
	if err != nil || del.State != "delete-in-progress" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if _, _, err := cp.DescribeManagedPrefixLists(ctx, call, DescribeInput{IDs: []string{pl.ID}}); errCode(err) != "InvalidPrefixListID.NotFound" {
		t.Fatalf("after delete: %v", err)
	}
}
