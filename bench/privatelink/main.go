// Command privlink-bench-privatelink measures the PrivateLink control plane
// at scale with the data plane off: N concurrent consumer clients create
// interface endpoints to one endpoint service (acceptance off) and the
// benchmark waits until every one is available; then it fills up to
// --describe-total endpoints and measures DescribeVpcEndpoints filtered by
// tag. The baseline, measured in the same run with the same client count,
// is GetCallerIdentity (SigV4 + routing + XML, no store work).
//
//	go run ./bench/privatelink [--endpoints 1000] [--clients 32] [--describe-total 10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/privlink/privlink/bench/internal/harness"
	"github.com/privlink/privlink/internal/server"
)

func main() {
	endpoints := flag.Int("endpoints", 1000, "interface endpoints in the create-to-available phase")
	clients := flag.Int("clients", 32, "concurrent clients")
	perVPC := flag.Int("per-vpc", 50, "endpoints per consumer VPC (AWS's default quota is 50 interface endpoints per VPC)")
	describeTotal := flag.Int("describe-total", 10000, "endpoints present during the DescribeVpcEndpoints phase")
	duration := flag.Duration("duration", 5*time.Second, "length of the baseline and describe phases")
	flag.StringVar(&profile, "cpuprofile", "", "profile the concurrent SDK describe phase: CPU to this file, block and mutex to FILE.block/.mutex")
	flag.Parse()
	harness.Header("bench/privatelink", os.Args)
	if err := run(*endpoints, *clients, *perVPC, max(*describeTotal, *endpoints), *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench/privatelink:", err)
		os.Exit(1)
	}
}

var profile string

func run(endpoints, clients, perVPC, describeTotal int, d time.Duration) error {
	ctx := context.Background()
	srv, stop, err := harness.Start(ctx, server.Config{DataPlane: server.DataPlaneOff})
	if err != nil {
		return err
	}
	defer stop()
	prov := harness.NewClients(srv, harness.Provider, 4)
	cons := harness.NewClients(srv, harness.Consumer, clients)
	fmt.Printf("server %s, data plane off, %d clients, %d endpoints per consumer VPC\n\n", srv.Endpoint(), clients, perVPC)

	svcName, err := provider(ctx, prov)
	if err != nil {
		return fmt.Errorf("provider setup: %w", err)
	}

	// Baseline: the cheapest signed call, same clients, same concurrency.
	base, err := harness.Run(ctx, clients, 0, d, func(ctx context.Context, _ int) error {
		_, err := cons.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	})
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	fmt.Printf("%-44s %8.0f ops/s  p50 %10s  p99 %10s\n", "GetCallerIdentity (baseline)", base.Rate(), harness.Ms(base.Lat.Pct(.5)), harness.Ms(base.Lat.Pct(.99)))

	// Consumer VPCs and subnets, created up front for every endpoint.
	nVPC := (describeTotal + perVPC - 1) / perVPC
	if nVPC > 256 {
		return fmt.Errorf("%d consumer VPCs needed; at most 256 (raise --per-vpc or lower --describe-total)", nVPC)
	}
	subnets := make([]string, nVPC)
	vpcs := make([]string, nVPC)
	setup, err := harness.Run(ctx, clients, nVPC, 0, func(ctx context.Context, i int) error {
		v, err := cons.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(fmt.Sprintf("10.%d.0.0/16", i))})
		if err != nil {
			return err
		}
		vpcs[i] = *v.Vpc.VpcId
		s, err := cons.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: v.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("10.%d.0.0/20", i)), AvailabilityZone: aws.String("us-east-1a")})
		if err != nil {
			return err
		}
		subnets[i] = *s.Subnet.SubnetId
		return nil
	})
	if err != nil {
		return fmt.Errorf("consumer VPCs: %w", err)
	}
	fmt.Printf("setup: %d consumer VPCs with a /20 subnet each in %s\n\n", nVPC, setup.Elapsed.Round(time.Millisecond))

	create := func(ctx context.Context, i int) error {
		_, err := cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
			VpcId: &vpcs[i/perVPC], ServiceName: &svcName, VpcEndpointType: ec2types.VpcEndpointTypeInterface,
			SubnetIds: []string{subnets[i/perVPC]},
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpcEndpoint,
				Tags: []ec2types.Tag{{Key: aws.String("team"), Value: aws.String(fmt.Sprintf("t%d", i%100))}}}},
		})
		return err
	}

	// Phase 1: create endpoints and drive them all to available.
	t0 := time.Now()
	cr, err := harness.Run(ctx, clients, endpoints, 0, create)
	if err != nil {
		return fmt.Errorf("create endpoints: %w", err)
	}
	created := time.Since(t0)
	var avail int
	err = harness.Eventually(fmt.Sprintf("%d endpoints available", endpoints), 5*time.Minute, 50*time.Millisecond, func() (bool, error) {
		n, err := countEndpoints(ctx, cons.EC2, "available")
		avail = n
		return n >= endpoints, err
	})
	if err != nil {
		return fmt.Errorf("%w (%d available)", err, avail)
	}
	total := time.Since(t0)
	fmt.Printf("%-44s %8.0f ops/s  p50 %10s  p99 %10s  ratio to baseline: rate %.3f, p50 %.1fx\n",
		fmt.Sprintf("CreateVpcEndpoint (%d)", endpoints), cr.Rate(), harness.Ms(cr.Lat.Pct(.5)), harness.Ms(cr.Lat.Pct(.99)),
		cr.Rate()/base.Rate(), float64(cr.Lat.Pct(.5))/float64(base.Lat.Pct(.5)))
	fmt.Printf("  all %d created in %s; all available after %s\n", endpoints, created.Round(time.Millisecond), total.Round(time.Millisecond))
	fmt.Printf("  target: %d endpoints available <= 30 s: %s\n\n", endpoints, harness.Verdict(total <= 30*time.Second))

	// Phase 2: fill up to describeTotal, then filter by tag.
	t1 := time.Now()
	fill, err := harness.Run(ctx, clients, describeTotal-endpoints, 0, func(ctx context.Context, i int) error { return create(ctx, endpoints+i) })
	if err != nil {
		return fmt.Errorf("fill endpoints: %w", err)
	}
	fmt.Printf("fill: %d more endpoints in %s (%.0f/s, p50 %s, p99 %s)\n", fill.Ops, time.Since(t1).Round(time.Millisecond),
		fill.Rate(), harness.Ms(fill.Lat.Pct(.5)), harness.Ms(fill.Lat.Pct(.99)))
	err = harness.Eventually(fmt.Sprintf("%d endpoints available", describeTotal), 5*time.Minute, 200*time.Millisecond, func() (bool, error) {
		n, err := countEndpoints(ctx, cons.EC2, "available")
		return n >= describeTotal, err
	})
	if err != nil {
		return err
	}
	fmt.Printf("  all %d available %s after the fill started; the describe phases run in steady state\n\n", describeTotal, time.Since(t1).Round(time.Millisecond))

	// Phase 3: DescribeVpcEndpoints by tag among describeTotal endpoints,
	// through the SDK (the client decodes every endpoint) and through a raw
	// signed HTTP client (server and wire only), with clients concurrent
	// callers and with one; each against GetCallerIdentity just before.
	want := describeTotal / 100
	raw := harness.NewRaw(srv, harness.Consumer, clients)
	sdkBase := func(ctx context.Context, _ int) error {
		_, err := cons.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	}
	sdkDescribe := func(ctx context.Context, i int) error {
		out, err := cons.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{
			Filters: []ec2types.Filter{{Name: aws.String("tag:team"), Values: []string{fmt.Sprintf("t%d", i%100)}}}})
		if err == nil && len(out.VpcEndpoints) != want {
			err = fmt.Errorf("tag filter returned %d endpoints, want %d", len(out.VpcEndpoints), want)
		}
		return err
	}
	var size atomic.Int64
	rawBase := func(ctx context.Context, _ int) error {
		_, err := raw.Call(ctx, "sts", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
		return err
	}
	rawDescribe := func(ctx context.Context, i int) error {
		n, err := raw.Call(ctx, "ec2", url.Values{"Action": {"DescribeVpcEndpoints"}, "Version": {"2016-11-15"},
			"Filter.1.Name": {"tag:team"}, "Filter.1.Value.1": {fmt.Sprintf("t%d", i%100)}})
		size.Store(int64(n))
		return err
	}
	type variant struct {
		name     string
		n        int
		base, op func(context.Context, int) error
	}
	for _, v := range []variant{
		{"SDK", clients, sdkBase, sdkDescribe}, {"SDK", 1, sdkBase, sdkDescribe},
		{"raw HTTP", clients, rawBase, rawDescribe}, {"raw HTTP", 1, rawBase, rawDescribe},
	} {
		b, err := harness.Run(ctx, v.n, 0, d, v.base)
		if err != nil {
			return fmt.Errorf("baseline (%s, %d clients): %w", v.name, v.n, err)
		}
		stop := func() {}
		if v.n == clients && v.name == "SDK" && profile != "" {
			if stop, err = startProfile(profile); err != nil {
				return err
			}
		}
		// Errors are counted, not fatal: the SDK client intermittently fails
		// to read a response ("use of closed network connection"), and one
		// such error must not lose the phase.
		var failed, calls atomic.Int64
		var firstErr atomic.Value
		r, err := harness.Run(ctx, v.n, 0, d, func(ctx context.Context, i int) error {
			n := calls.Add(1)
			if err := v.op(ctx, i); err != nil {
				if failed.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
				if f := failed.Load(); f > 20 && f > n/2 {
					return err // most calls fail: something else is wrong
				}
			}
			return nil
		})
		stop()
		if err != nil {
			return fmt.Errorf("describe (%s, %d clients): %w", v.name, v.n, err)
		}
		if f := failed.Load(); f > 0 {
			fmt.Printf("  %d of %d DescribeVpcEndpoints calls failed; first: %s\n", f, r.Ops, firstErr.Load())
		}
		fmt.Printf("%s client, %d concurrent:\n", v.name, v.n)
		fmt.Printf("  %-42s %8.0f ops/s  p50 %10s  p99 %10s\n", "GetCallerIdentity (baseline)", b.Rate(), harness.Ms(b.Lat.Pct(.5)), harness.Ms(b.Lat.Pct(.99)))
		fmt.Printf("  %-42s %8.0f ops/s  p50 %10s  p99 %10s  ratio to baseline: rate %.3f, p50 %.1fx\n",
			fmt.Sprintf("DescribeVpcEndpoints tag:team (%d of %d)", want, describeTotal), r.Rate(), harness.Ms(r.Lat.Pct(.5)), harness.Ms(r.Lat.Pct(.99)),
			r.Rate()/b.Rate(), float64(r.Lat.Pct(.5))/float64(b.Lat.Pct(.5)))
		fmt.Printf("  target p99 <= 50 ms: %s\n", harness.Verdict(r.Lat.Pct(.99) <= 50*time.Millisecond))
	}
	fmt.Printf("(one DescribeVpcEndpoints response: %d bytes of XML)\n", size.Load())
	return nil
}

// provider builds the provider's NLB and an endpoint service that accepts
// the consumer without acceptance, and returns the service name.
func provider(ctx context.Context, c harness.Clients) (string, error) {
	vpc, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		return "", err
	}
	sub, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		return "", err
	}
	lb, err := c.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("svc"), Type: elbtypes.LoadBalancerTypeEnumNetwork,
		Scheme: elbtypes.LoadBalancerSchemeEnumInternal, Subnets: []string{*sub.Subnet.SubnetId}})
	if err != nil {
		return "", err
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	tg, err := c.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("svc-tg"), Protocol: elbtypes.ProtocolEnumTcp,
		Port: aws.Int32(8080), VpcId: vpc.Vpc.VpcId, TargetType: elbtypes.TargetTypeEnumIp})
	if err != nil {
		return "", err
	}
	if _, err := c.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(80), Protocol: elbtypes.ProtocolEnumTcp,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroups[0].TargetGroupArn}}}); err != nil {
		return "", err
	}
	if err := harness.Eventually("load balancer active", time.Minute, 50*time.Millisecond, func() (bool, error) {
		out, err := c.ELBv2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lbARN}})
		return err == nil && out.LoadBalancers[0].State.Code == elbtypes.LoadBalancerStateEnumActive, err
	}); err != nil {
		return "", err
	}
	svc, err := c.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
		NetworkLoadBalancerArns: []string{*lbARN}, AcceptanceRequired: aws.Bool(false)})
	if err != nil {
		return "", err
	}
	if _, err := c.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{
		ServiceId: svc.ServiceConfiguration.ServiceId, AddAllowedPrincipals: []string{harness.ConsumerRoot}}); err != nil {
		return "", err
	}
	return *svc.ServiceConfiguration.ServiceName, nil
}

// countEndpoints counts the caller's endpoints in a state, page by page.
func countEndpoints(ctx context.Context, c *ec2.Client, state string) (int, error) {
	n := 0
	p := ec2.NewDescribeVpcEndpointsPaginator(c, &ec2.DescribeVpcEndpointsInput{MaxResults: aws.Int32(1000),
		Filters: []ec2types.Filter{{Name: aws.String("vpc-endpoint-state"), Values: []string{state}}}})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return n, err
		}
		n += len(out.VpcEndpoints)
	}
	return n, nil
}

// startProfile starts CPU, block and mutex profiling into path, path.block
// and path.mutex; the returned function stops it and writes the files.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	runtime.SetMutexProfileFraction(1)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		for _, name := range []string{"block", "mutex"} {
			if f, err := os.Create(path + "." + name); err == nil {
				pprof.Lookup(name).WriteTo(f, 0)
				f.Close()
			}
		}
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}
