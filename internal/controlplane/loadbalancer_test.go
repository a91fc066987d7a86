package controlplane

import (
	"context"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

const (
	elbProvider = "111111111111"
	elbConsumer = "222222222222"
)

// elbFixture is a provider VPC with subnets in us-east-1a/b and a second
// subnet in us-east-1a, plus a VPC elsewhere.
type elbFixture struct {
	cp                   *ControlPlane
	vpc, otherVpc        *cloud.Vpc
	subA, subB, subA2    string
	otherSub             string
	ctx                  context.Context
	elbCall, consumerElb *Call
}

func newElbFixture(t *testing.T) *elbFixture {
	t.Helper()
	cp := newTestCP(t)
	f := &elbFixture{cp: cp, ctx: context.Background()}
	f.vpc = mustVpc(t, cp, elbProvider, "10.0.0.0/16")
	f.otherVpc = mustVpc(t, cp, elbProvider, "10.1.0.0/16")
	f.subA = elbSubnet(t, cp, f.vpc.ID, "10.0.1.0/24", "us-east-1a")
	f.subB = elbSubnet(t, cp, f.vpc.ID, "10.0.2.0/24", "us-east-1b")
	f.subA2 = elbSubnet(t, cp, f.vpc.ID, "10.0.3.0/24", "us-east-1a")
	f.otherSub = elbSubnet(t, cp, f.otherVpc.ID, "10.1.1.0/24", "us-east-1c")
	f.elbCall = rootCall(elbProvider, "elasticloadbalancing:Test")
	f.consumerElb = rootCall(elbConsumer, "elasticloadbalancing:Test")
	return f
}

func elbSubnet(t *testing.T, cp *ControlPlane, vpcID, cidr, az string) string {
	t.Helper()
	s, err := cp.CreateSubnet(context.Background(), rootCall(elbProvider, "ec2:CreateSubnet"), CreateSubnetInput{VpcID: vpcID, CidrBlock: cidr, AvailabilityZone: az})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (f *elbFixture) nlb(t *testing.T, name string, in CreateLoadBalancerInput) *cloud.LoadBalancer {
	t.Helper()
	in.Name = name
	if in.Type == "" {
		in.Type = LBTypeNetwork
	}
	if len(in.Subnets) == 0 && len(in.SubnetMappings) == 0 {
		in.Subnets = []string{f.subA, f.subB}
	}
	lb, err := f.cp.CreateLoadBalancer(f.ctx, f.elbCall, in)
	if err != nil {
		t.Fatal(err)
	}
	return lb
}

func TestElbNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"web", true},
		{"a", true},
		{"my-nlb-01", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"", false},
		{"-web", false},
		{"web-", false},
		{"internal-web", false},
		{"web_1", false},
		{"wéb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validElbName("Load balancer", tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("validElbName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if err != nil && errCode(err) != "ValidationError" {
				t.Fatalf("code = %s, want ValidationError", errCode(err))
			}
		})
	}
}

func TestCreateLoadBalancerRules(t *testing.T) {
	f := newElbFixture(t)
	sg := mustSG(t, f.cp, f.vpc.ID, "lb")
	otherSG := mustSG(t, f.cp, f.otherVpc.ID, "other")
	tests := []struct {
		name string
		in   CreateLoadBalancerInput
		code string
	}{
		{"application refused", CreateLoadBalancerInput{Type: "application", Subnets: []string{f.subA}}, "ValidationError"},
		{"default type is application", CreateLoadBalancerInput{Subnets: []string{f.subA}}, "ValidationError"},
		{"bad type", CreateLoadBalancerInput{Type: "classic", Subnets: []string{f.subA}}, "ValidationError"},
		{"no subnets", CreateLoadBalancerInput{Type: "network"}, "ValidationError"},
		{"missing subnet", CreateLoadBalancerInput{Type: "network", Subnets: []string{"subnet-0123456789abcdef0"}}, "SubnetNotFound"},
		{"two vpcs", CreateLoadBalancerInput{Type: "network", Subnets: []string{f.subA, f.otherSub}}, "InvalidConfigurationRequest"},
		{"same az twice", CreateLoadBalancerInput{Type: "network", Subnets: []string{f.subA, f.subA2}}, "InvalidConfigurationRequest"},
		{"subnets and mappings", CreateLoadBalancerInput{Type: "network", Subnets: []string{f.subA}, SubnetMappings: []SubnetMapping{{SubnetID: f.subB}}}, "ValidationError"},
		{"bad scheme", CreateLoadBalancerInput{Type: "network", Scheme: "public", Subnets: []string{f.subA}}, "ValidationError"},
		{"gateway with scheme", CreateLoadBalancerInput{Type: "gateway", Scheme: "internal", Subnets: []string{f.subA}}, "InvalidConfigurationRequest"},
		{"gateway with groups", CreateLoadBalancerInput{Type: "gateway", SecurityGroups: []string{sg.ID}, Subnets: []string{f.subA}}, "InvalidConfigurationRequest"},
		{"missing group", CreateLoadBalancerInput{Type: "network", SecurityGroups: []string{"sg-0123456789abcdef0"}, Subnets: []string{f.subA}}, "InvalidSecurityGroup"},
		{"group of other vpc", CreateLoadBalancerInput{Type: "network", SecurityGroups: []string{otherSG.ID}, Subnets: []string{f.subA}}, "InvalidSecurityGroup"},
		{"private ip on internet-facing", CreateLoadBalancerInput{Type: "network", SubnetMappings: []SubnetMapping{{SubnetID: f.subA, PrivateIPv4Address: "10.0.1.10"}}}, "InvalidConfigurationRequest"},
		{"private ip outside subnet", CreateLoadBalancerInput{Type: "network", Scheme: "internal", SubnetMappings: []SubnetMapping{{SubnetID: f.subA, PrivateIPv4Address: "10.0.2.10"}}}, "InvalidParameterValue"},
		{"eip", CreateLoadBalancerInput{Type: "network", SubnetMappings: []SubnetMapping{{SubnetID: f.subA, AllocationID: "eipalloc-1"}}}, "InvalidConfigurationRequest"},
		{"dualstack", CreateLoadBalancerInput{Type: "network", IPAddressType: "dualstack", Subnets: []string{f.subA}}, "InvalidConfigurationRequest"},
		{"aws tag", CreateLoadBalancerInput{Type: "network", Subnets: []string{f.subA}, Tags: cloud.Tags{{Key: "aws:x"}}}, "ValidationError"},
		{"duplicate tag keys", CreateLoadBalancerInput{Type: "network", Subnets: []string{f.subA}, Tags: cloud.Tags{{Key: "a"}, {Key: "a"}}}, "DuplicateTagKeys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Name = "lb"
			_, err := f.cp.CreateLoadBalancer(f.ctx, f.elbCall, tc.in)
			if got := errCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
		})
	}
	// Nothing was written by the failures.
	f.cp.DB().View(func(tx *store.Tx) error {
		if n := tx.Count(cloud.KindLoadBalancer); n != 0 {
			t.Errorf("%d load balancers stored after failures", n)
		}
		if n := tx.Count(cloud.KindNetworkInterface); n != 0 {
			t.Errorf("%d interfaces stored after failures", n)
		}
		return nil
	})
}

func TestCreateLoadBalancerShape(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{Scheme: "internal", SubnetMappings: []SubnetMapping{{SubnetID: f.subB}, {SubnetID: f.subA, PrivateIPv4Address: "10.0.1.50"}}})
	if !strings.HasPrefix(lb.ARN, "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/web/") || len(lb.ID) != len("net/web/")+16 {
		t.Errorf("ARN = %s, ID = %s", lb.ARN, lb.ID)
	}
	token := lb.ID[len("net/web/"):]
	if lb.DNSName != "web-"+token+".elb.us-east-1.amazonaws.com" || lb.CanonicalHostedZn != "Z26RNL4JYFTOTI" {
		t.Errorf("DNS = %s zone %s", lb.DNSName, lb.CanonicalHostedZn)
	}
	if lb.State != "provisioning" || lb.Scheme != "internal" || lb.VpcID != f.vpc.ID || len(lb.AZs) != 2 || lb.AZs[0].ZoneName != "us-east-1a" {
		t.Errorf("lb = %+v", lb)
	}
	if lb.AZs[0].PrivateIPv4Address != "10.0.1.50" {
		t.Errorf("requested address not used: %+v", lb.AZs[0])
	}
	f.cp.DB().View(func(tx *store.Tx) error {
		for _, az := range lb.AZs {
			eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, az.NetworkInterfaceID)
			if !ok || eni.InterfaceType != "network_load_balancer" || eni.Description != "ELB "+lb.ID || eni.RequesterID != "amazon-elb" ||
				!eni.RequesterManaged || eni.OwnerResource != lb.ARN || eni.SubnetID != az.SubnetID || eni.PrivateIPAddress != az.PrivateIPv4Address {
				t.Errorf("interface = %+v", eni)
			}
		}
		return nil
	})
	if err := f.cp.LoadBalancerActive(f.ctx, lb.ARN); err != nil {
		t.Fatal(err)
	}
	got, _, err := f.cp.DescribeLoadBalancers(f.ctx, f.elbCall, DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil || len(got) != 1 || got[0].State != "active" {
		t.Fatalf("describe = %v, %v", got, err)
	}
	gw := f.nlb(t, "gw", CreateLoadBalancerInput{Type: LBTypeGateway})
	if !strings.Contains(gw.ARN, ":loadbalancer/gwy/gw/") || gw.DNSName != "" || gw.Scheme != "" {
		t.Errorf("gateway lb = %+v", gw)
	}
}

func TestCreateLoadBalancerIdempotentAndDuplicate(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{})
	again := f.nlb(t, "web", CreateLoadBalancerInput{Subnets: []string{f.subB, f.subA}})
	if again.ARN != lb.ARN {
		t.Errorf("same settings created a second load balancer: %s != %s", again.ARN, lb.ARN)
	}
	_, err := f.cp.CreateLoadBalancer(f.ctx, f.elbCall, CreateLoadBalancerInput{Name: "web", Type: "network", Scheme: "internal", Subnets: []string{f.subA, f.subB}})
	if errCode(err) != "DuplicateLoadBalancerName" {
		t.Fatalf("err = %v, want DuplicateLoadBalancerName", err)
	}
}

func TestDescribeLoadBalancers(t *testing.T) {
	f := newElbFixture(t)
	var arns []string
	for _, n := range []string{"a", "b", "c"} {
		arns = append(arns, f.nlb(t, n, CreateLoadBalancerInput{}).ARN)
	}
	size := 2
	page1, next, err := f.cp.DescribeLoadBalancers(f.ctx, f.elbCall, DescribeLoadBalancersInput{PageSize: &size})
	if err != nil || len(page1) != 2 || next == "" {
		t.Fatalf("page1 = %d, %q, %v", len(page1), next, err)
	}
	page2, next2, err := f.cp.DescribeLoadBalancers(f.ctx, f.elbCall, DescribeLoadBalancersInput{PageSize: &size, Marker: next})
	if err != nil || len(page2) != 1 || next2 != "" {
		t.Fatalf("page2 = %d, %q, %v", len(page2), next2, err)
	}
	tests := []struct {
		name string
		in   DescribeLoadBalancersInput
		code string
		n    int
	}{
		{"by arn", DescribeLoadBalancersInput{ARNs: arns[:2]}, "", 2},
		{"missing name", DescribeLoadBalancersInput{Names: []string{"zzz"}}, "LoadBalancerNotFound", 0},
		{"missing arn", DescribeLoadBalancersInput{ARNs: []string{arns[0] + "0"}}, "LoadBalancerNotFound", 0},
		{"malformed arn", DescribeLoadBalancersInput{ARNs: []string{"nope"}}, "ValidationError", 0},
		{"both", DescribeLoadBalancersInput{ARNs: arns[:1], Names: []string{"a"}}, "ValidationError", 0},
		{"page size 0", DescribeLoadBalancersInput{PageSize: new(int)}, "ValidationError", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := f.cp.DescribeLoadBalancers(f.ctx, f.elbCall, tc.in)
			if errCode(err) != tc.code || len(got) != tc.n {
				t.Fatalf("got %d, %v; want %d, %q", len(got), err, tc.n, tc.code)
			}
		})
	}
	// The consumer account sees none of the provider's load balancers.
	got, _, err := f.cp.DescribeLoadBalancers(f.ctx, f.consumerElb, DescribeLoadBalancersInput{})
	if err != nil || len(got) != 0 {
		t.Fatalf("consumer sees %d, %v", len(got), err)
	}
	if _, _, err := f.cp.DescribeLoadBalancers(f.ctx, f.consumerElb, DescribeLoadBalancersInput{ARNs: arns[:1]}); errCode(err) != "LoadBalancerNotFound" {
		t.Fatalf("consumer describe by ARN: %v", err)
	}
}

func TestLoadBalancerAttributes(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{})
	attrs, err := f.cp.DescribeLoadBalancerAttributes(f.ctx, f.elbCall, lb.ARN)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, a := range attrs {
		m[a.Key] = a.Value
	}
	if m["deletion_protection.enabled"] != "false" || m["load_balancing.cross_zone.enabled"] != "false" || m["dns_record.client_routing_policy"] != "any_availability_zone" {
		t.Errorf("defaults = %v", m)
	}
	tests := []struct {
		name string
		in   []LoadBalancerAttribute
		code string
	}{
		{"cross zone", []LoadBalancerAttribute{{"load_balancing.cross_zone.enabled", "true"}}, ""},
		{"routing policy", []LoadBalancerAttribute{{"dns_record.client_routing_policy", "availability_zone_affinity"}}, ""},
		{"unknown key", []LoadBalancerAttribute{{"idle_timeout.timeout_seconds", "60"}}, "ValidationError"},
		{"bad bool", []LoadBalancerAttribute{{"deletion_protection.enabled", "yes"}}, "ValidationError"},
		{"access logs", []LoadBalancerAttribute{{"access_logs.s3.enabled", "true"}}, "InvalidConfigurationRequest"},
		{"none", nil, "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.cp.ModifyLoadBalancerAttributes(f.ctx, f.elbCall, lb.ARN, tc.in)
			if errCode(err) != tc.code {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
}

func TestDeleteLoadBalancerRules(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{})
	tg := f.tg(t, "tg", CreateTargetGroupInput{TargetType: "ip"})
	f.listener(t, lb, tg, "TCP", 80)
	// VPC deletion is refused while the load balancer exists.
	if err := f.cp.DeleteVpc(f.ctx, rootCall(elbProvider, "ec2:DeleteVpc"), f.vpc.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("DeleteVpc = %v", err)
	}
	// Deletion protection.
	if _, err := f.cp.ModifyLoadBalancerAttributes(f.ctx, f.elbCall, lb.ARN, []LoadBalancerAttribute{{"deletion_protection.enabled", "true"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.cp.DeleteLoadBalancer(f.ctx, f.elbCall, lb.ARN); errCode(err) != "OperationNotPermitted" {
		t.Fatalf("delete protected = %v", err)
	}
	f.cp.ModifyLoadBalancerAttributes(f.ctx, f.elbCall, lb.ARN, []LoadBalancerAttribute{{"deletion_protection.enabled", "false"}})
	// An endpoint service uses it.
	svc := &cloud.VpcEndpointService{Meta: cloud.Meta{ID: "vpce-svc-0123456789abcdef0", OwnerID: elbProvider, Region: "us-east-1"}, NetworkLoadBalancerARNs: []string{lb.ARN}}
	f.cp.DB().Update(f.ctx, func(tx *store.Tx) error { tx.Put(cloud.KindVpcEndpointService, svc.ID, svc); return nil })
	if err := f.cp.DeleteLoadBalancer(f.ctx, f.elbCall, lb.ARN); errCode(err) != "ResourceInUse" {
		t.Fatalf("delete in use = %v", err)
	}
	f.cp.DB().Update(f.ctx, func(tx *store.Tx) error { tx.Delete(cloud.KindVpcEndpointService, svc.ID); return nil })
	// The consumer cannot delete it (it does not exist for them: success, nothing deleted).
	if err := f.cp.DeleteLoadBalancer(f.ctx, f.consumerElb, lb.ARN); err != nil {
		t.Fatalf("consumer delete = %v", err)
	}
	if err := f.cp.DeleteLoadBalancer(f.ctx, f.elbCall, lb.ARN); err != nil {
		t.Fatal(err)
	}
	f.cp.DB().View(func(tx *store.Tx) error {
		if tx.Count(cloud.KindLoadBalancer) != 0 || tx.Count(cloud.KindListener) != 0 || tx.Count(cloud.KindNetworkInterface) != 0 {
			t.Errorf("left behind: %d lbs, %d listeners, %d enis", tx.Count(cloud.KindLoadBalancer), tx.Count(cloud.KindListener), tx.Count(cloud.KindNetworkInterface))
		}
		g, _ := TargetGroupByARN(tx, tg.ARN)
		if len(g.LoadBalancerARNs) != 0 {
			t.Errorf("target group still attached: %v", g.LoadBalancerARNs)
		}
		return nil
	})
	// Deleting again succeeds, as in AWS.
	if err := f.cp.DeleteLoadBalancer(f.ctx, f.elbCall, lb.ARN); err != nil {
		t.Fatalf("second delete = %v", err)
	}
	if err := f.cp.DeleteLoadBalancer(f.ctx, f.elbCall, "bogus"); errCode(err) != "ValidationError" {
		t.Fatalf("malformed delete = %v", err)
	}
}
