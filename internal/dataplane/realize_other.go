//go:build !linux

package dataplane

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
)

// Linux is unavailable off Linux; every call returns ErrUnsupported.
type Linux struct{ cfg Config }

var _ Realizer = (*Linux)(nil)

// New returns a realizer whose calls fail with ErrUnsupported.
func New(cfg Config, _ *slog.Logger) (*Linux, error) {
	return &Linux{cfg: cfg.withDefaults()}, nil
}

// ApplyVPC returns ErrUnsupported.
func (l *Linux) ApplyVPC(context.Context, VPC) (Result, error) { return Result{}, ErrUnsupported }

// DeleteVPC returns ErrUnsupported.
func (l *Linux) DeleteVPC(context.Context, string) error { return ErrUnsupported }

// Cleanup returns ErrUnsupported.
func (l *Linux) Cleanup(context.Context, []string) error { return ErrUnsupported }

// RouterNamespace names the VPC's router namespace.
func (l *Linux) RouterNamespace(vpcID string) string { return routerNSName(l.cfg.Prefix, vpcID) }

// InterfaceNamespace names an interface namespace.
func (l *Linux) InterfaceNamespace(eniID string) string { return ifaceNSName(l.cfg.Prefix, eniID) }

// RunInNamespace returns ErrUnsupported.
func RunInNamespace(string, func() error) error { return ErrUnsupported }

// ListenTCP returns ErrUnsupported.
func ListenTCP(context.Context, string, string) (net.Listener, error) { return nil, ErrUnsupported }

// ListenUDP returns ErrUnsupported.
func ListenUDP(context.Context, string, string) (net.PacketConn, error) { return nil, ErrUnsupported }

// DialTCP returns ErrUnsupported.
func DialTCP(context.Context, string, string) (net.Conn, error) { return nil, ErrUnsupported }

// Exec returns ErrUnsupported.
func (l *Linux) Exec(context.Context, string, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return -1, ErrUnsupported
}

// ExecMain returns false: there is no re-exec entry point off Linux.
func ExecMain([]string) bool { return false }

// ApplyInternet returns ErrUnsupported.
func (l *Linux) ApplyInternet(context.Context, Internet) (Result, error) {
	return Result{}, ErrUnsupported
}

// DeleteInternet returns ErrUnsupported.
func (l *Linux) DeleteInternet(context.Context) error { return ErrUnsupported }

// InternetNamespace names the fake internet's namespace.
func (l *Linux) InternetNamespace() string { return internetNSName(l.cfg.Prefix) }

// InternetAddress returns ErrUnsupported.
func (l *Linux) InternetAddress(string) (netip.Addr, error) { return netip.Addr{}, ErrUnsupported }

// ApplyForwarding returns ErrUnsupported.
func (l *Linux) ApplyForwarding(context.Context, Forwarding) error { return ErrUnsupported }

// RemoveForwarding returns ErrUnsupported.
func (l *Linux) RemoveForwarding(context.Context, string) error { return ErrUnsupported }
