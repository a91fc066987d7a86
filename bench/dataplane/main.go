// Command privlink-bench-dataplane measures privlink's PrivateLink data
// path against the same traffic without privlink's proxy. It starts a server
// in-process with the data plane on (a unique namespace prefix, removed at
// the end even on failure or interrupt), builds the provider/consumer story
// with the Go SDK and measures, each against the "direct" baseline (a
// client instance in the provider VPC that reaches the target through the
// kernel router, no endpoint):
//
//   - bulk TCP throughput with iperf3 (one stream);
//   - 64-byte request/response latency over one connection (p50, p99);
//   - new connections per second (connect, 1 byte each way, close), and
//     again with wrk against nginx when both are installed; each round also
//     runs the load generator beside the sink, with no path at all, so the
//     run shows what each path adds to the two ends' own cost;
//   - the time for --endpoints interface endpoints to go from
//     CreateVpcEndpoint to available with working traffic (baseline: the
//     same for the story's single endpoint).
//
// It needs root on Linux, iperf3 and ip(8); wrk and nginx are optional
// (Debian: apt-get install iperf3 iproute2 wrk nginx-light):
//
//	go run ./bench/dataplane [--iperf-time 5s] [--rounds 5] [--rtts 20000] [--conn-time 5s] [--conn-rounds 3] [--neighbours 100] [--endpoints 100]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/privlink/privlink/bench/internal/harness"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/server"
)

// Ports on the target; the load balancer listens on the same ports.
const (
	iperfPort = 5201
	echoPort  = 7000 // 64-byte echo, also the health-check port
	connPort  = 7001 // read 1 byte, write 1 byte, close
)

// connTarget is the target for new connections per second through
// an endpoint.
const connTarget = 10000

type options struct {
	iperfTime     time.Duration
	rounds        int
	rtts          int
	connTime      time.Duration
	connRounds    int
	dialers       int
	endpoints     int
	perVPC        int
	healthEvery   time.Duration
	createClients int
	profile       string
	perf          string
	peer          bool
	hold          bool
	neighbours    int
	verbose       bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == connClientFlag {
		os.Exit(connClientMain(os.Args[2:]))
	}
	var o options
	flag.DurationVar(&o.iperfTime, "iperf-time", 5*time.Second, "length of each iperf3 run")
	flag.IntVar(&o.rounds, "rounds", 5, "throughput rounds (each a direct and an endpoint run); the median ratio is reported")
	flag.IntVar(&o.rtts, "rtts", 20000, "64-byte round trips per latency run")
	flag.DurationVar(&o.connTime, "conn-time", 5*time.Second, "length of each connection-rate run")
	flag.IntVar(&o.connRounds, "conn-rounds", 3, "connection-rate rounds (each an ends-only, a direct and an endpoint run); the median is reported")
	// 64 dialers left both CPUs 2-6 % idle between wake-ups; 128 keep them busy.
	flag.IntVar(&o.dialers, "dialers", 128, "concurrent dialers in the connection-rate runs")
	flag.IntVar(&o.endpoints, "endpoints", 100, "interface endpoints in the time-to-traffic phase (0 skips it)")
	flag.IntVar(&o.perVPC, "per-vpc", 50, "endpoints per consumer VPC in that phase (AWS's default quota is 50)")
	flag.IntVar(&o.createClients, "create-clients", 16, "concurrent CreateVpcEndpoint callers in that phase")
	flag.StringVar(&o.profile, "cpuprofile", "", "write CPU profiles of the endpoint throughput and connection runs to FILE.iperf and FILE.conn")
	flag.StringVar(&o.perf, "perf", "", "record the whole machine with perf (perf record -a -g) during the connection runs into FILE.conn-direct and FILE.conn")
	flag.IntVar(&o.neighbours, "neighbours", 100, "instances added to each VPC's subnet before a second connection-rate run, to show the per-packet cost does not grow with the VPC (0 skips it)")
	flag.BoolVar(&o.verbose, "v", false, "print the server's warnings and errors on stderr")
	flag.BoolVar(&o.peer, "peer", true, "also measure new connections with wrk against nginx (Debian: apt-get install wrk nginx-light); skipped when either is missing")
	flag.BoolVar(&o.hold, "hold", false, "at the end, keep everything up until interrupted, to inspect the namespaces")
	flag.DurationVar(&o.healthEvery, "health-interval", 300*time.Millisecond, "target health-check interval")
	flag.Parse()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/dataplane needs root on Linux: it builds network namespaces (try: sudo go run ./bench/dataplane)")
		os.Exit(2)
	}
	for _, tool := range []string{"iperf3", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "bench/dataplane needs %s on PATH (Debian: apt-get install iperf3 iproute2)\n", tool)
			os.Exit(2)
		}
	}
	harness.Header("bench/dataplane", os.Args)
	b := &bench{o: o, prefix: fmt.Sprintf("pb%d", os.Getpid()%100000)}
	switch {
	case !o.peer:
		b.noPeer = "-peer=false"
	case !peerTools():
		b.noPeer = "wrk or nginx is not on PATH (Debian: apt-get install wrk nginx-light)"
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "bench/dataplane: %s, cleaning up\n", s)
		b.cleanup()
		os.Exit(1)
	}()
	err := func() error {
		defer func() {
			if r := recover(); r != nil {
				b.cleanup()
				panic(r)
			}
		}()
		return b.run()
	}()
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/dataplane:", err)
		os.Exit(1)
	}
}

type bench struct {
	o      options
	prefix string
	noPeer string // why wrk and nginx are not measured; empty when they are
	srv    *server.Server
	stop   func()
	dp     *dataplane.Linux

	mu       sync.Mutex
	procs    []*exec.Cmd
	dirs     []string // temporary files of the servers
	cleaning sync.Once
	lns      []net.Listener

	prov, cons harness.Clients
	svcName    string
	provSubnet string
	consSubnet string
	targetIP   string
	targetNS   string
	directNS   string // client instance in the provider VPC
	clientNS   string // client instance in the consumer VPC
	endpointIP string
}

// cleanup stops what the benchmark started and removes every namespace,
// link and state file under its prefix.
func (b *bench) cleanup() {
	b.cleaning.Do(func() {
		b.mu.Lock()
		for _, p := range b.procs {
			if p.Process != nil {
				p.Process.Kill()
				p.Wait()
			}
		}
		for _, ln := range b.lns {
			ln.Close()
		}
		for _, d := range b.dirs {
			os.RemoveAll(d)
		}
		b.mu.Unlock()
		if b.stop != nil {
			b.stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dcfg := dataplane.DefaultConfig()
		dcfg.Prefix = b.prefix
		dp, err := dataplane.New(dcfg, nil)
		if err == nil {
			err = errors.Join(dp.Cleanup(ctx, nil), dp.DeleteInternet(ctx), os.RemoveAll(filepath.Join(dcfg.StateDir, b.prefix)))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench/dataplane: cleanup of %s: %v\n", b.prefix, err)
			return
		}
		out, _ := exec.Command("ip", "netns", "list").Output()
		left := 0
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, b.prefix+"-") {
				left++
			}
		}
		fmt.Printf("cleanup: prefix %s removed (%d namespaces left)\n", b.prefix, left)
	})
}

func (b *bench) run() error {
	ctx := context.Background()
	var err error
	sc := server.Config{DataPlane: server.DataPlaneOn, DataPlanePrefix: b.prefix,
		HealthCheckInterval: b.o.healthEvery, HealthCheckTimeout: b.o.healthEvery * 2 / 3}
	if b.o.verbose {
		sc.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	b.srv, b.stop, err = harness.Start(ctx, sc)
	if err != nil {
		return err
	}
	dcfg := dataplane.DefaultConfig()
	dcfg.Prefix = b.prefix
	if b.dp, err = dataplane.New(dcfg, nil); err != nil {
		return err
	}
	b.prov = harness.NewClients(b.srv, harness.Provider, 4)
	b.cons = harness.NewClients(b.srv, harness.Consumer, b.o.createClients)
	fmt.Printf("server %s, data plane on, prefix %s, GOMAXPROCS %d\n\n", b.srv.Endpoint(), b.prefix, runtime.GOMAXPROCS(0))

	t0 := time.Now()
	if err := b.provider(ctx); err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	single, err := b.consumer(ctx)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	fmt.Printf("story built in %s; one endpoint: CreateVpcEndpoint to working traffic in %s\n\n", time.Since(t0).Round(time.Millisecond), single.Round(time.Millisecond))

	direct, through := b.targetIP, b.endpointIP
	addr := func(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

	// 1. Throughput: rounds alternate direct and endpoint runs, so a burst
	// of load from elsewhere on the machine hits both alike; the median
	// round decides.
	if b.o.rounds > 0 {
		var ratios []float64
		fmt.Printf("throughput (iperf3, 1 stream, %s per run, %d rounds of direct then endpoint)\n", b.o.iperfTime, b.o.rounds)
		for round := 1; round <= b.o.rounds; round++ {
			dBps, err := b.iperf(b.directNS, addr(direct, iperfPort))
			if err != nil {
				return fmt.Errorf("iperf3 direct: %w", err)
			}
			stop := b.startProfile("iperf")
			eBps, err := b.iperf(b.clientNS, addr(through, iperfPort))
			stop()
			if err != nil {
				return fmt.Errorf("iperf3 through the endpoint: %w", err)
			}
			ratios = append(ratios, eBps/dBps)
			fmt.Printf("  round %d: direct %6.2f Gbit/s  endpoint %6.2f Gbit/s  ratio %.3f\n", round, dBps/1e9, eBps/1e9, eBps/dBps)
		}
		slices.Sort(ratios)
		med := ratios[len(ratios)/2]
		fmt.Printf("  median ratio %.3f (min %.3f, max %.3f) — target >= 0.8: %s\n\n", med, ratios[0], ratios[len(ratios)-1], harness.Verdict(med >= 0.8))
	}

	// 2. Latency.
	if b.o.rtts > 0 {
		dLat, err := b.rtt(ctx, b.directNS, addr(direct, echoPort))
		if err != nil {
			return fmt.Errorf("latency direct: %w", err)
		}
		eLat, err := b.rtt(ctx, b.clientNS, addr(through, echoPort))
		if err != nil {
			return fmt.Errorf("latency through the endpoint: %w", err)
		}
		added := eLat.Pct(.5) - dLat.Pct(.5)
		fmt.Printf("latency (64-byte request/response, %d sequential round trips on one connection)\n", b.o.rtts)
		fmt.Printf("  direct   p50 %9s  p99 %9s\n  endpoint p50 %9s  p99 %9s\n", harness.Us(dLat.Pct(.5)), harness.Us(dLat.Pct(.99)), harness.Us(eLat.Pct(.5)), harness.Us(eLat.Pct(.99)))
		fmt.Printf("  added p50 %s, p99 %s; ratio p50 %.2fx — target added p50 <= 100 µs: %s\n\n",
			harness.Us(added), harness.Us(eLat.Pct(.99)-dLat.Pct(.99)), float64(eLat.Pct(.5))/float64(dLat.Pct(.5)), harness.Verdict(added <= 100*time.Microsecond))
	}

	// 3. New connections per second, with the Go load generator and sink
	// and, when installed, with wrk against nginx. Like throughput, rounds
	// alternate the paths and the median round decides: on a shared machine
	// single runs vary by ±15 %.
	gens := []loadGenerator{{"the Go load generator and sink; connect, 1 byte each way, close", "conn", b.connRate, connPort}}
	if b.noPeer == "" {
		gens = append(gens, loadGenerator{"wrk -t2 against nginx; one HTTP/1.1 request per connection, Connection: close", "conn-wrk", b.wrkRate, httpPort})
	}
	var first connRun
	for i, g := range gens {
		fmt.Printf("new connections (%s; %d connections at a time, %s per run, %d rounds of ends only, direct, then endpoint)\n", g.what, b.o.dialers, b.o.connTime, b.o.connRounds)
		m, err := b.connRounds(g.rate, g.port, g.perf)
		if err != nil {
			return err
		}
		dRun, eRun := m.Direct, m.Endpoint
		fmt.Printf("  median: direct %.0f conn/s (%.0f µs CPU each), endpoint %.0f conn/s (%.0f µs CPU each); ratio %.3f, the endpoint path adds %.0f µs CPU per connection — target >= %d/s: %s\n",
			dRun.Rate, us(dRun.CPU), eRun.Rate, us(eRun.CPU), eRun.Rate/dRun.Rate, us(eRun.CPU-dRun.CPU), connTarget, harness.Verdict(eRun.Rate >= connTarget))
		printPathCosts(m, connTarget)
		fmt.Println()
		if i == 0 {
			first = eRun
		}
	}
	if b.noPeer != "" {
		fmt.Printf("new connections with wrk against nginx: skipped, %s\n\n", b.noPeer)
	}
	if b.o.neighbours > 0 {
		if err := b.crowded(ctx, first); err != nil {
			return fmt.Errorf("connections in crowded VPCs: %w", err)
		}
	}

	// 4. Many endpoints to working traffic.
	if b.o.endpoints > 0 {
		if err := b.manyEndpoints(ctx, single); err != nil {
			return fmt.Errorf("%d endpoints: %w", b.o.endpoints, err)
		}
	}
	if b.o.hold {
		fmt.Printf("holding: client %s, endpoint %s, direct client %s, target %s; interrupt to clean up\n", b.clientNS, b.endpointIP, b.directNS, b.targetIP)
		select {}
	}
	return nil
}

// provider builds the provider VPC: a target, a direct client, an NLB with
// one listener per port, each forwarding to the target's same port, and an
// endpoint service without acceptance. It starts the servers on the target
// and waits until the target is healthy everywhere.
func (b *bench) provider(ctx context.Context) error {
	c := b.prov
	vpc, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		return err
	}
	vpcID := vpc.Vpc.VpcId
	sub, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		return err
	}
	subID := *sub.Subnet.SubnetId
	b.provSubnet = subID
	sgs, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{*vpcID}}}})
	if err != nil {
		return err
	}
	if _, err := c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sgs.SecurityGroups[0].GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/16")}}}}}); err != nil {
		return err
	}
	targetENI, targetIP, err := runInstance(ctx, c.EC2, subID)
	if err != nil {
		return err
	}
	directENI, _, err := runInstance(ctx, c.EC2, subID)
	if err != nil {
		return err
	}
	b.targetIP, b.targetNS, b.directNS = targetIP, b.dp.InterfaceNamespace(targetENI), b.dp.InterfaceNamespace(directENI)
	if err := b.startServers(ctx); err != nil {
		return err
	}

	lb, err := c.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("bench"), Type: elbtypes.LoadBalancerTypeEnumNetwork,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternal, Subnets: []string{subID}})
	if err != nil {
		return err
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	var tgs []string
	ports := []int32{iperfPort, echoPort, connPort}
	if b.noPeer == "" {
		ports = append(ports, httpPort)
	}
	for _, port := range ports {
		tg, err := c.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("bench-%d", port)), Protocol: elbtypes.ProtocolEnumTcp,
			Port: aws.Int32(port), VpcId: vpcID, TargetType: elbtypes.TargetTypeEnumIp, HealthCheckPort: aws.String(strconv.Itoa(echoPort))})
		if err != nil {
			return err
		}
		arn := tg.TargetGroups[0].TargetGroupArn
		tgs = append(tgs, *arn)
		if _, err := c.ELBv2.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: arn, Targets: []elbtypes.TargetDescription{{Id: &targetIP}}}); err != nil {
			return err
		}
		if _, err := c.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(port), Protocol: elbtypes.ProtocolEnumTcp,
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: arn}}}); err != nil {
			return err
		}
	}
	if err := harness.Eventually("load balancer active", time.Minute, 50*time.Millisecond, func() (bool, error) {
		out, err := c.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lbARN}})
		return err == nil && out.LoadBalancers[0].State.Code == elbtypes.LoadBalancerStateEnumActive, err
	}); err != nil {
		return err
	}
	for _, arn := range tgs {
		if err := harness.Eventually("target healthy in "+arn, time.Minute, 100*time.Millisecond, func() (bool, error) {
			out, err := c.ELBv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: &arn})
			return err == nil && len(out.TargetHealthDescriptions) == 1 && out.TargetHealthDescriptions[0].TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy, err
		}); err != nil {
			return err
		}
	}
	svc, err := c.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
		NetworkLoadBalancerArns: []string{*lbARN}, AcceptanceRequired: aws.Bool(false)})
	if err != nil {
		return err
	}
	b.svcName = *svc.ServiceConfiguration.ServiceName
	_, err = c.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{
		ServiceId: svc.ServiceConfiguration.ServiceId, AddAllowedPrincipals: []string{harness.ConsumerRoot}})
	return err
}

// consumerVPC creates a VPC with one subnet and a client instance, and an
// endpoint security group open to the VPC.
func (b *bench) consumerVPC(ctx context.Context, cidr, subnetCIDR string) (vpcID, subnetID, sgID, clientNS string, err error) {
	c := b.cons.EC2
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: &cidr})
	if err != nil {
		return
	}
	vpcID = *vpc.Vpc.VpcId
	sub, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpcID, CidrBlock: &subnetCIDR, AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		return
	}
	subnetID = *sub.Subnet.SubnetId
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("endpoint"), Description: aws.String("endpoint"), VpcId: &vpcID})
	if err != nil {
		return
	}
	sgID = *sg.GroupId
	if _, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &sgID,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535), IpRanges: []ec2types.IpRange{{CidrIp: &cidr}}}}}); err != nil {
		return
	}
	eni, _, err := runInstance(ctx, c, subnetID)
	if err != nil {
		return
	}
	return vpcID, subnetID, sgID, b.dp.InterfaceNamespace(eni), nil
}

// consumer builds the consumer VPC (the provider's CIDR), a client and an
// endpoint, and returns the time from CreateVpcEndpoint to working traffic.
func (b *bench) consumer(ctx context.Context) (time.Duration, error) {
	vpc, sub, sg, ns, err := b.consumerVPC(ctx, "10.0.0.0/16", "10.0.1.0/24")
	if err != nil {
		return 0, err
	}
	b.clientNS, b.consSubnet = ns, sub
	t0 := time.Now()
	_, ip, err := b.createEndpoint(ctx, vpc, sub, sg)
	if err != nil {
		return 0, err
	}
	b.endpointIP = ip
	if err := b.waitAvailable(ctx, nil); err != nil {
		return 0, err
	}
	if err := harness.Eventually("traffic through the endpoint", time.Minute, 10*time.Millisecond, func() (bool, error) {
		return echoOnce(ctx, ns, net.JoinHostPort(ip, strconv.Itoa(echoPort))) == nil, nil
	}); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

func (b *bench) createEndpoint(ctx context.Context, vpc, subnet, sg string) (id, ip string, err error) {
	out, err := b.cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &vpc, ServiceName: &b.svcName,
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: []string{subnet}, SecurityGroupIds: []string{sg}})
	if err != nil {
		return "", "", err
	}
	ifs, err := b.cons.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: out.VpcEndpoint.NetworkInterfaceIds})
	if err != nil {
		return "", "", err
	}
	if len(ifs.NetworkInterfaces) != 1 {
		return "", "", fmt.Errorf("endpoint %s has %d interfaces", *out.VpcEndpoint.VpcEndpointId, len(ifs.NetworkInterfaces))
	}
	return *out.VpcEndpoint.VpcEndpointId, *ifs.NetworkInterfaces[0].PrivateIpAddress, nil
}

// waitAvailable waits until every endpoint of the consumer is available,
// calling seen (if any) once for each as it first shows available.
func (b *bench) waitAvailable(ctx context.Context, seen func(id string)) error {
	done := map[string]bool{}
	return harness.Eventually("endpoints available", 2*time.Minute, 20*time.Millisecond, func() (bool, error) {
		p := ec2.NewDescribeVpcEndpointsPaginator(b.cons.EC2, &ec2.DescribeVpcEndpointsInput{MaxResults: aws.Int32(1000)})
		all := true
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return false, err
			}
			for _, ep := range out.VpcEndpoints {
				if string(ep.State) != "available" {
					all = false
					continue
				}
				if id := *ep.VpcEndpointId; !done[id] {
					done[id] = true
					if seen != nil {
						seen(id)
					}
				}
			}
		}
		return all, nil
	})
}

func runInstance(ctx context.Context, c *ec2.Client, subnet string) (eni, ip string, err error) {
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: &subnet})
	if err != nil {
		return "", "", err
	}
	id := *out.Instances[0].InstanceId
	ip = *out.Instances[0].PrivateIpAddress
	err = harness.Eventually("instance "+id+" running", time.Minute, 20*time.Millisecond, func() (bool, error) {
		d, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			return false, err
		}
		i := d.Reservations[0].Instances[0]
		if len(i.NetworkInterfaces) > 0 {
			eni = *i.NetworkInterfaces[0].NetworkInterfaceId
		}
		return i.State.Name == ec2types.InstanceStateNameRunning && eni != "", nil
	})
	return eni, ip, err
}

// connMedians are the median runs of each kind of a set of rounds, and
// the median of what each path added to its round's ends-only run: the
// machine's speed drifts between rounds, less within one.
type connMedians struct {
	// Ends is the load generator beside the sink, in the target's own
	// namespace: no router, no link, only the two ends' sockets. It is the
	// floor under both paths on this machine.
	Ends, Direct, Endpoint connRun
	// DirectAdds and EndpointAdds are the paths' CPU time per connection
	// over the ends'.
	DirectAdds, EndpointAdds time.Duration
}

// connRate is one connection-rate run of a load generator inside ns
// against addr.
type connRate func(ns, addr string) (connRun, error)

// loadGenerator is a way of opening connections and the server port it
// opens them to.
type loadGenerator struct {
	what string // printed in the phase's heading
	perf string // names the phase's perf and CPU profile files
	rate connRate
	port int
}

// connRounds runs connRounds rounds of rate against port, each an
// ends-only, a direct and an endpoint run, prints each and returns the
// medians. perfName names the perf and CPU profile files.
func (b *bench) connRounds(rate connRate, port int, perfName string) (connMedians, error) {
	at := func(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }
	for _, ns := range []string{b.targetNS, b.directNS, b.clientNS} {
		if err := dataplane.RunInNamespace(ns, widenEphemeralPorts); err != nil {
			return connMedians{}, fmt.Errorf("ephemeral ports of %s: %w", ns, err)
		}
	}
	var nRuns, dRuns, eRuns []connRun
	for round := 1; round <= max(b.o.connRounds, 1); round++ {
		nRun, err := rate(b.targetNS, at(b.targetIP))
		if err != nil {
			return connMedians{}, fmt.Errorf("connections beside the sink: %w", err)
		}
		stopPerf := b.startPerf(perfName + "-direct")
		dRun, err := rate(b.directNS, at(b.targetIP))
		stopPerf()
		if err != nil {
			return connMedians{}, fmt.Errorf("connections direct: %w", err)
		}
		stop := b.startProfile(perfName)
		stopPerf = b.startPerf(perfName)
		eRun, err := rate(b.clientNS, at(b.endpointIP))
		stopPerf()
		stop()
		if err != nil {
			return connMedians{}, fmt.Errorf("connections through the endpoint: %w", err)
		}
		fmt.Printf("  round %d: ends     %s\n           direct   %s\n           endpoint %s\n", round, nRun, dRun, eRun)
		nRuns, dRuns, eRuns = append(nRuns, nRun), append(dRuns, dRun), append(eRuns, eRun)
	}
	adds := func(runs []connRun) time.Duration {
		var d []time.Duration
		for i, r := range runs {
			d = append(d, r.CPU-nRuns[i].CPU)
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	return connMedians{Ends: medianRun(nRuns), Direct: medianRun(dRuns), Endpoint: medianRun(eRuns),
		DirectAdds: adds(dRuns), EndpointAdds: adds(eRuns)}, nil
}

// printPathCosts says what each path adds to the ends' own cost per
// connection, and what the ends leave for a path at the target rate: the
// CPUs busy at the endpoint's median, over the target rate, less the ends.
func printPathCosts(m connMedians, target float64) {
	times := "n/a"
	if m.DirectAdds > 0 {
		times = fmt.Sprintf("%.2f", float64(m.EndpointAdds)/float64(m.DirectAdds))
	}
	fmt.Printf("  per connection, medians of the rounds: the ends alone %.0f µs (%.0f conn/s with no path at all); the direct path adds %.0f µs, the endpoint path %.0f µs (%s times the direct path's)\n",
		us(m.Ends.CPU), m.Ends.Rate, us(m.DirectAdds), us(m.EndpointAdds), times)
	cpus := m.Endpoint.Busy * float64(runtime.NumCPU())
	budget := time.Duration(cpus/target*float64(time.Second)) - m.Ends.CPU
	fmt.Printf("  with these ends, %.0f conn/s on %.2f busy CPUs leaves a path %.0f µs per connection\n", target, cpus, us(budget))
}

// crowded adds neighbours instances to the provider's and the consumer's
// subnets, so both routers on the endpoint path hold that many more
// interfaces, and measures the connection rate again. A router whose
// per-packet work grew with its interfaces would show it here.
func (b *bench) crowded(ctx context.Context, before connRun) error {
	t0 := time.Now()
	for _, sub := range []struct {
		c  *ec2.Client
		id string
	}{{b.prov.EC2, b.provSubnet}, {b.cons.EC2, b.consSubnet}} {
		n := int32(b.o.neighbours)
		out, err := sub.c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: &n, MaxCount: &n, SubnetId: &sub.id})
		if err != nil {
			return err
		}
		var ids []string
		for _, i := range out.Instances {
			ids = append(ids, *i.InstanceId)
		}
		if err := harness.Eventually("neighbours running", 5*time.Minute, 100*time.Millisecond, func() (bool, error) {
			d, err := sub.c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
			if err != nil {
				return false, err
			}
			for _, r := range d.Reservations {
				for _, i := range r.Instances {
					if i.State.Name != ec2types.InstanceStateNameRunning {
						return false, nil
					}
				}
			}
			return true, nil
		}); err != nil {
			return err
		}
	}
	fmt.Printf("new connections with %d more instances in each VPC (running after %s)\n", b.o.neighbours, time.Since(t0).Round(time.Millisecond))
	m, err := b.connRounds(b.connRate, connPort, "crowded")
	if err != nil {
		return err
	}
	dRun, eRun := m.Direct, m.Endpoint
	fmt.Printf("  median: direct %.0f conn/s (%.0f µs CPU each), endpoint %.0f conn/s (%.0f µs CPU each); endpoint rate against the uncrowded median: %.3f\n",
		dRun.Rate, us(dRun.CPU), eRun.Rate, us(eRun.CPU), eRun.Rate/before.Rate)
	printPathCosts(m, connTarget)
	fmt.Println()
	return nil
}

// runInTarget starts a server program in the target's namespace, to be
// stopped by cleanup, and waits until it accepts connections on port.
func (b *bench) runInTarget(ctx context.Context, port int, args ...string) error {
	cmd := exec.Command("ip", append([]string{"netns", "exec", b.targetNS}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	b.mu.Lock()
	b.procs = append(b.procs, cmd)
	b.mu.Unlock()
	addr := net.JoinHostPort(b.targetIP, strconv.Itoa(port))
	return harness.Eventually(args[0]+" listening", 10*time.Second, 50*time.Millisecond, func() (bool, error) {
		c, err := dataplane.DialTCP(ctx, b.targetNS, addr)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})
}

// startServers runs iperf3 -s, the echo server, the connection sink and
// (with peer tools) nginx in the target's namespace.
func (b *bench) startServers(ctx context.Context) error {
	if err := b.runInTarget(ctx, iperfPort, "iperf3", "-s", "-p", strconv.Itoa(iperfPort), "-B", b.targetIP); err != nil {
		return err
	}
	serve := func(port int, handle func(net.Conn)) error {
		// Without keep-alive probes, like the load generator: they cost
		// system calls per connection and the connections are short.
		var ln net.Listener
		err := dataplane.RunInNamespace(b.targetNS, func() error {
			var err error
			ln, err = (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", net.JoinHostPort(b.targetIP, strconv.Itoa(port)))
			return err
		})
		if err != nil {
			return fmt.Errorf("listen in %s: %w", b.targetNS, err)
		}
		b.mu.Lock()
		b.lns = append(b.lns, ln)
		b.mu.Unlock()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); handle(c) }()
			}
		}()
		return nil
	}
	if err := serve(echoPort, func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}); err != nil {
		return err
	}
	if err := serve(connPort, func(c net.Conn) {
		var one [1]byte
		if _, err := io.ReadFull(c, one[:]); err == nil {
			c.Write(one[:])
		}
	}); err != nil {
		return err
	}
	if b.noPeer == "" {
		if err := b.startNginx(ctx); err != nil {
			return err
		}
	}
	return nil
}

// iperf runs iperf3 -c from namespace ns and returns received bits/s.
func (b *bench) iperf(ns, addr string) (float64, error) {
	host, port, _ := net.SplitHostPort(addr)
	secs := max(1, int(b.o.iperfTime/time.Second))
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the server may still be busy with a previous test
		out, err := exec.Command("ip", "netns", "exec", ns, "iperf3", "-c", host, "-p", port, "-t", strconv.Itoa(secs), "-J").Output()
		var r struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if jerr := json.Unmarshal(out, &r); jerr == nil && r.Error == "" && r.End.SumReceived.BitsPerSecond > 0 {
			return r.End.SumReceived.BitsPerSecond, nil
		} else {
			lastErr = errors.Join(err, jerr, errors.New(r.Error))
		}
		time.Sleep(time.Second)
	}
	return 0, lastErr
}

// echoOnce does one 64-byte round trip from ns to addr.
func echoOnce(ctx context.Context, ns, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := dataplane.DialTCP(ctx, ns, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64)
	if _, err := c.Write(buf); err != nil {
		return err
	}
	_, err = io.ReadFull(c, buf)
	return err
}

// rtt measures sequential 64-byte round trips over one connection.
func (b *bench) rtt(ctx context.Context, ns, addr string) (harness.Latencies, error) {
	c, err := dataplane.DialTCP(ctx, ns, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	buf := make([]byte, 64)
	for i := range buf {
		buf[i] = byte(i)
	}
	lat := make(harness.Latencies, 0, b.o.rtts)
	warm := min(1000, b.o.rtts/10)
	for i := 0; i < warm+b.o.rtts; i++ {
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil, err
		}
		if i >= warm {
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, nil
}

// manyEndpoints creates consumer VPCs (each with a client) up front, then
// creates the endpoints concurrently and measures, per endpoint and in
// total, the time from the start of the phase to available and to the first
// successful round trip through it.
func (b *bench) manyEndpoints(ctx context.Context, single time.Duration) error {
	n := b.o.endpoints
	nVPC := (n + b.o.perVPC - 1) / b.o.perVPC
	type vpc struct{ id, subnet, sg, ns string }
	vpcs := make([]vpc, nVPC)
	for i := range vpcs {
		id, sub, sg, ns, err := b.consumerVPC(ctx, fmt.Sprintf("10.%d.0.0/16", 100+i), fmt.Sprintf("10.%d.0.0/20", 100+i))
		if err != nil {
			return err
		}
		vpcs[i] = vpc{id, sub, sg, ns}
	}
	type ep struct {
		ns, ip             string
		available, traffic time.Duration
	}
	var mu sync.Mutex
	eps := map[string]*ep{}
	t0 := time.Now()
	var wg sync.WaitGroup
	trafficTimeout := 2 * time.Minute
	var failed atomic.Int64
	startTraffic := func(id string) {
		mu.Lock()
		e := eps[id]
		if e != nil {
			e.available = time.Since(t0)
		}
		mu.Unlock()
		if e == nil {
			return // the story's own endpoint
		}
		wg.Go(func() {
			addr := net.JoinHostPort(e.ip, strconv.Itoa(echoPort))
			for time.Since(t0) < trafficTimeout {
				if echoOnce(ctx, e.ns, addr) == nil {
					e.traffic = time.Since(t0)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			failed.Add(1)
		})
	}
	cr, err := harness.Run(ctx, b.o.createClients, n, 0, func(ctx context.Context, i int) error {
		v := vpcs[i/b.o.perVPC]
		id, ip, err := b.createEndpoint(ctx, v.id, v.subnet, v.sg)
		if err != nil {
			return err
		}
		mu.Lock()
		eps[id] = &ep{ns: v.ns, ip: ip}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	created := time.Since(t0)
	if err := b.waitAvailable(ctx, startTraffic); err != nil {
		return err
	}
	allAvailable := time.Since(t0)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d endpoints carried no traffic within %s", f, trafficTimeout)
	}
	total := time.Since(t0)
	var avail, traffic harness.Latencies
	for _, e := range eps {
		avail = append(avail, e.available)
		traffic = append(traffic, e.traffic)
	}
	fmt.Printf("%d interface endpoints (%d consumer VPCs created up front, %d concurrent creators)\n", n, nVPC, b.o.createClients)
	fmt.Printf("  CreateVpcEndpoint: all created after %s (p50 %s, p99 %s per call)\n", created.Round(time.Millisecond), harness.Ms(cr.Lat.Pct(.5)), harness.Ms(cr.Lat.Pct(.99)))
	fmt.Printf("  available: all after %s (per endpoint p50 %s, p99 %s)\n", allAvailable.Round(time.Millisecond), harness.Ms(avail.Pct(.5)), harness.Ms(avail.Pct(.99)))
	fmt.Printf("  working traffic: all after %s (per endpoint p50 %s, p99 %s)\n", traffic.Pct(1).Round(time.Millisecond), harness.Ms(traffic.Pct(.5)), harness.Ms(traffic.Pct(.99)))
	fmt.Printf("  baseline: one endpoint to working traffic %s; ratio %.1fx for %dx the endpoints\n", single.Round(time.Millisecond), float64(traffic.Pct(1))/float64(single), n)
	fmt.Printf("  target: %d endpoints to working traffic <= 10 s: %s (phase total incl. polling %s)\n\n", n, harness.Verdict(traffic.Pct(1) <= 10*time.Second), total.Round(time.Millisecond))
	return nil
}

// startProfile profiles the process's CPU into --cpuprofile.suffix, if set.
func (b *bench) startProfile(suffix string) func() {
	if b.o.profile == "" {
		return func() {}
	}
	f, err := os.Create(b.o.profile + "." + suffix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/dataplane: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintln(os.Stderr, "bench/dataplane: profile:", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// startPerf records the whole machine with perf into --perf.suffix, if set:
// most of a connection's cost is kernel work in other namespaces, which
// the Go profile cannot see.
func (b *bench) startPerf(suffix string) func() {
	if b.o.perf == "" {
		return func() {}
	}
	cmd := exec.Command("perf", "record", "-a", "-g", "-q", "-o", b.o.perf+"."+suffix)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dataplane: perf:", err)
		return func() {}
	}
	time.Sleep(300 * time.Millisecond) // perf needs a moment before it samples
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
}
