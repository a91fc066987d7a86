package cloud

import (
	"context"
	"net/netip"
)

// NetworkContext says where an API request entered privlink's network:
// through an interface VPC endpoint (EndpointID set; SourceIP is the
// caller's private address) or over the stand-in internet (SourceIP is the
// address the public service saw). The zero value means the request came
// from outside every modelled network (the user's CLI on the host), where no
// network condition keys are set.
type NetworkContext struct {
	EndpointID string
	SourceIP   netip.Addr
}

// IsZero reports whether n carries no network information.
func (n NetworkContext) IsZero() bool { return n.EndpointID == "" && !n.SourceIP.IsValid() }

type networkKey struct{}

// WithNetwork returns ctx carrying n; a zero n leaves ctx unchanged.
func WithNetwork(ctx context.Context, n NetworkContext) context.Context {
	if n.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, networkKey{}, n)
}

// NetworkFrom returns the network context ctx carries, if any.
func NetworkFrom(ctx context.Context) (NetworkContext, bool) {
	n, ok := ctx.Value(networkKey{}).(NetworkContext)
	return n, ok && !n.IsZero()
}
