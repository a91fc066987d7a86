package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func nameTag(rt types.ResourceType, name string) []types.TagSpecification {
	return []types.TagSpecification{{ResourceType: rt, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}
}

func routeTo(rtb types.RouteTable, dest string) *types.Route {
	for i, r := range rtb.Routes {
		if aws.ToString(r.DestinationCidrBlock) == dest || aws.ToString(r.DestinationPrefixListId) == dest {
			return &rtb.Routes[i]
		}
	}
	return nil
}

func TestRouteTablesAndInternetGateways(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)

	vpc := must[*ec2.CreateVpcOutput](t)(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.5.0.0/16")})).Vpc
	vpcID := aws.ToString(vpc.VpcId)
	subnet := must[*ec2.CreateSubnetOutput](t)(prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpcID, CidrBlock: aws.String("10.5.1.0/24"), AvailabilityZone: aws.String("us-east-1a")})).Subnet
	subnetID := aws.ToString(subnet.SubnetId)

	igw := must[*ec2.CreateInternetGatewayOutput](t)(prov.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{
		TagSpecifications: nameTag(types.ResourceTypeInternetGateway, "edge")})).InternetGateway
	igwID := aws.ToString(igw.InternetGatewayId)
	if len(igw.Tags) != 1 || len(igw.Attachments) != 0 || aws.ToString(igw.OwnerId) != "111111111111" {
		t.Fatalf("new gateway = %+v", igw)
	}
	_, err := prov.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: &igwID, VpcId: &vpcID})
	wantCode(t, err, "Gateway.NotAttached")
	must[*ec2.AttachInternetGatewayOutput](t)(prov.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: &igwID, VpcId: &vpcID}))
	_, err = prov.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: &igwID, VpcId: &vpcID})
	wantCode(t, err, "Resource.AlreadyAssociated")
	_, err = prov.EC2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: &igwID})
	wantCode(t, err, "DependencyViolation")
	gws := must[*ec2.DescribeInternetGatewaysOutput](t)(prov.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{
		Filters: []types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{vpcID}}}}))
	if len(gws.InternetGateways) != 1 || gws.InternetGateways[0].Attachments[0].State != "available" {
		t.Fatalf("attached gateways = %+v", gws.InternetGateways)
	}

	rtb := must[*ec2.CreateRouteTableOutput](t)(prov.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{
		VpcId: &vpcID, TagSpecifications: nameTag(types.ResourceTypeRouteTable, "public")})).RouteTable
	rtbID := aws.ToString(rtb.RouteTableId)
	if local := routeTo(*rtb, "10.5.0.0/16"); local == nil || aws.ToString(local.GatewayId) != "local" || local.Origin != types.RouteOriginCreateRouteTable {
		t.Fatalf("local route = %+v", rtb.Routes)
	}
	must[*ec2.CreateRouteOutput](t)(prov.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: &igwID}))
	_, err = prov.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: &igwID})
	wantCode(t, err, "RouteAlreadyExists")
	_, err = prov.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("10.5.9.0/24"), GatewayId: &igwID})
	wantCode(t, err, "InvalidParameterValue")
	_, err = prov.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("8.8.8.0/24"), NatGatewayId: aws.String("nat-0123456789abcdef0")})
	wantCode(t, err, "UnsupportedOperation")
	_, err = prov.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("8.8.8.0/24"), VpcEndpointId: aws.String("vpce-0123456789abcdef0")})
	wantCode(t, err, "InvalidVpcEndpointId.NotFound")
	_, err = prov.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("10.5.0.0/16")})
	wantCode(t, err, "InvalidParameterValue")
	_, err = prov.EC2.ReplaceRoute(ctx, &ec2.ReplaceRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("1.0.0.0/8"), GatewayId: &igwID})
	wantCode(t, err, "InvalidRoute.NotFound")

	assoc := must[*ec2.AssociateRouteTableOutput](t)(prov.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: &rtbID, SubnetId: &subnetID}))
	if assoc.AssociationState.State != types.RouteTableAssociationStateCodeAssociated {
		t.Fatalf("association = %+v", assoc)
	}
	_, err = prov.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: &rtbID, SubnetId: &subnetID})
	wantCode(t, err, "Resource.AlreadyAssociated")
	_, err = prov.EC2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: &rtbID})
	wantCode(t, err, "DependencyViolation")

	tables := must[*ec2.DescribeRouteTablesOutput](t)(prov.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{subnetID}}}}))
	if len(tables.RouteTables) != 1 || aws.ToString(tables.RouteTables[0].RouteTableId) != rtbID {
		t.Fatalf("tables for subnet = %+v", tables.RouteTables)
	}
	def := routeTo(tables.RouteTables[0], "0.0.0.0/0")
	if def == nil || aws.ToString(def.GatewayId) != igwID || def.State != types.RouteStateActive || def.Origin != types.RouteOriginCreateRoute {
		t.Fatalf("default route = %+v", def)
	}

	// The main association moves to the custom table.
	mainTables := must[*ec2.DescribeRouteTablesOutput](t)(prov.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}, {Name: aws.String("association.main"), Values: []string{"true"}}}}))
	if len(mainTables.RouteTables) != 1 {
		t.Fatalf("main tables = %+v", mainTables.RouteTables)
	}
	oldMain := mainTables.RouteTables[0]
	_, err = prov.EC2.DisassociateRouteTable(ctx, &ec2.DisassociateRouteTableInput{AssociationId: oldMain.Associations[0].RouteTableAssociationId})
	wantCode(t, err, "InvalidParameterValue")
	repl := must[*ec2.ReplaceRouteTableAssociationOutput](t)(prov.EC2.ReplaceRouteTableAssociation(ctx, &ec2.ReplaceRouteTableAssociationInput{
		AssociationId: oldMain.Associations[0].RouteTableAssociationId, RouteTableId: &rtbID}))
	if aws.ToString(repl.NewAssociationId) == "" {
		t.Fatal("no new association ID")
	}
	must[*ec2.DeleteRouteTableOutput](t)(prov.EC2.DeleteRouteTable(ctx, &ec2.DeleteRouteTableInput{RouteTableId: oldMain.RouteTableId}))

	// Detaching the gateway turns its route into a blackhole.
	must[*ec2.DetachInternetGatewayOutput](t)(prov.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: &igwID, VpcId: &vpcID}))
	tables = must[*ec2.DescribeRouteTablesOutput](t)(prov.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rtbID}}))
	if r := routeTo(tables.RouteTables[0], "0.0.0.0/0"); r == nil || r.State != types.RouteStateBlackhole {
		t.Fatalf("after detach = %+v", r)
	}

	// Another account sees none of it.
	_, err = cons.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rtbID}})
	wantCode(t, err, "InvalidRouteTableID.NotFound")
	theirs := must[*ec2.DescribeRouteTablesOutput](t)(cons.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{}))
	if len(theirs.RouteTables) != 0 {
		t.Fatalf("consumer sees %d route tables", len(theirs.RouteTables))
	}
	theirGws := must[*ec2.DescribeInternetGatewaysOutput](t)(cons.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{}))
	if len(theirGws.InternetGateways) != 0 {
		t.Fatalf("consumer sees %d gateways", len(theirGws.InternetGateways))
	}
	_, err = cons.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: &igwID, VpcId: &vpcID})
	wantCode(t, err, "InvalidInternetGatewayID.NotFound")
	_, err = cons.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtbID, DestinationCidrBlock: aws.String("1.0.0.0/8"), GatewayId: &igwID})
	wantCode(t, err, "InvalidRouteTableID.NotFound")

	must[*ec2.DeleteInternetGatewayOutput](t)(prov.EC2.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: &igwID}))
	_, err = prov.EC2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{InternetGatewayIds: []string{igwID}})
	wantCode(t, err, "InvalidInternetGatewayID.NotFound")
}

func TestRouteTablePagination(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	c := newClients(srv, provider)
	vpc := must[*ec2.CreateVpcOutput](t)(c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})).Vpc
	for i := 0; i < 6; i++ {
		must[*ec2.CreateRouteTableOutput](t)(c.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc.VpcId}))
	}
	seen := 0
	p := ec2.NewDescribeRouteTablesPaginator(c.EC2, &ec2.DescribeRouteTablesInput{MaxResults: aws.Int32(5)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(out.RouteTables)
	}
	if seen != 7 {
		t.Fatalf("saw %d tables, want 7", seen)
	}
}

func TestManagedPrefixLists(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)

	// AWS-managed lists: everyone sees the same, stable ones.
	old := must[*ec2.DescribePrefixListsOutput](t)(prov.EC2.DescribePrefixLists(ctx, &ec2.DescribePrefixListsInput{}))
	if len(old.PrefixLists) != 2 {
		t.Fatalf("service prefix lists = %+v", old.PrefixLists)
	}
	var s3ID string
	for _, pl := range old.PrefixLists {
		if aws.ToString(pl.PrefixListName) == "com.amazonaws.us-east-1.s3" {
			s3ID = aws.ToString(pl.PrefixListId)
			if len(pl.Cidrs) == 0 {
				t.Fatalf("s3 list has no CIDRs")
			}
		}
	}
	theirs := must[*ec2.DescribePrefixListsOutput](t)(cons.EC2.DescribePrefixLists(ctx, &ec2.DescribePrefixListsInput{PrefixListIds: []string{s3ID}}))
	if len(theirs.PrefixLists) != 1 {
		t.Fatalf("consumer's view of %s = %+v", s3ID, theirs.PrefixLists)
	}
	_, err := prov.EC2.DeleteManagedPrefixList(ctx, &ec2.DeleteManagedPrefixListInput{PrefixListId: &s3ID})
	wantCode(t, err, "UnauthorizedOperation")

	created := must[*ec2.CreateManagedPrefixListOutput](t)(prov.EC2.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{
		PrefixListName: aws.String("partners"), MaxEntries: aws.Int32(5), AddressFamily: aws.String("IPv4"),
		Entries:           []types.AddPrefixListEntry{{Cidr: aws.String("203.0.113.0/24"), Description: aws.String("acme")}},
		TagSpecifications: nameTag(types.ResourceTypePrefixList, "partners"),
	})).PrefixList
	plID := aws.ToString(created.PrefixListId)
	if aws.ToInt64(created.Version) != 1 || created.State != types.PrefixListStateCreateComplete || aws.ToString(created.OwnerId) != "111111111111" {
		t.Fatalf("created = %+v", created)
	}
	_, err = prov.EC2.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{
		PrefixListName: aws.String("x"), MaxEntries: aws.Int32(1), AddressFamily: aws.String("IPv4"),
		Entries: []types.AddPrefixListEntry{{Cidr: aws.String("10.0.0.0/8")}, {Cidr: aws.String("11.0.0.0/8")}},
	})
	wantCode(t, err, "PrefixListMaxEntriesExceeded")

	mod := must[*ec2.ModifyManagedPrefixListOutput](t)(prov.EC2.ModifyManagedPrefixList(ctx, &ec2.ModifyManagedPrefixListInput{
		PrefixListId: &plID, CurrentVersion: aws.Int64(1), AddEntries: []types.AddPrefixListEntry{{Cidr: aws.String("198.51.100.0/24")}},
	})).PrefixList
	if aws.ToInt64(mod.Version) != 2 || mod.State != types.PrefixListStateModifyComplete {
		t.Fatalf("modified = %+v", mod)
	}
	_, err = prov.EC2.ModifyManagedPrefixList(ctx, &ec2.ModifyManagedPrefixListInput{
		PrefixListId: &plID, CurrentVersion: aws.Int64(1), RemoveEntries: []types.RemovePrefixListEntry{{Cidr: aws.String("198.51.100.0/24")}},
	})
	wantCode(t, err, "PrefixListVersionMismatch")
	v1 := must[*ec2.GetManagedPrefixListEntriesOutput](t)(prov.EC2.GetManagedPrefixListEntries(ctx, &ec2.GetManagedPrefixListEntriesInput{PrefixListId: &plID, TargetVersion: aws.Int64(1)}))
	if len(v1.Entries) != 1 || aws.ToString(v1.Entries[0].Description) != "acme" {
		t.Fatalf("version 1 entries = %+v", v1.Entries)
	}
	cur := must[*ec2.GetManagedPrefixListEntriesOutput](t)(prov.EC2.GetManagedPrefixListEntries(ctx, &ec2.GetManagedPrefixListEntriesInput{PrefixListId: &plID}))
	if len(cur.Entries) != 2 {
		t.Fatalf("current entries = %+v", cur.Entries)
	}

	// The consumer sees only AWS's lists, never the provider's.
	all := must[*ec2.DescribeManagedPrefixListsOutput](t)(cons.EC2.DescribeManagedPrefixLists(ctx, &ec2.DescribeManagedPrefixListsInput{}))
	for _, pl := range all.PrefixLists {
		if aws.ToString(pl.OwnerId) != "AWS" {
			t.Fatalf("consumer sees %+v", pl)
		}
	}
	if len(all.PrefixLists) != 2 {
		t.Fatalf("consumer sees %d lists, want 2", len(all.PrefixLists))
	}
	_, err = cons.EC2.GetManagedPrefixListEntries(ctx, &ec2.GetManagedPrefixListEntriesInput{PrefixListId: &plID})
	wantCode(t, err, "InvalidPrefixListID.NotFound")
	mine := must[*ec2.DescribeManagedPrefixListsOutput](t)(prov.EC2.DescribeManagedPrefixLists(ctx, &ec2.DescribeManagedPrefixListsInput{
		Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"partners"}}}}))
	if len(mine.PrefixLists) != 1 || aws.ToString(mine.PrefixLists[0].PrefixListArn) != "arn:aws:ec2:us-east-1:111111111111:prefix-list/"+plID {
		t.Fatalf("tag filter = %+v", mine.PrefixLists)
	}

	// A route through the list makes it a dependency.
	vpc := must[*ec2.CreateVpcOutput](t)(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})).Vpc
	igw := must[*ec2.CreateInternetGatewayOutput](t)(prov.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})).InternetGateway
	must[*ec2.AttachInternetGatewayOutput](t)(prov.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGatewayId, VpcId: vpc.VpcId}))
	rtb := must[*ec2.CreateRouteTableOutput](t)(prov.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpc.VpcId})).RouteTable
	must[*ec2.CreateRouteOutput](t)(prov.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: rtb.RouteTableId, DestinationPrefixListId: &plID, GatewayId: igw.InternetGatewayId}))
	assocs := must[*ec2.GetManagedPrefixListAssociationsOutput](t)(prov.EC2.GetManagedPrefixListAssociations(ctx, &ec2.GetManagedPrefixListAssociationsInput{PrefixListId: &plID}))
	if len(assocs.PrefixListAssociations) != 1 || aws.ToString(assocs.PrefixListAssociations[0].ResourceId) != aws.ToString(rtb.RouteTableId) {
		t.Fatalf("associations = %+v", assocs.PrefixListAssociations)
	}
	_, err = prov.EC2.DeleteManagedPrefixList(ctx, &ec2.DeleteManagedPrefixListInput{PrefixListId: &plID})
	wantCode(t, err, "DependencyViolation")
	must[*ec2.DeleteRouteOutput](t)(prov.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: rtb.RouteTableId, DestinationPrefixListId: &plID}))
	must[*ec2.DeleteManagedPrefixListOutput](t)(prov.EC2.DeleteManagedPrefixList(ctx, &ec2.DeleteManagedPrefixListInput{PrefixListId: &plID}))
	_, err = prov.EC2.DescribeManagedPrefixLists(ctx, &ec2.DescribeManagedPrefixListsInput{PrefixListIds: []string{plID}})
	wantCode(t, err, "InvalidPrefixListID.NotFound")
}
