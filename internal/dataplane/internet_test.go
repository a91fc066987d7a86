package dataplane

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInternetValidate(t *testing.T) {
	ok := PublicService{Name: "s3", Addr: netip.MustParseAddr("198.18.0.1"), CIDRs: []netip.Prefix{pfx("198.18.0.0/24")}}
	tests := []struct {
		name string
		svcs []PublicService
		ok   bool
	}{
		{"valid", []PublicService{ok}, true},
		{"empty", nil, true},
		{"duplicate name", []PublicService{ok, ok}, false},
		{"empty name", []PublicService{{Addr: ok.Addr}}, false},
		{"address outside range", []PublicService{{Name: "x", Addr: netip.MustParseAddr("8.8.8.8")}}, false},
		{"missing address", []PublicService{{Name: "x"}}, false},
		{"cidr outside range", []PublicService{{Name: "x", Addr: ok.Addr, CIDRs: []netip.Prefix{pfx("52.216.0.0/15")}}}, false},
		{"cidr wider than range", []PublicService{{Name: "x", Addr: ok.Addr, CIDRs: []netip.Prefix{pfx("198.16.0.0/12")}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Internet{Services: tc.svcs}.Validate()
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidModel) {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestInternetLocalPrefixes(t *testing.T) {
	in := Internet{Services: []PublicService{
		{Name: "sqs", Addr: netip.MustParseAddr("198.18.3.12")},
		{Name: "s3", Addr: netip.MustParseAddr("198.18.0.1"), CIDRs: []netip.Prefix{pfx("198.18.1.0/24"), pfx("198.18.0.5/24")}},
	}}
	want := []netip.Prefix{pfx("198.18.0.0/24"), pfx("198.18.1.0/24"), pfx("198.18.3.12/32")}
	if diff := cmp.Diff(want, in.localPrefixes(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("localPrefixes (-want +got):\n%s", diff)
	}
}

func TestUplinkRoutes(t *testing.T) {
	igw := Route{Destination: pfx("0.0.0.0/0"), Target: TargetInternetGateway, TargetID: "igw-1"}
	gwe := Route{PrefixListID: "pl-s3", Target: TargetGatewayEndpoint, TargetID: "vpce-1"}
	tests := []struct {
		name      string
		igwID     string
		routes    []Route
		uplink    bool
		igwRouted bool
	}{
		{"nothing", "", nil, false, false},
		{"attached gateway without routes", "igw-1", nil, true, true},
		{"route to detached gateway", "", []Route{igw}, false, false},
		{"route to other gateway", "igw-2", []Route{igw}, true, false},
		{"gateway endpoint alone", "", []Route{gwe}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := VPC{InternetGatewayID: tc.igwID, Subnets: []Subnet{{ID: "subnet-a", Routes: tc.routes}}}
			if got := needsUplink(v); got != tc.uplink {
				t.Errorf("needsUplink = %v, want %v", got, tc.uplink)
			}
			if got := usesInternetGateway(v, igw); got != tc.igwRouted {
				t.Errorf("usesInternetGateway = %v, want %v", got, tc.igwRouted)
			}
		})
	}
}

func TestUplinkNet(t *testing.T) {
	p, err := uplinkNet("vpc-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a /31 in the pool", func(t *testing.T) {
		if p.Bits() != 31 || !uplinkPool.Contains(p.Addr()) || p.Masked() != p {
			t.Fatalf("got %v", p)
		}
		if natAddr(p) == peerAddr(p) || peerAddr(p) != natAddr(p).Next() {
			t.Fatalf("nat %v peer %v", natAddr(p), peerAddr(p))
		}
	})
	t.Run("stable", func(t *testing.T) {
		if again, _ := uplinkNet("vpc-1", nil); again != p {
			t.Fatalf("%v then %v", p, again)
		}
	})
	t.Run("avoids used", func(t *testing.T) {
		q, err := uplinkNet("vpc-1", map[netip.Prefix]bool{p: true})
		if err != nil || q == p || !uplinkPool.Contains(q.Addr()) {
			t.Fatalf("got %v, %v", q, err)
		}
	})
	t.Run("clear of the well-known link-local services", func(t *testing.T) {
		for _, a := range []string{"169.254.169.253", "169.254.169.254", "169.254.170.2"} {
			if uplinkPool.Contains(netip.MustParseAddr(a)) {
				t.Errorf("pool contains %s", a)
			}
		}
	})
	t.Run("names", func(t *testing.T) {
		if n := internetLinkName("vpc-0123456789abcdef0"); len(n) > 15 || n == internetLinkName("vpc-1") {
			t.Errorf("link name %q", n)
		}
		if strings.HasPrefix(internetNSName("pl"), "pl-r-") || strings.HasPrefix(internetNSName("pl"), "pl-n-") {
			t.Error("internet namespace looks like a router or interface namespace to Cleanup")
		}
	})
}

func TestBuildRulesetUplink(t *testing.T) {
	v := builderVPC()
	t.Run("no uplink, no nat", func(t *testing.T) {
		rs := buildRuleset(v)
		if strings.Contains(rs.String(), uplinkLink) || len(rs.Chains) != 5+2+len(v.Subnets)+4*len(v.Interfaces) { // forward, prerouting, input and the fabric's two, one ACL's two chains, a crossing per subnet, per interface its from and to chains and (one group set each here) two group chains
			t.Fatalf("uplink rules without an uplink:\n%s", rs)
		}
	})
	v.InternetGatewayID = "igw-1"
	rs := buildRuleset(v)
	q := `"` + uplinkLink + `"`
	tests := []struct {
		chain string
		want  []string
	}{
		{"input", []string{"iifname vmap @from", "iifname " + q + " ct state established,related accept", "iifname " + q + " drop"}},
		{"postrouting", []string{"oifname " + q + " masquerade"}},
		// Leaving the VPC leaves the source subnet: its egress ACL applies.
		{"to-" + uplinkLink, []string{"meta mark vmap @acl-egress"}},
	}
	for _, tc := range tests {
		t.Run(tc.chain, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, chainRules(t, rs, tc.chain)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("forward lets interfaces out after their groups", func(t *testing.T) {
		fwd := chainRules(t, rs, "forward")
		out := slices.Index(fwd, "iifname @interfaces oifname "+q+" accept")
		groups := slices.Index(fwd, "iifname vmap @"+eniEgressMap)
		if out < 0 || groups < 0 || out < groups || out != len(fwd)-1 {
			t.Fatalf("uplink accept at %d (egress groups at %d) in %v", out, groups, fwd)
		}
	})
	t.Run("hooks render", func(t *testing.T) {
		s := rs.String()
		for _, w := range []string{"type nat hook postrouting priority srcnat; policy accept;", "type filter hook input priority filter; policy accept;"} {
			if !strings.Contains(s, w) {
				t.Errorf("missing %q", w)
			}
		}
	})
	t.Run("forward chain first (it carries the fingerprint)", func(t *testing.T) {
		if rs.Chains[0].Name != "forward" {
			t.Fatal(rs.Chains[0].Name)
		}
	})
}

func TestFakeRealizerInternet(t *testing.T) {
	f := &FakeRealizer{}
	in := Internet{Services: []PublicService{{Name: "sqs", Addr: netip.MustParseAddr("198.18.3.12")}}}
	ctx := context.Background()
	if res, err := f.ApplyInternet(ctx, in); err != nil || len(res.Created) != 1 {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	if res, err := f.ApplyInternet(ctx, in); err != nil || res.Changed() {
		t.Fatalf("re-apply: %+v %v", res, err)
	}
	if _, err := f.ApplyInternet(ctx, Internet{Services: []PublicService{{Name: "x", Addr: netip.MustParseAddr("10.0.0.1")}}}); !errors.Is(err, ErrInvalidModel) {
		t.Fatalf("invalid internet: %v", err)
	}
	if f.InternetNamespace() != "pl-inet" {
		t.Errorf("namespace %q", f.InternetNamespace())
	}
	if err := f.DeleteInternet(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.AppliedInternet(); ok {
		t.Error("internet survived delete")
	}
}
