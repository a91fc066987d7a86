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

// elbNetwork creates a VPC with subnets in us-east-1a and us-east-1b.
func elbNetwork(t *testing.T, c clients, cidr string) (vpcID string, subnets []string) {
	t.Helper()
	ctx := context.Background()
	vpc := must[*ec2.CreateVpcOutput](t)(c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr + ".0.0/16")}))
	vpcID = aws.ToString(vpc.Vpc.VpcId)
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		s := must[*ec2.CreateSubnetOutput](t)(c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: &vpcID, CidrBlock: aws.String(cidr + "." + string(rune('1'+i)) + ".0/24"), AvailabilityZone: aws.String(az),
		}))
		subnets = append(subnets, aws.ToString(s.Subnet.SubnetId))
	}
	return vpcID, subnets
}

func TestNetworkLoadBalancerEndToEnd(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)
	vpcID, subnets := elbNetwork(t, prov, "10.40")

	// Load balancer.
	_, err := prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: subnets[:1]})
	wantCode(t, err, "ValidationError") // the default type is application, which privlink does not model
	_, err = prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("web"), Type: types.LoadBalancerTypeEnumNetwork, Subnets: []string{"subnet-0123456789abcdef0"}})
	wantCode(t, err, "SubnetNotFound")
	created := must[*elbv2.CreateLoadBalancerOutput](t)(prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String("web"), Type: types.LoadBalancerTypeEnumNetwork, Scheme: types.LoadBalancerSchemeEnumInternal,
		SubnetMappings: []types.SubnetMapping{{SubnetId: &subnets[0], PrivateIPv4Address: aws.String("10.40.1.100")}, {SubnetId: &subnets[1]}},
		Tags:           []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}},
	}))
	if len(created.LoadBalancers) != 1 {
		t.Fatalf("created = %+v", created)
	}
	lb := created.LoadBalancers[0]
	lbARN := aws.ToString(lb.LoadBalancerArn)
	if !strings.HasPrefix(lbARN, "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/web/") ||
		!strings.HasSuffix(aws.ToString(lb.DNSName), ".elb.us-east-1.amazonaws.com") || aws.ToString(lb.CanonicalHostedZoneId) != "Z26RNL4JYFTOTI" ||
		lb.State.Code != types.LoadBalancerStateEnumProvisioning || lb.Scheme != types.LoadBalancerSchemeEnumInternal || lb.Type != types.LoadBalancerTypeEnumNetwork ||
		aws.ToString(lb.VpcId) != vpcID || len(lb.AvailabilityZones) != 2 || lb.CreatedTime == nil || lb.IpAddressType != types.IpAddressTypeIpv4 {
		t.Fatalf("load balancer = %+v", lb)
	}
	if az := lb.AvailabilityZones[0]; aws.ToString(az.ZoneName) != "us-east-1a" || len(az.LoadBalancerAddresses) != 1 || aws.ToString(az.LoadBalancerAddresses[0].PrivateIPv4Address) != "10.40.1.100" {
		t.Fatalf("zone = %+v", az)
	}
	_, err = prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("web"), Type: types.LoadBalancerTypeEnumNetwork, Subnets: subnets})
	wantCode(t, err, "DuplicateLoadBalancerName")

	// Its interfaces are requester-managed and visible through EC2.
	enis := must[*ec2.DescribeNetworkInterfacesOutput](t)(prov.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	}))
	if len(enis.NetworkInterfaces) != 2 {
		t.Fatalf("interfaces = %d", len(enis.NetworkInterfaces))
	}
	for _, eni := range enis.NetworkInterfaces {
		if eni.InterfaceType != ec2types.NetworkInterfaceTypeNetworkLoadBalancer || !strings.HasPrefix(aws.ToString(eni.Description), "ELB net/web/") {
			t.Errorf("interface = %s %q", eni.InterfaceType, aws.ToString(eni.Description))
		}
	}

	// Target group and targets.
	tgOut := must[*elbv2.CreateTargetGroupOutput](t)(prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("web-ip"), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80), VpcId: &vpcID, TargetType: types.TargetTypeEnumIp,
	}))
	tg := tgOut.TargetGroups[0]
	tgARN := aws.ToString(tg.TargetGroupArn)
	if !strings.Contains(tgARN, ":targetgroup/web-ip/") || tg.HealthCheckProtocol != types.ProtocolEnumTcp || aws.ToString(tg.HealthCheckPort) != "traffic-port" ||
		aws.ToInt32(tg.HealthCheckIntervalSeconds) != 30 || aws.ToInt32(tg.HealthCheckTimeoutSeconds) != 10 || aws.ToInt32(tg.HealthyThresholdCount) != 5 ||
		aws.ToInt32(tg.UnhealthyThresholdCount) != 2 || !aws.ToBool(tg.HealthCheckEnabled) || tg.TargetType != types.TargetTypeEnumIp {
		t.Fatalf("target group = %+v", tg)
	}
	_, err = prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("web-ip"), Protocol: types.ProtocolEnumUdp, Port: aws.Int32(53), VpcId: &vpcID, TargetType: types.TargetTypeEnumIp})
	wantCode(t, err, "DuplicateTargetGroupName")
	_, err = prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("bad"), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80), VpcId: &vpcID, HealthCheckIntervalSeconds: aws.Int32(3)})
	wantCode(t, err, "ValidationError")
	must[*elbv2.RegisterTargetsOutput](t)(prov.ELBv2.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
		TargetGroupArn: &tgARN, Targets: []types.TargetDescription{{Id: aws.String("10.40.1.10")}, {Id: aws.String("10.40.2.10"), Port: aws.Int32(8080)}},
	}))
	_, err = prov.ELBv2.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: &tgARN, Targets: []types.TargetDescription{{Id: aws.String("8.8.8.8"), AvailabilityZone: aws.String("all")}}})
	wantCode(t, err, "InvalidTarget")
	health := must[*elbv2.DescribeTargetHealthOutput](t)(prov.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &tgARN}))
	for _, d := range health.TargetHealthDescriptions {
		if d.TargetHealth.State != types.TargetHealthStateEnumUnused || d.TargetHealth.Reason != types.TargetHealthReasonEnumNotInUse {
			t.Fatalf("health before listener = %+v", d.TargetHealth)
		}
	}

	// Listener: attaching the group starts registration; nothing is healthy
	// until a health check says so.
	_, err = prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: &lbARN, Protocol: types.ProtocolEnumUdp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: &tgARN}},
	})
	wantCode(t, err, "IncompatibleProtocols")
	lOut := must[*elbv2.CreateListenerOutput](t)(prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: &lbARN, Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: &tgARN}},
	}))
	listenerARN := aws.ToString(lOut.Listeners[0].ListenerArn)
	if !strings.Contains(listenerARN, ":listener/net/web/") || aws.ToInt32(lOut.Listeners[0].Port) != 80 || lOut.Listeners[0].Protocol != types.ProtocolEnumTcp ||
		len(lOut.Listeners[0].DefaultActions) != 1 || aws.ToString(lOut.Listeners[0].DefaultActions[0].TargetGroupArn) != tgARN {
		t.Fatalf("listener = %+v", lOut.Listeners[0])
	}
	other := must[*elbv2.CreateTargetGroupOutput](t)(prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("other"), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80), VpcId: &vpcID, TargetType: types.TargetTypeEnumIp,
	}))
	_, err = prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: &lbARN, Protocol: types.ProtocolEnumTcp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: other.TargetGroups[0].TargetGroupArn}},
	})
	wantCode(t, err, "DuplicateListener")
	health = must[*elbv2.DescribeTargetHealthOutput](t)(prov.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &tgARN}))
	if len(health.TargetHealthDescriptions) != 2 {
		t.Fatalf("health = %+v", health.TargetHealthDescriptions)
	}
	for _, d := range health.TargetHealthDescriptions {
		if d.TargetHealth.State != types.TargetHealthStateEnumInitial || d.TargetHealth.Reason != types.TargetHealthReasonEnumRegistrationInProgress {
			t.Fatalf("health after listener = %+v", d.TargetHealth)
		}
	}
	described := must[*elbv2.DescribeTargetGroupsOutput](t)(prov.ELBv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: &lbARN}))
	if len(described.TargetGroups) != 1 || len(described.TargetGroups[0].LoadBalancerArns) != 1 || described.TargetGroups[0].LoadBalancerArns[0] != lbARN {
		t.Fatalf("groups of the load balancer = %+v", described.TargetGroups)
	}
	_, err = prov.ELBv2.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: &tgARN})
	wantCode(t, err, "ResourceInUse")

	// Deregistering drains.
	must[*elbv2.DeregisterTargetsOutput](t)(prov.ELBv2.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: &tgARN, Targets: []types.TargetDescription{{Id: aws.String("10.40.1.10")}}}))
	health = must[*elbv2.DescribeTargetHealthOutput](t)(prov.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &tgARN, Targets: []types.TargetDescription{{Id: aws.String("10.40.1.10")}}}))
	if len(health.TargetHealthDescriptions) != 1 || health.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumDraining {
		t.Fatalf("draining = %+v", health.TargetHealthDescriptions)
	}

	// Attributes and tags.
	attrs := must[*elbv2.ModifyTargetGroupAttributesOutput](t)(prov.ELBv2.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{
		TargetGroupArn: &tgARN, Attributes: []types.TargetGroupAttribute{{Key: aws.String("proxy_protocol_v2.enabled"), Value: aws.String("true")}},
	}))
	found := false
	for _, a := range attrs.Attributes {
		found = found || (aws.ToString(a.Key) == "proxy_protocol_v2.enabled" && aws.ToString(a.Value) == "true")
	}
	if !found {
		t.Fatalf("attributes = %+v", attrs.Attributes)
	}
	_, err = prov.ELBv2.ModifyLoadBalancerAttributes(ctx, &elbv2.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: &lbARN, Attributes: []types.LoadBalancerAttribute{{Key: aws.String("no.such.key"), Value: aws.String("1")}},
	})
	wantCode(t, err, "ValidationError")
	must[*elbv2.AddTagsOutput](t)(prov.ELBv2.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{tgARN}, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("net")}}}))
	tags := must[*elbv2.DescribeTagsOutput](t)(prov.ELBv2.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{lbARN, tgARN}}))
	if len(tags.TagDescriptions) != 2 || len(tags.TagDescriptions[0].Tags) != 1 || aws.ToString(tags.TagDescriptions[0].Tags[0].Key) != "env" ||
		aws.ToString(tags.TagDescriptions[1].Tags[0].Value) != "net" {
		t.Fatalf("tags = %+v", tags.TagDescriptions)
	}

	// The consumer account sees none of it.
	lbs := must[*elbv2.DescribeLoadBalancersOutput](t)(cons.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{}))
	if len(lbs.LoadBalancers) != 0 {
		t.Fatalf("consumer sees %d load balancers", len(lbs.LoadBalancers))
	}
	_, err = cons.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
	wantCode(t, err, "LoadBalancerNotFound")
	_, err = cons.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &tgARN})
	wantCode(t, err, "TargetGroupNotFound")
	_, err = cons.ELBv2.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{listenerARN}})
	wantCode(t, err, "ListenerNotFound")
	tgs := must[*elbv2.DescribeTargetGroupsOutput](t)(cons.ELBv2.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{}))
	if len(tgs.TargetGroups) != 0 {
		t.Fatalf("consumer sees %d target groups", len(tgs.TargetGroups))
	}

	// Missing resources.
	_, err = prov.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
	wantCode(t, err, "LoadBalancerNotFound")
	_, err = prov.ELBv2.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: aws.String(listenerARN + "0")})
	wantCode(t, err, "ListenerNotFound")

	// Tear down: the VPC is kept until the load balancer and groups are gone.
	_, err = prov.EC2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: &vpcID})
	wantCode(t, err, "DependencyViolation")
	must[*elbv2.DeleteLoadBalancerOutput](t)(prov.ELBv2.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: &lbARN}))
	must[*elbv2.DeleteTargetGroupOutput](t)(prov.ELBv2.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: &tgARN}))
	must[*elbv2.DeleteTargetGroupOutput](t)(prov.ELBv2.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: other.TargetGroups[0].TargetGroupArn}))
	listeners, err := prov.ELBv2.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: &lbARN})
	wantCode(t, err, "LoadBalancerNotFound")
	_ = listeners
	enis = must[*ec2.DescribeNetworkInterfacesOutput](t)(prov.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	}))
	if len(enis.NetworkInterfaces) != 0 {
		t.Fatalf("%d interfaces left after deleting the load balancer", len(enis.NetworkInterfaces))
	}
}

func TestGatewayLoadBalancerAndPagination(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov := newClients(srv, provider)
	vpcID, subnets := elbNetwork(t, prov, "10.41")
	gw := must[*elbv2.CreateLoadBalancerOutput](t)(prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String("gw"), Type: types.LoadBalancerTypeEnumGateway, Subnets: subnets,
	})).LoadBalancers[0]
	if !strings.Contains(aws.ToString(gw.LoadBalancerArn), ":loadbalancer/gwy/gw/") || gw.Type != types.LoadBalancerTypeEnumGateway {
		t.Fatalf("gateway = %+v", gw)
	}
	_, err := prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("gen"), Protocol: types.ProtocolEnumGeneve, Port: aws.Int32(80), VpcId: &vpcID})
	wantCode(t, err, "ValidationError")
	tg := must[*elbv2.CreateTargetGroupOutput](t)(prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("gen"), Protocol: types.ProtocolEnumGeneve, Port: aws.Int32(6081), VpcId: &vpcID, TargetType: types.TargetTypeEnumIp,
	})).TargetGroups[0]
	if aws.ToString(tg.HealthCheckPort) != "80" || aws.ToInt32(tg.HealthCheckIntervalSeconds) != 10 || aws.ToInt32(tg.HealthCheckTimeoutSeconds) != 5 {
		t.Fatalf("geneve target group = %+v", tg)
	}
	l := must[*elbv2.CreateListenerOutput](t)(prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: gw.LoadBalancerArn, DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}},
	})).Listeners[0]
	if l.Port != nil || l.Protocol != "" {
		t.Fatalf("gateway listener = %+v", l)
	}

	for _, n := range []string{"n1", "n2", "n3"} {
		must[*elbv2.CreateLoadBalancerOutput](t)(prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(n), Type: types.LoadBalancerTypeEnumNetwork, Subnets: subnets}))
	}
	var names []string
	p := elbv2.NewDescribeLoadBalancersPaginator(prov.ELBv2, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page := must[*elbv2.DescribeLoadBalancersOutput](t)(p.NextPage(ctx))
		pages++
		for _, lb := range page.LoadBalancers {
			names = append(names, aws.ToString(lb.LoadBalancerName))
		}
	}
	if pages != 2 || len(names) != 4 {
		t.Fatalf("pages = %d, names = %v", pages, names)
	}
	_, err = prov.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(401)})
	wantCode(t, err, "ValidationError")
}
