//go:build !linux

package dataplane

import (
	"context"
	"net"
)

// DialUDP is unavailable off Linux.
func DialUDP(context.Context, string, string) (net.Conn, error) { return nil, ErrUnsupported }
