// Package dataplane owns the Linux realization of declared VPC networks
// (namespaces, veth links, routes, nftables) and of the PrivateLink fabric
// that forwards endpoint connections between them in the kernel; it must
// not import other privlink packages or read the control-plane store.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Sentinel errors.
var (
	// ErrUnsupported is returned by the realizer on systems without a Linux data plane.
	ErrUnsupported = errors.New("dataplane: unsupported on this OS")
	// ErrInvalidModel is returned when a desired-state model is inconsistent.
	ErrInvalidModel = errors.New("dataplane: invalid model")
	// ErrNotFound is returned when a VPC or interface is not realized.
	ErrNotFound = errors.New("dataplane: not found")
)

// Realizer makes desired VPC state real. Implementations are idempotent:
// applying the same VPC twice changes nothing the second time.
type Realizer interface {
	// ApplyVPC converges the kernel state of one VPC to v.
	ApplyVPC(ctx context.Context, v VPC) (Result, error)
	// DeleteVPC removes everything realized for the VPC; a missing VPC is not an error.
	DeleteVPC(ctx context.Context, vpcID string) error
	// Cleanup removes every realized object carrying our prefix that belongs
	// to none of keepVPCs (orphans after a crash).
	Cleanup(ctx context.Context, keepVPCs []string) error
	// RouterNamespace names the VPC's router namespace.
	RouterNamespace(vpcID string) string
	// InterfaceNamespace names the namespace of a network interface.
	InterfaceNamespace(eniID string) string
	// ApplyInternet converges the fake internet (the namespace owning
	// 198.18.0.0/15 with the region's public service addresses) to in.
	ApplyInternet(ctx context.Context, in Internet) (Result, error)
	// DeleteInternet removes the fake internet and every VPC's link to it;
	// Cleanup never does, so call it only when tearing everything down.
	DeleteInternet(ctx context.Context) error
	// InternetNamespace names the fake internet's namespace.
	InternetNamespace() string
}

// Result reports what ApplyVPC changed, one human-readable object name per entry.
type Result struct {
	Created []string
	Updated []string
	Deleted []string
}

// Changed reports whether the apply modified anything.
func (r Result) Changed() bool {
	return len(r.Created)+len(r.Updated)+len(r.Deleted) > 0
}

func (r *Result) created(format string, a ...any) {
	r.Created = append(r.Created, fmt.Sprintf(format, a...))
}
func (r *Result) updated(format string, a ...any) {
	r.Updated = append(r.Updated, fmt.Sprintf(format, a...))
}
func (r *Result) deleted(format string, a ...any) {
	r.Deleted = append(r.Deleted, fmt.Sprintf(format, a...))
}

// VPC is the desired state of one VPC. Only IPv4 is realized.
type VPC struct {
	ID   string
	CIDR netip.Prefix
	// InternetGatewayID is the attached internet gateway, "" for none.
	// Routes to any other gateway are blackholes, as AWS shows them.
	InternetGatewayID string
	Subnets           []Subnet
	Interfaces        []Interface
	SecurityGroups    []SecurityGroup
	NetworkACLs       []NetworkACL
	PrefixLists       []PrefixList
}

// Subnet is one subnet with the routes of its associated route table. The
// VPC CIDR is always local and need not be listed.
type Subnet struct {
	ID     string
	CIDR   netip.Prefix
	ACLID  string // "" means no network ACL filtering (allow all)
	Routes []Route
}

// RouteTarget says where a route sends packets.
type RouteTarget int

// Route targets. Internet gateway routes lead to the fake internet when
// the VPC has that gateway attached, and are blackholes otherwise; gateway
// endpoint routes (with a prefix list) lead to it without a gateway.
const (
	TargetLocal RouteTarget = iota
	TargetBlackhole
	TargetInterface
	TargetInternetGateway
	TargetGatewayEndpoint
)

func (t RouteTarget) String() string {
	switch t {
	case TargetLocal:
		return "local"
	case TargetBlackhole:
		return "blackhole"
	case TargetInterface:
		return "interface"
	case TargetInternetGateway:
		return "igw"
	case TargetGatewayEndpoint:
		return "gateway-endpoint"
	}
	return fmt.Sprintf("target(%d)", int(t))
}

// Route is one route-table entry. Exactly one of Destination and
// PrefixListID is set. TargetID names the interface (eni-…) or gateway.
type Route struct {
	Destination  netip.Prefix
	PrefixListID string
	Target       RouteTarget
	TargetID     string
}

// InterfaceKind says what owns a network interface.
type InterfaceKind string

// Interface kinds.
const (
	KindInstance     InterfaceKind = "instance"
	KindEndpoint     InterfaceKind = "endpoint"
	KindLoadBalancer InterfaceKind = "loadbalancer"
)

// Interface is one network interface; each gets its own namespace.
type Interface struct {
	ID               string
	SubnetID         string
	IP               netip.Addr
	SecurityGroupIDs []string
	Kind             InterfaceKind
	Hostname         string
	// NoSourceDestCheck lets the interface send from and receive for
	// addresses other than its own, as EC2's source/destination check off
	// does (a NAT instance, an appliance a route points at). With the check
	// on, the router drops both.
	NoSourceDestCheck bool
}

// SecurityGroup is a stateful allow-only filter attached to interfaces.
type SecurityGroup struct {
	ID      string
	Ingress []SGRule
	Egress  []SGRule
}

// SGRule is one security-group permission. Protocol is "-1" (all), "tcp",
// "udp", "icmp" or an IP protocol number. For ICMP, FromPort is the type and
// ToPort the code, -1 meaning any. A rule's peers are the union of CIDRs,
// prefix lists and the member interfaces (of this VPC) of the groups.
type SGRule struct {
	Protocol      string
	FromPort      int
	ToPort        int
	CIDRs         []netip.Prefix
	PrefixListIDs []string
	GroupIDs      []string
}

// NetworkACL is a stateless numbered filter at the subnet boundary.
type NetworkACL struct {
	ID      string
	Entries []ACLEntry
}

// ACLEntry is one network ACL rule; lowest RuleNumber wins. ICMPType and
// ICMPCode of -1 mean any.
type ACLEntry struct {
	RuleNumber int
	Egress     bool
	Protocol   string
	PortFrom   int
	PortTo     int
	ICMPType   int
	ICMPCode   int
	CIDR       netip.Prefix
	Allow      bool
}

// PrefixList is a managed or AWS prefix list.
type PrefixList struct {
	ID    string
	CIDRs []netip.Prefix
}

// Validate checks the references inside the model.
func (v VPC) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: vpc %s: %s", ErrInvalidModel, v.ID, fmt.Sprintf(format, a...))
	}
	if v.ID == "" {
		return fmt.Errorf("%w: empty vpc id", ErrInvalidModel)
	}
	if !v.CIDR.IsValid() || !v.CIDR.Addr().Is4() {
		return bad("cidr %v is not an IPv4 prefix", v.CIDR)
	}
	acls := map[string]bool{}
	for _, a := range v.NetworkACLs {
		acls[a.ID] = true
	}
	pls := map[string]bool{}
	for _, p := range v.PrefixLists {
		pls[p.ID] = true
	}
	sgs := map[string]bool{}
	for _, g := range v.SecurityGroups {
		sgs[g.ID] = true
	}
	subnets := map[string]Subnet{}
	for _, s := range v.Subnets {
		if s.ID == "" || subnets[s.ID].ID != "" {
			return bad("subnet id %q empty or duplicate", s.ID)
		}
		if !s.CIDR.IsValid() || s.CIDR.Bits() > 28 || !v.CIDR.Contains(s.CIDR.Addr()) || s.CIDR.Bits() < v.CIDR.Bits() {
			return bad("subnet %s cidr %v not a /28 or larger inside %v", s.ID, s.CIDR, v.CIDR)
		}
		if s.ACLID != "" && !acls[s.ACLID] {
			return bad("subnet %s references unknown network acl %s", s.ID, s.ACLID)
		}
		for _, r := range s.Routes {
			if r.PrefixListID != "" && !pls[r.PrefixListID] {
				return bad("subnet %s route references unknown prefix list %s", s.ID, r.PrefixListID)
			}
			if r.PrefixListID == "" && !r.Destination.IsValid() {
				return bad("subnet %s has a route without destination", s.ID)
			}
		}
		subnets[s.ID] = s
	}
	ips := map[netip.Addr]string{}
	enis := map[string]bool{}
	for _, i := range v.Interfaces {
		if i.ID == "" || enis[i.ID] {
			return bad("interface id %q empty or duplicate", i.ID)
		}
		enis[i.ID] = true
		s, ok := subnets[i.SubnetID]
		if !ok {
			return bad("interface %s in unknown subnet %s", i.ID, i.SubnetID)
		}
		if !s.CIDR.Contains(i.IP) || slices.Contains(reservedAddrs(s.CIDR), i.IP) {
			return bad("interface %s address %v not usable in %v", i.ID, i.IP, s.CIDR)
		}
		if other, dup := ips[i.IP]; dup {
			return bad("interfaces %s and %s share address %v", other, i.ID, i.IP)
		}
		ips[i.IP] = i.ID
		for _, g := range i.SecurityGroupIDs {
			if !sgs[g] {
				return bad("interface %s references unknown security group %s", i.ID, g)
			}
		}
	}
	for _, g := range v.SecurityGroups {
		for _, r := range append(slices.Clone(g.Ingress), g.Egress...) {
			if err := checkPorts(r.Protocol, r.FromPort, r.ToPort); err != nil {
				return bad("security group %s: %v", g.ID, err)
			}
			for _, p := range r.PrefixListIDs {
				if !pls[p] {
					return bad("security group %s references unknown prefix list %s", g.ID, p)
				}
			}
			for _, ref := range r.GroupIDs {
				if !sgs[ref] {
					return bad("security group %s references unknown group %s", g.ID, ref)
				}
			}
		}
	}
	for _, a := range v.NetworkACLs {
		for _, e := range a.Entries {
			if err := checkPorts(e.Protocol, e.PortFrom, e.PortTo); err != nil {
				return bad("network acl %s rule %d: %v", a.ID, e.RuleNumber, err)
			}
			if p, _ := parseProtocol(e.Protocol); p == 1 {
				if err := checkPorts(e.Protocol, e.ICMPType, e.ICMPCode); err != nil {
					return bad("network acl %s rule %d: %v", a.ID, e.RuleNumber, err)
				}
			}
			if e.RuleNumber < 1 || e.RuleNumber > 32767 {
				return bad("network acl %s rule number %d outside 1-32767", a.ID, e.RuleNumber)
			}
			if !e.CIDR.IsValid() {
				return bad("network acl %s rule %d has no cidr", a.ID, e.RuleNumber)
			}
		}
	}
	return nil
}

// checkPorts validates a protocol and its port range (TCP/UDP) or ICMP
// type and code (ICMP), where -1 means any.
func checkPorts(protocol string, from, to int) error {
	p, err := parseProtocol(protocol)
	if err != nil {
		return err
	}
	switch p {
	case 6, 17:
		if from == -1 && to == -1 {
			return nil
		}
		if from < 0 || to > 65535 || from > to {
			return fmt.Errorf("invalid port range %d-%d", from, to)
		}
	case 1:
		if from < -1 || from > 255 || to < -1 || to > 255 {
			return fmt.Errorf("invalid icmp type %d code %d", from, to)
		}
	}
	return nil
}

// reservedAddrs lists the addresses AWS reserves in a subnet: network,
// router (+1), DNS (+2), future (+3) and broadcast.
func reservedAddrs(p netip.Prefix) []netip.Addr {
	base := p.Masked().Addr()
	out := []netip.Addr{base, base.Next(), base.Next().Next(), base.Next().Next().Next()}
	return append(out, lastAddr(p))
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// SubnetRouter returns the subnet router address (base+1).
func SubnetRouter(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// VPCResolver returns the Amazon DNS address of a VPC (base+2).
func VPCResolver(vpcCIDR netip.Prefix) netip.Addr { return vpcCIDR.Masked().Addr().Next().Next() }

// LinkLocalResolver returns the fixed Amazon DNS address every VPC answers on.
func LinkLocalResolver() netip.Addr { return netip.AddrFrom4([4]byte{169, 254, 169, 253}) }
