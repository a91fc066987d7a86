package dns

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"
)

const (
	vpcA      = "vpc-aaaaaaaaaaaaaaaaa" // private zones, endpoint, instance
	vpcB      = "vpc-bbbbbbbbbbbbbbbbb" // no private zones
	vpcOff    = "vpc-0ff0ff0ff0ff0ff0f" // enableDnsSupport=false
	endpoint  = "vpce-0123456789abcdef0"
	sqsRegion = "com.amazonaws.us-east-1.sqs"
)

// fixture builds a resolver with three VPCs, the region's public names and
// an authority zone.
func fixture(t testing.TB) *Resolver {
	t.Helper()
	public := buildZone(t, ".",
		"sqs.us-east-1.amazonaws.com. 60 IN A 198.18.0.10",
		"ec2.us-east-1.amazonaws.com. 60 IN A 198.18.0.11",
		"*.s3.us-east-1.amazonaws.com. 60 IN A 198.18.0.12",
		"s3.us-east-1.amazonaws.com. 60 IN A 198.18.0.12",
		"api.example.com. 60 IN A 198.18.5.5",
		"www.example.com. 60 IN A 198.18.5.6",
	)
	auth := NewAuthority()
	if err := auth.PutZone(buildZone(t, "provider.example.org.",
		`_abc123.provider.example.org. 300 IN TXT "vpce:xyz789"`,
		"svc.provider.example.org. 300 IN A 198.18.9.9",
	)); err != nil {
		t.Fatal(err)
	}
	r := NewResolver(nil, auth)
	r.SetPublicZone(public)

	sqsPHZ := buildZone(t, "sqs.us-east-1.amazonaws.com.",
		"sqs.us-east-1.amazonaws.com. 60 IN A 10.0.1.20",
		"sqs.us-east-1.amazonaws.com. 60 IN A 10.0.2.20",
	)
	customPHZ := buildZone(t, "example.com.",
		"api.example.com. 300 IN A 10.0.3.3",
		"alias.example.com. 300 IN CNAME api.example.com.",
		"out.example.com. 300 IN CNAME gone.example.net.",
		"*.apps.example.com. 300 IN A 10.0.3.9",
		"loop1.example.com. 300 IN CNAME loop2.example.com.",
		"loop2.example.com. 300 IN CNAME loop1.example.com.",
		`txt.example.com. 300 IN TXT "hello" "world"`,
	)

	a := NewViewBuilder()
	ip := netip.MustParseAddr("10.0.1.5")
	host := InstanceHostname("us-east-1", ip)
	mustNoErr(t, a.AddA(host, ip))
	mustNoErr(t, a.AddPTR(ip, host))
	regional, err := EndpointRegionalName(endpoint, "abcdefgh", sqsRegion, "us-east-1")
	mustNoErr(t, err)
	mustNoErr(t, a.AddA(regional, netip.MustParseAddr("10.0.1.20"), netip.MustParseAddr("10.0.2.20")))
	for az, addr := range map[string]string{"us-east-1a": "10.0.1.20", "us-east-1b": "10.0.2.20"} {
		zonal, err := EndpointZonalName(endpoint, "abcdefgh", az, sqsRegion, "us-east-1")
		mustNoErr(t, err)
		mustNoErr(t, a.AddA(zonal, netip.MustParseAddr(addr)))
	}
	mustNoErr(t, a.AttachPrivateZone(sqsPHZ))
	mustNoErr(t, a.AttachPrivateZone(customPHZ))
	big := make([]netip.Addr, 0, 100)
	for i := range 100 {
		big = append(big, netip.AddrFrom4([4]byte{10, 0, 9, byte(i)}))
	}
	mustNoErr(t, a.AddA("big.internal", big...))
	setView(t, r, vpcA, a)

	b := NewViewBuilder()
	ipB := netip.MustParseAddr("10.1.0.7")
	mustNoErr(t, b.AddA(InstanceHostname("us-east-1", ipB), ipB))
	setView(t, r, vpcB, b)

	off := NewViewBuilder()
	off.EnableDNSSupport = false
	mustNoErr(t, off.AddA(InstanceHostname("us-east-1", ip), ip))
	setView(t, r, vpcOff, off)
	return r
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func setView(t testing.TB, r *Resolver, vpcID string, b *ViewBuilder) {
	t.Helper()
	v, err := b.Build()
	if err != nil {
		t.Fatalf("build view %s: %v", vpcID, err)
	}
	r.SetView(vpcID, v)
}

func TestResolverAnswers(t *testing.T) {
	r := fixture(t)
	tests := []struct {
		name   string
		vpc    string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		// soa is the owner of the SOA expected in the authority section,
		// "" for none.
		soa string
	}{
		{name: "instance A", vpc: vpcA, qname: "ip-10-0-1-5.ec2.internal.", qtype: mdns.TypeA,
			answer: []string{"ip-10-0-1-5.ec2.internal. 60 IN A 10.0.1.5"}},
		{name: "instance AAAA is NODATA", vpc: vpcA, qname: "ip-10-0-1-5.ec2.internal.", qtype: mdns.TypeAAAA, soa: "."},
		{name: "instance PTR", vpc: vpcA, qname: "5.1.0.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"5.1.0.10.in-addr.arpa. 60 IN PTR ip-10-0-1-5.ec2.internal."}},
		{name: "unknown PTR is NXDOMAIN", vpc: vpcA, qname: "6.1.0.10.in-addr.arpa.", qtype: mdns.TypePTR, rcode: mdns.RcodeNameError, soa: "."},
		{name: "names are case-insensitive and echo the query", vpc: vpcA, qname: "IP-10-0-1-5.EC2.Internal.", qtype: mdns.TypeA,
			answer: []string{"IP-10-0-1-5.EC2.Internal. 60 IN A 10.0.1.5"}},
		{name: "endpoint regional name has every address", vpc: vpcA, qname: "vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com.", qtype: mdns.TypeA,
			answer: []string{
				"vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com. 60 IN A 10.0.1.20",
				"vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com. 60 IN A 10.0.2.20",
			}},
		{name: "endpoint zonal name has its zone's address", vpc: vpcA, qname: "vpce-0123456789abcdef0-abcdefgh-us-east-1b.sqs.us-east-1.vpce.amazonaws.com.", qtype: mdns.TypeA,
			answer: []string{"vpce-0123456789abcdef0-abcdefgh-us-east-1b.sqs.us-east-1.vpce.amazonaws.com. 60 IN A 10.0.2.20"}},
		{name: "private DNS of an AWS service", vpc: vpcA, qname: "sqs.us-east-1.amazonaws.com.", qtype: mdns.TypeA,
			answer: []string{"sqs.us-east-1.amazonaws.com. 60 IN A 10.0.1.20", "sqs.us-east-1.amazonaws.com. 60 IN A 10.0.2.20"}},
		{name: "private zone shadows names below it", vpc: vpcA, qname: "fifo.sqs.us-east-1.amazonaws.com.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: "sqs.us-east-1.amazonaws.com."},
		{name: "public name outside private zones", vpc: vpcA, qname: "ec2.us-east-1.amazonaws.com.", qtype: mdns.TypeA,
			answer: []string{"ec2.us-east-1.amazonaws.com. 60 IN A 198.18.0.11"}},
		{name: "public wildcard matches one label", vpc: vpcA, qname: "bucket.s3.us-east-1.amazonaws.com.", qtype: mdns.TypeA,
			answer: []string{"bucket.s3.us-east-1.amazonaws.com. 60 IN A 198.18.0.12"}},
		{name: "custom private zone record", vpc: vpcA, qname: "api.example.com.", qtype: mdns.TypeA,
			answer: []string{"api.example.com. 300 IN A 10.0.3.3"}},
		{name: "private zone hides the public record", vpc: vpcA, qname: "www.example.com.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: "example.com."},
		{name: "CNAME is chased", vpc: vpcA, qname: "alias.example.com.", qtype: mdns.TypeA,
			answer: []string{"alias.example.com. 300 IN CNAME api.example.com.", "api.example.com. 300 IN A 10.0.3.3"}},
		{name: "CNAME asked for itself", vpc: vpcA, qname: "alias.example.com.", qtype: mdns.TypeCNAME,
			answer: []string{"alias.example.com. 300 IN CNAME api.example.com."}},
		{name: "CNAME to a missing name is NXDOMAIN with the CNAME", vpc: vpcA, qname: "out.example.com.", qtype: mdns.TypeA,
			rcode: mdns.RcodeNameError, soa: ".", answer: []string{"out.example.com. 300 IN CNAME gone.example.net."}},
		{name: "CNAME loop is SERVFAIL", vpc: vpcA, qname: "loop1.example.com.", qtype: mdns.TypeA, rcode: mdns.RcodeServerFailure},
		{name: "wildcard matches several labels", vpc: vpcA, qname: "a.b.apps.example.com.", qtype: mdns.TypeA,
			answer: []string{"a.b.apps.example.com. 300 IN A 10.0.3.9"}},
		{name: "wildcard parent exists without data", vpc: vpcA, qname: "apps.example.com.", qtype: mdns.TypeA, soa: "example.com."},
		{name: "TXT with several strings", vpc: vpcA, qname: "txt.example.com.", qtype: mdns.TypeTXT,
			answer: []string{`txt.example.com. 300 IN TXT "hello" "world"`}},
		{name: "authority zone is served", vpc: vpcA, qname: "_abc123.provider.example.org.", qtype: mdns.TypeTXT,
			answer: []string{`_abc123.provider.example.org. 300 IN TXT "vpce:xyz789"`}},
		{name: "authority zone NXDOMAIN carries its SOA", vpc: vpcA, qname: "nope.provider.example.org.", qtype: mdns.TypeTXT,
			rcode: mdns.RcodeNameError, soa: "provider.example.org."},
		{name: "unknown name is NXDOMAIN, never forwarded", vpc: vpcA, qname: "www.example.net.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, soa: "."},
		{name: "other VPC gets the public service address", vpc: vpcB, qname: "sqs.us-east-1.amazonaws.com.", qtype: mdns.TypeA,
			answer: []string{"sqs.us-east-1.amazonaws.com. 60 IN A 198.18.0.10"}},
		{name: "other VPC does not see the private zone", vpc: vpcB, qname: "api.example.com.", qtype: mdns.TypeA,
			answer: []string{"api.example.com. 60 IN A 198.18.5.5"}},
		{name: "other VPC sees the public name the zone hides", vpc: vpcB, qname: "www.example.com.", qtype: mdns.TypeA,
			answer: []string{"www.example.com. 60 IN A 198.18.5.6"}},
		{name: "other VPC does not see the instance", vpc: vpcB, qname: "ip-10-0-1-5.ec2.internal.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, soa: "."},
		{name: "other VPC's own instance", vpc: vpcB, qname: "ip-10-1-0-7.ec2.internal.", qtype: mdns.TypeA,
			answer: []string{"ip-10-1-0-7.ec2.internal. 60 IN A 10.1.0.7"}},
		{name: "DNS support off is REFUSED", vpc: vpcOff, qname: "ip-10-0-1-5.ec2.internal.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused},
		{name: "VPC without a view is REFUSED", vpc: "vpc-unknown", qname: "sqs.us-east-1.amazonaws.com.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &recorder{}
			req := query(tt.qname, tt.qtype)
			r.Handler(tt.vpc).ServeDNS(w, req)
			resp := w.msg
			if resp == nil {
				t.Fatal("no reply")
			}
			if resp.Id != req.Id || !resp.Response || !resp.RecursionAvailable || !resp.RecursionDesired {
				t.Errorf("header id=%d qr=%v ra=%v rd=%v, want id=%d and QR, RA, RD set", resp.Id, resp.Response, resp.RecursionAvailable, resp.RecursionDesired, req.Id)
			}
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if len(resp.Question) != 1 || resp.Question[0].Name != tt.qname {
				t.Errorf("question = %v, want %s echoed", resp.Question, tt.qname)
			}
			if diff := cmp.Diff(canonicalText(t, tt.answer), rrStrings(resp.Answer)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			var soa string
			for _, rr := range resp.Ns {
				if s, ok := rr.(*mdns.SOA); ok {
					soa = s.Hdr.Name
				}
			}
			if soa != tt.soa || len(resp.Ns) > 1 {
				t.Errorf("authority = %v, want one SOA of %q", resp.Ns, tt.soa)
			}
		})
	}
}

func TestResolverMalformed(t *testing.T) {
	r := fixture(t)
	withEDNS := func(m *mdns.Msg, version uint8) *mdns.Msg {
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(version)
		return m
	}
	tests := []struct {
		name    string
		req     *mdns.Msg
		rcode   int
		wantOPT bool
		answers int
	}{
		{name: "no question", req: &mdns.Msg{MsgHdr: mdns.MsgHdr{Id: 7, RecursionDesired: true}}, rcode: mdns.RcodeFormatError},
		{name: "two questions", req: func() *mdns.Msg {
			m := query("api.example.com.", mdns.TypeA)
			m.Question = append(m.Question, mdns.Question{Name: "www.example.com.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
			return m
		}(), rcode: mdns.RcodeFormatError},
		{name: "update opcode", req: func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetUpdate("example.com.")
			return m
		}(), rcode: mdns.RcodeNotImplemented},
		{name: "notify opcode", req: func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetNotify("example.com.")
			return m
		}(), rcode: mdns.RcodeNotImplemented},
		{name: "chaos class", req: func() *mdns.Msg {
			m := query("version.bind.", mdns.TypeTXT)
			m.Question[0].Qclass = mdns.ClassCHAOS
			return m
		}(), rcode: mdns.RcodeNotImplemented},
		{name: "zone transfer", req: query("example.com.", mdns.TypeAXFR), rcode: mdns.RcodeRefused},
		{name: "EDNS query gets OPT back", req: withEDNS(query("api.example.com.", mdns.TypeA), 0), rcode: mdns.RcodeSuccess, wantOPT: true, answers: 1},
		{name: "two OPT records", req: func() *mdns.Msg {
			m := withEDNS(query("api.example.com.", mdns.TypeA), 0)
			m.Extra = append(m.Extra, m.Extra[0])
			return m
		}(), rcode: mdns.RcodeFormatError, wantOPT: true},
		{name: "unknown EDNS version", req: withEDNS(query("api.example.com.", mdns.TypeA), 1), rcode: mdns.RcodeBadVers, wantOPT: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &recorder{}
			r.Handler(vpcA).ServeDNS(w, tt.req)
			if w.msg == nil {
				t.Fatal("no reply")
			}
			if w.msg.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", mdns.RcodeToString[w.msg.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if got := w.msg.IsEdns0() != nil; got != tt.wantOPT {
				t.Errorf("OPT in reply = %v, want %v", got, tt.wantOPT)
			}
			if w.msg.Id != tt.req.Id || !w.msg.Response || len(w.msg.Answer) != tt.answers {
				t.Errorf("reply id=%d qr=%v answers=%d, want id %d, QR, %d answers", w.msg.Id, w.msg.Response, len(w.msg.Answer), tt.req.Id, tt.answers)
			}
		})
	}
}

func TestResolverTruncation(t *testing.T) {
	r := fixture(t)
	tests := []struct {
		name      string
		tcp       bool
		edns      uint16
		wantTC    bool
		wantCount int
	}{
		{name: "udp without EDNS is cut at 512 bytes", wantTC: true},
		{name: "udp with a small EDNS size", edns: 600, wantTC: true},
		{name: "udp with a large EDNS size fits", edns: 4096, wantCount: 100},
		{name: "tcp fits", tcp: true, wantCount: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := query("big.internal.", mdns.TypeA)
			if tt.edns != 0 {
				req.SetEdns0(tt.edns, false)
			}
			w := &recorder{tcp: tt.tcp}
			r.Handler(vpcA).ServeDNS(w, req)
			if w.msg.Truncated != tt.wantTC {
				t.Errorf("TC = %v, want %v", w.msg.Truncated, tt.wantTC)
			}
			if !tt.wantTC && len(w.msg.Answer) != tt.wantCount {
				t.Errorf("answers = %d, want %d", len(w.msg.Answer), tt.wantCount)
			}
			limit := 512
			if tt.tcp {
				limit = mdns.MaxMsgSize
			} else if tt.edns > 512 {
				limit = int(tt.edns)
			}
			if w.size > limit {
				t.Errorf("reply is %d bytes, over the %d limit", w.size, limit)
			}
		})
	}
}

func TestResolverStats(t *testing.T) {
	r := fixture(t)
	send := func(vpc, name string) {
		r.Handler(vpc).ServeDNS(&recorder{}, query(name, mdns.TypeA))
	}
	send(vpcA, "api.example.com.")
	send(vpcA, "nope.example.com.")
	send(vpcA, "nope2.example.com.")
	r.Handler(vpcA).ServeDNS(&recorder{}, &mdns.Msg{})
	send(vpcOff, "api.example.com.")

	tests := []struct {
		name string
		vpc  string
		want Stats
		ok   bool
	}{
		{"vpc with answers", vpcA, Stats{Queries: 4, NXDomain: 2, Malformed: 1}, true},
		{"vpc with DNS off", vpcOff, Stats{Queries: 1, Refused: 1}, true},
		{"untouched vpc", vpcB, Stats{}, true},
		{"unknown vpc", "vpc-nope", Stats{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := r.Stats(tt.vpc)
			if ok != tt.ok {
				t.Fatalf("Stats ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolverViewSwap(t *testing.T) {
	r := fixture(t)
	name := "swap.internal."
	answer := func() (int, []string) {
		w := &recorder{}
		r.Handler(vpcB).ServeDNS(w, query(name, mdns.TypeA))
		return w.msg.Rcode, rrStrings(w.msg.Answer)
	}
	if rcode, _ := answer(); rcode != mdns.RcodeNameError {
		t.Fatalf("before swap rcode = %s, want NXDOMAIN", mdns.RcodeToString[rcode])
	}

	// Queries racing with swaps always see one whole view or the other.
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			b := NewViewBuilder()
			mustNoErr(t, b.AddA(name, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})))
			setView(t, r, vpcB, b)
		}
	})
	for range 200 {
		rcode, got := answer()
		if rcode != mdns.RcodeSuccess && rcode != mdns.RcodeNameError {
			t.Errorf("rcode during swaps = %s", mdns.RcodeToString[rcode])
		}
		if rcode == mdns.RcodeSuccess && len(got) != 1 {
			t.Errorf("answer during swaps = %v, want one record", got)
		}
	}
	cancel()
	wg.Wait()

	r.RemoveView(vpcB)
	if rcode, _ := answer(); rcode != mdns.RcodeRefused {
		t.Errorf("after RemoveView rcode = %s, want REFUSED", mdns.RcodeToString[rcode])
	}
	if _, ok := r.Stats(vpcB); ok {
		t.Error("stats survive RemoveView")
	}
}

func ExampleResolver_Answer() {
	b := NewViewBuilder()
	_ = b.AddA("ip-10-0-1-5.ec2.internal", netip.MustParseAddr("10.0.1.5"))
	v, _ := b.Build()
	r := NewResolver(nil, nil)
	r.SetView("vpc-1", v)
	resp := r.Answer(context.Background(), "vpc-1", query("ip-10-0-1-5.ec2.internal.", mdns.TypeA), true)
	fmt.Println(mdns.RcodeToString[resp.Rcode], resp.Answer[0].(*mdns.A).A)
	// Output: NOERROR 10.0.1.5
}
