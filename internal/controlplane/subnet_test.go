package controlplane

import (
	"context"
	"strconv"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

const (
	snAcct  = "111111111111"
	snOther = "222222222222"
)

// mkSubnet creates a subnet for tests.
func mkSubnet(t *testing.T, cp *ControlPlane, account, vpcID, cidr string) *SubnetView {
	t.Helper()
	s, err := cp.CreateSubnet(context.Background(), rootCall(account, "ec2:CreateSubnet"), CreateSubnetInput{VpcID: vpcID, CidrBlock: cidr})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateSubnetRules(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	other := mustVpc(t, cp, snOther, "10.0.0.0/16")
	mkSubnet(t, cp, snAcct, vpc.ID, "10.0.1.0/24")
	tests := []struct {
		name             string
		in               CreateSubnetInput
		account          string
		wantCode         string
		wantAZ, wantCIDR string
	}{
		{name: "ok", in: CreateSubnetInput{CidrBlock: "10.0.2.0/24", AvailabilityZone: "us-east-1c"}, wantAZ: "us-east-1c", wantCIDR: "10.0.2.0/24"},
		{name: "by zone id", in: CreateSubnetInput{CidrBlock: "10.0.3.0/24", AvailabilityZoneID: "use1-az2"}, wantAZ: "us-east-1b"},
		{name: "name and id agree", in: CreateSubnetInput{CidrBlock: "10.0.4.0/24", AvailabilityZone: "us-east-1a", AvailabilityZoneID: "use1-az1"}, wantAZ: "us-east-1a"},
		{name: "smallest", in: CreateSubnetInput{CidrBlock: "10.0.5.0/28"}, wantCIDR: "10.0.5.0/28"},
		{name: "canonicalized", in: CreateSubnetInput{CidrBlock: "10.0.6.7/24"}, wantCIDR: "10.0.6.0/24"},
		{name: "too small", in: CreateSubnetInput{CidrBlock: "10.0.7.0/29"}, wantCode: "InvalidSubnet.Range"},
		{name: "outside vpc", in: CreateSubnetInput{CidrBlock: "10.1.0.0/24"}, wantCode: "InvalidSubnet.Range"},
		{name: "larger than vpc", in: CreateSubnetInput{CidrBlock: "10.0.0.0/15"}, wantCode: "InvalidSubnet.Range"},
		{name: "overlaps", in: CreateSubnetInput{CidrBlock: "10.0.1.128/25"}, wantCode: "InvalidSubnet.Conflict"},
		{name: "covers another", in: CreateSubnetInput{CidrBlock: "10.0.0.0/16"}, wantCode: "InvalidSubnet.Conflict"},
		{name: "not a cidr", in: CreateSubnetInput{CidrBlock: "10.0.8.0"}, wantCode: "InvalidParameterValue"},
		{name: "missing cidr", in: CreateSubnetInput{}, wantCode: "MissingParameter"},
		{name: "unknown zone", in: CreateSubnetInput{CidrBlock: "10.0.9.0/24", AvailabilityZone: "us-east-1z"}, wantCode: "InvalidParameterValue"},
		{name: "zone from other region", in: CreateSubnetInput{CidrBlock: "10.0.9.0/24", AvailabilityZone: "eu-west-1a"}, wantCode: "InvalidParameterValue"},
		{name: "unknown zone id", in: CreateSubnetInput{CidrBlock: "10.0.9.0/24", AvailabilityZoneID: "use1-az9"}, wantCode: "InvalidParameterValue"},
		{name: "name and id disagree", in: CreateSubnetInput{CidrBlock: "10.0.9.0/24", AvailabilityZone: "us-east-1a", AvailabilityZoneID: "use1-az2"}, wantCode: "InvalidParameterCombination"},
		{name: "wrong tag type", in: CreateSubnetInput{CidrBlock: "10.0.9.0/24", Tags: []TagSpec{{ResourceType: "vpc", Tags: cloud.Tags{{Key: "a"}}}}}, wantCode: "InvalidParameterValue"},
		{name: "another account's vpc", in: CreateSubnetInput{VpcID: other.ID, CidrBlock: "10.0.9.0/24"}, wantCode: "InvalidVpcID.NotFound"},
		{name: "unknown vpc", in: CreateSubnetInput{VpcID: "vpc-0123456789abcdef0", CidrBlock: "10.0.9.0/24"}, wantCode: "InvalidVpcID.NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.VpcID == "" {
				tc.in.VpcID = vpc.ID
			}
			s, err := cp.CreateSubnet(context.Background(), rootCall(snAcct, "ec2:CreateSubnet"), tc.in)
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.wantCode)
			}
			if err != nil {
				return
			}
			if tc.wantAZ != "" && s.AvailabilityZone != tc.wantAZ {
				t.Errorf("zone = %s, want %s", s.AvailabilityZone, tc.wantAZ)
			}
			if tc.wantCIDR != "" && s.CidrBlock != tc.wantCIDR {
				t.Errorf("cidr = %s, want %s", s.CidrBlock, tc.wantCIDR)
			}
			if s.State != "available" || SubnetARN(s.Subnet) != "arn:aws:ec2:us-east-1:"+snAcct+":subnet/"+s.ID {
				t.Errorf("state %s arn %s", s.State, SubnetARN(s.Subnet))
			}
		})
	}
}

func TestCreateSubnetZoneChoiceAndACL(t *testing.T) {
	cp := newTestCP(t)
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	// Without a zone, each new subnet goes to the least used zone, then by name.
	want := []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"}
	var ids []string
	for i, az := range want {
		s := mkSubnet(t, cp, snAcct, vpc.ID, []string{"10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"}[i])
		if s.AvailabilityZone != az || s.AvailabilityZoneID == "" {
			t.Fatalf("subnet %d zone = %s/%s, want %s", i, s.AvailabilityZone, s.AvailabilityZoneID, az)
		}
		ids = append(ids, s.ID)
	}
	cp.DB().View(func(tx *store.Tx) error {
		acl, _ := store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, vpc.DefaultNetworkAclID)
		if len(acl.Associations) != len(ids) {
			t.Fatalf("default ACL associations = %+v", acl.Associations)
		}
		for i, a := range acl.Associations {
			if a.SubnetID != ids[i] || len(a.ID) != len("aclassoc-")+17 {
				t.Errorf("association %d = %+v", i, a)
			}
		}
		return nil
	})
}

func TestAvailableIPAddressCount(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.0.0/28")
	big := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.1.0/24")
	if s.AvailableIPAddressCount != 11 || big.AvailableIPAddressCount != 251 {
		t.Fatalf("fresh counts = %d, %d; want 11, 251", s.AvailableIPAddressCount, big.AvailableIPAddressCount)
	}
	c := rootCall(snAcct, "ec2:CreateNetworkInterface")
	for i := 0; i < 3; i++ {
		if _, err := cp.CreateNetworkInterface(ctx, c, CreateNetworkInterfaceInput{SubnetID: s.ID}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := cp.DescribeSubnets(ctx, rootCall(snAcct, "ec2:DescribeSubnets"), DescribeInput{
		Filters: []cloud.Filter{{Name: "available-ip-address-count", Values: []string{"8"}}},
	})
	if err != nil || len(got) != 1 || got[0].ID != s.ID {
		t.Fatalf("filter by count 8: %v %v", got, err)
	}
	got, _, _ = cp.DescribeSubnets(ctx, rootCall(snAcct, "ec2:DescribeSubnets"), DescribeInput{IDs: []string{big.ID}})
	if len(got) != 1 || got[0].AvailableIPAddressCount != 251 {
		t.Fatalf("big subnet = %+v", got)
	}
}

func TestDescribeSubnetsFiltersAndWalls(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	s1, err := cp.CreateSubnet(ctx, rootCall(snAcct, "ec2:CreateSubnet"), CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.0.0.0/24",
		AvailabilityZone: "us-east-1b", Tags: []TagSpec{{ResourceType: "subnet", Tags: cloud.Tags{{Key: "Name", Value: "app"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	mkSubnet(t, cp, snAcct, vpc.ID, "10.0.1.0/24")
	c := rootCall(snAcct, "ec2:DescribeSubnets")
	for _, tc := range []struct {
		filter cloud.Filter
		want   int
	}{
		{cloud.Filter{Name: "tag:Name", Values: []string{"ap*"}}, 1},
		{cloud.Filter{Name: "availability-zone", Values: []string{"us-east-1b"}}, 1},
		{cloud.Filter{Name: "availability-zone-id", Values: []string{"use1-az2"}}, 1},
		{cloud.Filter{Name: "cidr-block", Values: []string{"10.0.1.0/24"}}, 1},
		{cloud.Filter{Name: "cidrBlock", Values: []string{"10.0.*"}}, 2},
		{cloud.Filter{Name: "vpc-id", Values: []string{vpc.ID}}, 2},
		{cloud.Filter{Name: "subnet-arn", Values: []string{SubnetARN(s1.Subnet)}}, 1},
		{cloud.Filter{Name: "owner-id", Values: []string{snAcct}}, 2},
		{cloud.Filter{Name: "default-for-az", Values: []string{"false"}}, 2},
		{cloud.Filter{Name: "map-public-ip-on-launch", Values: []string{"true"}}, 0},
		{cloud.Filter{Name: "state", Values: []string{"available"}}, 2},
	} {
		got, _, err := cp.DescribeSubnets(ctx, c, DescribeInput{Filters: []cloud.Filter{tc.filter}})
		if err != nil || len(got) != tc.want {
			t.Errorf("filter %s=%v: %d subnets, %v; want %d", tc.filter.Name, tc.filter.Values, len(got), err, tc.want)
		}
	}
	if _, _, err := cp.DescribeSubnets(ctx, c, DescribeInput{Filters: []cloud.Filter{{Name: "bogus", Values: []string{"x"}}}}); errCode(err) != "InvalidParameterValue" {
		t.Errorf("bogus filter: %v", err)
	}
	other := rootCall(snOther, "ec2:DescribeSubnets")
	if got, _, err := cp.DescribeSubnets(ctx, other, DescribeInput{}); err != nil || len(got) != 0 {
		t.Errorf("other account sees %d subnets, %v", len(got), err)
	}
	if _, _, err := cp.DescribeSubnets(ctx, other, DescribeInput{IDs: []string{s1.ID}}); errCode(err) != "InvalidSubnetID.NotFound" {
		t.Errorf("other account by ID: %v", err)
	}
}

func TestInterfaceAddressAllocation(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.0.0/28")
	c := rootCall(snAcct, "ec2:CreateNetworkInterface")
	create := func(ip string) (*InterfaceView, error) {
		return cp.CreateNetworkInterface(ctx, c, CreateNetworkInterfaceInput{SubnetID: s.ID, PrivateIPAddress: ip})
	}
	first, err := create("")
	if err != nil || first.PrivateIPAddress != "10.0.0.4" || first.Status != "available" {
		t.Fatalf("first = %+v, %v; want 10.0.0.4 available", first, err)
	}
	if _, err := create("10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ip, code string }{
		{"10.0.0.4", "InvalidIPAddress.InUse"},
		{"10.0.0.0", "InvalidParameterValue"},
		{"10.0.0.1", "InvalidParameterValue"},
		{"10.0.0.2", "InvalidParameterValue"},
		{"10.0.0.3", "InvalidParameterValue"},
		{"10.0.0.15", "InvalidParameterValue"},
		{"10.0.1.4", "InvalidParameterValue"},
		{"banana", "InvalidParameterValue"},
	} {
		if _, err := create(tc.ip); errCode(err) != tc.code {
			t.Errorf("ip %s: %v, want %s", tc.ip, err, tc.code)
		}
	}
	// The lowest free address is taken next: .5 (skipping nothing), then .6 …
	next, err := create("")
	if err != nil || next.PrivateIPAddress != "10.0.0.5" {
		t.Fatalf("next = %v, %v; want 10.0.0.5", next, err)
	}
	// 11 usable: .4–.14; three are used, eight remain.
	for i := 0; i < 8; i++ {
		if _, err := create(""); err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
	}
	if _, err := create(""); errCode(err) != "InsufficientFreeAddressesInSubnet" {
		t.Fatalf("exhausted subnet: %v", err)
	}
}

func TestDeleteSubnet(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.0.0/24")
	keep := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.1.0/24")
	eni, err := cp.CreateNetworkInterface(ctx, rootCall(snAcct, "ec2:CreateNetworkInterface"), CreateNetworkInterfaceInput{SubnetID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	// An explicit route table association that must go with the subnet.
	rtbID := cloud.NewID("rtb")
	cp.DB().Update(ctx, func(tx *store.Tx) error {
		tx.Put(cloud.KindRouteTable, rtbID, &cloud.RouteTable{Meta: cloud.Meta{ID: rtbID, OwnerID: snAcct, Region: "us-east-1"}, VpcID: vpc.ID,
			Associations: []cloud.RouteTableAssociation{{ID: "rtbassoc-1", SubnetID: s.ID}, {ID: "rtbassoc-2", SubnetID: keep.ID}}})
		return nil
	})
	del := func(account, id string) error {
		return cp.DeleteSubnet(ctx, rootCall(account, "ec2:DeleteSubnet"), id)
	}
	if err := del(snAcct, s.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("delete with interface: %v", err)
	}
	if err := del(snOther, s.ID); errCode(err) != "InvalidSubnetID.NotFound" {
		t.Fatalf("delete by another account: %v", err)
	}
	if err := cp.DeleteNetworkInterface(ctx, rootCall(snAcct, "ec2:DeleteNetworkInterface"), eni.ID); err != nil {
		t.Fatal(err)
	}
	if err := del(snAcct, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := del(snAcct, s.ID); errCode(err) != "InvalidSubnetID.NotFound" {
		t.Fatalf("second delete: %v", err)
	}
	cp.DB().View(func(tx *store.Tx) error {
		acl, _ := store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, vpc.DefaultNetworkAclID)
		if len(acl.Associations) != 1 || acl.Associations[0].SubnetID != keep.ID {
			t.Errorf("ACL associations after delete = %+v", acl.Associations)
		}
		rtb, _ := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, rtbID)
		if len(rtb.Associations) != 1 || rtb.Associations[0].SubnetID != keep.ID {
			t.Errorf("route table associations after delete = %+v", rtb.Associations)
		}
		return nil
	})
}

func TestModifySubnetAttribute(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, snAcct, "10.0.0.0/16")
	s := mkSubnet(t, cp, snAcct, vpc.ID, "10.0.0.0/24")
	yes := true
	c := rootCall(snAcct, "ec2:ModifySubnetAttribute")
	if err := cp.ModifySubnetAttribute(ctx, c, ModifySubnetAttributeInput{SubnetID: s.ID, MapPublicIPOnLaunch: &yes}); err != nil {
		t.Fatal(err)
	}
	got, _, _ := cp.DescribeSubnets(ctx, c, DescribeInput{Filters: []cloud.Filter{{Name: "map-public-ip-on-launch", Values: []string{"true"}}}})
	if len(got) != 1 {
		t.Fatalf("map-public-ip-on-launch not set: %v", got)
	}
	if err := cp.ModifySubnetAttribute(ctx, c, ModifySubnetAttributeInput{SubnetID: s.ID}); errCode(err) != "InvalidParameterCombination" {
		t.Errorf("no attribute: %v", err)
	}
	if err := cp.ModifySubnetAttribute(ctx, c, ModifySubnetAttributeInput{SubnetID: s.ID, MapPublicIPOnLaunch: &yes, AtDefault: "EnableDns64"}); errCode(err) != "InvalidParameterCombination" {
		t.Errorf("two attributes: %v", err)
	}
	if err := cp.ModifySubnetAttribute(ctx, c, ModifySubnetAttributeInput{SubnetID: s.ID, AtDefault: "EnableDns64"}); err != nil {
		t.Errorf("attribute at its default: %v", err)
	}
	if err := cp.ModifySubnetAttribute(ctx, rootCall(snOther, "ec2:ModifySubnetAttribute"), ModifySubnetAttributeInput{SubnetID: s.ID, MapPublicIPOnLaunch: &yes}); errCode(err) != "InvalidSubnetID.NotFound" {
		t.Errorf("other account: %v", err)
	}
	dry := rootCall(snAcct, "ec2:ModifySubnetAttribute")
	dry.DryRun = true
	if err := cp.ModifySubnetAttribute(ctx, dry, ModifySubnetAttributeInput{SubnetID: s.ID, MapPublicIPOnLaunch: &yes}); errCode(err) != "DryRunOperation" {
		t.Errorf("dry run: %v", err)
	}
}

// BenchmarkDescribeSubnetsTagFilter describes one tagged subnet among 10,000
// with 10,000 interfaces, the shape of the bench/ scenario.
func BenchmarkDescribeSubnetsTagFilter(b *testing.B) {
	cp := newTestCP(&testing.T{})
	ctx := context.Background()
	vpc, err := cp.CreateVpc(ctx, rootCall(snAcct, "ec2:CreateVpc"), CreateVpcInput{CidrBlock: "10.0.0.0/16"})
	if err != nil {
		b.Fatal(err)
	}
	cp.DB().Update(ctx, func(tx *store.Tx) error {
		for i := 0; i < 10000; i++ {
			id := cloud.NewID("subnet")
			tags := cloud.Tags{{Key: "Name", Value: "s" + strconv.Itoa(i)}}
			tx.Put(cloud.KindSubnet, id, &cloud.Subnet{Meta: cloud.Meta{ID: id, OwnerID: snAcct, Region: "us-east-1", Tags: tags},
				VpcID: vpc.ID, CidrBlock: "10.0.0.0/28", AvailabilityZone: "us-east-1a", State: "available"})
			eni := cloud.NewID("eni")
			tx.Put(cloud.KindNetworkInterface, eni, &cloud.NetworkInterface{Meta: cloud.Meta{ID: eni, OwnerID: snAcct, Region: "us-east-1"},
				SubnetID: id, VpcID: vpc.ID, PrivateIPAddress: "10.0.0.4"})
		}
		return nil
	})
	c := rootCall(snAcct, "ec2:DescribeSubnets")
	in := DescribeInput{Filters: []cloud.Filter{{Name: "tag:Name", Values: []string{"s4242"}}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, _, err := cp.DescribeSubnets(ctx, c, in)
		if err != nil || len(got) != 1 {
			b.Fatal(len(got), err)
		}
	}
}
