package controllers

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// query asks the resolver one question in a VPC and returns the rcode and
// the answers' data (addresses or PTR targets), sorted.
func query(t *testing.T, r *dns.Resolver, vpcID, name string, qtype uint16) (string, []string) {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	resp := r.Answer(context.Background(), vpcID, m, true)
	var out []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.PTR:
			out = append(out, rr.Ptr)
		}
	}
	slices.Sort(out)
	return mdns.RcodeToString[resp.Rcode], out
}

// setView builds the view of vpcID and installs it in r; it returns the
// endpoints the view publishes.
func setView(t *testing.T, db *store.DB, r *dns.Resolver, vpcID string) map[string]bool {
	t.Helper()
	var (
		view *dns.View
		pub  map[string]bool
		err  error
	)
	db.View(func(tx *store.Tx) error {
		vpc, _ := store.Get[cloud.Vpc](tx, cloud.KindVpc, vpcID)
		view, pub, err = buildView(tx, vpc)
		return nil
	})
	if err != nil {
		t.Fatalf("buildView(%s): %v", vpcID, err)
	}
	r.SetView(vpcID, view)
	return pub
}

// customService creates a provider NLB and an endpoint service with a
// private DNS name, verified.
func customService(t *testing.T, cp *controlplane.ControlPlane, acceptance bool) *cloud.VpcEndpointService {
	t.Helper()
	ctx := context.Background()
	p := root(providerAcct)
	vpc := must(cp.CreateVpc(ctx, p, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
	sub := must(cp.CreateSubnet(ctx, p, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
	lb := must(cp.CreateLoadBalancer(ctx, p, controlplane.CreateLoadBalancerInput{Name: "svc", Type: "network", Scheme: "internal", Subnets: []string{sub.ID}}))(t)
	check(t, cp.LoadBalancerActive(ctx, lb.ARN))
	svc := must(cp.CreateVpcEndpointServiceConfiguration(ctx, p, controlplane.CreateEndpointServiceInput{
		NetworkLoadBalancerARNs: []string{lb.ARN}, AcceptanceRequired: acceptance, PrivateDNSName: "api.example.com"}))(t)
	must(cp.ModifyVpcEndpointServicePermissions(ctx, p, svc.ID, []string{cloud.AccountRootARN(consumerAcct)}, nil))(t)
	check(t, cp.VerifyServicePrivateDNS(ctx, svc.ID, func(context.Context, string) ([]string, error) {
		return []string{svc.PrivateDNSNameConfig.Value}, nil
	}))
	return get[cloud.VpcEndpointService](t, cp.DB(), cloud.KindVpcEndpointService, svc.ID)
}

func TestBuildView(t *testing.T) {
	ctx := context.Background()
	cp, db := newCP(t)
	c := root(consumerAcct)
	res := dns.NewResolver(nil, nil)
	zone, err := PublicZone([]string{region})
	check(t, err)
	res.SetPublicZone(zone)

	// A consumer VPC with hostnames, an instance, and endpoints in two AZs.
	vpc := must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.1.0.0/16"}))(t)
	check(t, cp.ModifyVpcAttribute(ctx, c, vpc.ID, nil, ptr(true)))
	subA := must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.1.1.0/24", AvailabilityZone: "us-east-1a"}))(t).ID
	subB := must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.1.2.0/24", AvailabilityZone: "us-east-1b"}))(t).ID
	inst := must(cp.RunInstances(ctx, c, controlplane.RunInstancesInput{ImageID: "ami-12345678", MinCount: ptr(1), MaxCount: ptr(1), SubnetID: subA}))(t).Instances[0]
	sqsName := cloud.AWSServiceName(region, "sqs")
	sqs := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: vpc.ID, ServiceName: sqsName, SubnetIDs: []string{subA, subB}}))(t)
	svc := customService(t, cp, true)
	custom := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: vpc.ID, ServiceName: svc.ServiceName,
		SubnetIDs: []string{subA}, PrivateDNSEnabled: ptr(true)}))(t)
	if custom.State != cloud.StatePendingAcceptance {
		t.Fatalf("custom endpoint state %s, want pendingAcceptance", custom.State)
	}
	ips := func(ep *cloud.VpcEndpoint) map[string]string { // AZ → IP
		out := map[string]string{}
		for _, id := range ep.NetworkInterfaceIDs {
			e := get[cloud.NetworkInterface](t, db, cloud.KindNetworkInterface, id)
			out[e.AvailabilityZone] = e.PrivateIPAddress
		}
		return out
	}
	sqsIPs, customIPs := ips(sqs), ips(custom)
	names := func(ep *cloud.VpcEndpoint, service string) (regional, zonalA string) {
		regional, err := dns.EndpointRegionalName(ep.ID, ep.DNSSuffix, service, region)
		check(t, err)
		zonalA, err = dns.EndpointZonalName(ep.ID, ep.DNSSuffix, "us-east-1a", service, region)
		check(t, err)
		return regional, zonalA
	}
	sqsRegional, sqsZonalA := names(sqs, sqsName)
	sqsZonalB, err := dns.EndpointZonalName(sqs.ID, sqs.DNSSuffix, "us-east-1b", sqsName, region)
	check(t, err)
	customRegional, customZonal := names(custom, svc.ServiceName)
	sqsPublic, _ := cloud.ServicePublicAddr(region, "sqs")
	sqsPrivate, err := dns.ServicePrivateDNSName(sqsName, region)
	check(t, err)

	// A second VPC: no hostnames, no endpoints.
	plain := must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.2.0.0/16"}))(t)
	plainSub := must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: plain.ID, CidrBlock: "10.2.1.0/24", AvailabilityZone: "us-east-1a"}))(t).ID
	plainInst := must(cp.RunInstances(ctx, c, controlplane.RunInstancesInput{ImageID: "ami-12345678", MinCount: ptr(1), MaxCount: ptr(1), SubnetID: plainSub}))(t).Instances[0]
	if pub := setView(t, db, res, plain.ID); len(pub) != 0 {
		t.Fatalf("plain VPC publishes %v", pub)
	}

	type q struct {
		vpc, name string
		qtype     uint16
		rcode     string
		want      []string
	}
	ptrOf := func(ip string) string { return dns.ReverseName(netip.MustParseAddr(ip)) }
	run := func(t *testing.T, qs []q) {
		t.Helper()
		for _, tc := range qs {
			rcode, got := query(t, res, tc.vpc, tc.name, tc.qtype)
			want := slices.Sorted(slices.Values(tc.want))
			if rcode != tc.rcode || !slices.Equal(got, want) {
				t.Errorf("%s %s in %s = %s %v, want %s %v", mdns.TypeToString[tc.qtype], tc.name, tc.vpc, rcode, got, tc.rcode, want)
			}
		}
	}

	t.Run("instance hostnames", func(t *testing.T) {
		setView(t, db, res, vpc.ID)
		run(t, []q{
			{vpc.ID, inst.PrivateDNSName, mdns.TypeA, "NOERROR", []string{inst.PrivateIPAddress}},
			{vpc.ID, ptrOf(inst.PrivateIPAddress), mdns.TypePTR, "NOERROR", []string{mdns.Fqdn(inst.PrivateDNSName)}},
			{plain.ID, plainInst.PrivateDNSName, mdns.TypeA, "NXDOMAIN", nil},
			{plain.ID, ptrOf(plainInst.PrivateIPAddress), mdns.TypePTR, "NXDOMAIN", nil},
		})
	})

	t.Run("AWS service endpoint", func(t *testing.T) {
		pub := setView(t, db, res, vpc.ID)
		if !pub[sqs.ID] || pub[custom.ID] {
			t.Fatalf("published = %v, want %s only", pub, sqs.ID)
		}
		run(t, []q{
			{vpc.ID, sqsRegional, mdns.TypeA, "NOERROR", []string{sqsIPs["us-east-1a"], sqsIPs["us-east-1b"]}},
			{vpc.ID, sqsZonalA, mdns.TypeA, "NOERROR", []string{sqsIPs["us-east-1a"]}},
			{vpc.ID, sqsZonalB, mdns.TypeA, "NOERROR", []string{sqsIPs["us-east-1b"]}},
			{vpc.ID, sqsPrivate, mdns.TypeA, "NOERROR", []string{sqsIPs["us-east-1a"], sqsIPs["us-east-1b"]}},
			{plain.ID, sqsPrivate, mdns.TypeA, "NOERROR", []string{sqsPublic.String()}},
			{plain.ID, sqsRegional, mdns.TypeA, "NXDOMAIN", nil},
		})
	})

	t.Run("custom endpoint by state", func(t *testing.T) {
		for _, tc := range []struct {
			state     string
			published bool
		}{
			{cloud.StatePendingAcceptance, false},
			{cloud.StatePending, true},
			{cloud.StateAvailable, true},
			{cloud.StateRejected, false},
			{cloud.StateFailed, false},
			{cloud.StateDeleting, false},
		} {
			t.Run(tc.state, func(t *testing.T) {
				mutate(t, db, cloud.KindVpcEndpoint, custom.ID, func(ep *cloud.VpcEndpoint) { ep.State = tc.state })
				pub := setView(t, db, res, vpc.ID)
				if pub[custom.ID] != tc.published {
					t.Fatalf("published[%s] = %v, want %v", custom.ID, pub[custom.ID], tc.published)
				}
				want := q{vpc.ID, customRegional, mdns.TypeA, "NXDOMAIN", nil}
				wantPrivate := q{vpc.ID, "api.example.com", mdns.TypeA, "NXDOMAIN", nil}
				wantZonal := q{vpc.ID, customZonal, mdns.TypeA, "NXDOMAIN", nil}
				if tc.published {
					want.rcode, want.want = "NOERROR", []string{customIPs["us-east-1a"]}
					wantPrivate.rcode, wantPrivate.want = "NOERROR", []string{customIPs["us-east-1a"]}
					wantZonal.rcode, wantZonal.want = "NOERROR", []string{customIPs["us-east-1a"]}
				}
				run(t, []q{want, wantZonal, wantPrivate})
			})
		}
	})

	t.Run("custom private DNS needs verification", func(t *testing.T) {
		mutate(t, db, cloud.KindVpcEndpoint, custom.ID, func(ep *cloud.VpcEndpoint) { ep.State = cloud.StateAvailable })
		for _, tc := range []struct {
			state string
			want  []string
		}{
			{"verified", []string{customIPs["us-east-1a"]}},
			{"pendingVerification", nil},
			{"failed", nil},
		} {
			t.Run(tc.state, func(t *testing.T) {
				mutate(t, db, cloud.KindVpcEndpointService, svc.ID, func(s *cloud.VpcEndpointService) {
					conf := *s.PrivateDNSNameConfig
					conf.State = tc.state
					s.PrivateDNSNameConfig = &conf
				})
				setView(t, db, res, vpc.ID)
				rcode := "NOERROR"
				if tc.want == nil {
					rcode = "NXDOMAIN"
				}
				run(t, []q{
					{vpc.ID, "api.example.com", mdns.TypeA, rcode, tc.want},
					{vpc.ID, customRegional, mdns.TypeA, "NOERROR", []string{customIPs["us-east-1a"]}},
				})
			})
		}
	})
}

func TestPublicZone(t *testing.T) {
	zone, err := PublicZone([]string{region, "eu-west-1"})
	check(t, err)
	res := dns.NewResolver(nil, nil)
	res.SetPublicZone(zone)
	res.SetView("vpc-1", must(dns.NewViewBuilder().Build())(t))
	for _, tc := range []struct{ region, short string }{
		{region, "sqs"}, {region, "s3"}, {"eu-west-1", "sqs"}, {"eu-west-1", "dynamodb"},
	} {
		t.Run(tc.short+"."+tc.region, func(t *testing.T) {
			addr, ok := cloud.ServicePublicAddr(tc.region, tc.short)
			if !ok {
				t.Fatalf("no public address for %s in %s", tc.short, tc.region)
			}
			name, err := dns.ServicePrivateDNSName(cloud.AWSServiceName(tc.region, tc.short), tc.region)
			check(t, err)
			rcode, got := query(t, res, "vpc-1", name, mdns.TypeA)
			if rcode != "NOERROR" || !slices.Equal(got, []string{addr.String()}) {
				t.Errorf("%s = %s %v, want %s", name, rcode, got, addr)
			}
		})
	}
}
