package controllers

import (
	"net/netip"
	"sort"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/store"
)

// desiredVPC translates the stored state of one VPC into the data plane's
// model. ok is false when the VPC does not exist (any more).
func desiredVPC(tx *store.Tx, vpcID string) (dataplane.VPC, bool) {
	vpc, ok := store.Get[cloud.Vpc](tx, cloud.KindVpc, vpcID)
	if !ok {
		return dataplane.VPC{}, false
	}
	cidr, err := netip.ParsePrefix(vpc.CidrBlock)
	if err != nil {
		return dataplane.VPC{}, false
	}
	out := dataplane.VPC{ID: vpc.ID, CIDR: cidr}
	tx.Each(cloud.KindInternetGateway, func(id string, v any) bool {
		for _, a := range v.(*cloud.InternetGateway).Attachments {
			if a.VpcID == vpcID {
				out.InternetGatewayID = id
				return false
			}
		}
		return true
	})

	aclOf := map[string]string{}
	for _, acl := range store.List[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, func(a *cloud.NetworkAcl) bool { return a.VpcID == vpcID }) {
		for _, a := range acl.Associations {
			aclOf[a.SubnetID] = acl.ID
		}
		out.NetworkACLs = append(out.NetworkACLs, translateACL(acl))
	}
	tables := store.List[cloud.RouteTable](tx, cloud.KindRouteTable, func(r *cloud.RouteTable) bool { return r.VpcID == vpcID })
	var main *cloud.RouteTable
	tableOf := map[string]*cloud.RouteTable{}
	for _, rt := range tables {
		for _, a := range rt.Associations {
			if a.Main {
				main = rt
			} else if a.SubnetID != "" {
				tableOf[a.SubnetID] = rt
			}
		}
	}
	enis := store.List[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, func(e *cloud.NetworkInterface) bool { return e.VpcID == vpcID })
	eniOfInstance := map[string]string{}
	for _, e := range enis {
		if e.InstanceID != "" {
			eniOfInstance[e.InstanceID] = e.ID
		}
	}
	for _, s := range store.List[cloud.Subnet](tx, cloud.KindSubnet, func(s *cloud.Subnet) bool { return s.VpcID == vpcID }) {
		p, err := netip.ParsePrefix(s.CidrBlock)
		if err != nil {
			continue
		}
		sub := dataplane.Subnet{ID: s.ID, CIDR: p, ACLID: aclOf[s.ID]}
		rt := tableOf[s.ID]
		if rt == nil {
			rt = main
		}
		if rt != nil {
			sub.Routes = translateRoutes(rt, eniOfInstance)
		}
		out.Subnets = append(out.Subnets, sub)
	}
	openGroup := false
	for _, e := range enis {
		ip, err := netip.ParseAddr(e.PrivateIPAddress)
		if err != nil {
			continue
		}
		iface := dataplane.Interface{ID: e.ID, SubnetID: e.SubnetID, IP: ip, SecurityGroupIDs: append([]string(nil), e.SecurityGroupIDs...), Kind: interfaceKind(e.InterfaceType),
			NoSourceDestCheck: !e.SourceDestCheck}
		if len(iface.SecurityGroupIDs) == 0 && iface.Kind == dataplane.KindLoadBalancer {
			// A load balancer without security groups filters nothing
			// itself (as NLBs without groups do); targets' groups decide.
			iface.SecurityGroupIDs = []string{lbOpenGroup}
			openGroup = true
		}
		if e.InstanceID != "" {
			iface.Hostname = e.PrivateDNSName
		}
		out.Interfaces = append(out.Interfaces, iface)
	}
	groups := store.List[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, func(g *cloud.SecurityGroup) bool { return g.VpcID == vpcID })
	inVPC := map[string]bool{}
	for _, g := range groups {
		inVPC[g.ID] = true
	}
	usedLists := map[string]bool{}
	for _, g := range groups {
		sg := dataplane.SecurityGroup{ID: g.ID}
		for _, r := range g.Rules {
			rule, ok := translateSGRule(r, inVPC)
			if !ok {
				continue
			}
			for _, pl := range rule.PrefixListIDs {
				usedLists[pl] = true
			}
			if r.Egress {
				sg.Egress = append(sg.Egress, rule)
			} else {
				sg.Ingress = append(sg.Ingress, rule)
			}
		}
		out.SecurityGroups = append(out.SecurityGroups, sg)
	}
	for _, s := range out.Subnets {
		for _, r := range s.Routes {
			if r.PrefixListID != "" {
				usedLists[r.PrefixListID] = true
			}
		}
	}
	if openGroup {
		all := dataplane.SGRule{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
		out.SecurityGroups = append(out.SecurityGroups, dataplane.SecurityGroup{ID: lbOpenGroup, Ingress: []dataplane.SGRule{all}, Egress: []dataplane.SGRule{all}})
	}
	out.PrefixLists = prefixLists(tx, vpc, usedLists)
	dropDanglingPrefixLists(&out)
	return out, true
}

// lbOpenGroup is the synthetic allow-all group of load balancer interfaces
// that have no security groups.
const lbOpenGroup = "sg-privlink-lb-open"

func interfaceKind(t string) dataplane.InterfaceKind {
	switch t {
	case cloud.InterfaceTypeVpcEndpoint, cloud.InterfaceTypeGWLBE:
		return dataplane.KindEndpoint
	case cloud.InterfaceTypeNLB, cloud.InterfaceTypeGWLB:
		return dataplane.KindLoadBalancer
	}
	return dataplane.KindInstance
}

func translateRoutes(rt *cloud.RouteTable, eniOfInstance map[string]string) []dataplane.Route {
	var out []dataplane.Route
	for _, r := range rt.Routes {
		if r.GatewayID == "local" {
			continue
		}
		dr := dataplane.Route{PrefixListID: r.DestinationPrefixListID}
		if r.DestinationPrefixListID == "" {
			p, err := netip.ParsePrefix(r.DestinationCidrBlock)
			if err != nil || !p.Addr().Is4() {
				continue
			}
			dr.Destination = p.Masked()
		}
		switch {
		case r.State == "blackhole":
			dr.Target = dataplane.TargetBlackhole
		case r.NetworkInterfaceID != "":
			dr.Target, dr.TargetID = dataplane.TargetInterface, r.NetworkInterfaceID
		case r.InstanceID != "" && eniOfInstance[r.InstanceID] != "":
			dr.Target, dr.TargetID = dataplane.TargetInterface, eniOfInstance[r.InstanceID]
		case len(r.GatewayID) > 4 && r.GatewayID[:4] == "igw-":
			dr.Target, dr.TargetID = dataplane.TargetInternetGateway, r.GatewayID
		case len(r.GatewayID) > 5 && r.GatewayID[:5] == "vpce-":
			dr.Target, dr.TargetID = dataplane.TargetGatewayEndpoint, r.GatewayID
		default:
			// GWLB endpoint targets and anything not realized yet drop traffic.
			dr.Target = dataplane.TargetBlackhole
		}
		out = append(out, dr)
	}
	return out
}

// aclProtocols maps ACL protocol numbers to the data plane's names.
var aclProtocols = map[string]string{"-1": "-1", "6": "tcp", "17": "udp", "1": "icmp"}

func translateACL(acl *cloud.NetworkAcl) dataplane.NetworkACL {
	out := dataplane.NetworkACL{ID: acl.ID}
	entries := append([]cloud.NetworkAclEntry(nil), acl.Entries...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].RuleNumber < entries[j].RuleNumber })
	for _, e := range entries {
		if e.CidrBlock == "" {
			continue // IPv6 entries are not realized
		}
		p, err := netip.ParsePrefix(e.CidrBlock)
		if err != nil {
			continue
		}
		proto, ok := aclProtocols[e.Protocol]
		if !ok {
			proto = e.Protocol
		}
		de := dataplane.ACLEntry{RuleNumber: e.RuleNumber, Egress: e.Egress, Protocol: proto, CIDR: p.Masked(), Allow: e.RuleAction == "allow",
			PortFrom: 0, PortTo: 65535, ICMPType: -1, ICMPCode: -1}
		if e.FromPort != nil {
			de.PortFrom = *e.FromPort
		}
		if e.ToPort != nil {
			de.PortTo = *e.ToPort
		}
		if e.IcmpType != nil {
			de.ICMPType = *e.IcmpType
		}
		if e.IcmpCode != nil {
			de.ICMPCode = *e.IcmpCode
		}
		if proto != "tcp" && proto != "udp" {
			de.PortFrom, de.PortTo = 0, 0
		}
		out.Entries = append(out.Entries, de)
	}
	return out
}

var sgProtocols = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}

func translateSGRule(r cloud.SecurityGroupRule, inVPC map[string]bool) (dataplane.SGRule, bool) {
	proto := r.IPProtocol
	if p, ok := sgProtocols[proto]; ok {
		proto = p
	}
	if proto == "icmpv6" || proto == "58" {
		return dataplane.SGRule{}, false
	}
	rule := dataplane.SGRule{Protocol: proto, FromPort: r.FromPort, ToPort: r.ToPort}
	if proto == "-1" {
		rule.FromPort, rule.ToPort = -1, -1
	}
	switch {
	case r.CidrIPv4 != "":
		p, err := netip.ParsePrefix(r.CidrIPv4)
		if err != nil {
			return rule, false
		}
		rule.CIDRs = []netip.Prefix{p.Masked()}
	case r.PrefixList != "":
		rule.PrefixListIDs = []string{r.PrefixList}
	case r.GroupID != "" && inVPC[r.GroupID]:
		rule.GroupIDs = []string{r.GroupID}
	default:
		return rule, false // IPv6 and cross-VPC references are not realized
	}
	return rule, true
}

// prefixLists resolves the prefix lists a VPC uses: AWS-managed ones from
// the region catalog, customer-managed ones from the store.
func prefixLists(tx *store.Tx, vpc *cloud.Vpc, used map[string]bool) []dataplane.PrefixList {
	var out []dataplane.PrefixList
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		found := false
		for _, short := range []string{"s3", "dynamodb"} {
			if cloud.AWSPrefixListID(cloud.AWSServiceName(vpc.Region, short)) == id {
				out = append(out, dataplane.PrefixList{ID: id, CIDRs: cloud.ServicePrefixCIDRs(vpc.Region, short)})
				found = true
			}
		}
		if found {
			continue
		}
		if pl, ok := store.Get[cloud.ManagedPrefixList](tx, cloud.KindPrefixList, id); ok && pl.AddressFamily != "IPv6" {
			l := dataplane.PrefixList{ID: id}
			for _, e := range pl.Entries {
				if p, err := netip.ParsePrefix(e.Cidr); err == nil && p.Addr().Is4() {
					l.CIDRs = append(l.CIDRs, p.Masked())
				}
			}
			out = append(out, l)
		}
	}
	return out
}

// dropDanglingPrefixLists removes references to prefix lists that could not
// be resolved, so one bad reference never blocks the whole VPC.
func dropDanglingPrefixLists(v *dataplane.VPC) {
	known := map[string]bool{}
	for _, pl := range v.PrefixLists {
		known[pl.ID] = true
	}
	for i := range v.SecurityGroups {
		for _, rules := range []*[]dataplane.SGRule{&v.SecurityGroups[i].Ingress, &v.SecurityGroups[i].Egress} {
			kept := (*rules)[:0]
			for _, r := range *rules {
				if len(r.PrefixListIDs) == 0 || known[r.PrefixListIDs[0]] {
					kept = append(kept, r)
				}
			}
			*rules = kept
		}
	}
	for i := range v.Subnets {
		kept := v.Subnets[i].Routes[:0]
		for _, r := range v.Subnets[i].Routes {
			if r.PrefixListID == "" || known[r.PrefixListID] {
				kept = append(kept, r)
			}
		}
		v.Subnets[i].Routes = kept
	}
}

// DesiredInternet is the stand-in internet of the regions: every catalog
// service's public address, and the prefix-list CIDRs of gateway services.
func DesiredInternet(regions []string) dataplane.Internet {
	var in dataplane.Internet
	for _, region := range regions {
		for _, s := range cloud.AWSServices() {
			addr, ok := cloud.ServicePublicAddr(region, s.Short)
			if !ok {
				continue
			}
			in.Services = append(in.Services, dataplane.PublicService{
				Name: s.Short + "." + region, Addr: addr, CIDRs: cloud.ServicePrefixCIDRs(region, s.Short),
			})
		}
	}
	return in
}
