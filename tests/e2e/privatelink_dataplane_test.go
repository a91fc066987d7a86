package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	mdns "github.com/miekg/dns"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/server"
)

var prefixSeq atomic.Int32

// testLogger logs the server to stderr when PRIVLINK_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("PRIVLINK_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// requireDataPlane skips unless the test can build namespaces.
func requireDataPlane(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("data-plane tests must run in CI (as root on Linux)")
		}
		t.Skip("data-plane tests need root on Linux")
	}
}

// uniquePrefix names this test's kernel objects, and removes them at the end.
func uniquePrefix(t *testing.T) (string, *dataplane.Linux) {
	t.Helper()
	prefix := fmt.Sprintf("pe%d%d", os.Getpid()%100000, prefixSeq.Add(1))
	// The same state dir as the server's, so cleanup removes its files too.
	cfg := dataplane.DefaultConfig()
	cfg.Prefix = prefix
	dp, err := dataplane.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dp.Cleanup(context.Background(), nil); err != nil {
			t.Errorf("cleanup of %s: %v", prefix, err)
		}
		if err := dp.DeleteInternet(context.Background()); err != nil {
			t.Errorf("cleanup of %s's internet: %v", prefix, err)
		}
		os.RemoveAll(filepath.Join(cfg.StateDir, prefix))
	})
	return prefix, dp
}

func startDataPlaneServer(t *testing.T, prefix, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Config: cfg,
		DataPlane: server.DataPlaneOn, DataPlanePrefix: prefix,
		HealthCheckInterval: 300 * time.Millisecond, HealthCheckTimeout: 200 * time.Millisecond,
		Log: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// target is an HTTP-ish TCP server inside an instance's namespace that
// answers each connection with who it saw: the peer address and, when a
// PROXY v2 header came first, the endpoint ID and original source.
type target struct {
	ln    net.Listener
	name  string
	conns atomic.Int64
}

func startTarget(t *testing.T, ns, addr, name string) *target {
	t.Helper()
	ln, err := dataplane.ListenTCP(context.Background(), ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{ln: ln, name: name}
	host, _, _ := net.SplitHostPort(addr)
	runningTargets.Store(host, tg)
	t.Cleanup(func() { ln.Close(); runningTargets.Delete(host) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tg.conns.Add(1)
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				vpce, src := "-", "-"
				// A PROXY v2 header starts with \r; the test's requests never do.
				if first, err := br.Peek(1); err == nil && first[0] == '\r' {
					h, err := proxy.ParseV2(br)
					if err != nil {
						fmt.Fprintf(c, "bad proxy header: %v\n", err)
						return
					}
					vpce, src = h.EndpointID, h.Source.String()
				}
				line, _ := br.ReadString('\n')
				if strings.HasPrefix(line, "HOLD") {
					io.Copy(io.Discard, br) // keep the connection open until cut
					return
				}
				fmt.Fprintf(c, "target=%s peer=%s vpce=%s src=%s\n", name, c.RemoteAddr(), vpce, src)
			}(c)
		}
	}()
	return tg
}

// ask connects from namespace ns to addr and returns the target's answer.
func ask(ctx context.Context, ns, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := dataplane.DialTCP(ctx, ns, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// resolve asks the VPC resolver from inside namespace ns.
func resolve(t *testing.T, ns, server, name string) (rcode int, ips []string) {
	t.Helper()
	err := dataplane.RunInNamespace(ns, func() error {
		m := new(mdns.Msg)
		m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
		c := &mdns.Client{Timeout: 2 * time.Second}
		r, _, err := c.Exchange(m, net.JoinHostPort(server, "53"))
		if err != nil {
			return err
		}
		rcode = r.Rcode
		for _, a := range r.Answer {
			if rr, ok := a.(*mdns.A); ok {
				ips = append(ips, rr.A.String())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dns query %s from %s: %v", name, ns, err)
	}
	return rcode, ips
}

// story is the provider/consumer PrivateLink setup of the tests.
type story struct {
	prov, cons       clients
	svcID, svcName   string
	tgARN, lbARN     string
	lbIPs            []string
	targetIP         string
	targetENI        string
	target2IP        string
	target2ENI       string
	clientENI        string
	clientIP         string
	consumerVpc      string
	endpointID       string
	endpointIP       string
	endpointDNS      []string
	consumerResolver string
}

// ok unwraps a call's result, failing the test on error:
// ok(client.CreateVpc(ctx, in))(t).
func ok[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// runInstance launches one instance and waits until it is running.
func runInstance(t *testing.T, c *ec2.Client, subnet string, groups ...string) (id, eni, ip string) {
	t.Helper()
	ctx := context.Background()
	out := ok(c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &subnet, SecurityGroupIds: groups}))(t)
	inst := out.Instances[0]
	id, ip = *inst.InstanceId, *inst.PrivateIpAddress
	eventually(t, "instance "+id+" running", 20*time.Second, func() bool {
		d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return false
		}
		i := d.Reservations[0].Instances[0]
		if len(i.NetworkInterfaces) > 0 {
			eni = *i.NetworkInterfaces[0].NetworkInterfaceId
		}
		return i.State.Name == ec2types.InstanceStateNameRunning
	})
	return id, eni, ip
}

func buildStory(t *testing.T, endpoint string, dp *dataplane.Linux) *story {
	t.Helper()
	ctx := context.Background()
	s := &story{prov: newClientsAt(endpoint, provider), cons: newClientsAt(endpoint, consumer)}

	// Provider: a VPC with two targets behind an NLB.
	pvpc := *ok(s.prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}))(t).Vpc.VpcId
	psub := *ok(s.prov.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &pvpc, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")}))(t).Subnet.SubnetId
	sgs := ok(s.prov.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{pvpc}}}}))(t)
	defaultSG := *sgs.SecurityGroups[0].GroupId
	ok(s.prov.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &defaultSG,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8080), ToPort: aws.Int32(8080), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}}))(t)
	_, s.targetENI, s.targetIP = runInstance(t, s.prov.EC2, psub)
	_, s.target2ENI, s.target2IP = runInstance(t, s.prov.EC2, psub)

	lb := ok(s.prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("svc"), Type: elbtypes.LoadBalancerTypeEnumNetwork,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternal, Subnets: []string{psub}}))(t).LoadBalancers[0]
	s.lbARN = *lb.LoadBalancerArn
	tg := ok(s.prov.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("svc-tg"), Protocol: elbtypes.ProtocolEnumTcp,
		Port: aws.Int32(8080), VpcId: &pvpc, TargetType: elbtypes.TargetTypeEnumIp}))(t).TargetGroups[0]
	s.tgARN = *tg.TargetGroupArn
	ok(s.prov.ELBv2.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: &s.tgARN,
		Targets: []elbtypes.TargetDescription{{Id: &s.targetIP}, {Id: &s.target2IP}}}))(t)
	ok(s.prov.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: &s.lbARN, Port: aws.Int32(80), Protocol: elbtypes.ProtocolEnumTcp,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: &s.tgARN}}}))(t)
	eventually(t, "load balancer active", 20*time.Second, func() bool {
		out, err := s.prov.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{s.lbARN}})
		return err == nil && out.LoadBalancers[0].State.Code == elbtypes.LoadBalancerStateEnumActive
	})
	enis := ok(s.prov.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{Filters: []ec2types.Filter{{Name: aws.String("interface-type"), Values: []string{"network_load_balancer"}}}}))(t)
	for _, e := range enis.NetworkInterfaces {
		s.lbIPs = append(s.lbIPs, *e.PrivateIpAddress)
	}

	svc := ok(s.prov.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
		NetworkLoadBalancerArns: []string{s.lbARN}, AcceptanceRequired: aws.Bool(true)}))(t).ServiceConfiguration
	s.svcID, s.svcName = *svc.ServiceId, *svc.ServiceName
	ok(s.prov.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{ServiceId: &s.svcID,
		AddAllowedPrincipals: []string{"arn:aws:iam::222222222222:root"}}))(t)

	// Consumer: the same CIDR as the provider, a client instance, an endpoint.
	s.consumerVpc = *ok(s.cons.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}))(t).Vpc.VpcId
	s.consumerResolver = "10.0.0.2"
	ok(s.cons.EC2.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: &s.consumerVpc, EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}))(t)
	csub := *ok(s.cons.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &s.consumerVpc, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")}))(t).Subnet.SubnetId
	epSG := *ok(s.cons.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("endpoint"), Description: aws.String("endpoint"), VpcId: &s.consumerVpc}))(t).GroupId
	ok(s.cons.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &epSG,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}}))(t)
	_, s.clientENI, s.clientIP = runInstance(t, s.cons.EC2, csub)

	ep := ok(s.cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &s.consumerVpc, ServiceName: &s.svcName,
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: []string{csub}, SecurityGroupIds: []string{epSG}}))(t).VpcEndpoint
	s.endpointID = *ep.VpcEndpointId
	// AWS spells endpoint states in lower camel case (pendingAcceptance),
	// unlike the SDK's enum constants.
	if !strings.EqualFold(string(ep.State), "pendingAcceptance") {
		t.Fatalf("new endpoint state = %s, want pendingAcceptance", ep.State)
	}
	for _, d := range ep.DnsEntries {
		s.endpointDNS = append(s.endpointDNS, *d.DnsName)
	}
	ifs := ok(s.cons.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: ep.NetworkInterfaceIds}))(t)
	s.endpointIP = *ifs.NetworkInterfaces[0].PrivateIpAddress

	// Both targets answer; the provider's health checks find them healthy.
	startTarget(t, dp.InterfaceNamespace(s.targetENI), net.JoinHostPort(s.targetIP, "8080"), "one")
	startTarget(t, dp.InterfaceNamespace(s.target2ENI), net.JoinHostPort(s.target2IP, "8080"), "two")
	return s
}

func (s *story) endpointState(t *testing.T) string {
	out, err := s.cons.EC2.DescribeVpcEndpoints(context.Background(), &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{s.endpointID}})
	if err != nil {
		t.Fatal(err)
	}
	return string(out.VpcEndpoints[0].State)
}

func (s *story) accept(t *testing.T) {
	t.Helper()
	out := ok(s.prov.EC2.AcceptVpcEndpointConnections(context.Background(), &ec2.AcceptVpcEndpointConnectionsInput{ServiceId: &s.svcID, VpcEndpointIds: []string{s.endpointID}}))(t)
	if len(out.Unsuccessful) > 0 {
		t.Fatalf("accept: %+v", out.Unsuccessful[0].Error)
	}
	eventually(t, "endpoint available", 20*time.Second, func() bool { return s.endpointState(t) == "available" })
}

func (s *story) healthy(t *testing.T, want int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d healthy targets", want), 20*time.Second, func() bool {
		out, err := s.prov.ELBv2.DescribeTargetHealth(context.Background(), &elbv2.DescribeTargetHealthInput{TargetGroupArn: &s.tgARN})
		if err != nil {
			return false
		}
		n := 0
		for _, d := range out.TargetHealthDescriptions {
			if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
				n++
			}
		}
		return n == want
	})
}

// TestPrivateLinkTraffic builds the provider/consumer story with the Go SDK
// and proves the data path: refused before acceptance, working after (the
// target sees the load balancer's address, across overlapping CIDRs), DNS
// names resolve inside the consumer VPC only, PROXY v2 carries the endpoint
// ID, health checks move traffic off a stopped target, and rejecting cuts
// live connections.
func TestPrivateLinkTraffic(t *testing.T) {
	requireDataPlane(t)
	prefix, dp := uniquePrefix(t)
	srv := startDataPlaneServer(t, prefix, "")
	s := buildStory(t, srv.Endpoint(), dp)
	ctx := context.Background()
	clientNS := dp.InterfaceNamespace(s.clientENI)
	endpoint := net.JoinHostPort(s.endpointIP, "80")

	if _, err := ask(ctx, clientNS, endpoint); err == nil {
		t.Fatal("the endpoint carried traffic while pendingAcceptance")
	}
	s.healthy(t, 2)
	s.accept(t)

	answer, err := ask(ctx, clientNS, endpoint)
	if err != nil {
		t.Fatalf("through the endpoint: %v", err)
	}
	peer := strings.Fields(answer)[1]
	lbSeen := false
	for _, ip := range s.lbIPs {
		lbSeen = lbSeen || strings.HasPrefix(peer, "peer="+ip+":")
	}
	if !lbSeen || strings.Contains(answer, "vpce="+s.endpointID) {
		t.Fatalf("target answered %q; want the load balancer's address %v as peer and no PROXY header", answer, s.lbIPs)
	}

	// DNS: the regional and zonal names resolve to the endpoint's address in
	// the consumer VPC, at base+2 and at 169.254.169.253.
	if len(s.endpointDNS) < 2 {
		t.Fatalf("DnsEntries = %v, want regional and zonal names", s.endpointDNS)
	}
	for _, name := range s.endpointDNS {
		for _, server := range []string{s.consumerResolver, "169.254.169.253"} {
			rcode, ips := resolve(t, clientNS, server, name)
			if rcode != mdns.RcodeSuccess || len(ips) != 1 || ips[0] != s.endpointIP {
				t.Fatalf("%s @%s = %s %v, want %s", name, server, mdns.RcodeToString[rcode], ips, s.endpointIP)
			}
		}
	}
	// ...and not in the provider's VPC.
	if rcode, ips := resolve(t, dp.InterfaceNamespace(s.targetENI), "10.0.0.2", s.endpointDNS[0]); len(ips) != 0 {
		t.Fatalf("provider VPC resolved the consumer's endpoint name: %s %v", mdns.RcodeToString[rcode], ips)
	}

	// PROXY protocol v2 names the endpoint and the consumer's address.
	ok(s.prov.ELBv2.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: &s.tgARN,
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("proxy_protocol_v2.enabled"), Value: aws.String("true")}}}))(t)
	eventually(t, "PROXY v2 header with the endpoint ID", 10*time.Second, func() bool {
		answer, err := ask(ctx, clientNS, endpoint)
		return err == nil && strings.Contains(answer, "vpce="+s.endpointID) && strings.Contains(answer, "src="+s.clientIP+":")
	})

	// Without the header again, connections are forwarded by the kernel
	// (PROXY v2 needs the relaying listener), and carry no header.
	ok(s.prov.ELBv2.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: &s.tgARN,
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("proxy_protocol_v2.enabled"), Value: aws.String("false")}}}))(t)
	eventually(t, "no PROXY v2 header after turning it off", 10*time.Second, func() bool {
		answer, err := ask(ctx, clientNS, endpoint)
		return err == nil && !strings.Contains(answer, "vpce="+s.endpointID)
	})

	// Health-check failover: stop target one; new connections go to two.
	stopTarget(t, s.targetIP)
	eventually(t, "traffic only to the healthy target", 15*time.Second, func() bool {
		for i := 0; i < 8; i++ {
			answer, err := ask(ctx, clientNS, endpoint)
			if err != nil || !strings.Contains(answer, "target=two") {
				return false
			}
		}
		return true
	})

	// Rejecting cuts a live connection and refuses new ones. (A health check
	// that times out on a busy machine can briefly fail open to the stopped
	// target, so the live connection may take a second try.)
	var live net.Conn
	eventually(t, "a live connection through the endpoint", 10*time.Second, func() bool {
		var err error
		live, err = dataplane.DialTCP(ctx, clientNS, endpoint)
		return err == nil
	})
	defer live.Close()
	fmt.Fprintf(live, "HOLD\n")
	ok(s.prov.EC2.RejectVpcEndpointConnections(ctx, &ec2.RejectVpcEndpointConnectionsInput{ServiceId: &s.svcID, VpcEndpointIds: []string{s.endpointID}}))(t)
	live.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := live.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("live connection after reject: read error %v, want it cut", err)
	}
	eventually(t, "new connections refused after reject", 10*time.Second, func() bool {
		_, err := ask(ctx, clientNS, endpoint)
		return err != nil
	})
}

// runningTargets holds the targets started by startTarget, by IP.
var runningTargets sync.Map

// stopTarget takes a target's listener away, as a crashed service would.
func stopTarget(t *testing.T, ip string) {
	t.Helper()
	tgt, ok := runningTargets.Load(ip)
	if !ok {
		t.Fatalf("no target runs on %s", ip)
	}
	tgt.(*target).ln.Close()
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
