package controllers

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/dataplane"
)

// forwardDP is a loopback data plane that also forwards in the "kernel":
// it records what it was told.
type forwardDP struct {
	*loopDP
	mu      sync.Mutex
	refuse  error                           // ApplyForwarding fails with it when set
	applied map[string]dataplane.Forwarding // by endpoint interface
	removed map[string]int
}

func (d *forwardDP) ApplyForwarding(_ context.Context, f dataplane.Forwarding) error {
	if err := f.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refuse != nil {
		return d.refuse
	}
	d.applied[f.ENI] = f
	return nil
}

func (d *forwardDP) RemoveForwarding(_ context.Context, eni string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.applied, eni)
	d.removed[eni]++
	return nil
}

// forwarded returns the targets the kernel forwards port to on eni, and the
// load balancer interface it leaves from; ok is false when the port is not
// forwarded.
func (d *forwardDP) forwarded(eni, proto string, port uint16) (targets []string, node string, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.applied[eni].Ports {
		if p.Port == port && p.Protocol == proto {
			for _, t := range p.Targets {
				targets = append(targets, t.String())
			}
			slices.Sort(targets)
			return targets, p.Node, true
		}
	}
	return nil, "", false
}

// TestEndpointKernelForwarding: plain TCP and UDP listeners are forwarded
// by the kernel to the load balancer's candidates in the endpoint's zone
// (and all zones with cross-zone on); TCP to PROXY v2 target groups stays
// with the relay; rejecting removes the forwarding once.
func TestEndpointKernelForwarding(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp, db := newCP(t)
	p, c := root(providerAcct), root(consumerAcct)
	dp := &forwardDP{loopDP: newLoopDP(), applied: map[string]dataplane.Forwarding{}, removed: map[string]int{}}

	pvpc := must(cp.CreateVpc(ctx, p, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
	subA := must(cp.CreateSubnet(ctx, p, controlplane.CreateSubnetInput{VpcID: pvpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
	subB := must(cp.CreateSubnet(ctx, p, controlplane.CreateSubnetInput{VpcID: pvpc.ID, CidrBlock: "10.0.2.0/24", AvailabilityZone: "us-east-1b"}))(t)
	lb := must(cp.CreateLoadBalancer(ctx, p, controlplane.CreateLoadBalancerInput{Name: "nlb", Type: "network", Scheme: "internal", Subnets: []string{subA.ID, subB.ID}}))(t)
	check(t, cp.LoadBalancerActive(ctx, lb.ARN))
	plain := must(cp.CreateTargetGroup(ctx, p, controlplane.CreateTargetGroupInput{Name: "plain", Protocol: "TCP", Port: ptr(8080), VpcID: pvpc.ID, TargetType: "ip"}))(t)
	check(t, cp.RegisterTargets(ctx, p, plain.ARN, []controlplane.TargetSpec{{ID: "10.0.1.50"}, {ID: "10.0.2.50"}}))
	withHeader := must(cp.CreateTargetGroup(ctx, p, controlplane.CreateTargetGroupInput{Name: "pp2", Protocol: "TCP", Port: ptr(8443), VpcID: pvpc.ID, TargetType: "ip"}))(t)
	check(t, cp.RegisterTargets(ctx, p, withHeader.ARN, []controlplane.TargetSpec{{ID: "10.0.1.51"}}))
	must(cp.ModifyTargetGroupAttributes(ctx, p, withHeader.ARN, []controlplane.LoadBalancerAttribute{{Key: "proxy_protocol_v2.enabled", Value: "true"}}))(t)
	dns := must(cp.CreateTargetGroup(ctx, p, controlplane.CreateTargetGroupInput{Name: "dns", Protocol: "UDP", Port: ptr(53), VpcID: pvpc.ID, TargetType: "ip"}))(t)
	check(t, cp.RegisterTargets(ctx, p, dns.ARN, []controlplane.TargetSpec{{ID: "10.0.1.60"}}))
	for _, l := range []struct {
		protocol string
		port     int
		tg       string
	}{{"TCP", 80, plain.ARN}, {"TCP", 443, withHeader.ARN}, {"UDP", 53, dns.ARN}} {
		must(cp.CreateListener(ctx, p, controlplane.CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: l.protocol, Port: ptr(l.port),
			DefaultActions: []controlplane.ListenerAction{{Type: "forward", TargetGroupARN: l.tg}}}))(t)
	}
	svc := must(cp.CreateVpcEndpointServiceConfiguration(ctx, p, controlplane.CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{lb.ARN}}))(t)
	must(cp.ModifyVpcEndpointServicePermissions(ctx, p, svc.ID, []string{cloud.AccountRootARN(consumerAcct)}, nil))(t)

	cvpc, csub := consumerNet(t, cp) // us-east-1a
	ep := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: cvpc, ServiceName: svc.ServiceName, SubnetIDs: []string{csub}}))(t)
	eni := ep.NetworkInterfaceIDs[0]
	nodeA := lb.AZs[0].NetworkInterfaceID
	for _, az := range lb.AZs {
		if az.ZoneName == "us-east-1a" {
			nodeA = az.NetworkInterfaceID
		}
	}

	r := &Endpoints{DB: db, CP: cp, DP: dp, Life: ctx}
	must(r.Reconcile(ctx, ep.ID))(t)
	if got := get[cloud.VpcEndpoint](t, db, cloud.KindVpcEndpoint, ep.ID).State; got != cloud.StateAvailable {
		t.Fatalf("endpoint %s, want available", got)
	}
	relayed := func() []int {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []int
		for k := range r.listeners {
			if k.endpointID == ep.ID {
				out = append(out, k.port)
			}
		}
		slices.Sort(out)
		return out
	}
	expect := func(step string, wantTargets []string, wantRelayed []int) {
		t.Helper()
		targets, node, ok := dp.forwarded(eni, "tcp", 80)
		if wantTargets == nil {
			if ok {
				t.Fatalf("%s: port 80 forwarded to %v, want not forwarded", step, targets)
			}
		} else if !ok || !slices.Equal(targets, wantTargets) || node != nodeA {
			t.Fatalf("%s: port 80 forwarded to %v via %s (forwarded %v), want %v via %s", step, targets, node, ok, wantTargets, nodeA)
		}
		if _, _, ok := dp.forwarded(eni, "tcp", 443); ok {
			t.Fatalf("%s: the PROXY v2 listener is forwarded by the kernel", step)
		}
		if got := relayed(); !slices.Equal(got, wantRelayed) {
			t.Fatalf("%s: relayed TCP ports %v, want %v", step, got, wantRelayed)
		}
	}
	// No health yet: fail open within the endpoint's zone.
	expect("initial", []string{"10.0.1.50:8080"}, []int{443})
	if targets, _, ok := dp.forwarded(eni, "udp", 53); !ok || !slices.Equal(targets, []string{"10.0.1.60:53"}) {
		t.Fatalf("UDP/53 forwarded to %v (%v), want 10.0.1.60:53", targets, ok)
	}

	check(t, cp.SetTargetHealth(ctx, plain.ARN, "10.0.1.50", 8080, cloud.TargetHealth{State: "unhealthy"}))
	check(t, cp.SetTargetHealth(ctx, plain.ARN, "10.0.2.50", 8080, cloud.TargetHealth{State: "healthy"}))
	must(r.Reconcile(ctx, everyKey))(t)
	expect("zone unhealthy, no cross-zone", []string{"10.0.1.50:8080"}, []int{443})

	must(cp.ModifyTargetGroupAttributes(ctx, p, plain.ARN, []controlplane.LoadBalancerAttribute{{Key: "load_balancing.cross_zone.enabled", Value: "true"}}))(t)
	must(r.Reconcile(ctx, everyKey))(t)
	expect("cross-zone", []string{"10.0.2.50:8080"}, []int{443})

	check(t, cp.DeregisterTargets(ctx, p, plain.ARN, []controlplane.TargetSpec{{ID: "10.0.1.50"}, {ID: "10.0.2.50"}}))
	must(r.Reconcile(ctx, everyKey))(t)
	// Without targets the port is refused, not relayed.
	expect("no targets", nil, []int{443})

	must(cp.RejectVpcEndpointConnections(ctx, p, svc.ID, []string{ep.ID}))(t)
	must(r.Reconcile(ctx, ep.ID))(t)
	must(r.Reconcile(ctx, everyKey))(t)
	dp.mu.Lock()
	removed, left := dp.removed[eni], len(dp.applied)
	dp.mu.Unlock()
	if removed != 1 || left != 0 {
		t.Fatalf("after reject: RemoveForwarding called %d times, %d interfaces still forwarded; want once and none", removed, left)
	}
	if got := relayed(); len(got) != 0 {
		t.Fatalf("relayed ports after reject: %v", got)
	}
}

// A data plane that cannot forward in the kernel still carries the traffic:
// the relay takes the ports.
func TestEndpointRelaysWhenKernelForwardingFails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp, db := newCP(t)
	c := root(consumerAcct)
	dp := &forwardDP{loopDP: newLoopDP(), applied: map[string]dataplane.Forwarding{}, removed: map[string]int{}, refuse: errors.New("no NAT in this kernel")}
	tcpEcho, _ := echoServers(t)

	_, _, svc := oneTargetService(t, cp, "TCP")
	dp.Serve("tcp", "10.0.1.50:7000", tcpEcho)
	cvpc, csub := consumerNet(t, cp)
	ep := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: cvpc, ServiceName: svc.ServiceName, SubnetIDs: []string{csub}}))(t)
	epIP := get[cloud.NetworkInterface](t, db, cloud.KindNetworkInterface, ep.NetworkInterfaceIDs[0]).PrivateIPAddress

	r := &Endpoints{DB: db, CP: cp, DP: dp, Life: ctx}
	must(r.Reconcile(ctx, ep.ID))(t)
	if got := get[cloud.VpcEndpoint](t, db, cloud.KindVpcEndpoint, ep.ID).State; got != cloud.StateAvailable {
		t.Fatalf("endpoint %s, want available", got)
	}
	if got, err := askTCP(dp.Real("tcp", net.JoinHostPort(epIP, "80")), "hello"); err != nil || got != "tcp hello" {
		t.Fatalf("through the relay = %q, %v", got, err)
	}
}
