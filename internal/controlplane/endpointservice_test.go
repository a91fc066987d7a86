package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

const (
	plProvider = "111111111111"
	plConsumer = "222222222222"
	plOutsider = "333333333333"
)

// plFixture is a provider VPC with an NLB (zones a, b) and a GWLB (zone a),
// and a consumer VPC with subnets in zones a, b and c.
type plFixture struct {
	cp                 *ControlPlane
	provVpc, consVpc   *cloud.Vpc
	provSubnets        []string // a, b
	consSubnets        []string // a, b, c
	consSubnetA2       string   // a second subnet in zone a
	nlb, nlb2, gwlb    *cloud.LoadBalancer
	otherAccountLB     *cloud.LoadBalancer
	provCall, consCall func(action string) *Call
}

func plCall(account string) func(string) *Call {
	return func(action string) *Call { return rootCall(account, "ec2:"+action) }
}

func plSubnet(t *testing.T, cp *ControlPlane, account, vpcID, cidr, az string) string {
	t.Helper()
	s, err := cp.CreateSubnet(context.Background(), rootCall(account, "ec2:CreateSubnet"), CreateSubnetInput{VpcID: vpcID, CidrBlock: cidr, AvailabilityZone: az})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// plPutLB stores a load balancer record directly (the ELBv2 family's
// create path is tested on its own).
func plPutLB(t *testing.T, cp *ControlPlane, account, vpcID, typ, name string, zones ...string) *cloud.LoadBalancer {
	t.Helper()
	prefix := map[string]string{"network": "net", "gateway": "gwy"}[typ]
	id := prefix + "/" + name + "/" + cloud.RandomToken(16)
	lb := &cloud.LoadBalancer{
		Meta: cloud.Meta{ID: id, OwnerID: account, Region: "us-east-1"},
		ARN:  "arn:aws:elasticloadbalancing:us-east-1:" + account + ":loadbalancer/" + id,
		Name: name, Type: typ, Scheme: "internal", VpcID: vpcID, State: "active", IPAddressType: "ipv4",
	}
	for _, z := range zones {
		lb.AZs = append(lb.AZs, cloud.LoadBalancerAZ{ZoneName: z})
	}
	if err := cp.DB().Update(context.Background(), func(tx *store.Tx) error {
		tx.Put(cloud.KindLoadBalancer, id, lb)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return lb
}

func newPLFixture(t *testing.T) *plFixture {
	t.Helper()
	cp := newTestCP(t)
	f := &plFixture{cp: cp, provCall: plCall(plProvider), consCall: plCall(plConsumer)}
	f.provVpc = mustVpc(t, cp, plProvider, "10.0.0.0/16")
	f.consVpc = mustVpc(t, cp, plConsumer, "10.0.0.0/16") // overlapping on purpose
	f.provSubnets = []string{
		plSubnet(t, cp, plProvider, f.provVpc.ID, "10.0.1.0/24", "us-east-1a"),
		plSubnet(t, cp, plProvider, f.provVpc.ID, "10.0.2.0/24", "us-east-1b"),
	}
	f.consSubnets = []string{
		plSubnet(t, cp, plConsumer, f.consVpc.ID, "10.0.1.0/24", "us-east-1a"),
		plSubnet(t, cp, plConsumer, f.consVpc.ID, "10.0.2.0/24", "us-east-1b"),
		plSubnet(t, cp, plConsumer, f.consVpc.ID, "10.0.3.0/24", "us-east-1c"),
	}
	f.consSubnetA2 = plSubnet(t, cp, plConsumer, f.consVpc.ID, "10.0.4.0/24", "us-east-1a")
	f.nlb = plPutLB(t, cp, plProvider, f.provVpc.ID, "network", "svc", "us-east-1a", "us-east-1b")
	f.nlb2 = plPutLB(t, cp, plProvider, f.provVpc.ID, "network", "svc2", "us-east-1a")
	f.gwlb = plPutLB(t, cp, plProvider, f.provVpc.ID, "gateway", "fw", "us-east-1a")
	f.otherAccountLB = plPutLB(t, cp, plOutsider, f.provVpc.ID, "network", "theirs", "us-east-1a")
	return f
}

func (f *plFixture) service(t *testing.T, acceptance bool, privateDNS string) *cloud.VpcEndpointService {
	t.Helper()
	s, err := f.cp.CreateVpcEndpointServiceConfiguration(context.Background(), f.provCall("CreateVpcEndpointServiceConfiguration"),
		CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, AcceptanceRequired: acceptance, PrivateDNSName: privateDNS})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *plFixture) allow(t *testing.T, serviceID string, principals ...string) {
	t.Helper()
	if _, err := f.cp.ModifyVpcEndpointServicePermissions(context.Background(), f.provCall("ModifyVpcEndpointServicePermissions"), serviceID, principals, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCreateVpcEndpointServiceConfiguration(t *testing.T) {
	f := newPLFixture(t)
	tests := []struct {
		name     string
		in       func() CreateEndpointServiceInput
		wantCode string
	}{
		{"no load balancer", func() CreateEndpointServiceInput { return CreateEndpointServiceInput{} }, "InvalidParameter"},
		{"both kinds", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, GatewayLoadBalancerARNs: []string{f.gwlb.ARN}}
		}, "InvalidParameter"},
		{"unknown ARN", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{"arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/x/0123456789abcdef"}}
		}, "InvalidParameter"},
		{"another account's NLB", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.otherAccountLB.ARN}}
		}, "InvalidParameter"},
		{"GWLB given as NLB", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.gwlb.ARN}}
		}, "InvalidParameter"},
		{"ipv6", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, SupportedIPAddressTypes: []string{"ipv6"}}
		}, "InvalidParameter"},
		{"bad ip type", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, SupportedIPAddressTypes: []string{"ipx"}}
		}, "InvalidParameterValue"},
		{"unconfigured region", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, SupportedRegions: []string{"eu-west-1"}}
		}, "InvalidParameter"},
		{"bad private DNS name", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, PrivateDNSName: "not a name"}
		}, "InvalidParameterValue"},
		{"reserved private DNS name", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, PrivateDNSName: "sqs.us-east-1.amazonaws.com"}
		}, "InvalidParameter"},
		{"private DNS on GWLB", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{GatewayLoadBalancerARNs: []string{f.gwlb.ARN}, PrivateDNSName: "svc.example.com"}
		}, "InvalidParameter"},
		{"ok", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}, PrivateDNSName: "svc.example.com", SupportedIPAddressTypes: []string{"ipv4"}}
		}, ""},
		{"NLB already used", func() CreateEndpointServiceInput {
			return CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{f.nlb.ARN}}
		}, "InvalidParameter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := f.cp.CreateVpcEndpointServiceConfiguration(context.Background(), f.provCall("CreateVpcEndpointServiceConfiguration"), tc.in())
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.wantCode)
			}
			if err != nil {
				return
			}
			if !strings.HasPrefix(s.ID, "vpce-svc-") || len(s.ID) != len("vpce-svc-")+17 {
				t.Errorf("id = %s", s.ID)
			}
			if s.ServiceName != "com.amazonaws.vpce.us-east-1."+s.ID || s.ServiceType != "Interface" || s.ServiceState != "Available" {
				t.Errorf("service = %+v", s)
			}
			if got := strings.Join(s.AvailabilityZones, ","); got != "us-east-1a,us-east-1b" {
				t.Errorf("zones = %s", got)
			}
			if len(s.BaseEndpointDNSNames) != 1 || s.BaseEndpointDNSNames[0] != s.ID+".us-east-1.vpce.amazonaws.com" {
				t.Errorf("base DNS = %v", s.BaseEndpointDNSNames)
			}
			c := s.PrivateDNSNameConfig
			if c == nil || c.State != "pendingVerification" || c.Type != "TXT" || !strings.HasPrefix(c.Name, "_") || !strings.HasPrefix(c.Value, "vpce:") || len(c.Value) != 25 {
				t.Errorf("private DNS config = %+v", c)
			}
			if s.PayerResponsibility != "ServiceOwner" || s.ManagesVpcEndpoints || s.AcceptanceRequired {
				t.Errorf("defaults = %+v", s)
			}
		})
	}
}

func TestEndpointServiceGWLBAndIdempotency(t *testing.T) {
	f := newPLFixture(t)
	c := f.provCall("CreateVpcEndpointServiceConfiguration")
	in := CreateEndpointServiceInput{GatewayLoadBalancerARNs: []string{f.gwlb.ARN}, ClientToken: "tok-1"}
	a, err := f.cp.CreateVpcEndpointServiceConfiguration(context.Background(), c, in)
	if err != nil {
		t.Fatal(err)
	}
	if a.ServiceType != "GatewayLoadBalancer" || len(a.GatewayLoadBalancerARNs) != 1 {
		t.Fatalf("service = %+v", a)
	}
	b, err := f.cp.CreateVpcEndpointServiceConfiguration(context.Background(), c, in)
	if err != nil || b.ID != a.ID {
		t.Fatalf("retry = %v, %v; want the same service %s", b, err, a.ID)
	}
	in.AcceptanceRequired = true
	_, err = f.cp.CreateVpcEndpointServiceConfiguration(context.Background(), c, in)
	if errCode(err) != "IdempotentParameterMismatch" {
		t.Fatalf("mismatch = %v", err)
	}
}

func TestModifyVpcEndpointServiceConfiguration(t *testing.T) {
	f := newPLFixture(t)
	s := f.service(t, false, "")
	call := f.provCall("ModifyVpcEndpointServiceConfiguration")
	yes := true
	tests := []struct {
		name     string
		in       ModifyEndpointServiceInput
		wantCode string
		check    func(t *testing.T, s *cloud.VpcEndpointService)
	}{
		{"unknown service", ModifyEndpointServiceInput{ServiceID: "vpce-svc-00000000000000000"}, "InvalidVpcEndpointServiceId.NotFound", nil},
		{"add NLB", ModifyEndpointServiceInput{ServiceID: s.ID, AddNetworkLoadBalancerARNs: []string{f.nlb2.ARN}, AcceptanceRequired: &yes}, "", func(t *testing.T, s *cloud.VpcEndpointService) {
			if len(s.NetworkLoadBalancerARNs) != 2 || !s.AcceptanceRequired {
				t.Errorf("after add = %+v", s)
			}
		}},
		{"GWLB on an NLB service", ModifyEndpointServiceInput{ServiceID: s.ID, AddGatewayLoadBalancerARNs: []string{f.gwlb.ARN}}, "InvalidParameter", nil},
		{"remove first NLB", ModifyEndpointServiceInput{ServiceID: s.ID, RemoveNetworkLoadBalancerARNs: []string{f.nlb.ARN}}, "", func(t *testing.T, s *cloud.VpcEndpointService) {
			if strings.Join(s.AvailabilityZones, ",") != "us-east-1a" {
				t.Errorf("zones after remove = %v", s.AvailabilityZones)
			}
		}},
		{"remove the last NLB", ModifyEndpointServiceInput{ServiceID: s.ID, RemoveNetworkLoadBalancerARNs: []string{f.nlb2.ARN}}, "InvalidParameter", nil},
		{"set private DNS", ModifyEndpointServiceInput{ServiceID: s.ID, PrivateDNSName: "api.example.com"}, "", func(t *testing.T, s *cloud.VpcEndpointService) {
			if s.PrivateDNSName != "api.example.com" || s.PrivateDNSNameConfig == nil || s.PrivateDNSNameConfig.State != "pendingVerification" {
				t.Errorf("private DNS = %+v", s)
			}
		}},
		{"both set and remove", ModifyEndpointServiceInput{ServiceID: s.ID, PrivateDNSName: "a.example.com", RemovePrivateDNSName: true}, "InvalidParameterCombination", nil},
		{"remove private DNS", ModifyEndpointServiceInput{ServiceID: s.ID, RemovePrivateDNSName: true}, "", func(t *testing.T, s *cloud.VpcEndpointService) {
			if s.PrivateDNSName != "" || s.PrivateDNSNameConfig != nil {
				t.Errorf("private DNS = %+v", s)
			}
		}},
		{"remove only IP type", ModifyEndpointServiceInput{ServiceID: s.ID, RemoveSupportedIPAddressTypes: []string{"ipv4"}}, "InvalidParameter", nil},
		{"remove home region", ModifyEndpointServiceInput{ServiceID: s.ID, RemoveSupportedRegions: []string{"us-east-1"}}, "InvalidParameter", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.cp.ModifyVpcEndpointServiceConfiguration(context.Background(), call, tc.in)
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.wantCode)
			}
			if tc.check != nil {
				got, _, err := f.cp.DescribeVpcEndpointServiceConfigurations(context.Background(), f.provCall("DescribeVpcEndpointServiceConfigurations"), DescribeInput{IDs: []string{s.ID}})
				if err != nil || len(got) != 1 {
					t.Fatal(got, err)
				}
				tc.check(t, got[0])
			}
		})
	}
	// Another account cannot see or change it.
	err := f.cp.ModifyVpcEndpointServiceConfiguration(context.Background(), f.consCall("ModifyVpcEndpointServiceConfiguration"), ModifyEndpointServiceInput{ServiceID: s.ID, AcceptanceRequired: &yes})
	if errCode(err) != "InvalidVpcEndpointServiceId.NotFound" {
		t.Fatalf("consumer modify = %v", err)
	}
}

func TestPrincipalTypes(t *testing.T) {
	tests := []struct{ principal, want string }{
		{"*", "All"},
		{"arn:aws:iam::222222222222:root", "Account"},
		{"arn:aws:iam::222222222222:user/alice", "User"},
		{"arn:aws:iam::222222222222:role/path/app", "Role"},
		{"ec2.amazonaws.com", "Service"},
		{"arn:aws:organizations::111111111111:organization/o-a1b2c3d4e5", "OrganizationUnit"},
		{"222222222222", ""},
		{"arn:aws:iam::2222:root", ""},
		{"arn:aws:s3:::bucket", ""},
		{"arn:aws:iam::222222222222:user/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.principal, func(t *testing.T) {
			got, ok := principalType(tc.principal)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("principalType(%q) = %q, %v; want %q", tc.principal, got, ok, tc.want)
			}
		})
	}
}

func TestServiceVisibility(t *testing.T) {
	f := newPLFixture(t)
	s := f.service(t, true, "")
	ctx := context.Background()
	describe := func(c *Call) error {
		_, _, _, err := f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{ServiceNames: []string{s.ServiceName}})
		return err
	}
	user := func(account, name string) *Call {
		return &Call{Caller: &cloud.Principal{AccountID: account, Type: cloud.PrincipalUser, Name: name, ARN: "arn:aws:iam::" + account + ":user/" + name}, Region: "us-east-1", Action: "ec2:DescribeVpcEndpointServices"}
	}
	f.cp.authz = plAllowAll{} // IAM users may call; visibility is the rule under test
	if err := describe(f.provCall("DescribeVpcEndpointServices")); err != nil {
		t.Fatalf("owner: %v", err)
	}
	if errCode(describe(f.consCall("DescribeVpcEndpointServices"))) != "InvalidServiceName" {
		t.Fatal("consumer sees a service it is not allowed to use")
	}
	_, err := f.cp.ModifyVpcEndpointServicePermissions(ctx, f.provCall("ModifyVpcEndpointServicePermissions"), s.ID, []string{"222222222222"}, nil)
	if errCode(err) != "InvalidPrincipal" {
		t.Fatalf("bare account ID: %v", err)
	}
	f.allow(t, s.ID, "arn:aws:iam::222222222222:user/alice")
	if err := describe(user(plConsumer, "alice")); err != nil {
		t.Fatalf("allowed user: %v", err)
	}
	if errCode(describe(user(plConsumer, "bob"))) != "InvalidServiceName" {
		t.Fatal("other user of the allowed account sees the service")
	}
	f.allow(t, s.ID, cloud.AccountRootARN(plConsumer))
	if err := describe(f.consCall("DescribeVpcEndpointServices")); err != nil {
		t.Fatalf("allowed account: %v", err)
	}
	if err := describe(user(plConsumer, "bob")); err != nil {
		t.Fatalf("user of an allowed account root: %v", err)
	}
	if errCode(describe(plCall(plOutsider)("DescribeVpcEndpointServices"))) != "InvalidServiceName" {
		t.Fatal("outsider sees the service")
	}
	perms, _, err := f.cp.DescribeVpcEndpointServicePermissions(ctx, f.provCall("DescribeVpcEndpointServicePermissions"), s.ID, []cloud.Filter{{Name: "principal-type", Values: []string{"Account"}}}, Page{})
	if err != nil || len(perms) != 1 || perms[0].Principal != cloud.AccountRootARN(plConsumer) || !strings.HasPrefix(perms[0].ID, "vpce-svc-perm-") {
		t.Fatalf("permissions = %v, %v", perms, err)
	}
	// Adding again keeps the entry; "*" admits everyone.
	added, err := f.cp.ModifyVpcEndpointServicePermissions(ctx, f.provCall("ModifyVpcEndpointServicePermissions"), s.ID, []string{cloud.AccountRootARN(plConsumer), "*"}, nil)
	if err != nil || len(added) != 2 || added[0].ID != perms[0].ID {
		t.Fatalf("added = %v, %v", added, err)
	}
	if err := describe(plCall(plOutsider)("DescribeVpcEndpointServices")); err != nil {
		t.Fatalf("outsider with *: %v", err)
	}
	// The consumer cannot read the permissions.
	_, _, err = f.cp.DescribeVpcEndpointServicePermissions(ctx, f.consCall("DescribeVpcEndpointServicePermissions"), s.ID, nil, Page{})
	if errCode(err) != "InvalidVpcEndpointServiceId.NotFound" {
		t.Fatalf("consumer reads permissions: %v", err)
	}
}

func TestDescribeVpcEndpointServicesCatalog(t *testing.T) {
	f := newPLFixture(t)
	s := f.service(t, false, "")
	f.allow(t, s.ID, cloud.AccountRootARN(plConsumer))
	ctx := context.Background()
	c := f.consCall("DescribeVpcEndpointServices")
	names, rows, _, err := f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*ServiceDetail{}
	for _, d := range rows {
		byKey[d.ServiceName+"/"+d.ServiceType] = d
	}
	if len(names) != len(cloud.AWSServices())+1 {
		t.Errorf("names = %d, want %d", len(names), len(cloud.AWSServices())+1)
	}
	sqs := byKey["com.amazonaws.us-east-1.sqs/Interface"]
	if sqs == nil || sqs.Owner != "amazon" || sqs.PrivateDNSName != "sqs.us-east-1.amazonaws.com" || sqs.BaseEndpointDNSNames[0] != "sqs.us-east-1.vpce.amazonaws.com" ||
		!sqs.VpcEndpointPolicySupported || sqs.PrivateDNSNameVerificationState != "verified" || len(sqs.AvailabilityZones) != 3 {
		t.Errorf("sqs = %+v", sqs)
	}
	s3i, s3g := byKey["com.amazonaws.us-east-1.s3/Interface"], byKey["com.amazonaws.us-east-1.s3/Gateway"]
	if s3i == nil || s3g == nil || s3i.PrivateDNSName != "*.s3.us-east-1.amazonaws.com" || s3g.PrivateDNSName != "" {
		t.Errorf("s3 = %+v / %+v", s3i, s3g)
	}
	custom := byKey[s.ServiceName+"/Interface"]
	if custom == nil || custom.Owner != plProvider || custom.ServiceID != s.ID || custom.VpcEndpointPolicySupported || custom.Tags != nil {
		t.Errorf("custom = %+v", custom)
	}
	_, rows, _, err = f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{Filters: []cloud.Filter{{Name: "service-type", Values: []string{"Gateway"}}}})
	if err != nil || len(rows) != 2 {
		t.Errorf("gateway services = %d, %v", len(rows), err)
	}
	_, rows, _, err = f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{Filters: []cloud.Filter{{Name: "owner", Values: []string{plProvider}}}})
	if err != nil || len(rows) != 1 {
		t.Errorf("provider's services = %d, %v", len(rows), err)
	}
	// Pagination walks every row once.
	seen, token := 0, ""
	for i := 0; i < 50; i++ {
		max := 5
		_, page, next, err := f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{Page: Page{MaxResults: &max, NextToken: token}})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page)
		if token = next; token == "" {
			break
		}
	}
	_, all, _, _ := f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{})
	if seen != len(all) {
		t.Errorf("paginated %d rows, want %d", seen, len(all))
	}
	_, _, _, err = f.cp.DescribeVpcEndpointServices(ctx, c, DescribeEndpointServicesInput{ServiceNames: []string{"com.amazonaws.us-east-1.nosuch"}})
	if errCode(err) != "InvalidServiceName" {
		t.Errorf("unknown name: %v", err)
	}
}

func TestPrivateDNSVerification(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		lookup  func(s *cloud.VpcEndpointService) func(context.Context, string) ([]string, error)
		want    string
		wantErr bool
	}{
		{"verified", func(s *cloud.VpcEndpointService) func(context.Context, string) ([]string, error) {
			return func(_ context.Context, name string) ([]string, error) {
				if name != s.PrivateDNSNameConfig.Name+".example.com" {
					return nil, fmt.Errorf("lookup %s: %w", name, dns.ErrNXDomain)
				}
				return []string{"other", s.PrivateDNSNameConfig.Value}, nil
			}
		}, "verified", false},
		{"wrong value", func(s *cloud.VpcEndpointService) func(context.Context, string) ([]string, error) {
			return func(context.Context, string) ([]string, error) { return []string{"vpce:nope"}, nil }
		}, "failed", false},
		{"no such name", func(s *cloud.VpcEndpointService) func(context.Context, string) ([]string, error) {
			return func(context.Context, string) ([]string, error) { return nil, dns.ErrNXDomain }
		}, "failed", false},
		{"server failure retries", func(s *cloud.VpcEndpointService) func(context.Context, string) ([]string, error) {
			return func(context.Context, string) ([]string, error) { return nil, dns.ErrServFail }
		}, "pendingVerification", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lb := plPutLB(t, f.cp, plProvider, f.provVpc.ID, "network", fmt.Sprintf("v%d", i), "us-east-1a")
			s, err := f.cp.CreateVpcEndpointServiceConfiguration(ctx, f.provCall("CreateVpcEndpointServiceConfiguration"),
				CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{lb.ARN}, PrivateDNSName: "*.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			err = f.cp.VerifyServicePrivateDNS(ctx, s.ID, tc.lookup(s))
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, dns.ErrServFail)) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			got, _, _ := f.cp.DescribeVpcEndpointServiceConfigurations(ctx, f.provCall("DescribeVpcEndpointServiceConfigurations"), DescribeInput{IDs: []string{s.ID}})
			if st := got[0].PrivateDNSNameConfig.State; st != tc.want {
				t.Fatalf("state = %s, want %s", st, tc.want)
			}
			if tc.want == "failed" {
				if err := f.cp.StartVpcEndpointServicePrivateDnsVerification(ctx, f.provCall("StartVpcEndpointServicePrivateDnsVerification"), s.ID); err != nil {
					t.Fatal(err)
				}
				got, _, _ = f.cp.DescribeVpcEndpointServiceConfigurations(ctx, f.provCall("DescribeVpcEndpointServiceConfigurations"), DescribeInput{IDs: []string{s.ID}})
				if st := got[0].PrivateDNSNameConfig.State; st != "pendingVerification" {
					t.Fatalf("after restart state = %s", st)
				}
			}
		})
	}
	err := f.cp.StartVpcEndpointServicePrivateDnsVerification(ctx, f.consCall("StartVpcEndpointServicePrivateDnsVerification"), "vpce-svc-00000000000000000")
	if errCode(err) != "InvalidVpcEndpointServiceId.NotFound" {
		t.Fatalf("unknown service: %v", err)
	}
}

func TestDeleteVpcEndpointServiceConfigurations(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	s := f.service(t, true, "")
	f.allow(t, s.ID, cloud.AccountRootARN(plConsumer))
	ep := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: s.ServiceName, SubnetIDs: f.consSubnets[:1]})
	del := func() []Unsuccessful {
		failed, err := f.cp.DeleteVpcEndpointServiceConfigurations(ctx, f.provCall("DeleteVpcEndpointServiceConfigurations"), []string{s.ID, "vpce-svc-00000000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		return failed
	}
	failed := del()
	if len(failed) != 2 || failed[0].Code != "ExistingVpcEndpointConnections" || failed[1].Code != "InvalidVpcEndpointServiceId.NotFound" {
		t.Fatalf("unsuccessful = %+v", failed)
	}
	if _, err := f.cp.RejectVpcEndpointConnections(ctx, f.provCall("RejectVpcEndpointConnections"), s.ID, []string{ep.ID}); err != nil {
		t.Fatal(err)
	}
	if failed := del(); len(failed) != 1 {
		t.Fatalf("after reject unsuccessful = %+v", failed)
	}
	got, _, err := f.cp.DescribeVpcEndpointServiceConfigurations(ctx, f.provCall("DescribeVpcEndpointServiceConfigurations"), DescribeInput{})
	if err != nil || len(got) != 0 {
		t.Fatalf("services left = %v, %v", got, err)
	}
}

// plAllowAll allows every call (tests of rules other than IAM's).
type plAllowAll struct{}

func (plAllowAll) Authorize(context.Context, *cloud.Principal, string, string) error { return nil }
