package dataplane

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestKernelState reads the router namespace back with nft and ip (for
// assertions only) and checks that what the kernel holds is the model:
// readable rules, merged interval sets, policy rules and subnet tables.
func TestKernelState(t *testing.T) {
	e := newTestEnv(t)
	for _, tool := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("kernel state test needs %s for assertions", tool)
		}
	}
	v := e.baseVPC()
	v.NetworkACLs = []NetworkACL{{ID: "acl-b", Entries: []ACLEntry{{RuleNumber: 100, Protocol: "-1", CIDR: v.CIDR, Allow: true}}}}
	v.Subnets[1].ACLID = "acl-b"
	v.PrefixLists = []PrefixList{{ID: "pl-1", CIDRs: []netip.Prefix{pfx("198.18.0.0/16"), pfx("198.19.0.0/16"), pfx("203.0.113.0/24")}}}
	v.SecurityGroups[0].Egress = append(v.SecurityGroups[0].Egress, SGRule{Protocol: "tcp", FromPort: 443, ToPort: 443, PrefixListIDs: []string{"pl-1"}})
	v.Subnets[0].Routes = []Route{
		{PrefixListID: "pl-1", Target: TargetGatewayEndpoint, TargetID: "vpce-1"},
		{Destination: pfx("10.200.0.0/16"), Target: TargetInterface, TargetID: "eni-b1"},
	}
	e.apply(v)
	ns := e.l.RouterNamespace(v.ID)
	run := func(args ...string) string {
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	a1, b1 := routerLinkName("eni-a1"), routerLinkName("eni-b1")
	nat, err := e.l.InternetAddress(v.ID)
	if err != nil {
		t.Fatal(err)
	}
	gw := nat.Next().String()
	tables := subnetTables(v.Subnets)
	tests := []struct {
		name string
		out  string
		want []string
	}{
		{"nftables", run("nft", "list", "table", "inet", nftTableName), []string{
			"type filter hook forward priority filter; policy drop;",
			"iifname vmap @from",
			"oifname vmap @to",
			`"` + a1 + `" : jump from-` + a1,
			"ip saddr != 10.77.1.10 drop",
			"meta mark set iifname map @subnet-tables",
			fmt.Sprintf(`"%s" : 0x%08x`, a1, tables["subnet-a"]), // as ip rule prints it
			fmt.Sprintf("meta mark != 0x%08x jump cross-b", tables["subnet-b"]),
			"meta mark vmap @acl-egress",
			fmt.Sprintf("elements = { 0x%08x : jump acl-b-egress }", tables["subnet-b"]),
			"jump acl-b-ingress",
			`"` + a1 + `" : jump sg-open-egress`,
			"ct state established,related accept",
			"ip saddr 10.77.0.0/16 return",
			"tcp dport 443 ip daddr @pl-1 return",
			"elements = { 198.18.0.0/15, 203.0.113.0/24 }",
			"type nat hook postrouting priority srcnat; policy accept;",
			`oifname "` + uplinkLink + `" masquerade`,
			`iifname "` + uplinkLink + `" drop`,
		}},
		{"policy rules", run("ip", "rule"), []string{
			fmt.Sprintf("1000:\tfrom all fwmark %#x lookup %d", tables["subnet-a"], tables["subnet-a"]),
			fmt.Sprintf("1000:\tfrom all fwmark %#x lookup %d", tables["subnet-b"], tables["subnet-b"]),
		}},
		{"routes", run("ip", "route", "show", "table", "all"), []string{
			"unreachable default table " + strconv.Itoa(tables["subnet-a"]),
			"throw 10.77.0.0/16 table " + strconv.Itoa(tables["subnet-a"]),
			"198.19.0.0/16 via " + gw + " dev " + uplinkLink + " table " + strconv.Itoa(tables["subnet-a"]),
			"10.200.0.0/16 via 10.77.2.10 dev " + b1 + " table " + strconv.Itoa(tables["subnet-a"]),
			"unreachable 10.77.0.0/16 proto 250",
			"10.77.1.10 dev " + a1 + " proto 250 scope link",
			"local 10.77.0.2 dev lo",
			"local 169.254.169.253 dev lo",
		}},
	}
	inet, err := exec.Command("ip", "netns", "exec", e.l.InternetNamespace(), "nft", "list", "table", "inet", nftTableName).CombinedOutput()
	if err != nil {
		t.Fatalf("internet table: %v\n%s", err, inet)
	}
	tests = append(tests, struct {
		name string
		out  string
		want []string
	}{"internet forwards nothing", string(inet), []string{"type filter hook forward priority filter; policy drop;"}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !strings.Contains(tc.out, w) {
					t.Errorf("missing %q in:\n%s", w, tc.out)
				}
			}
		})
	}
}

// TestLargeVPCRuleset: the table of a VPC with thousands of interfaces is
// written in one transaction; it once exceeded the default netlink buffer
// at about 100 interfaces, and the VPC could then never be realized.
func TestLargeVPCRuleset(t *testing.T) {
	e := newTestEnv(t)
	name := e.scratchNS("-r-large")
	h, err := openNS(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v := e.baseVPC()
	v.Subnets = append(v.Subnets, Subnet{ID: "subnet-big", CIDR: pfx("10.77.128.0/20")})
	const n = 3000
	for i := range n {
		id := "eni-n" + strconv.Itoa(i)
		v.Interfaces = append(v.Interfaces, Interface{ID: id, SubnetID: "subnet-big", IP: netip.AddrFrom4([4]byte{10, 77, byte(128 + i/240), byte(10 + i%240)}),
			SecurityGroupIDs: []string{"sg-open"}, Kind: KindInstance})
	}
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	rs := buildRuleset(v)
	if changed, err := applyRuleset(int(h), rs); err != nil || !changed {
		t.Fatalf("apply %d interfaces: changed %v, %v", n, changed, err)
	}
	if changed, err := applyRuleset(int(h), rs); err != nil || changed {
		t.Fatalf("reapply: changed %v, %v", changed, err)
	}
}

// TestOldPolicyRulesRemoved: the per-interface "iif" rules older versions
// kept at the subnet-lookup priority go away on the next apply, leaving the
// one mark rule per subnet.
func TestOldPolicyRulesRemoved(t *testing.T) {
	e := newTestEnv(t)
	v := e.baseVPC()
	e.apply(v)
	router, err := ensureNS(e.l.RouterNamespace(v.ID), &Result{})
	if err != nil {
		t.Fatal(err)
	}
	defer router.close()
	tables := subnetTables(v.Subnets)
	old := netlink.NewRule()
	old.Priority, old.IifName, old.Table = rulePriority, routerLinkName("eni-a1"), tables["subnet-a"]
	if err := router.nl.RuleAdd(old); err != nil {
		t.Fatal(err)
	}
	e.apply(v)
	rules, err := router.nl.RuleList(netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	marks := 0
	for _, r := range rules {
		if r.Priority != rulePriority {
			continue
		}
		if r.IifName != "" {
			t.Errorf("old rule left: %s", r)
		}
		marks++
	}
	if marks != len(v.Subnets) {
		t.Errorf("%d rules at priority %d, want one per subnet (%d)", marks, rulePriority, len(v.Subnets))
	}
}
