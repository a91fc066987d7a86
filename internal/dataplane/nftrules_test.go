package dataplane

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// chainRules returns the rendered rules of one chain.
func chainRules(t *testing.T, rs nftRuleset, name string) []string {
	t.Helper()
	for _, c := range rs.Chains {
		if c.Name == name {
			out := []string{}
			for _, r := range c.Rules {
				out = append(out, r.String())
			}
			return out
		}
	}
	t.Fatalf("no chain %s in\n%s", name, rs)
	return nil
}

func builderVPC() VPC {
	return VPC{
		ID:   "vpc-1",
		CIDR: pfx("10.0.0.0/16"),
		Subnets: []Subnet{
			{ID: "subnet-b", CIDR: pfx("10.0.2.0/24"), ACLID: "acl-1"},
			{ID: "subnet-a", CIDR: pfx("10.0.1.0/24")},
		},
		Interfaces: []Interface{
			{ID: "eni-web", SubnetID: "subnet-b", IP: netip.MustParseAddr("10.0.2.10"), SecurityGroupIDs: []string{"sg-web"}},
			{ID: "eni-app", SubnetID: "subnet-a", IP: netip.MustParseAddr("10.0.1.10"), SecurityGroupIDs: []string{"sg-app", "sg-web"}},
		},
		SecurityGroups: []SecurityGroup{
			{ID: "sg-web", Ingress: []SGRule{
				{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: []netip.Prefix{pfx("10.0.0.0/16"), pfx("::/0")}, GroupIDs: []string{"sg-app"}},
				{Protocol: "icmp", FromPort: 8, ToPort: -1, CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}},
			}},
			{ID: "sg-app", Egress: []SGRule{
				{Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}},
				{Protocol: "udp", FromPort: 1000, ToPort: 2000, PrefixListIDs: []string{"pl-s3"}},
			}},
		},
		NetworkACLs: []NetworkACL{{ID: "acl-1", Entries: []ACLEntry{
			{RuleNumber: 200, Protocol: "-1", CIDR: pfx("0.0.0.0/0"), Allow: true},
			{RuleNumber: 100, Protocol: "tcp", PortFrom: 22, PortTo: 22, CIDR: pfx("10.0.1.0/24"), Allow: false},
			{RuleNumber: 100, Egress: true, Protocol: "tcp", PortFrom: 1024, PortTo: 65535, CIDR: pfx("0.0.0.0/0"), Allow: true},
			{RuleNumber: 110, Egress: true, Protocol: "icmp", ICMPType: 0, ICMPCode: -1, CIDR: pfx("10.0.0.0/8"), Allow: true},
		}}},
		PrefixLists: []PrefixList{{ID: "pl-s3", CIDRs: []netip.Prefix{pfx("198.18.1.0/24"), pfx("198.18.0.0/24"), pfx("198.18.0.128/25")}}},
	}
}

func TestBuildRuleset(t *testing.T) {
	v := builderVPC()
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	rs := buildRuleset(v)
	web, app := routerLinkName("eni-web"), routerLinkName("eni-app")
	appOut, appIn := groupsChain([]string{"sg-app", "sg-web"}, "egress"), groupsChain([]string{"sg-web", "sg-app"}, "ingress")
	tables := subnetTables(v.Subnets)
	// What forward checks, and fabric-out again after translation.
	checks := []string{
		"iifname vmap @from",
		"oifname vmap @to",
		"ct state established,related accept",
		"ct state != new drop",
		"iifname vmap @eni-egress",
		"oifname vmap @eni-ingress",
		"iifname @interfaces oifname @interfaces accept",
	}
	q := func(s string) string { return `"` + s + `"` }
	tests := []struct {
		name  string
		chain string
		want  []string
	}{
		{"forward order", "forward", append([]string{
			"meta nfproto != ipv4 drop",
			"ct mark & 0xffff0000 == 0x40000000 accept",
		}, checks...)},
		{"routing: the subnet's table by mark; fabric replies checked before translation", "prerouting", []string{
			"meta mark set iifname map @subnet-tables",
			"ct direction reply ct mark & 0xffff0000 == 0x40000000 jump fabric-reply",
		}},
		{"fabric replies: the sender's checks, then the load balancer interface's by address", "fabric-reply", []string{
			"iifname vmap @from",
			"ip daddr vmap @to-addr",
		}},
		{"fabric originals: the forward checks after translation, but the source check (the translation set the source)", "fabric-out", append(append([]string{
			"ct mark & 0xffff0000 != 0x40000000 accept",
			"ct direction reply accept",
		}, checks[1:]...), "drop")},
		{"source check: an interface sends from its own address", "from-" + app, []string{
			"ip saddr != 10.0.1.10/32 drop",
		}},
		{"destination check, then a packet from another subnet crosses into this one", "to-" + web, []string{
			"ip daddr != 10.0.2.10/32 drop",
			fmt.Sprintf("meta mark != 0x%08x jump cross-b", tables["subnet-b"]),
		}},
		{"crossing into a subnet with an acl: source subnet's egress acl, then its ingress acl", "cross-b", []string{
			"meta mark vmap @acl-egress",
			"jump acl-1-ingress",
		}},
		{"crossing into a subnet without an acl: only the source subnet's egress acl", "cross-a", []string{
			"meta mark vmap @acl-egress",
		}},
		{"acl ingress in number order with implicit deny", "acl-1-ingress", []string{
			"meta l4proto 6 th dport 22 ip saddr 10.0.1.0/24 drop",
			"return",
			"drop",
		}},
		{"acl egress ephemeral and icmp", "acl-1-egress", []string{
			"meta l4proto 6 th dport 1024-65535 return",
			"meta l4proto 1 icmp type 0 ip daddr 10.0.0.0/8 return",
			"drop",
		}},
		{"sg ingress: cidr, group reference, icmp, ipv6 skipped", "sg-web-ingress", []string{
			"meta l4proto 6 th dport 443 ip saddr 10.0.0.0/16 return",
			"meta l4proto 6 th dport 443 ip saddr @sg-app return",
			"meta l4proto 1 icmp type 8 return",
			"drop",
		}},
		{"sg egress default deny when no rule", "sg-web-egress", []string{"drop"}},
		{"multiple groups are a union", appOut, []string{
			"return",
			"meta l4proto 17 th dport 1000-2000 ip daddr @pl-s3 return",
			"drop",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, chainRules(t, rs, tc.chain)); diff != "" {
				t.Errorf("chain %s (-want +got):\n%s", tc.chain, diff)
			}
		})
	}
	t.Run("sets", func(t *testing.T) {
		text := rs.String()
		for _, want := range []string{
			"set sg-web { type ipv4_addr; elements = { 10.0.1.10, 10.0.2.10 } }",
			"set sg-app { type ipv4_addr; elements = { 10.0.1.10 } }",
			"set pl-s3 { type ipv4_addr; flags interval; elements = { 198.18.0.0-198.18.1.255 } }",
			"map from { type ifname : verdict; elements = { " + q(app) + " : jump from-" + app + ", " + q(web) + " : jump from-" + web + " } }",
			"map to { type ifname : verdict; elements = { " + q(app) + " : jump to-" + app + ", " + q(web) + " : jump to-" + web + " } }",
			"map to-addr { type ipv4_addr : verdict; elements = { 10.0.1.10 : jump to-" + app + ", 10.0.2.10 : jump to-" + web + " } }",
			"map eni-egress { type ifname : verdict; elements = { " + q(app) + " : jump " + appOut + ", " + q(web) + " : jump sg-web-egress } }",
			"map eni-ingress { type ifname : verdict; elements = { " + q(app) + " : jump " + appIn + ", " + q(web) + " : jump sg-web-ingress } }",
			fmt.Sprintf("map subnet-tables { type ifname : mark; elements = { %s : 0x%08x, %s : 0x%08x } }", q(app), tables["subnet-a"], q(web), tables["subnet-b"]),
			// Only subnet-b has an ACL, so only packets from it meet an egress ACL.
			fmt.Sprintf("map acl-egress { type mark : verdict; elements = { 0x%08x : jump acl-1-egress } }", tables["subnet-b"]),
		} {
			mustContain(t, text, want)
		}
	})
	t.Run("source/destination check off: no address checks", func(t *testing.T) {
		w := builderVPC()
		w.Interfaces[0].NoSourceDestCheck = true // eni-web
		rs := buildRuleset(w)
		mustContain(t, rs.String(), "map from { type ifname : verdict; elements = { "+q(app)+" : jump from-"+app+" } }")
		want := []string{fmt.Sprintf("meta mark != 0x%08x jump cross-b", tables["subnet-b"])}
		if diff := cmp.Diff(want, chainRules(t, rs, "to-"+web)); diff != "" {
			t.Errorf("to-%s (-want +got):\n%s", web, diff)
		}
	})
	t.Run("interfaces with the same groups share their chains", func(t *testing.T) {
		w := builderVPC()
		w.Interfaces = append(w.Interfaces, Interface{ID: "eni-app2", SubnetID: "subnet-a", IP: netip.MustParseAddr("10.0.1.11"), SecurityGroupIDs: []string{"sg-web", "sg-app"}})
		rs2 := buildRuleset(w)
		groupChains := func(rs nftRuleset) (n int) {
			for _, c := range rs.Chains {
				if strings.HasPrefix(c.Name, "sg-") || strings.HasPrefix(c.Name, "sgs-") {
					n++
				}
			}
			return n
		}
		if groupChains(rs2) != groupChains(rs) {
			t.Errorf("a third interface with an existing group set added group chains: %d, then %d", groupChains(rs), groupChains(rs2))
		}
		mustContain(t, rs2.String(), q(routerLinkName("eni-app2"))+" : jump "+appIn)
	})
	t.Run("every jump and lookup names something that exists", func(t *testing.T) {
		if err := checkReferences(rs); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		w := builderVPC()
		w.Interfaces[0], w.Interfaces[1] = w.Interfaces[1], w.Interfaces[0]
		if buildRuleset(w).String() != rs.String() {
			t.Error("interface order changed the ruleset")
		}
	})
	t.Run("no acl no acl chains", func(t *testing.T) {
		w := builderVPC()
		w.Subnets[0].ACLID = ""
		rs := buildRuleset(w)
		for _, c := range rs.Chains {
			if strings.HasPrefix(c.Name, "acl-") || strings.HasPrefix(c.Name, "cross-") {
				t.Errorf("unexpected chain %s", c.Name)
			}
			for _, r := range c.Rules {
				if r.Map == aclEgressMap || strings.HasPrefix(r.Jump, "cross-") {
					t.Errorf("chain %s still gates subnets: %s", c.Name, r)
				}
			}
		}
		for _, s := range rs.Sets {
			if s.Name == aclEgressMap && len(s.Marks) > 0 {
				t.Errorf("map %s has elements %v", s.Name, s.Marks)
			}
		}
	})
}

func TestProtoMatches(t *testing.T) {
	tests := []struct {
		name         string
		proto        string
		from, to     int
		icmpT, icmpC int
		want         string
	}{
		{"all", "-1", 0, 0, 0, 0, ""},
		{"tcp all ports", "tcp", 0, 65535, 0, 0, "meta l4proto 6"},
		{"tcp minus one", "tcp", -1, -1, 0, 0, "meta l4proto 6"},
		{"udp single", "udp", 53, 53, 0, 0, "meta l4proto 17 th dport 53"},
		{"numeric tcp", "6", 80, 90, 0, 0, "meta l4proto 6 th dport 80-90"},
		{"icmp any", "icmp", 0, 0, -1, -1, "meta l4proto 1"},
		{"icmp type and code", "icmp", 0, 0, 3, 4, "meta l4proto 1 icmp type 3 icmp code 4"},
		{"gre", "47", 0, 0, 0, 0, "meta l4proto 47"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var parts []string
			for _, m := range protoMatches(tc.proto, tc.from, tc.to, tc.icmpT, tc.icmpC) {
				parts = append(parts, m.String())
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseProtocol(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"-1", -1, false}, {"TCP", 6, false}, {"udp", 17, false}, {"icmp", 1, false},
		{"50", 50, false}, {"256", 0, true}, {"sctp", 0, true}, {"", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseProtocol(tc.in)
			if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
				t.Errorf("parseProtocol(%q) = %d, %v", tc.in, got, err)
			}
		})
	}
}

func TestMergePrefixes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string // start-end pairs
	}{
		{"empty", nil, nil},
		{"adjacent merge", []string{"10.0.1.0/24", "10.0.0.0/24"}, []string{"10.0.0.0-10.0.1.255"}},
		{"contained", []string{"10.0.0.0/8", "10.1.0.0/16"}, []string{"10.0.0.0-10.255.255.255"}},
		{"disjoint", []string{"10.0.0.0/24", "10.0.2.0/24"}, []string{"10.0.0.0-10.0.0.255", "10.0.2.0-10.0.2.255"}},
		{"ipv6 ignored", []string{"::/0", "1.2.3.4/32"}, []string{"1.2.3.4-1.2.3.4"}},
		{"whole space", []string{"0.0.0.0/0"}, []string{"0.0.0.0-255.255.255.255"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []netip.Prefix
			for _, s := range tc.in {
				in = append(in, pfx(s))
			}
			out := mergePrefixes(in)
			var got []string
			for i := 0; i+1 < len(out); i += 2 {
				got = append(got, out[i].Addr().String()+"-"+out[i+1].Addr().String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzBuildRuleset(f *testing.F) {
	f.Add("tcp", 80, 80, "10.0.0.0/8", 100, true)
	f.Add("-1", 0, 0, "0.0.0.0/0", 32766, false)
	f.Add("icmp", -1, -1, "10.1.2.3/32", 1, true)
	f.Add("200", 70000, -5, "255.255.255.255/32", -1, false)
	f.Fuzz(func(t *testing.T, proto string, from, to int, cidr string, number int, allow bool) {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return
		}
		v := VPC{
			ID:             "vpc-f",
			CIDR:           pfx("10.0.0.0/16"),
			Subnets:        []Subnet{{ID: "subnet-f", CIDR: pfx("10.0.1.0/24"), ACLID: "acl-f"}},
			Interfaces:     []Interface{{ID: "eni-f", SubnetID: "subnet-f", IP: netip.MustParseAddr("10.0.1.9"), SecurityGroupIDs: []string{"sg-f"}}},
			SecurityGroups: []SecurityGroup{{ID: "sg-f", Ingress: []SGRule{{Protocol: proto, FromPort: from, ToPort: to, CIDRs: []netip.Prefix{p}, PrefixListIDs: []string{"pl-f"}}}}},
			NetworkACLs:    []NetworkACL{{ID: "acl-f", Entries: []ACLEntry{{RuleNumber: number, Protocol: proto, PortFrom: from, PortTo: to, ICMPType: from, ICMPCode: to, CIDR: p, Allow: allow}}}},
			PrefixLists:    []PrefixList{{ID: "pl-f", CIDRs: []netip.Prefix{p, pfx("10.0.0.0/8"), pfx("10.1.0.0/16")}}},
		}
		if err := v.Validate(); err != nil {
			return
		}
		rs := buildRuleset(v)
		for _, s := range rs.Sets {
			if s.Kind == setAddrInterval {
				for i := 0; i+1 < len(s.Prefixes); i += 2 {
					if s.Prefixes[i+1].Addr().Less(s.Prefixes[i].Addr()) {
						t.Fatalf("interval end before start in %s", s.Name)
					}
					if i >= 2 && !s.Prefixes[i-1].Addr().Less(s.Prefixes[i].Addr()) {
						t.Fatalf("overlapping intervals in %s", s.Name)
					}
				}
			}
		}
		for _, c := range rs.Chains {
			for _, r := range c.Rules {
				for _, m := range r.Matches {
					if m.Field == fieldDport && (m.Lo > m.Hi || int(m.Lo) != from || int(m.Hi) != to) {
						t.Fatalf("port match %d-%d for rule %d-%d", m.Lo, m.Hi, from, to)
					}
					if m.Field == fieldICMPType && int(m.Lo) != from || m.Field == fieldICMPCode && int(m.Lo) != to {
						t.Fatalf("icmp match %v for type %d code %d", m, from, to)
					}
				}
			}
		}
		if !strings.HasPrefix(rs.String(), "table inet privlink {") {
			t.Fatal("render lost its header")
		}
		if err := checkReferences(rs); err != nil {
			t.Fatal(err)
		}
	})
}

// mustContain fails the test unless the rendered ruleset holds want.
func mustContain(t *testing.T, text, want string) {
	t.Helper()
	if !strings.Contains(text, want) {
		t.Errorf("ruleset lacks %q:\n%s", want, text)
	}
}

// checkReferences reports a jump, map element or lookup that names a chain
// or set the ruleset does not define, or a map whose columns differ in length:
// the kernel would refuse the whole table.
func checkReferences(rs nftRuleset) error {
	chains, sets := map[string]bool{}, map[string]nftSet{}
	for _, c := range rs.Chains {
		chains[c.Name] = true
	}
	for _, s := range rs.Sets {
		sets[s.Name] = s
		if n := len(s.keyStrings()); s.isMap() && s.Kind != mapIfnameMark {
			if len(s.Chains) != n {
				return fmt.Errorf("map %s: %d keys, %d chains", s.Name, n, len(s.Chains))
			}
			for _, c := range s.Chains {
				if !chains[c] {
					return fmt.Errorf("map %s jumps to missing chain %s", s.Name, c)
				}
			}
		}
		if s.Kind == mapIfnameMark && len(s.Marks) != len(s.Ifnames) {
			return fmt.Errorf("map %s: %d keys, %d marks", s.Name, len(s.Ifnames), len(s.Marks))
		}
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if r.Verdict == verdictJump && !chains[r.Jump] {
				return fmt.Errorf("chain %s jumps to missing chain %s", c.Name, r.Jump)
			}
			if r.Verdict == verdictVmap || r.Verdict == verdictMarkMap {
				if _, ok := sets[r.Map]; !ok {
					return fmt.Errorf("chain %s looks up missing map %s", c.Name, r.Map)
				}
			}
			for _, m := range r.Matches {
				if m.Set != "" {
					if _, ok := sets[m.Set]; !ok {
						return fmt.Errorf("chain %s looks up missing set %s", c.Name, m.Set)
					}
				}
			}
		}
	}
	return nil
}
