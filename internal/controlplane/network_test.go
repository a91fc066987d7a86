package controlplane

import (
	"context"
	"net/netip"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
)

// netRecorder records the network context each authorization saw.
type netRecorder struct{ seen []cloud.NetworkContext }

func (r *netRecorder) Authorize(ctx context.Context, _ *cloud.Principal, _, _ string) error {
	n, _ := cloud.NetworkFrom(ctx)
	r.seen = append(r.seen, n)
	return nil
}

// TestAuthorizeNetworkContext proves authorize hands the call's network to
// the Authorizer in the context, and that a context that already carries
// one (from the HTTP layer) wins.
func TestAuthorizeNetworkContext(t *testing.T) {
	cp := newTestCP(t)
	rec := &netRecorder{}
	cp.authz = rec
	ep := cloud.NetworkContext{EndpointID: "vpce-0123456789abcdef0", SourceIP: netip.MustParseAddr("10.0.1.5")}
	inet := cloud.NetworkContext{SourceIP: netip.MustParseAddr("169.254.0.2")}
	cases := []struct {
		name      string
		ctx, call cloud.NetworkContext
		want      cloud.NetworkContext
	}{
		{"host", cloud.NetworkContext{}, cloud.NetworkContext{}, cloud.NetworkContext{}},
		{"from the call", cloud.NetworkContext{}, ep, ep},
		{"from the context", inet, cloud.NetworkContext{}, inet},
		{"the context wins", inet, ep, inet},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.seen = nil
			c := rootCall("222222222222", "ec2:DescribeVpcs")
			c.Network = tc.call
			if _, _, err := cp.DescribeVpcs(cloud.WithNetwork(context.Background(), tc.ctx), c, DescribeInput{}); err != nil {
				t.Fatal(err)
			}
			if len(rec.seen) != 1 || rec.seen[0] != tc.want {
				t.Fatalf("authorizer saw %+v, want [%+v]", rec.seen, tc.want)
			}
		})
	}
}
