package controllers

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

func TestEndpointServiceShort(t *testing.T) {
	cases := []struct {
		name string
		ep   cloud.VpcEndpoint
		want string
		impl bool
	}{
		{"sts", cloud.VpcEndpoint{ServiceName: "com.amazonaws.us-east-1.sts"}, "sts", true},
		{"ec2", cloud.VpcEndpoint{ServiceName: "com.amazonaws.eu-west-1.ec2"}, "ec2", true},
		{"elbv2", cloud.VpcEndpoint{ServiceName: "com.amazonaws.us-east-1.elasticloadbalancing"}, "elasticloadbalancing", true},
		{"a catalog service privlink does not serve", cloud.VpcEndpoint{ServiceName: "com.amazonaws.us-east-1.sqs"}, "sqs", false},
		{"not in the catalog", cloud.VpcEndpoint{ServiceName: "com.amazonaws.us-east-1.nope"}, "", false},
		{"custom service", cloud.VpcEndpoint{ServiceName: "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0", ServiceID: "vpce-svc-0123456789abcdef0"}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := endpointServiceShort(&tc.ep)
			if got != tc.want || implemented(got) != tc.impl {
				t.Fatalf("short = %q (implemented %v), want %q (%v)", got, implemented(got), tc.want, tc.impl)
			}
		})
	}
	addrs := PublicAPIAddrs([]string{"us-east-1"})
	if len(addrs) != len(ImplementedServices) {
		t.Fatalf("PublicAPIAddrs = %v", addrs)
	}
	for _, a := range addrs {
		if !netip.MustParsePrefix("198.18.0.0/15").Contains(a) {
			t.Fatalf("public API address %v outside the stand-in internet", a)
		}
	}
}

// apiTestDP listens on loopback whatever address it is asked for.
type apiTestDP struct {
	DataPlane
	mu     sync.Mutex
	listen map[string]string // requested ns/addr → real loopback address
}

func (d *apiTestDP) InterfaceNamespace(eni string) string { return "ns-" + eni }

func (d *apiTestDP) ListenTCP(ctx context.Context, ns, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.listen[ns+"/"+addr] = ln.Addr().String()
	d.mu.Unlock()
	return ln, nil
}

func (d *apiTestDP) real(key string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.listen[key]
}

// TestAWSServiceAPIs proves an available STS interface endpoint listens on
// its interface's port 80 and relays to the API behind a PROXY v2 header
// with the endpoint ID and the caller's address, and that rejecting it
// closes the listener.
func TestAWSServiceAPIs(t *testing.T) {
	backend, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), backend, controlplane.Kinds(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	// The "API": reports the PROXY header it received.
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	headers := make(chan *proxy.Header, 4)
	go func() {
		for {
			c, err := api.Accept()
			if err != nil {
				return
			}
			h, err := proxy.ParseV2(bufio.NewReader(c))
			if err == nil {
				headers <- h
			}
			c.Close()
		}
	}()
	dp := &apiTestDP{listen: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &AWSServiceAPIs{DB: db, DP: dp, Life: ctx, Dial: func(ctx context.Context) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", api.Addr().String())
	}}

	put := func(state string) {
		t.Helper()
		err := db.Update(context.Background(), func(tx *store.Tx) error {
			tx.Put(cloud.KindNetworkInterface, "eni-1", &cloud.NetworkInterface{Meta: cloud.Meta{ID: "eni-1"}, PrivateIPAddress: "10.0.1.9"})
			tx.Put(cloud.KindVpcEndpoint, "vpce-1", &cloud.VpcEndpoint{Meta: cloud.Meta{ID: "vpce-1"}, Type: cloud.EndpointInterface, VpcID: "vpc-1",
				ServiceName: "com.amazonaws.us-east-1.sts", State: state, NetworkInterfaceIDs: []string{"eni-1"}})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Reconcile(context.Background(), "vpce-1"); err != nil {
			t.Fatal(err)
		}
	}
	put(cloud.StatePending)
	if dp.real("ns-eni-1/10.0.1.9:80") != "" {
		t.Fatal("a pending endpoint listens")
	}
	put(cloud.StateAvailable)
	addr := dp.real("ns-eni-1/10.0.1.9:80")
	if addr == "" {
		t.Fatal("no listener on the endpoint interface's port 80")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	select {
	case h := <-headers:
		if h.EndpointID != "vpce-1" || h.Source.String() != c.LocalAddr().String() {
			t.Fatalf("PROXY header %+v, want vpce-1 from %s", h, c.LocalAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no PROXY header reached the API")
	}
	c.Close()
	put(cloud.StateRejected)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("a rejected endpoint still listens")
	}
}
