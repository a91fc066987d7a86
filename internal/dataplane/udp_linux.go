package dataplane

import (
	"context"
	"fmt"
	"net"
)

// DialUDP opens a connected UDP socket from inside the named namespace, so
// its source address is that namespace's interface address.
func DialUDP(ctx context.Context, nsName, addr string) (net.Conn, error) {
	var c net.Conn
	err := RunInNamespace(nsName, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "udp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dataplane: dial udp %s from %s: %w", addr, nsName, err)
	}
	return c, nil
}
