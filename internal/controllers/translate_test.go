package controllers

import (
	"context"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/store"
)

// richVPC is a VPC with one of everything desiredVPC translates.
type richVPC struct {
	vpc                          *cloud.Vpc
	otherVPC                     *cloud.Vpc
	subA, subB, subC             string // main table; explicit table; explicit table, default ACL
	acl                          string // custom ACL of subB
	rtb                          string // explicit table of subB and subC
	igw                          string
	app, other, epSG             string // groups: app (rules), other VPC's group, endpoint's group
	customPL, s3PL, gwEndpoint   string
	instanceID, instanceENI      string
	instanceDNS, standaloneENI   string
	lbENI, sqsEndpointENI        string
	instanceIP, lbIP, endpointIP string
}

func buildRichVPC(t *testing.T, cp *controlplane.ControlPlane, db *store.DB) *richVPC {
	t.Helper()
	ctx := context.Background()
	c := root(consumerAcct)
	r := &richVPC{}
	r.vpc = must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.0.0.0/16"}))(t)
	r.otherVPC = must(cp.CreateVpc(ctx, c, controlplane.CreateVpcInput{CidrBlock: "10.9.0.0/16"}))(t)
	check(t, cp.ModifyVpcAttribute(ctx, c, r.vpc.ID, nil, ptr(true)))
	r.subA = must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: r.vpc.ID, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1a"}))(t).ID
	r.subB = must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: r.vpc.ID, CidrBlock: "10.0.2.0/24", AvailabilityZone: "us-east-1b"}))(t).ID
	r.subC = must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: r.vpc.ID, CidrBlock: "10.0.3.0/24", AvailabilityZone: "us-east-1a"}))(t).ID
	must(cp.CreateSubnet(ctx, c, controlplane.CreateSubnetInput{VpcID: r.otherVPC.ID, CidrBlock: "10.9.1.0/24", AvailabilityZone: "us-east-1a"}))(t)

	// Network ACL of subnet B: one entry per protocol mapping, plus IPv6.
	r.acl = must(cp.CreateNetworkAcl(ctx, c, controlplane.CreateNetworkAclInput{VpcID: r.vpc.ID}))(t).ID
	entries := []controlplane.NetworkAclEntryInput{
		{RuleNumber: ptr(100), Protocol: "6", RuleAction: "allow", CidrBlock: "10.0.0.0/8", PortFrom: ptr(443), PortTo: ptr(443)},
		{RuleNumber: ptr(110), Protocol: "17", RuleAction: "allow", CidrBlock: "10.0.0.0/8", PortFrom: ptr(53), PortTo: ptr(53)},
		{RuleNumber: ptr(120), Protocol: "1", RuleAction: "allow", CidrBlock: "0.0.0.0/0", IcmpType: ptr(8), IcmpCode: ptr(-1)},
		{RuleNumber: ptr(130), Protocol: "-1", RuleAction: "deny", CidrBlock: "192.168.0.0/16"},
		{RuleNumber: ptr(140), Protocol: "-1", RuleAction: "allow", Ipv6CidrBlock: "::/0"},
		{RuleNumber: ptr(100), Protocol: "-1", RuleAction: "allow", CidrBlock: "0.0.0.0/0", Egress: true},
	}
	for _, e := range entries {
		e.NetworkAclID = r.acl
		check(t, cp.CreateNetworkAclEntry(ctx, c, e))
	}
	var assocB string
	db.View(func(tx *store.Tx) error {
		for _, acl := range store.List[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, nil) {
			for _, a := range acl.Associations {
				if a.SubnetID == r.subB {
					assocB = a.ID
				}
			}
		}
		return nil
	})
	must(cp.ReplaceNetworkAclAssociation(ctx, c, assocB, r.acl))(t)

	// Security groups.
	r.app = must(cp.CreateSecurityGroup(ctx, c, controlplane.CreateSecurityGroupInput{GroupName: "app", Description: "app", VpcID: r.vpc.ID}))(t).ID
	r.epSG = must(cp.CreateSecurityGroup(ctx, c, controlplane.CreateSecurityGroupInput{GroupName: "ep", Description: "ep", VpcID: r.vpc.ID}))(t).ID
	r.other = must(cp.CreateSecurityGroup(ctx, c, controlplane.CreateSecurityGroupInput{GroupName: "other", Description: "other", VpcID: r.otherVPC.ID}))(t).ID
	r.customPL = must(cp.CreateManagedPrefixList(ctx, c, controlplane.CreateManagedPrefixListInput{Name: "corp", MaxEntries: ptr(5), AddressFamily: "IPv4",
		Entries: []cloud.PrefixListEntry{{Cidr: "172.16.0.0/12"}, {Cidr: "192.168.10.0/24"}}}))(t).ID
	r.s3PL = cloud.AWSPrefixListID(cloud.AWSServiceName(region, "s3"))
	must(cp.AuthorizeSecurityGroup(ctx, c, controlplane.AuthorizeSecurityGroupInput{GroupID: r.app, Permissions: []controlplane.IPPermission{
		{IPProtocol: "tcp", FromPort: ptr(443), ToPort: ptr(443), IPRanges: []controlplane.RulePeer{{CidrIPv4: "10.1.0.0/16"}}, IPv6Ranges: []controlplane.RulePeer{{CidrIPv6: "::/0"}}},
		{IPProtocol: "tcp", FromPort: ptr(8080), ToPort: ptr(8080), PrefixList: []controlplane.RulePeer{{PrefixListID: r.customPL}}},
		{IPProtocol: "udp", FromPort: ptr(53), ToPort: ptr(53), Groups: []controlplane.RulePeer{{GroupID: r.epSG}}},
		{IPProtocol: "icmp", FromPort: ptr(8), ToPort: ptr(-1), IPRanges: []controlplane.RulePeer{{CidrIPv4: "10.0.0.0/16"}}},
	}}))(t)
	must(cp.AuthorizeSecurityGroup(ctx, c, controlplane.AuthorizeSecurityGroupInput{GroupID: r.app, Egress: true, Permissions: []controlplane.IPPermission{
		{IPProtocol: "tcp", FromPort: ptr(443), ToPort: ptr(443), PrefixList: []controlplane.RulePeer{{PrefixListID: r.s3PL}}},
	}}))(t)
	// A reference to another VPC's group and an ICMPv6 rule cannot be made
	// through the API in this setup; store them directly.
	mutate(t, db, cloud.KindSecurityGroup, r.app, func(g *cloud.SecurityGroup) {
		g.Rules = append(g.Rules,
			cloud.SecurityGroupRule{ID: "sgr-cross", IPProtocol: "tcp", FromPort: 22, ToPort: 22, GroupID: r.other},
			cloud.SecurityGroupRule{ID: "sgr-icmp6", IPProtocol: "icmpv6", FromPort: -1, ToPort: -1, CidrIPv6: "::/0"},
			cloud.SecurityGroupRule{ID: "sgr-missing-pl", IPProtocol: "tcp", FromPort: 1, ToPort: 1, PrefixList: "pl-0000dead"},
		)
	})

	// Interfaces: an instance, a standalone interface, a network load
	// balancer without groups, an interface endpoint.
	res := must(cp.RunInstances(ctx, c, controlplane.RunInstancesInput{ImageID: "ami-12345678", MinCount: ptr(1), MaxCount: ptr(1), SubnetID: r.subA, SecurityGroupIDs: []string{r.app}}))(t)
	inst := res.Instances[0]
	r.instanceID, r.instanceENI, r.instanceIP, r.instanceDNS = inst.ID, inst.NetworkInterfaceID, inst.PrivateIPAddress, inst.PrivateDNSName
	r.standaloneENI = must(cp.CreateNetworkInterface(ctx, c, controlplane.CreateNetworkInterfaceInput{SubnetID: r.subC, SecurityGroupIDs: []string{r.app}}))(t).ID
	// The routes' appliance: EC2 needs its source/destination check off.
	if err := cp.ModifyNetworkInterfaceAttribute(ctx, c, controlplane.ModifyNetworkInterfaceInput{NetworkInterfaceID: r.standaloneENI, SourceDestCheck: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	lb := must(cp.CreateLoadBalancer(ctx, c, controlplane.CreateLoadBalancerInput{Name: "nlb", Type: "network", Scheme: "internal", Subnets: []string{r.subA}}))(t)
	r.lbENI, r.lbIP = lb.AZs[0].NetworkInterfaceID, lb.AZs[0].PrivateIPv4Address
	ep := must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: r.vpc.ID,
		ServiceName: cloud.AWSServiceName(region, "sqs"), SubnetIDs: []string{r.subB}, SecurityGroupIDs: []string{r.epSG}}))(t)
	r.sqsEndpointENI = ep.NetworkInterfaceIDs[0]
	r.endpointIP = get[cloud.NetworkInterface](t, db, cloud.KindNetworkInterface, r.sqsEndpointENI).PrivateIPAddress

	// Routes: an attached internet gateway, an explicit table for B and C.
	r.igw = must(cp.CreateInternetGateway(ctx, c, controlplane.CreateInternetGatewayInput{}))(t).ID
	check(t, cp.AttachInternetGateway(ctx, c, r.igw, r.vpc.ID))
	r.rtb = must(cp.CreateRouteTable(ctx, c, controlplane.CreateRouteTableInput{VpcID: r.vpc.ID}))(t).ID
	must(cp.AssociateRouteTable(ctx, c, r.rtb, r.subB, ""))(t)
	must(cp.AssociateRouteTable(ctx, c, r.rtb, r.subC, ""))(t)
	for _, in := range []controlplane.RouteInput{
		{DestinationCidrBlock: "0.0.0.0/0", GatewayID: r.igw},
		{DestinationCidrBlock: "192.168.0.0/16", NetworkInterfaceID: r.standaloneENI},
		{DestinationCidrBlock: "172.16.0.0/12", InstanceID: r.instanceID},
		{DestinationCidrBlock: "100.64.0.0/10", NetworkInterfaceID: r.instanceENI},
	} {
		in.RouteTableID = r.rtb
		check(t, cp.CreateRoute(ctx, c, in))
	}
	r.gwEndpoint = must(cp.CreateVpcEndpoint(ctx, c, controlplane.CreateEndpointInput{Type: cloud.EndpointGateway, VpcID: r.vpc.ID,
		ServiceName: cloud.AWSServiceName(region, "s3"), RouteTableIDs: []string{r.rtb}}))(t).ID
	mutate(t, db, cloud.KindRouteTable, r.rtb, func(rt *cloud.RouteTable) {
		for i := range rt.Routes {
			if rt.Routes[i].DestinationCidrBlock == "100.64.0.0/10" {
				rt.Routes[i].State = "blackhole"
			}
		}
		rt.Routes = append(rt.Routes,
			cloud.Route{DestinationCidrBlock: "198.51.100.0/24", VpcEndpointID: "vpce-0123456789abcdef0", Origin: "CreateRoute", State: "active"},
			cloud.Route{DestinationCidrBlock: "2001:db8::/32", GatewayID: r.igw, Origin: "CreateRoute", State: "active"})
	})
	mutate(t, db, cloud.KindRouteTable, r.vpc.MainRouteTableID, func(rt *cloud.RouteTable) {
		rt.Routes = append(rt.Routes, cloud.Route{DestinationCidrBlock: "0.0.0.0/0", GatewayID: "igw-0000000000000dead", Origin: "CreateRoute", State: "active"})
	})
	return r
}

func desired(t *testing.T, db *store.DB, vpcID string) dataplane.VPC {
	t.Helper()
	var v dataplane.VPC
	var ok bool
	db.View(func(tx *store.Tx) error { v, ok = desiredVPC(tx, vpcID); return nil })
	if !ok {
		t.Fatalf("desiredVPC(%s): not found", vpcID)
	}
	return v
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestDesiredVPC(t *testing.T) {
	cp, db := newCP(t)
	r := buildRichVPC(t, cp, db)
	v := desired(t, db, r.vpc.ID)

	if err := v.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if v.CIDR != netip.MustParsePrefix("10.0.0.0/16") || v.InternetGatewayID != r.igw {
		t.Errorf("cidr %v igw %q, want 10.0.0.0/16 and %s", v.CIDR, v.InternetGatewayID, r.igw)
	}
	if _, ok := func() (dataplane.VPC, bool) {
		var out dataplane.VPC
		var ok bool
		db.View(func(tx *store.Tx) error { out, ok = desiredVPC(tx, "vpc-00000000"); return nil })
		return out, ok
	}(); ok {
		t.Error("desiredVPC of a missing VPC reported ok")
	}

	subnets := map[string]dataplane.Subnet{}
	for _, s := range v.Subnets {
		subnets[s.ID] = s
	}
	explicit := []dataplane.Route{
		{Destination: netip.MustParsePrefix("0.0.0.0/0"), Target: dataplane.TargetInternetGateway, TargetID: r.igw},
		{Destination: netip.MustParsePrefix("192.168.0.0/16"), Target: dataplane.TargetInterface, TargetID: r.standaloneENI},
		{Destination: netip.MustParsePrefix("172.16.0.0/12"), Target: dataplane.TargetInterface, TargetID: r.instanceENI},
		{Destination: netip.MustParsePrefix("100.64.0.0/10"), Target: dataplane.TargetBlackhole},
		{PrefixListID: r.s3PL, Target: dataplane.TargetGatewayEndpoint, TargetID: r.gwEndpoint},
		{Destination: netip.MustParsePrefix("198.51.100.0/24"), Target: dataplane.TargetBlackhole},
	}
	t.Run("subnets", func(t *testing.T) {
		for _, tc := range []struct {
			name, subnet, acl string
			routes            []dataplane.Route
		}{
			{"main table and default ACL", r.subA, r.vpc.DefaultNetworkAclID, []dataplane.Route{{Destination: netip.MustParsePrefix("0.0.0.0/0"), Target: dataplane.TargetInternetGateway, TargetID: "igw-0000000000000dead"}}},
			{"explicit table and custom ACL", r.subB, r.acl, explicit},
			{"explicit table and default ACL", r.subC, r.vpc.DefaultNetworkAclID, explicit},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, ok := subnets[tc.subnet]
				if !ok {
					t.Fatalf("subnet %s missing", tc.subnet)
				}
				if s.ACLID != tc.acl {
					t.Errorf("ACL = %q, want %q", s.ACLID, tc.acl)
				}
				if !slices.EqualFunc(sortRoutes(s.Routes), sortRoutes(tc.routes), func(a, b dataplane.Route) bool { return a == b }) {
					t.Errorf("routes =\n%+v\nwant\n%+v", s.Routes, tc.routes)
				}
			})
		}
	})

	t.Run("interfaces", func(t *testing.T) {
		ifaces := map[string]dataplane.Interface{}
		for _, i := range v.Interfaces {
			ifaces[i.ID] = i
		}
		for _, tc := range []struct {
			name, id   string
			kind       dataplane.InterfaceKind
			groups     []string
			hostname   string
			subnet, ip string
			noCheck    bool
		}{
			{"instance", r.instanceENI, dataplane.KindInstance, []string{r.app}, r.instanceDNS, r.subA, r.instanceIP, false},
			{"standalone interface, source/destination check off", r.standaloneENI, dataplane.KindInstance, []string{r.app}, "", r.subC, "", true},
			{"load balancer without groups", r.lbENI, dataplane.KindLoadBalancer, []string{lbOpenGroup}, "", r.subA, r.lbIP, false},
			{"interface endpoint", r.sqsEndpointENI, dataplane.KindEndpoint, []string{r.epSG}, "", r.subB, r.endpointIP, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				i, ok := ifaces[tc.id]
				if !ok {
					t.Fatalf("interface %s missing", tc.id)
				}
				if i.Kind != tc.kind || !slices.Equal(i.SecurityGroupIDs, tc.groups) || i.Hostname != tc.hostname || i.SubnetID != tc.subnet {
					t.Errorf("got %+v, want kind %s groups %v hostname %q subnet %s", i, tc.kind, tc.groups, tc.hostname, tc.subnet)
				}
				if tc.ip != "" && i.IP.String() != tc.ip {
					t.Errorf("IP = %v, want %s", i.IP, tc.ip)
				}
				if i.NoSourceDestCheck != tc.noCheck {
					t.Errorf("NoSourceDestCheck = %v, want %v", i.NoSourceDestCheck, tc.noCheck)
				}
			})
		}
		if len(ifaces) != 4 {
			t.Errorf("%d interfaces, want 4 (no interface of the other VPC)", len(ifaces))
		}
	})

	groups := map[string]dataplane.SecurityGroup{}
	for _, g := range v.SecurityGroups {
		groups[g.ID] = g
	}
	t.Run("security groups", func(t *testing.T) {
		if _, ok := groups[r.other]; ok {
			t.Error("the other VPC's group was translated")
		}
		open, ok := groups[lbOpenGroup]
		all := dataplane.SGRule{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: pfx("0.0.0.0/0")}
		if !ok || !reflect.DeepEqual(open.Ingress, []dataplane.SGRule{all}) || !reflect.DeepEqual(open.Egress, []dataplane.SGRule{all}) {
			t.Errorf("synthetic open group = %+v (present %v)", open, ok)
		}
		app := groups[r.app]
		wantIngress := []dataplane.SGRule{
			{Protocol: "tcp", FromPort: 443, ToPort: 443, CIDRs: pfx("10.1.0.0/16")},
			{Protocol: "tcp", FromPort: 8080, ToPort: 8080, PrefixListIDs: []string{r.customPL}},
			{Protocol: "udp", FromPort: 53, ToPort: 53, GroupIDs: []string{r.epSG}},
			{Protocol: "icmp", FromPort: 8, ToPort: -1, CIDRs: pfx("10.0.0.0/16")},
		}
		wantEgress := []dataplane.SGRule{
			{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: pfx("0.0.0.0/0")}, // the default egress rule
			{Protocol: "tcp", FromPort: 443, ToPort: 443, PrefixListIDs: []string{r.s3PL}},
		}
		if !sameRules(app.Ingress, wantIngress) {
			t.Errorf("app ingress =\n%+v\nwant (IPv6, ICMPv6, cross-VPC and unknown prefix list dropped)\n%+v", app.Ingress, wantIngress)
		}
		if !sameRules(app.Egress, wantEgress) {
			t.Errorf("app egress =\n%+v\nwant\n%+v", app.Egress, wantEgress)
		}
	})

	t.Run("prefix lists", func(t *testing.T) {
		pls := map[string][]netip.Prefix{}
		for _, pl := range v.PrefixLists {
			pls[pl.ID] = pl.CIDRs
		}
		want := map[string][]netip.Prefix{
			r.s3PL:     cloud.ServicePrefixCIDRs(region, "s3"),
			r.customPL: pfx("172.16.0.0/12", "192.168.10.0/24"),
		}
		if !reflect.DeepEqual(pls, want) {
			t.Errorf("prefix lists = %v, want %v", pls, want)
		}
		if len(want[r.s3PL]) == 0 {
			t.Error("the catalog has no s3 CIDRs")
		}
	})

	t.Run("network ACL", func(t *testing.T) {
		var acl dataplane.NetworkACL
		for _, a := range v.NetworkACLs {
			if a.ID == r.acl {
				acl = a
			}
		}
		type key struct {
			n      int
			egress bool
		}
		got := map[key]dataplane.ACLEntry{}
		for _, e := range acl.Entries {
			got[key{e.RuleNumber, e.Egress}] = e
		}
		for _, tc := range []struct {
			name string
			k    key
			want dataplane.ACLEntry
		}{
			{"tcp", key{100, false}, dataplane.ACLEntry{RuleNumber: 100, Protocol: "tcp", PortFrom: 443, PortTo: 443, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8"), Allow: true}},
			{"udp", key{110, false}, dataplane.ACLEntry{RuleNumber: 110, Protocol: "udp", PortFrom: 53, PortTo: 53, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8"), Allow: true}},
			{"icmp", key{120, false}, dataplane.ACLEntry{RuleNumber: 120, Protocol: "icmp", ICMPType: 8, ICMPCode: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Allow: true}},
			{"all, deny", key{130, false}, dataplane.ACLEntry{RuleNumber: 130, Protocol: "-1", ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("192.168.0.0/16")}},
			{"egress all", key{100, true}, dataplane.ACLEntry{RuleNumber: 100, Egress: true, Protocol: "-1", ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0"), Allow: true}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if e, ok := got[tc.k]; !ok || e != tc.want {
					t.Errorf("entry = %+v (present %v), want %+v", e, ok, tc.want)
				}
			})
		}
		if _, ok := got[key{140, false}]; ok {
			t.Error("the IPv6 entry was translated")
		}
		if !slices.IsSortedFunc(acl.Entries, func(a, b dataplane.ACLEntry) int { return a.RuleNumber - b.RuleNumber }) {
			t.Errorf("entries not sorted by rule number: %+v", acl.Entries)
		}
	})

	t.Run("other VPC", func(t *testing.T) {
		o := desired(t, db, r.otherVPC.ID)
		if o.InternetGatewayID != "" || len(o.Interfaces) != 0 || len(o.Subnets) != 1 {
			t.Errorf("other VPC = igw %q, %d interfaces, %d subnets; want none, 0, 1", o.InternetGatewayID, len(o.Interfaces), len(o.Subnets))
		}
		if err := o.Validate(); err != nil {
			t.Error(err)
		}
	})
}

func sortRoutes(rs []dataplane.Route) []dataplane.Route {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b dataplane.Route) int {
		ka, kb := a.PrefixListID+a.Destination.String(), b.PrefixListID+b.Destination.String()
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return out
}

// sameRules compares rule lists regardless of order.
func sameRules(a, b []dataplane.SGRule) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !used[j] && reflect.DeepEqual(x, y) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestTranslateSGRule(t *testing.T) {
	inVPC := map[string]bool{"sg-in": true}
	for _, tc := range []struct {
		name string
		in   cloud.SecurityGroupRule
		want dataplane.SGRule
		ok   bool
	}{
		{"cidr with protocol number", cloud.SecurityGroupRule{IPProtocol: "6", FromPort: 80, ToPort: 80, CidrIPv4: "10.0.0.1/8"}, dataplane.SGRule{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDRs: pfx("10.0.0.0/8")}, true},
		{"all protocols", cloud.SecurityGroupRule{IPProtocol: "-1", FromPort: 0, ToPort: 0, CidrIPv4: "0.0.0.0/0"}, dataplane.SGRule{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: pfx("0.0.0.0/0")}, true},
		{"prefix list", cloud.SecurityGroupRule{IPProtocol: "udp", FromPort: 53, ToPort: 53, PrefixList: "pl-1"}, dataplane.SGRule{Protocol: "udp", FromPort: 53, ToPort: 53, PrefixListIDs: []string{"pl-1"}}, true},
		{"group in VPC", cloud.SecurityGroupRule{IPProtocol: "tcp", FromPort: 1, ToPort: 2, GroupID: "sg-in"}, dataplane.SGRule{Protocol: "tcp", FromPort: 1, ToPort: 2, GroupIDs: []string{"sg-in"}}, true},
		{"group in another VPC", cloud.SecurityGroupRule{IPProtocol: "tcp", FromPort: 1, ToPort: 2, GroupID: "sg-out"}, dataplane.SGRule{}, false},
		{"IPv6 CIDR", cloud.SecurityGroupRule{IPProtocol: "tcp", FromPort: 1, ToPort: 2, CidrIPv6: "::/0"}, dataplane.SGRule{}, false},
		{"ICMPv6", cloud.SecurityGroupRule{IPProtocol: "58", FromPort: -1, ToPort: -1, CidrIPv4: "0.0.0.0/0"}, dataplane.SGRule{}, false},
		{"bad CIDR", cloud.SecurityGroupRule{IPProtocol: "tcp", FromPort: 1, ToPort: 2, CidrIPv4: "nope"}, dataplane.SGRule{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := translateSGRule(tc.in, inVPC)
			if ok != tc.ok || (ok && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("translateSGRule = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
