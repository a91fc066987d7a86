package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// exchange sends one DNS question over UDP to addr (a loopback socket).
func exchange(addr, name string) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	c := &mdns.Client{Timeout: 300 * time.Millisecond}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func TestNetworkReconcile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp, db := newCP(t)
	c := root(consumerAcct)
	dp := newLoopDP()
	res := dns.NewResolver(nil, nil)
	n := NewNetwork(ctx, db, dp, res, nil)
	var mu sync.Mutex
	var readied []string
	n.OnReady(func(vpcID string) { mu.Lock(); readied = append(readied, vpcID); mu.Unlock() })

	vpc := must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
	check(t, cp.ModifyVpcAttribute(ctx, c, vpc.ID, nil, ptr(true)))
	sub := must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: vpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t)
	inst := must(cp.RunInstances(ctx, c, controlplane.RunInstancesInput{ImageID: "ami-12345678", MinCount: ptr(1), MaxCount: ptr(1), SubnetID: sub.ID}))(t).Instances[0]
	empty := must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.5.0.0/16"}))(t)
	ns := dp.RouterNamespace(vpc.ID)

	reconcile := func(t *testing.T, id string) {
		t.Helper()
		if _, err := n.Reconcile(ctx, id); err != nil {
			t.Fatalf("Reconcile(%s): %v", id, err)
		}
	}

	t.Run("first reconcile applies and starts DNS", func(t *testing.T) {
		if n.InterfaceReady(vpc.ID, inst.NetworkInterfaceID) {
			t.Fatal("interface ready before any reconcile")
		}
		reconcile(t, vpc.ID)
		applied, ok := dp.Applied(vpc.ID)
		if !ok || len(applied.Interfaces) != 1 || applied.Interfaces[0].ID != inst.NetworkInterfaceID {
			t.Fatalf("applied = %+v, %v; want the instance's interface", applied, ok)
		}
		if !n.InterfaceReady(vpc.ID, inst.NetworkInterfaceID) {
			t.Error("InterfaceReady = false after apply")
		}
		if got := [2]int{dp.Listens("udp", ns, "0.0.0.0:53"), dp.Listens("tcp", ns, "0.0.0.0:53")}; got != [2]int{1, 1} {
			t.Errorf("DNS sockets opened (udp, tcp) = %v, want one each in %s", got, ns)
		}
		var r *mdns.Msg
		waitFor(t, "the VPC resolver to answer the instance name", func() bool {
			var err error
			r, err = exchange(dp.Real("udp", "0.0.0.0:53"), inst.PrivateDNSName)
			return err == nil
		})
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != inst.PrivateIPAddress {
			t.Errorf("answer = %v, want %s", r.Answer, inst.PrivateIPAddress)
		}
	})

	t.Run("unchanged reconcile keeps one DNS server", func(t *testing.T) {
		before, _ := dp.Applied(vpc.ID)
		reconcile(t, vpc.ID)
		reconcile(t, vpc.ID)
		after, _ := dp.Applied(vpc.ID)
		if dp.Listens("udp", ns, "0.0.0.0:53") != 1 || dp.Listens("tcp", ns, "0.0.0.0:53") != 1 {
			t.Error("DNS sockets reopened")
		}
		if len(before.Interfaces) != len(after.Interfaces) {
			t.Errorf("model changed without a store change")
		}
	})

	t.Run("a change is applied and endpoint names become ready", func(t *testing.T) {
		ep := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: vpc.ID,
			ServiceName: cloud.AWSServiceName(region, "sqs"), SubnetIDs: []string{sub.ID}}))(t)
		if n.EndpointNamesReady(vpc.ID, ep.ID) || n.InterfaceReady(vpc.ID, ep.NetworkInterfaceIDs[0]) {
			t.Fatal("endpoint ready before reconcile")
		}
		applies := dp.Applies()
		reconcile(t, vpc.ID)
		if dp.Applies() != applies+1 {
			t.Errorf("applies = %d, want %d", dp.Applies(), applies+1)
		}
		applied, _ := dp.Applied(vpc.ID)
		if len(applied.Interfaces) != 2 {
			t.Errorf("applied %d interfaces, want 2", len(applied.Interfaces))
		}
		if !n.EndpointNamesReady(vpc.ID, ep.ID) || !n.InterfaceReady(vpc.ID, ep.NetworkInterfaceIDs[0]) {
			t.Error("endpoint names or interface not ready after reconcile")
		}
		mutate(t, db, cloud.KindVpcEndpoint, ep.ID, func(e *cloud.VpcEndpoint) { e.State = cloud.StateRejected })
		reconcile(t, vpc.ID)
		if n.EndpointNamesReady(vpc.ID, ep.ID) {
			t.Error("rejected endpoint's names still ready")
		}
	})

	t.Run("deleted VPC is torn down", func(t *testing.T) {
		reconcile(t, empty.ID)
		if _, ok := dp.Applied(empty.ID); !ok {
			t.Fatal("empty VPC not applied")
		}
		dnsAddr := dp.Real("udp", "0.0.0.0:53") // the last one opened: the empty VPC's
		waitFor(t, "the empty VPC's resolver to answer", func() bool { _, err := exchange(dnsAddr, "x.example."); return err == nil })
		check(t, cp.DeleteVpc(ctx, c, empty.ID))
		var keys []string
		db.View(func(tx *store.Tx) error { keys = n.Keys(tx); return nil })
		if !slices.Contains(keys, empty.ID) || !slices.Contains(keys, vpc.ID) {
			t.Errorf("Keys = %v, want both VPCs (the deleted one is still realized)", keys)
		}
		reconcile(t, empty.ID)
		if _, ok := dp.Applied(empty.ID); ok {
			t.Error("deleted VPC still realized")
		}
		db.View(func(tx *store.Tx) error { keys = n.Keys(tx); return nil })
		if slices.Contains(keys, empty.ID) {
			t.Errorf("Keys = %v after teardown, want no %s", keys, empty.ID)
		}
		waitFor(t, "the deleted VPC's resolver to stop", func() bool { _, err := exchange(dnsAddr, "x.example."); return err != nil })
	})

	t.Run("OnReady runs per realized VPC", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(readied, vpc.ID) || !slices.Contains(readied, empty.ID) {
			t.Errorf("OnReady saw %v", readied)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			err      error
			terminal bool
		}{
			{"invalid model is terminal", fmt.Errorf("%w: bad", dataplane.ErrInvalidModel), true},
			{"kernel error is retried", errors.New("netlink: busy"), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dp.FakeRealizer.Err = tc.err
				defer func() { dp.FakeRealizer.Err = nil }()
				_, err := n.Reconcile(ctx, vpc.ID)
				var term *TerminalError
				if err == nil || errors.As(err, &term) != tc.terminal {
					t.Errorf("err = %v, want terminal=%v", err, tc.terminal)
				}
			})
		}
	})
}

func TestNetworkMap(t *testing.T) {
	n := NewNetwork(context.Background(), nil, nil, nil, nil)
	for _, tc := range []struct {
		name string
		e    store.Event
		want []string
	}{
		{"vpc", store.Event{Kind: cloud.KindVpc, Value: &cloud.Vpc{Meta: cloud.Meta{ID: "vpc-1"}}}, []string{"vpc-1"}},
		{"subnet deleted", store.Event{Kind: cloud.KindSubnet, Prev: &cloud.Subnet{VpcID: "vpc-1"}}, []string{"vpc-1"}},
		{"interface", store.Event{Kind: cloud.KindNetworkInterface, Value: &cloud.NetworkInterface{VpcID: "vpc-2"}, Prev: &cloud.NetworkInterface{VpcID: "vpc-2"}}, []string{"vpc-2"}},
		{"endpoint", store.Event{Kind: cloud.KindVpcEndpoint, Value: &cloud.VpcEndpoint{VpcID: "vpc-3"}}, []string{"vpc-3"}},
		{"gateway moved", store.Event{Kind: cloud.KindInternetGateway,
			Value: &cloud.InternetGateway{Attachments: []cloud.InternetGatewayAttachment{{VpcID: "vpc-b"}}},
			Prev:  &cloud.InternetGateway{Attachments: []cloud.InternetGatewayAttachment{{VpcID: "vpc-a"}}}}, []string{"vpc-b", "vpc-a"}},
		{"prefix list waits for resync", store.Event{Kind: cloud.KindPrefixList, Value: &cloud.ManagedPrefixList{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := n.Map(tc.e); !slices.Equal(got, tc.want) {
				t.Errorf("Map = %v, want %v", got, tc.want)
			}
		})
	}
}
