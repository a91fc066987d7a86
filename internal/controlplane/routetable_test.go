package controlplane

import (
	"context"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

const rtAccount = "111111111111"

// rtFixture is a VPC with a subnet, an interface, an attached internet
// gateway, a detached one, and a custom route table.
type rtFixture struct {
	cp                   *ControlPlane
	vpc, other           *cloud.Vpc
	subnet, otherSubnet  string
	eni                  string
	igw, loose, otherIGW string
	rtb                  *cloud.RouteTable
}

func rtCall(action string) *Call { return rootCall(rtAccount, "ec2:"+action) }

func newRTFixture(t *testing.T) *rtFixture {
	t.Helper()
	ctx := context.Background()
	f := &rtFixture{cp: newTestCP(t)}
	f.vpc = mustVpc(t, f.cp, rtAccount, "10.0.0.0/16")
	f.other = mustVpc(t, f.cp, rtAccount, "10.1.0.0/16")
	sn, err := f.cp.CreateSubnet(ctx, rtCall("CreateSubnet"), CreateSubnetInput{VpcID: f.vpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	f.subnet = sn.ID
	osn, err := f.cp.CreateSubnet(ctx, rtCall("CreateSubnet"), CreateSubnetInput{VpcID: f.other.ID, CidrBlock: "10.1.1.0/24", AvailabilityZone: "us-east-1a"})
	if err != nil {
		t.Fatal(err)
	}
	f.otherSubnet = osn.ID
	eni, err := f.cp.CreateNetworkInterface(ctx, rtCall("CreateNetworkInterface"), CreateNetworkInterfaceInput{SubnetID: f.subnet})
	if err != nil {
		t.Fatal(err)
	}
	f.eni = eni.ID
	f.igw = rtIGW(t, f.cp, f.vpc.ID)
	f.loose = rtIGW(t, f.cp, "")
	f.otherIGW = rtIGW(t, f.cp, f.other.ID)
	f.rtb, err = f.cp.CreateRouteTable(ctx, rtCall("CreateRouteTable"), CreateRouteTableInput{VpcID: f.vpc.ID})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// rtIGW creates an internet gateway, attached to vpcID unless it is empty.
func rtIGW(t *testing.T, cp *ControlPlane, vpcID string) string {
	t.Helper()
	g, err := cp.CreateInternetGateway(context.Background(), rtCall("CreateInternetGateway"), CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	if vpcID != "" {
		if err := cp.AttachInternetGateway(context.Background(), rtCall("AttachInternetGateway"), g.ID, vpcID); err != nil {
			t.Fatal(err)
		}
	}
	return g.ID
}

func (f *rtFixture) table(t *testing.T, id string) *cloud.RouteTable {
	t.Helper()
	out, _, err := f.cp.DescribeRouteTables(context.Background(), rtCall("DescribeRouteTables"), DescribeInput{IDs: []string{id}})
	if err != nil || len(out) != 1 {
		t.Fatalf("describe %s: %v %v", id, out, err)
	}
	return out[0]
}

func findRoute(rtb *cloud.RouteTable, dest string) *cloud.Route {
	for i := range rtb.Routes {
		if rtb.Routes[i].Destination() == dest {
			return &rtb.Routes[i]
		}
	}
	return nil
}

func TestCreateRouteTable(t *testing.T) {
	f := newRTFixture(t)
	ctx := context.Background()
	if len(f.rtb.Routes) != 1 || f.rtb.Routes[0].GatewayID != "local" || f.rtb.Routes[0].DestinationCidrBlock != "10.0.0.0/16" || f.rtb.Routes[0].State != "active" {
		t.Fatalf("routes = %+v", f.rtb.Routes)
	}
	if f.rtb.IsMain() || len(f.rtb.Associations) != 0 {
		t.Fatalf("new table has associations %+v", f.rtb.Associations)
	}
	in := CreateRouteTableInput{VpcID: f.vpc.ID, ClientToken: "tok"}
	a, err := f.cp.CreateRouteTable(ctx, rtCall("CreateRouteTable"), in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.cp.CreateRouteTable(ctx, rtCall("CreateRouteTable"), in)
	if err != nil || a.ID != b.ID {
		t.Fatalf("ClientToken: %s then %s (%v)", a.ID, b.ID, err)
	}
	if err := f.cp.DeleteRouteTable(ctx, rtCall("DeleteRouteTable"), a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cp.CreateRouteTable(ctx, rtCall("CreateRouteTable"), in); errCode(err) != "InvalidRouteTableID.NotFound" {
		t.Fatalf("token of a deleted table: %v", err)
	}
	for _, tc := range []struct {
		name string
		call *Call
		in   CreateRouteTableInput
		want string
	}{
		{"missing vpc", rtCall("CreateRouteTable"), CreateRouteTableInput{}, "MissingParameter"},
		{"unknown vpc", rtCall("CreateRouteTable"), CreateRouteTableInput{VpcID: "vpc-0000000000000000"}, "InvalidVpcID.NotFound"},
		{"other account", rootCall("222222222222", "ec2:CreateRouteTable"), CreateRouteTableInput{VpcID: f.vpc.ID}, "InvalidVpcID.NotFound"},
		{"token reuse", rtCall("CreateRouteTable"), CreateRouteTableInput{VpcID: f.other.ID, ClientToken: "tok"}, "IdempotentParameterMismatch"},
		{"bad tag type", rtCall("CreateRouteTable"), CreateRouteTableInput{VpcID: f.vpc.ID, Tags: []TagSpec{{ResourceType: "vpc", Tags: cloud.Tags{{Key: "a"}}}}}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.cp.CreateRouteTable(ctx, tc.call, tc.in); errCode(err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestCreateRouteValidation(t *testing.T) {
	f := newRTFixture(t)
	s3 := cloud.AWSPrefixListID(cloud.AWSServiceName("us-east-1", "s3"))
	tests := []struct {
		name string
		in   RouteInput
		want string
	}{
		{"default via igw", RouteInput{DestinationCidrBlock: "0.0.0.0/0", GatewayID: f.igw}, ""},
		{"duplicate", RouteInput{DestinationCidrBlock: "0.0.0.0/0", GatewayID: f.igw}, "RouteAlreadyExists"},
		{"canonicalized duplicate", RouteInput{DestinationCidrBlock: "0.0.0.1/0", GatewayID: f.igw}, "RouteAlreadyExists"},
		{"prefix list via igw", RouteInput{DestinationPrefixListID: s3, GatewayID: f.igw}, ""},
		{"more specific via eni", RouteInput{DestinationCidrBlock: "10.0.2.0/24", NetworkInterfaceID: f.eni}, ""},
		{"more specific via igw", RouteInput{DestinationCidrBlock: "10.0.3.0/24", GatewayID: f.igw}, "InvalidParameterValue"},
		{"vpc cidr via igw", RouteInput{DestinationCidrBlock: "10.0.0.0/16", GatewayID: f.igw}, "InvalidParameterValue"},
		{"less specific via eni", RouteInput{DestinationCidrBlock: "10.0.0.0/8", NetworkInterfaceID: f.eni}, ""},
		{"bad cidr", RouteInput{DestinationCidrBlock: "10.0.0.300/24", GatewayID: f.igw}, "InvalidParameterValue"},
		{"ipv6 cidr", RouteInput{DestinationCidrBlock: "::/0", GatewayID: f.igw}, "InvalidParameterValue"},
		{"no destination", RouteInput{GatewayID: f.igw}, "MissingParameter"},
		{"two destinations", RouteInput{DestinationCidrBlock: "1.0.0.0/8", DestinationPrefixListID: s3, GatewayID: f.igw}, "InvalidParameterCombination"},
		{"unknown prefix list", RouteInput{DestinationPrefixListID: "pl-00000000", GatewayID: f.igw}, "InvalidPrefixListID.NotFound"},
		{"no target", RouteInput{DestinationCidrBlock: "1.0.0.0/8"}, "InvalidParameterCombination"},
		{"two targets", RouteInput{DestinationCidrBlock: "1.0.0.0/8", GatewayID: f.igw, NetworkInterfaceID: f.eni}, "InvalidParameterCombination"},
		{"unsupported target", RouteInput{DestinationCidrBlock: "1.0.0.0/8", UnsupportedTargets: []string{"NatGatewayId"}}, "UnsupportedOperation"},
		{"detached igw", RouteInput{DestinationCidrBlock: "1.0.0.0/8", GatewayID: f.loose}, "InvalidParameterValue"},
		{"other vpc's igw", RouteInput{DestinationCidrBlock: "1.0.0.0/8", GatewayID: f.otherIGW}, "InvalidParameterValue"},
		{"unknown igw", RouteInput{DestinationCidrBlock: "1.0.0.0/8", GatewayID: "igw-00000000000000000"}, "InvalidGatewayID.NotFound"},
		{"not a gateway", RouteInput{DestinationCidrBlock: "1.0.0.0/8", GatewayID: "vgw-1"}, "InvalidGatewayID.NotFound"},
		{"unknown eni", RouteInput{DestinationCidrBlock: "1.0.0.0/8", NetworkInterfaceID: "eni-00000000000000000"}, "InvalidNetworkInterfaceID.NotFound"},
		{"unknown instance", RouteInput{DestinationCidrBlock: "1.0.0.0/8", InstanceID: "i-00000000000000000"}, "InvalidInstanceID.NotFound"},
		{"unknown endpoint", RouteInput{DestinationCidrBlock: "1.0.0.0/8", VpcEndpointID: "vpce-00000000000000000"}, "InvalidVpcEndpointId.NotFound"},
		{"local target on create", RouteInput{DestinationCidrBlock: "1.0.0.0/8", LocalTarget: true}, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.table(t, f.rtb.ID)
			tc.in.RouteTableID = f.rtb.ID
			err := f.cp.CreateRoute(context.Background(), rtCall("CreateRoute"), tc.in)
			if got := errCode(err); got != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			after := f.table(t, f.rtb.ID)
			if tc.want != "" && len(after.Routes) != len(before.Routes) {
				t.Fatalf("a refused route changed the table: %d → %d routes", len(before.Routes), len(after.Routes))
			}
		})
	}
	if err := f.cp.CreateRoute(context.Background(), rtCall("CreateRoute"), RouteInput{RouteTableID: "rtb-00000000000000000", DestinationCidrBlock: "1.0.0.0/8", GatewayID: f.igw}); errCode(err) != "InvalidRouteTableID.NotFound" {
		t.Fatalf("unknown table: %v", err)
	}
	r := findRoute(f.table(t, f.rtb.ID), "10.0.2.0/24")
	if r == nil || r.NetworkInterfaceID != f.eni || r.Origin != "CreateRoute" || r.State != "active" {
		t.Fatalf("eni route = %+v", r)
	}
}

func TestLocalRouteAndReplace(t *testing.T) {
	f := newRTFixture(t)
	ctx := context.Background()
	call := rtCall("ReplaceRoute")
	if err := f.cp.CreateRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "0.0.0.0/0", GatewayID: f.igw}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"delete local", func() error { return f.cp.DeleteRoute(ctx, call, f.rtb.ID, "10.0.0.0/16", "") }, "InvalidParameterValue"},
		{"local to igw", func() error {
			return f.cp.ReplaceRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "10.0.0.0/16", GatewayID: f.igw})
		}, "InvalidParameterValue"},
		{"local to middlebox", func() error {
			return f.cp.ReplaceRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "10.0.0.0/16", NetworkInterfaceID: f.eni})
		}, ""},
		{"restore local", func() error {
			return f.cp.ReplaceRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "10.0.0.0/16", LocalTarget: true})
		}, ""},
		{"local target elsewhere", func() error {
			return f.cp.ReplaceRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "0.0.0.0/0", LocalTarget: true})
		}, "InvalidParameterValue"},
		{"replace missing", func() error {
			return f.cp.ReplaceRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "1.0.0.0/8", GatewayID: f.igw})
		}, "InvalidRoute.NotFound"},
		{"replace default with eni", func() error {
			return f.cp.ReplaceRoute(ctx, call, RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "0.0.0.0/0", NetworkInterfaceID: f.eni})
		}, ""},
		{"delete missing", func() error { return f.cp.DeleteRoute(ctx, call, f.rtb.ID, "1.0.0.0/8", "") }, "InvalidRoute.NotFound"},
		{"delete bad cidr", func() error { return f.cp.DeleteRoute(ctx, call, f.rtb.ID, "nope", "") }, "InvalidParameterValue"},
		{"delete default", func() error { return f.cp.DeleteRoute(ctx, call, f.rtb.ID, "0.0.0.0/0", "") }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errCode(tc.do()); got != tc.want {
				t.Fatalf("code = %q, want %q", got, tc.want)
			}
		})
	}
	rtb := f.table(t, f.rtb.ID)
	if len(rtb.Routes) != 1 || rtb.Routes[0].GatewayID != "local" || rtb.Routes[0].Origin != "CreateRouteTable" {
		t.Fatalf("routes after = %+v", rtb.Routes)
	}
}

func TestRouteBlackholeOnDetach(t *testing.T) {
	f := newRTFixture(t)
	ctx := context.Background()
	if err := f.cp.CreateRoute(ctx, rtCall("CreateRoute"), RouteInput{RouteTableID: f.rtb.ID, DestinationCidrBlock: "0.0.0.0/0", GatewayID: f.igw}); err != nil {
		t.Fatal(err)
	}
	state := func() string { return findRoute(f.table(t, f.rtb.ID), "0.0.0.0/0").State }
	if s := state(); s != "active" {
		t.Fatalf("state = %s", s)
	}
	if err := f.cp.DetachInternetGateway(ctx, rtCall("DetachInternetGateway"), f.igw, f.vpc.ID); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != "blackhole" {
		t.Fatalf("after detach state = %s", s)
	}
	out, _, err := f.cp.DescribeRouteTables(ctx, rtCall("DescribeRouteTables"), DescribeInput{Filters: []cloud.Filter{{Name: "route.state", Values: []string{"blackhole"}}}})
	if err != nil || len(out) != 1 || out[0].ID != f.rtb.ID {
		t.Fatalf("route.state filter: %v %v", out, err)
	}
	if err := f.cp.AttachInternetGateway(ctx, rtCall("AttachInternetGateway"), f.igw, f.vpc.ID); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != "active" {
		t.Fatalf("after reattach state = %s", s)
	}
}

func TestRouteTableAssociations(t *testing.T) {
	f := newRTFixture(t)
	ctx := context.Background()
	call := rtCall("AssociateRouteTable")
	main := f.table(t, f.vpc.MainRouteTableID)
	subnetTable := func() string {
		var id string
		f.cp.DB().View(func(tx *store.Tx) error {
			s, _ := store.Get[cloud.Subnet](tx, cloud.KindSubnet, f.subnet)
			id = f.cp.SubnetRouteTable(tx, s).ID
			return nil
		})
		return id
	}
	if got := subnetTable(); got != main.ID {
		t.Fatalf("implicit table = %s, want main %s", got, main.ID)
	}
	assoc, err := f.cp.AssociateRouteTable(ctx, call, f.rtb.ID, f.subnet, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := subnetTable(); got != f.rtb.ID {
		t.Fatalf("explicit table = %s, want %s", got, f.rtb.ID)
	}
	other, err := f.cp.CreateRouteTable(ctx, rtCall("CreateRouteTable"), CreateRouteTableInput{VpcID: f.vpc.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"subnet already associated", func() error { _, err := f.cp.AssociateRouteTable(ctx, call, other.ID, f.subnet, ""); return err }, "Resource.AlreadyAssociated"},
		{"same table again", func() error { _, err := f.cp.AssociateRouteTable(ctx, call, f.rtb.ID, f.subnet, ""); return err }, "Resource.AlreadyAssociated"},
		{"subnet of another vpc", func() error { _, err := f.cp.AssociateRouteTable(ctx, call, other.ID, f.otherSubnet, ""); return err }, "InvalidParameterValue"},
		{"unknown subnet", func() error {
			_, err := f.cp.AssociateRouteTable(ctx, call, other.ID, "subnet-00000000000000000", "")
			return err
		}, "InvalidSubnetID.NotFound"},
		{"no subnet", func() error { _, err := f.cp.AssociateRouteTable(ctx, call, other.ID, "", ""); return err }, "MissingParameter"},
		{"detached gateway edge", func() error { _, err := f.cp.AssociateRouteTable(ctx, call, other.ID, "", f.loose); return err }, "InvalidParameterValue"},
		{"delete associated table", func() error { return f.cp.DeleteRouteTable(ctx, call, f.rtb.ID) }, "DependencyViolation"},
		{"delete main table", func() error { return f.cp.DeleteRouteTable(ctx, call, main.ID) }, "DependencyViolation"},
		{"disassociate main", func() error { return f.cp.DisassociateRouteTable(ctx, call, main.Associations[0].ID) }, "InvalidParameterValue"},
		{"disassociate unknown", func() error { return f.cp.DisassociateRouteTable(ctx, call, "rtbassoc-00000000000000000") }, "InvalidAssociationID.NotFound"},
		{"other account disassociates", func() error {
			return f.cp.DisassociateRouteTable(ctx, rootCall("222222222222", "ec2:DisassociateRouteTable"), assoc)
		}, "InvalidAssociationID.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errCode(tc.do()); got != tc.want {
				t.Fatalf("code = %q, want %q", got, tc.want)
			}
		})
	}

	// Move the subnet to the other table, then make that table main.
	moved, err := f.cp.ReplaceRouteTableAssociation(ctx, call, assoc, other.ID)
	if err != nil || moved == assoc {
		t.Fatalf("replace subnet association: %s %v", moved, err)
	}
	if got := subnetTable(); got != other.ID {
		t.Fatalf("after replace table = %s", got)
	}
	newMain, err := f.cp.ReplaceRouteTableAssociation(ctx, call, main.Associations[0].ID, f.rtb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rtb := f.table(t, f.rtb.ID); !rtb.IsMain() || rtb.Associations[0].ID != newMain {
		t.Fatalf("new main table = %+v", rtb.Associations)
	}
	vpcs, _, _ := f.cp.DescribeVpcs(ctx, rtCall("DescribeVpcs"), DescribeInput{IDs: []string{f.vpc.ID}})
	if vpcs[0].MainRouteTableID != f.rtb.ID {
		t.Fatalf("vpc main table = %s", vpcs[0].MainRouteTableID)
	}
	// The old main table is now an ordinary one and can go.
	if err := f.cp.DeleteRouteTable(ctx, call, main.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.cp.DisassociateRouteTable(ctx, call, moved); err != nil {
		t.Fatal(err)
	}
	if got := subnetTable(); got != f.rtb.ID {
		t.Fatalf("after disassociate table = %s, want new main %s", got, f.rtb.ID)
	}
	out, _, err := f.cp.DescribeRouteTables(ctx, call, DescribeInput{Filters: []cloud.Filter{{Name: "association.main", Values: []string{"true"}}, {Name: "vpc-id", Values: []string{f.vpc.ID}}}})
	if err != nil || len(out) != 1 || out[0].ID != f.rtb.ID {
		t.Fatalf("association.main filter: %v %v", out, err)
	}
	// An edge association ties the attached gateway to a table, once.
	if _, err := f.cp.AssociateRouteTable(ctx, call, other.ID, "", f.igw); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cp.AssociateRouteTable(ctx, call, f.rtb.ID, "", f.igw); errCode(err) != "Resource.AlreadyAssociated" {
		t.Fatalf("second edge association: %v", err)
	}
	if err := f.cp.DetachInternetGateway(ctx, rtCall("DetachInternetGateway"), f.igw, f.vpc.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("detach with an edge association: %v", err)
	}
}

func TestGatewayEndpointRoutes(t *testing.T) {
	f := newRTFixture(t)
	ctx := context.Background()
	s3 := cloud.AWSPrefixListID(cloud.AWSServiceName("us-east-1", "s3"))
	err := f.cp.DB().Update(ctx, func(tx *store.Tx) error {
		if err := addGatewayEndpointRoute(tx, f.rtb, s3, "vpce-0123456789abcdef0"); err != nil {
			return err
		}
		// A stale table pointer must not lose the first route.
		dyn := cloud.AWSPrefixListID(cloud.AWSServiceName("us-east-1", "dynamodb"))
		return addGatewayEndpointRoute(tx, f.rtb, dyn, "vpce-0123456789abcdef1")
	})
	if err != nil {
		t.Fatal(err)
	}
	r := findRoute(f.table(t, f.rtb.ID), s3)
	if r == nil || r.GatewayID != "vpce-0123456789abcdef0" || r.Origin != "CreateRoute" {
		t.Fatalf("endpoint route = %+v", r)
	}
	if len(f.table(t, f.rtb.ID).Routes) != 3 {
		t.Fatalf("routes = %+v", f.table(t, f.rtb.ID).Routes)
	}
	err = f.cp.DB().Update(ctx, func(tx *store.Tx) error { return addGatewayEndpointRoute(tx, f.rtb, s3, "vpce-0123456789abcdef2") })
	if errCode(err) != "RouteAlreadyExists" {
		t.Fatalf("duplicate endpoint route: %v", err)
	}
	if err := f.cp.DeleteRoute(ctx, rtCall("DeleteRoute"), f.rtb.ID, "", s3); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("DeleteRoute of an endpoint route: %v", err)
	}
	if err := f.cp.CreateRoute(ctx, rtCall("CreateRoute"), RouteInput{RouteTableID: f.rtb.ID, DestinationPrefixListID: s3, GatewayID: f.igw}); errCode(err) != "RouteAlreadyExists" {
		t.Fatalf("CreateRoute over an endpoint route: %v", err)
	}
	f.cp.DB().Update(ctx, func(tx *store.Tx) error {
		removeGatewayEndpointRoutes(tx, f.rtb, "vpce-0123456789abcdef0")
		return nil
	})
	if r := findRoute(f.table(t, f.rtb.ID), s3); r != nil {
		t.Fatalf("route left after removal: %+v", r)
	}
}
