package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/privlink/privlink/internal/dataplane"
)

// startUDPEcho runs a UDP server inside namespace ns that answers each
// datagram with "echo from=<peer> <payload>".
func startUDPEcho(t *testing.T, ns, addr string) {
	t.Helper()
	pc, err := dataplane.ListenUDP(context.Background(), ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(fmt.Sprintf("echo from=%s %s", from, buf[:n])), from)
		}
	}()
}

// askUDP sends one datagram from namespace ns to addr and returns the reply.
func askUDP(ns, addr, payload string) (string, error) {
	var reply string
	err := dataplane.RunInNamespace(ns, func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte(payload)); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		reply = string(buf[:n])
		return nil
	})
	return reply, err
}

// TestPrivateLinkUDP proves that an interface endpoint carries UDP for a
// UDP listener: a datagram from a consumer instance to the endpoint reaches
// the provider's target from the load balancer's address, and the reply
// comes back through the endpoint.
func TestPrivateLinkUDP(t *testing.T) {
	requireDataPlane(t)
	prefix, dp := uniquePrefix(t)
	srv := startDataPlaneServer(t, prefix, "")
	ctx := context.Background()
	prov, cons := newClientsAt(srv.Endpoint(), provider), newClientsAt(srv.Endpoint(), consumer)

	// Provider: one target answering UDP (and TCP, for the health check)
	// on 5353 behind an NLB's UDP listener on 53.
	pvpc := *ok(prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}))(t).Vpc.VpcId
	psub := *ok(prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &pvpc, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")}))(t).Subnet.SubnetId
	sgs := ok(prov.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{pvpc}}}}))(t)
	ok(prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sgs.SecurityGroups[0].GroupId,
		IpPermissions: []ec2types.IpPermission{
			{IpProtocol: aws.String("udp"), FromPort: aws.Int32(5353), ToPort: aws.Int32(5353), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}},
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5353), ToPort: aws.Int32(5353), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}},
		}}))(t)
	_, targetENI, targetIP := runInstance(t, prov.EC2, psub)
	targetNS := dp.InterfaceNamespace(targetENI)
	startUDPEcho(t, targetNS, net.JoinHostPort(targetIP, "5353"))
	startTarget(t, targetNS, net.JoinHostPort(targetIP, "5353"), "udp-health")

	lb := ok(prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("udp-svc"), Type: elbtypes.LoadBalancerTypeEnumNetwork,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternal, Subnets: []string{psub}}))(t).LoadBalancers[0]
	tg := ok(prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("udp-tg"), Protocol: elbtypes.ProtocolEnumUdp,
		Port: aws.Int32(5353), VpcId: &pvpc, TargetType: elbtypes.TargetTypeEnumIp}))(t).TargetGroups[0]
	ok(prov.ELBv2.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []elbtypes.TargetDescription{{Id: &targetIP}}}))(t)
	ok(prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Port: aws.Int32(53), Protocol: elbtypes.ProtocolEnumUdp,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}}))(t)
	eventually(t, "load balancer active", 20*time.Second, func() bool {
		out, err := prov.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lb.LoadBalancerArn}})
		return err == nil && out.LoadBalancers[0].State.Code == elbtypes.LoadBalancerStateEnumActive
	})
	var lbIPs []string
	enis := ok(prov.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{{Name: aws.String("interface-type"), Values: []string{"network_load_balancer"}}}}))(t)
	for _, e := range enis.NetworkInterfaces {
		lbIPs = append(lbIPs, *e.PrivateIpAddress)
	}
	svc := ok(prov.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
		NetworkLoadBalancerArns: []string{*lb.LoadBalancerArn}, AcceptanceRequired: aws.Bool(false)}))(t).ServiceConfiguration
	ok(prov.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{ServiceId: svc.ServiceId,
		AddAllowedPrincipals: []string{"arn:aws:iam::222222222222:root"}}))(t)

	// Consumer: the same CIDR, a client instance and an endpoint whose
	// group admits UDP 53.
	cvpc := *ok(cons.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}))(t).Vpc.VpcId
	csub := *ok(cons.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &cvpc, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")}))(t).Subnet.SubnetId
	epSG := *ok(cons.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("endpoint"), Description: aws.String("endpoint"), VpcId: &cvpc}))(t).GroupId
	ok(cons.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &epSG,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}}))(t)
	_, clientENI, _ := runInstance(t, cons.EC2, csub)
	ep := ok(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &cvpc, ServiceName: svc.ServiceName,
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: []string{csub}, SecurityGroupIds: []string{epSG}}))(t).VpcEndpoint
	ifs := ok(cons.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: ep.NetworkInterfaceIds}))(t)
	endpointIP := *ifs.NetworkInterfaces[0].PrivateIpAddress
	eventually(t, "endpoint available", 20*time.Second, func() bool {
		out, err := cons.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{*ep.VpcEndpointId}})
		return err == nil && out.VpcEndpoints[0].State == "available"
	})

	clientNS := dp.InterfaceNamespace(clientENI)
	endpoint := net.JoinHostPort(endpointIP, "53")
	var reply string
	eventually(t, "a UDP reply through the endpoint", 10*time.Second, func() bool {
		var err error
		reply, err = askUDP(clientNS, endpoint, "ping")
		return err == nil
	})
	fromLB := false
	for _, ip := range lbIPs {
		fromLB = fromLB || strings.HasPrefix(reply, "echo from="+ip+":")
	}
	if !fromLB || !strings.HasSuffix(reply, " ping") {
		t.Fatalf("target answered %q; want an echo of ping from the load balancer's address %v", reply, lbIPs)
	}

	// Deleting the endpoint stops carrying UDP.
	ok(cons.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{*ep.VpcEndpointId}}))(t)
	eventually(t, "no UDP reply after delete", 10*time.Second, func() bool {
		_, err := askUDP(clientNS, endpoint, "ping")
		return err != nil
	})
}
