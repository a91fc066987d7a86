package cloud

import (
	"context"
	"net/netip"
	"testing"
)

func TestNetworkContext(t *testing.T) {
	cases := []struct {
		name string
		in   NetworkContext
		ok   bool
	}{
		{"zero is no context", NetworkContext{}, false},
		{"through an endpoint", NetworkContext{EndpointID: "vpce-0123456789abcdef0", SourceIP: netip.MustParseAddr("10.0.1.5")}, true},
		{"over the internet", NetworkContext{SourceIP: netip.MustParseAddr("169.254.0.2")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NetworkFrom(WithNetwork(context.Background(), tc.in))
			if ok != tc.ok || (ok && got != tc.in) {
				t.Fatalf("NetworkFrom = %+v, %v; want %+v, %v", got, ok, tc.in, tc.ok)
			}
		})
	}
	if _, ok := NetworkFrom(context.Background()); ok {
		t.Fatal("a bare context carries a network")
	}
}
