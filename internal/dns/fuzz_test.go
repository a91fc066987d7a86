package dns

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary bytes to the resolver, both as an unpacked
// message straight to the handler and as a raw datagram to a real
// loopback server. Every reply must be a well-formed response; no reply is
// also acceptable on the wire (the header did not parse, or it was a
// response).
func FuzzServeDNS(f *testing.F) {
	pack := func(m *mdns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	edns := query("big.internal.", mdns.TypeA)
	edns.SetEdns0(1232, true)
	twoQ := query("api.example.com.", mdns.TypeA)
	twoQ.Question = append(twoQ.Question, twoQ.Question[0])
	upd := new(mdns.Msg)
	upd.SetUpdate("example.com.")
	resp := query("api.example.com.", mdns.TypeA)
	resp.Response = true
	for _, seed := range [][]byte{
		pack(query("ip-10-0-1-5.ec2.internal.", mdns.TypeA)),
		pack(query("5.1.0.10.in-addr.arpa.", mdns.TypePTR)),
		pack(query("alias.example.com.", mdns.TypeA)),
		pack(query("loop1.example.com.", mdns.TypeANY)),
		pack(query("a.b.apps.example.com.", mdns.TypeTXT)),
		pack(edns),
		pack(twoQ),
		pack(upd),
		pack(resp),
		{},
		{0x12, 0x34},
		{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'f', 'o'},
		{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1},
	} {
		f.Add(seed)
	}

	r := fixture(f)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatalf("listen udp: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, vpcA, pc, nil) }()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		f.Fatalf("dial: %v", err)
	}
	f.Cleanup(func() { conn.Close() })
	probes := 0

	f.Fuzz(func(t *testing.T, data []byte) {
		var req mdns.Msg
		if err := req.Unpack(data); err == nil {
			w := &recorder{}
			r.Handler(vpcA).ServeDNS(w, &req)
			if w.err != nil {
				t.Fatalf("reply cannot be packed: %v", w.err)
			}
			if w.msg == nil || !w.msg.Response || w.msg.Id != req.Id {
				t.Fatalf("reply %v is not a response to id %d", w.msg, req.Id)
			}
		}

		if len(data) > 65000 {
			return
		}
		if _, err := conn.Write(data); err != nil {
			t.Fatalf("send: %v", err)
		}
		// A probe after the fuzz datagram marks where to stop reading; any
		// reply to the fuzz datagram read before or after it must parse.
		probes++
		probe := query(fmt.Sprintf("probe-%d.fuzz.", probes), mdns.TypeA)
		if _, err := conn.Write(pack(probe)); err != nil {
			t.Fatalf("send probe: %v", err)
		}
		buf := make([]byte, mdns.MaxMsgSize)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no reply to the probe: %v", err)
			}
			var got mdns.Msg
			if err := got.Unpack(buf[:n]); err != nil {
				t.Fatalf("malformed reply %x: %v", buf[:n], err)
			}
			if !got.Response {
				t.Fatalf("reply without QR: %v", &got)
			}
			if got.Id == probe.Id && len(got.Question) == 1 && got.Question[0].Name == probe.Question[0].Name {
				return
			}
		}
	})
}
