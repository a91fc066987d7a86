package dns

import (
	"net"
	"sort"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// recorder is a dns.ResponseWriter that keeps the reply, as coredns's
// dnstest.Recorder does.
type recorder struct {
	tcp bool
	msg *mdns.Msg
	// size is the reply's length on the wire.
	size int
	// err is the last write's error: a reply that cannot be packed.
	err error
}

func (r *recorder) LocalAddr() net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 53}
}

func (r *recorder) RemoteAddr() net.Addr {
	if r.tcp {
		return &net.TCPAddr{IP: net.IPv4(10, 0, 1, 5), Port: 40000}
	}
	return &net.UDPAddr{IP: net.IPv4(10, 0, 1, 5), Port: 40000}
}

func (r *recorder) WriteMsg(m *mdns.Msg) error {
	// Round-trip through the wire format so the test sees what a client would.
	b, err := m.Pack()
	if err != nil {
		r.err = err
		return err
	}
	r.size = len(b)
	r.msg = new(mdns.Msg)
	return r.msg.Unpack(b)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.msg = new(mdns.Msg)
	r.size = len(b)
	return len(b), r.msg.Unpack(b)
}

func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// mustRR parses one record of zone-file text.
func mustRR(t testing.TB, text string) mdns.RR {
	t.Helper()
	rr, err := mdns.NewRR(text)
	if err != nil || rr == nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return rr
}

// buildZone builds a zone at apex from zone-file lines.
func buildZone(t testing.TB, apex string, lines ...string) *Zone {
	t.Helper()
	b := NewZoneBuilder(apex)
	for _, l := range lines {
		if err := b.AddRR(mustRR(t, l)); err != nil {
			t.Fatalf("zone %s: add %q: %v", apex, l, err)
		}
	}
	z, err := b.Build()
	if err != nil {
		t.Fatalf("zone %s: %v", apex, err)
	}
	return z
}

// rrStrings renders records in zone-file text, sorted, for comparison.
func rrStrings(rrs []mdns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	sort.Strings(out)
	return out
}

// canonicalText parses and re-renders zone-file lines like rrStrings.
func canonicalText(t testing.TB, lines []string) []string {
	t.Helper()
	rrs := make([]mdns.RR, 0, len(lines))
	for _, l := range lines {
		rrs = append(rrs, mustRR(t, l))
	}
	return rrStrings(rrs)
}

// query builds a request as a stub resolver sends it.
func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
