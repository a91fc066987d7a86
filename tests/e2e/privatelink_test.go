package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Endpoint states as AWS sends them: lowercase, unlike the SDK's State enum
// ("PendingAcceptance", "Available", ...).
const (
	vpceStatePendingAcceptance ec2types.State = "pendingAcceptance"
	vpceStatePending           ec2types.State = "pending"
	vpceStateAvailable         ec2types.State = "available"
	vpceStateRejected          ec2types.State = "rejected"
	vpceStateDeleting          ec2types.State = "deleting"
	vpceStateDeleted           ec2types.State = "deleted"
)

// TestPrivateLinkAcrossAccounts is the provider/consumer story: a provider
// publishes an NLB as an endpoint service with acceptance, allows the
// consumer's account, the consumer connects from an overlapping VPC, the
// provider accepts one connection and rejects another, and both sides
// clean up.
func TestPrivateLinkAcrossAccounts(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons, out := newClients(srv, provider), newClients(srv, consumer), newClients(srv, outsider)

	// Provider: VPC, NLB, target group and listener.
	provVpc, provSubnets := elbNetwork(t, prov, "10.60")
	lb := must[*elbv2.CreateLoadBalancerOutput](t)(prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String("svc"), Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal, Subnets: provSubnets,
	})).LoadBalancers[0]
	tg := must[*elbv2.CreateTargetGroupOutput](t)(prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("svc"), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(8080), VpcId: &provVpc, TargetType: types.TargetTypeEnumIp,
	})).TargetGroups[0]
	must[*elbv2.CreateListenerOutput](t)(prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}},
	}))

	// Provider: the endpoint service.
	_, err := prov.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{})
	wantCode(t, err, "InvalidParameter")
	svcOut := must[*ec2.CreateVpcEndpointServiceConfigurationOutput](t)(prov.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
		NetworkLoadBalancerArns: []string{aws.ToString(lb.LoadBalancerArn)}, AcceptanceRequired: aws.Bool(true),
		PrivateDnsName: aws.String("api.provider.example"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpcEndpointService,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("api")}}}},
	}))
	svc := svcOut.ServiceConfiguration
	svcID, svcName := aws.ToString(svc.ServiceId), aws.ToString(svc.ServiceName)
	if !strings.HasPrefix(svcID, "vpce-svc-") || svcName != "com.amazonaws.vpce.us-east-1."+svcID || svc.ServiceState != ec2types.ServiceStateAvailable ||
		len(svc.ServiceType) != 1 || svc.ServiceType[0].ServiceType != ec2types.ServiceTypeInterface || !aws.ToBool(svc.AcceptanceRequired) ||
		len(svc.AvailabilityZones) != 2 || len(svc.BaseEndpointDnsNames) != 1 || svc.BaseEndpointDnsNames[0] != svcID+".us-east-1.vpce.amazonaws.com" ||
		svc.PrivateDnsNameConfiguration == nil || svc.PrivateDnsNameConfiguration.State != ec2types.DnsNameStatePendingVerification ||
		!strings.HasPrefix(aws.ToString(svc.PrivateDnsNameConfiguration.Value), "vpce:") || len(svc.Tags) != 1 {
		t.Fatalf("service = %+v", svc)
	}

	// Nobody else sees it until the provider allows them.
	describeSvc := func(c clients) error {
		_, err := c.EC2.DescribeVpcEndpointServices(ctx, &ec2.DescribeVpcEndpointServicesInput{ServiceNames: []string{svcName}})
		return err
	}
	wantCode(t, describeSvc(cons), "InvalidServiceName")
	_, err = prov.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{ServiceId: &svcID, AddAllowedPrincipals: []string{"222222222222"}})
	wantCode(t, err, "InvalidPrincipal")
	perm := must[*ec2.ModifyVpcEndpointServicePermissionsOutput](t)(prov.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{
		ServiceId: &svcID, AddAllowedPrincipals: []string{"arn:aws:iam::222222222222:root"},
	}))
	if !aws.ToBool(perm.ReturnValue) || len(perm.AddedPrincipals) != 1 || perm.AddedPrincipals[0].PrincipalType != ec2types.PrincipalTypeAccount {
		t.Fatalf("permissions = %+v", perm)
	}
	perms := must[*ec2.DescribeVpcEndpointServicePermissionsOutput](t)(prov.EC2.DescribeVpcEndpointServicePermissions(ctx, &ec2.DescribeVpcEndpointServicePermissionsInput{ServiceId: &svcID}))
	if len(perms.AllowedPrincipals) != 1 || aws.ToString(perms.AllowedPrincipals[0].Principal) != "arn:aws:iam::222222222222:root" {
		t.Fatalf("allowed principals = %+v", perms.AllowedPrincipals)
	}
	details := must[*ec2.DescribeVpcEndpointServicesOutput](t)(cons.EC2.DescribeVpcEndpointServices(ctx, &ec2.DescribeVpcEndpointServicesInput{ServiceNames: []string{svcName}}))
	if len(details.ServiceDetails) != 1 || aws.ToString(details.ServiceDetails[0].Owner) != "111111111111" || details.ServiceDetails[0].PrivateDnsName != nil ||
		details.ServiceDetails[0].PrivateDnsNameVerificationState != ec2types.DnsNameStatePendingVerification {
		t.Fatalf("consumer's view = %+v", details.ServiceDetails)
	}
	wantCode(t, describeSvc(out), "InvalidServiceName")

	// The AWS catalog is there for everyone.
	catalog := must[*ec2.DescribeVpcEndpointServicesOutput](t)(out.EC2.DescribeVpcEndpointServices(ctx, &ec2.DescribeVpcEndpointServicesInput{
		Filters: []ec2types.Filter{{Name: aws.String("service-type"), Values: []string{"Gateway"}}},
	}))
	if strings.Join(catalog.ServiceNames, ",") != "com.amazonaws.us-east-1.dynamodb,com.amazonaws.us-east-1.s3" {
		t.Fatalf("gateway services = %v", catalog.ServiceNames)
	}

	// Consumer: an interface endpoint from an overlapping VPC.
	consVpc, consSubnets := elbNetwork(t, cons, "10.60")
	epOut := must[*ec2.CreateVpcEndpointOutput](t)(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
		VpcId: &consVpc, ServiceName: &svcName, VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: consSubnets,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpcEndpoint,
			Tags: []ec2types.Tag{{Key: aws.String("app"), Value: aws.String("api")}}}},
	}))
	ep := epOut.VpcEndpoint
	epID := aws.ToString(ep.VpcEndpointId)
	if ep.State != vpceStatePendingAcceptance || len(ep.DnsEntries) != 3 || len(ep.NetworkInterfaceIds) != 2 || aws.ToBool(ep.PrivateDnsEnabled) ||
		!strings.HasSuffix(aws.ToString(ep.DnsEntries[0].DnsName), "."+svcID+".us-east-1.vpce.amazonaws.com") || aws.ToString(ep.DnsEntries[0].HostedZoneId) != "Z7HUB22UULQXV" ||
		len(ep.Groups) != 1 || aws.ToString(ep.Groups[0].GroupName) != "default" || aws.ToString(ep.OwnerId) != "222222222222" {
		t.Fatalf("endpoint = %+v", ep)
	}
	enis := must[*ec2.DescribeNetworkInterfacesOutput](t)(cons.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: ep.NetworkInterfaceIds}))
	if len(enis.NetworkInterfaces) != 2 {
		t.Fatalf("endpoint interfaces = %+v", enis.NetworkInterfaces)
	}
	for _, eni := range enis.NetworkInterfaces {
		if eni.InterfaceType != ec2types.NetworkInterfaceTypeVpcEndpoint || !aws.ToBool(eni.RequesterManaged) || aws.ToString(eni.Description) != "VPC Endpoint Interface "+epID {
			t.Errorf("interface = %s %v %q", eni.InterfaceType, aws.ToBool(eni.RequesterManaged), aws.ToString(eni.Description))
		}
	}
	_, err = out.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcEndpointType: ec2types.VpcEndpointTypeInterface, VpcId: &consVpc, ServiceName: &svcName, SubnetIds: consSubnets})
	wantCode(t, err, "InvalidVpcId.NotFound")
	second := must[*ec2.CreateVpcEndpointOutput](t)(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
		VpcId: &consVpc, ServiceName: &svcName, SubnetIds: consSubnets[:1], VpcEndpointType: ec2types.VpcEndpointTypeInterface,
	})).VpcEndpoint
	secondID := aws.ToString(second.VpcEndpointId)

	// Provider: sees both connections, accepts one and rejects the other.
	conns := must[*ec2.DescribeVpcEndpointConnectionsOutput](t)(prov.EC2.DescribeVpcEndpointConnections(ctx, &ec2.DescribeVpcEndpointConnectionsInput{
		Filters: []ec2types.Filter{{Name: aws.String("service-id"), Values: []string{svcID}}},
	}))
	if len(conns.VpcEndpointConnections) != 2 {
		t.Fatalf("connections = %+v", conns.VpcEndpointConnections)
	}
	for _, c := range conns.VpcEndpointConnections {
		if aws.ToString(c.VpcEndpointOwner) != "222222222222" || c.VpcEndpointState != vpceStatePendingAcceptance ||
			len(c.NetworkLoadBalancerArns) != 1 || c.CreationTimestamp == nil {
			t.Errorf("connection = %+v", c)
		}
	}
	_, err = cons.EC2.AcceptVpcEndpointConnections(ctx, &ec2.AcceptVpcEndpointConnectionsInput{ServiceId: &svcID, VpcEndpointIds: []string{epID}})
	wantCode(t, err, "InvalidVpcEndpointServiceId.NotFound")
	acc := must[*ec2.AcceptVpcEndpointConnectionsOutput](t)(prov.EC2.AcceptVpcEndpointConnections(ctx, &ec2.AcceptVpcEndpointConnectionsInput{
		ServiceId: &svcID, VpcEndpointIds: []string{epID, "vpce-0000000000000000a"},
	}))
	if len(acc.Unsuccessful) != 1 || aws.ToString(acc.Unsuccessful[0].ResourceId) != "vpce-0000000000000000a" || aws.ToString(acc.Unsuccessful[0].Error.Code) != "InvalidVpcEndpointId.NotFound" {
		t.Fatalf("accept unsuccessful = %+v", acc.Unsuccessful)
	}
	rej := must[*ec2.RejectVpcEndpointConnectionsOutput](t)(prov.EC2.RejectVpcEndpointConnections(ctx, &ec2.RejectVpcEndpointConnectionsInput{ServiceId: &svcID, VpcEndpointIds: []string{secondID}}))
	if len(rej.Unsuccessful) != 0 {
		t.Fatalf("reject unsuccessful = %+v", rej.Unsuccessful)
	}
	states := map[string]ec2types.State{}
	eps := must[*ec2.DescribeVpcEndpointsOutput](t)(cons.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{epID, secondID}}))
	for _, e := range eps.VpcEndpoints {
		states[aws.ToString(e.VpcEndpointId)] = e.State
	}
	if s := states[epID]; s != vpceStatePending && s != vpceStateAvailable {
		t.Fatalf("accepted endpoint state = %s", s)
	}
	if states[secondID] != vpceStateRejected {
		t.Fatalf("rejected endpoint state = %s", states[secondID])
	}
	tagged := must[*ec2.DescribeVpcEndpointsOutput](t)(cons.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:app"), Values: []string{"api"}}},
	}))
	if len(tagged.VpcEndpoints) != 1 || aws.ToString(tagged.VpcEndpoints[0].VpcEndpointId) != epID {
		t.Fatalf("tag filter = %+v", tagged.VpcEndpoints)
	}
	_, err = prov.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{epID}})
	wantCode(t, err, "InvalidVpcEndpointId.NotFound")

	// The service cannot go while a connection is active.
	del := must[*ec2.DeleteVpcEndpointServiceConfigurationsOutput](t)(prov.EC2.DeleteVpcEndpointServiceConfigurations(ctx, &ec2.DeleteVpcEndpointServiceConfigurationsInput{ServiceIds: []string{svcID}}))
	if len(del.Unsuccessful) != 1 || aws.ToString(del.Unsuccessful[0].Error.Code) != "ExistingVpcEndpointConnections" {
		t.Fatalf("delete service = %+v", del.Unsuccessful)
	}

	// Consumer: delete both endpoints.
	delEp := must[*ec2.DeleteVpcEndpointsOutput](t)(cons.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{epID, secondID, "vpce-0000000000000000b"}}))
	if len(delEp.Unsuccessful) != 1 || aws.ToString(delEp.Unsuccessful[0].ResourceId) != "vpce-0000000000000000b" {
		t.Fatalf("delete endpoints = %+v", delEp.Unsuccessful)
	}
	eps = must[*ec2.DescribeVpcEndpointsOutput](t)(cons.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-endpoint-id"), Values: []string{epID, secondID}}},
	}))
	for _, e := range eps.VpcEndpoints {
		if e.State != vpceStateDeleting && e.State != vpceStateDeleted {
			t.Fatalf("endpoint %s after delete = %s", aws.ToString(e.VpcEndpointId), e.State)
		}
	}
	del = must[*ec2.DeleteVpcEndpointServiceConfigurationsOutput](t)(prov.EC2.DeleteVpcEndpointServiceConfigurations(ctx, &ec2.DeleteVpcEndpointServiceConfigurationsInput{ServiceIds: []string{svcID}}))
	if len(del.Unsuccessful) != 0 {
		t.Fatalf("delete service after endpoints = %+v", del.Unsuccessful)
	}
}

// TestGatewayEndpointRoutesE2E checks that a gateway endpoint's prefix-list
// route appears in its route tables and goes with them.
func TestGatewayEndpointRoutesE2E(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	cons := newClients(srv, consumer)
	vpcID, _ := elbNetwork(t, cons, "10.70")
	tables := must[*ec2.DescribeRouteTablesOutput](t)(cons.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	}))
	if len(tables.RouteTables) != 1 {
		t.Fatalf("route tables = %d", len(tables.RouteTables))
	}
	rtb := aws.ToString(tables.RouteTables[0].RouteTableId)
	s3 := "com.amazonaws.us-east-1.s3"
	_, err := cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &vpcID, ServiceName: aws.String("com.amazonaws.us-east-1.sqs"), VpcEndpointType: ec2types.VpcEndpointTypeGateway, RouteTableIds: []string{rtb}})
	wantCode(t, err, "InvalidParameter")
	ep := must[*ec2.CreateVpcEndpointOutput](t)(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
		VpcId: &vpcID, ServiceName: &s3, VpcEndpointType: ec2types.VpcEndpointTypeGateway, RouteTableIds: []string{rtb},
	})).VpcEndpoint
	epID := aws.ToString(ep.VpcEndpointId)
	if len(ep.RouteTableIds) != 1 || !strings.Contains(aws.ToString(ep.PolicyDocument), `"Principal":"*"`) {
		t.Fatalf("gateway endpoint = %+v", ep)
	}
	routeTarget := func() string {
		tables := must[*ec2.DescribeRouteTablesOutput](t)(cons.EC2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{RouteTableIds: []string{rtb}}))
		for _, r := range tables.RouteTables[0].Routes {
			if strings.HasPrefix(aws.ToString(r.DestinationPrefixListId), "pl-") {
				return aws.ToString(r.GatewayId)
			}
		}
		return ""
	}
	if routeTarget() != epID {
		t.Fatalf("route target = %q, want %s", routeTarget(), epID)
	}
	_, err = cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &vpcID, ServiceName: &s3, VpcEndpointType: ec2types.VpcEndpointTypeGateway, RouteTableIds: []string{rtb}})
	wantCode(t, err, "RouteAlreadyExists")
	must[*ec2.ModifyVpcEndpointOutput](t)(cons.EC2.ModifyVpcEndpoint(ctx, &ec2.ModifyVpcEndpointInput{VpcEndpointId: &epID, RemoveRouteTableIds: []string{rtb}}))
	if routeTarget() != "" {
		t.Fatal("route kept after RemoveRouteTableIds")
	}
	must[*ec2.ModifyVpcEndpointOutput](t)(cons.EC2.ModifyVpcEndpoint(ctx, &ec2.ModifyVpcEndpointInput{VpcEndpointId: &epID, AddRouteTableIds: []string{rtb}}))
	if routeTarget() != epID {
		t.Fatal("route not restored after AddRouteTableIds")
	}
	must[*ec2.DeleteVpcEndpointsOutput](t)(cons.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{epID}}))
	if err := srv.ControlPlane().EndpointDeleted(ctx, epID); err != nil && !strings.Contains(err.Error(), "does not exist") {
		t.Fatal(err) // the lead's controller may already have finished the deletion
	}
	if routeTarget() != "" {
		t.Fatal("route survives the deleted endpoint")
	}
}
