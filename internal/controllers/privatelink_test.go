package controllers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// echoServers answer on loopback: TCP lines come back as "tcp <line>",
// UDP datagrams as "udp <payload>".
func echoServers(t *testing.T) (tcpAddr, udpAddr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, err)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	check(t, err)
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "tcp %s", line)
				}
			}()
		}
	}()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("udp "), buf[:n]...), from)
		}
	}()
	return ln.Addr().String(), pc.LocalAddr().String()
}

func askTCP(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "%s\n", msg)
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func askUDP(addr, msg string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// oneTargetService builds the provider side of the simplest story in the
// provider account: an active NLB in us-east-1a, a target group of protocol
// with one target, 10.0.1.50:7000, a listener on port 80 and an endpoint
// service the consumer account may use.
func oneTargetService(t *testing.T, cp *controlplane.ControlPlane, protocol string) (*cloud.LoadBalancer, *cloud.Listener, *cloud.VpcEndpointService) {
	t.Helper()
	ctx, p := context.Background(), root(providerAcct)
	pvpc := must(cp.CreateVpc(ctx, p, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
	psub := must(cp.CreateSubnet(ctx, p, controlplane.CreateSubnetInput{VpcID: pvpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
	lb := must(cp.CreateLoadBalancer(ctx, p, controlplane.CreateLoadBalancerInput{Name: "nlb", Type: "network", Scheme: "internal", Subnets: []string{psub.ID}}))(t)
	check(t, cp.LoadBalancerActive(ctx, lb.ARN))
	tg := must(cp.CreateTargetGroup(ctx, p, controlplane.CreateTargetGroupInput{Name: "tg", Protocol: protocol, Port: ptr(7000), VpcID: pvpc.ID, TargetType: "ip"}))(t)
	check(t, cp.RegisterTargets(ctx, p, tg.ARN, []controlplane.TargetSpec{{ID: "10.0.1.50"}}))
	listener := must(cp.CreateListener(ctx, p, controlplane.CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: protocol, Port: ptr(80),
		DefaultActions: []controlplane.ListenerAction{{Type: "forward", TargetGroupARN: tg.ARN}}}))(t)
	svc := must(cp.CreateVpcEndpointServiceConfiguration(ctx, p, controlplane.CreateEndpointServiceInput{NetworkLoadBalancerARNs: []string{lb.ARN}}))(t)
	must(cp.ModifyVpcEndpointServicePermissions(ctx, p, svc.ID, []string{cloud.AccountRootARN(consumerAcct)}, nil))(t)
	return lb, listener, svc
}

// TestEndpointTraffic carries TCP and UDP through an endpoint with a
// loopback data plane, for each listener protocol.
func TestEndpointTraffic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp, db := newCP(t)
	p, c := root(providerAcct), root(consumerAcct)
	dp := newLoopDP()
	tcpEcho, udpEcho := echoServers(t)

	lb, listener, svc := oneTargetService(t, cp, "TCP_UDP")
	dp.Serve("tcp", "10.0.1.50:7000", tcpEcho)
	dp.Serve("udp", "10.0.1.50:7000", udpEcho)

	cvpc, csub := consumerNet(t, cp)
	ep := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: cvpc, ServiceName: svc.ServiceName, SubnetIDs: []string{csub}}))(t)
	epIP := get[cloud.NetworkInterface](t, db, cloud.KindNetworkInterface, ep.NetworkInterfaceIDs[0]).PrivateIPAddress
	virtual := net.JoinHostPort(epIP, "80")
	lbNS := dp.InterfaceNamespace(lb.AZs[0].NetworkInterfaceID)

	r := &Endpoints{DB: db, CP: cp, DP: dp, Life: ctx, UDPIdleTimeout: time.Minute}
	must(r.Reconcile(ctx, ep.ID))(t)
	if got := get[cloud.VpcEndpoint](t, db, cloud.KindVpcEndpoint, ep.ID).State; got != cloud.StateAvailable {
		t.Fatalf("endpoint %s, want available", got)
	}
	transports := func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []string
		for k := range r.listeners {
			if k.endpointID == ep.ID && k.port == 80 && k.eniID == ep.NetworkInterfaceIDs[0] {
				out = append(out, k.transport)
			}
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}

	for _, tc := range []struct {
		protocol, want string
	}{
		{"TCP_UDP", "tcp,udp"},
		{"TCP", "tcp"},
		{"UDP", "udp"},
		{"TCP_UDP", "tcp,udp"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			must(cp.ModifyListener(ctx, p, controlplane.ModifyListenerInput{ListenerARN: listener.ARN, Protocol: tc.protocol}))(t)
			must(r.Reconcile(ctx, everyKey))(t)
			if got := transports(); got != tc.want {
				t.Fatalf("endpoint listens on %q, want %q", got, tc.want)
			}
			if strings.Contains(tc.want, "tcp") {
				if got, err := askTCP(dp.Real("tcp", virtual), "hello"); err != nil || got != "tcp hello" {
					t.Errorf("TCP through the endpoint = %q, %v", got, err)
				}
			}
			if strings.Contains(tc.want, "udp") {
				dials := dp.Dials("udp", lbNS)
				var got string
				waitFor(t, "a UDP reply through the endpoint", func() bool {
					var err error
					got, err = askUDP(dp.Real("udp", virtual), "ping")
					return err == nil
				})
				if got != "udp ping" {
					t.Errorf("UDP through the endpoint = %q", got)
				}
				if dp.Dials("udp", lbNS) <= dials {
					t.Errorf("no UDP dial from the load balancer's namespace %s", lbNS)
				}
			}
		})
	}

	t.Run("reject cuts flows and closes listeners", func(t *testing.T) {
		live, err := net.Dial("tcp", dp.Real("tcp", virtual))
		check(t, err)
		defer live.Close()
		fmt.Fprintf(live, "first\n")
		br := bufio.NewReader(live)
		live.SetReadDeadline(time.Now().Add(2 * time.Second))
		if line, err := br.ReadString('\n'); err != nil || line != "tcp first\n" {
			t.Fatalf("live connection: %q, %v", line, err)
		}
		udpAddr := dp.Real("udp", virtual)
		if _, err := askUDP(udpAddr, "ping"); err != nil {
			t.Fatal(err)
		}
		if r.UDPStats().ActiveFlows == 0 {
			t.Fatal("no active UDP flow before reject")
		}
		must(cp.RejectVpcEndpointConnections(ctx, p, svc.ID, []string{ep.ID}))(t)
		must(r.Reconcile(ctx, ep.ID))(t)
		if got := transports(); got != "" {
			t.Errorf("listeners left after reject: %q", got)
		}
		live.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := br.ReadString('\n'); err == nil {
			t.Error("live TCP connection survived the reject")
		}
		waitFor(t, "UDP flows cut", func() bool { return r.UDPStats().ActiveFlows == 0 })
		if _, err := askUDP(udpAddr, "ping"); err == nil {
			t.Error("UDP answered after reject")
		}
	})
}
