package controlplane

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// CreateSubnetInput is CreateSubnet's parameters.
type CreateSubnetInput struct {
	VpcID              string
	CidrBlock          string
	AvailabilityZone   string
	AvailabilityZoneID string
	Tags               []TagSpec
}

// SubnetView is a subnet with the figures Describe computes from other records.
type SubnetView struct {
	*cloud.Subnet
	AvailableIPAddressCount int
}

// SubnetARN is the subnet's ARN as DescribeSubnets reports it.
func SubnetARN(s *cloud.Subnet) string {
	return cloud.EC2ARN(s.Region, s.OwnerID, "subnet", s.ID)
}

// CreateSubnet carves a subnet out of a VPC's CIDR in one availability zone
// and associates it implicitly with the VPC's default network ACL.
func (cp *ControlPlane) CreateSubnet(ctx context.Context, c *Call, in CreateSubnetInput) (*SubnetView, error) {
	if in.VpcID == "" {
		return nil, cloud.MissingParameter("VpcId")
	}
	if in.CidrBlock == "" {
		return nil, cloud.MissingParameter("CidrBlock")
	}
	prefix, ok := parseIPv4Prefix(in.CidrBlock)
	if !ok {
		return nil, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", in.CidrBlock)
	}
	region, err := cp.region(c)
	if err != nil {
		return nil, err
	}
	var az cloud.AZ
	if in.AvailabilityZone != "" || in.AvailabilityZoneID != "" {
		if az, err = pickNamedAZ(region, in.AvailabilityZone, in.AvailabilityZoneID); err != nil {
			return nil, err
		}
	}
	tags, err := tagsFor(in.Tags, "subnet")
	if err != nil {
		return nil, err
	}
	var out *SubnetView
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, in.VpcID)
		if vpc == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", in.VpcID)
		}
		vpcPrefix, _ := parseIPv4Prefix(vpc.CidrBlock)
		if prefix.Bits() < 16 || prefix.Bits() > 28 || !contains(vpcPrefix, prefix) {
			return cloud.Errorf("InvalidSubnet.Range", "The CIDR '%s' is invalid.", in.CidrBlock)
		}
		siblings := subnetsOfVpc(tx, vpc.ID)
		for _, s := range siblings {
			if p, ok := parseIPv4Prefix(s.CidrBlock); ok && overlaps(p, prefix) {
				return cloud.Errorf("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", in.CidrBlock)
			}
		}
		if az.Name == "" {
			az = leastUsedAZ(region, siblings)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "subnet", "*")); err != nil {
			return err
		}
		s := &cloud.Subnet{
			Meta:               cp.newMeta(c, cloud.NewID("subnet"), tags),
			VpcID:              vpc.ID,
			CidrBlock:          prefix.String(),
			AvailabilityZone:   az.Name,
			AvailabilityZoneID: az.ID,
			State:              "available",
		}
		if acl, ok := store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, vpc.DefaultNetworkAclID); ok {
			a := store.Clone(acl)
			a.Associations = append(append([]cloud.NetworkAclAssociation(nil), acl.Associations...),
				cloud.NetworkAclAssociation{ID: cloud.NewID("aclassoc"), SubnetID: s.ID})
			tx.Put(cloud.KindNetworkAcl, a.ID, a)
		}
		tx.Put(cloud.KindSubnet, s.ID, s)
		out = &SubnetView{Subnet: s, AvailableIPAddressCount: usableAddrs(prefix)}
		return nil
	})
	return out, err
}

// pickNamedAZ resolves AvailabilityZone and/or AvailabilityZoneId.
func pickNamedAZ(r cloud.Region, name, id string) (cloud.AZ, error) {
	names := make([]string, len(r.AZs))
	for i, z := range r.AZs {
		names[i] = z.Name
	}
	var byName, byID cloud.AZ
	if name != "" {
		z, ok := r.AZ(name)
		if !ok || z.Name != name {
			return cloud.AZ{}, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.", name, strings.Join(names, ", "))
		}
		byName = z
	}
	if id != "" {
		z, ok := r.AZ(id)
		if !ok || z.ID != id {
			return cloud.AZ{}, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter availabilityZoneId is invalid. Subnets can currently only be created in the following availability zones: %s.", id, strings.Join(names, ", "))
		}
		byID = z
	}
	switch {
	case name == "":
		return byID, nil
	case id == "":
		return byName, nil
	case byName.ID != byID.ID:
		return cloud.AZ{}, cloud.Errorf("InvalidParameterCombination", "The availability zone '%s' and the availability zone ID '%s' do not refer to the same zone.", name, id)
	}
	return byName, nil
}

// leastUsedAZ picks the zone with the fewest of the VPC's subnets, then by name.
func leastUsedAZ(r cloud.Region, siblings []*cloud.Subnet) cloud.AZ {
	count := map[string]int{}
	for _, s := range siblings {
		count[s.AvailabilityZone]++
	}
	zones := append([]cloud.AZ(nil), r.AZs...)
	sort.SliceStable(zones, func(i, j int) bool {
		if count[zones[i].Name] != count[zones[j].Name] {
			return count[zones[i].Name] < count[zones[j].Name]
		}
		return zones[i].Name < zones[j].Name
	})
	return zones[0]
}

var subnetFilters = filterer[SubnetView]{
	tags: func(v *SubnetView) cloud.Tags { return v.Tags },
	fields: fields[SubnetView]{
		"availability-zone":          func(v *SubnetView) []string { return one(v.AvailabilityZone) },
		"availabilityZone":           func(v *SubnetView) []string { return one(v.AvailabilityZone) },
		"availability-zone-id":       func(v *SubnetView) []string { return one(v.AvailabilityZoneID) },
		"availabilityZoneId":         func(v *SubnetView) []string { return one(v.AvailabilityZoneID) },
		"available-ip-address-count": func(v *SubnetView) []string { return []string{strconv.Itoa(v.AvailableIPAddressCount)} },
		"availableIpAddressCount":    func(v *SubnetView) []string { return []string{strconv.Itoa(v.AvailableIPAddressCount)} },
		"cidr":                       func(v *SubnetView) []string { return one(v.CidrBlock) },
		"cidr-block":                 func(v *SubnetView) []string { return one(v.CidrBlock) },
		"cidrBlock":                  func(v *SubnetView) []string { return one(v.CidrBlock) },
		"default-for-az":             func(v *SubnetView) []string { return boolStr(v.DefaultForAz) },
		"defaultForAz":               func(v *SubnetView) []string { return boolStr(v.DefaultForAz) },
		"ipv6-native":                func(v *SubnetView) []string { return boolStr(false) },
		"enable-dns64":               func(v *SubnetView) []string { return boolStr(false) },
		"private-dns-name-options-on-launch.hostname-type":                        func(v *SubnetView) []string { return one("ip-name") },
		"private-dns-name-options-on-launch.enable-resource-name-dns-a-record":    func(v *SubnetView) []string { return boolStr(false) },
		"private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record": func(v *SubnetView) []string { return boolStr(false) },
		"map-customer-owned-ip-on-launch":                                         func(v *SubnetView) []string { return boolStr(false) },
		"map-public-ip-on-launch":                                                 func(v *SubnetView) []string { return boolStr(v.MapPublicIPOnLaunch) },
		"owner-id":                                                                func(v *SubnetView) []string { return one(v.OwnerID) },
		"state":                                                                   func(v *SubnetView) []string { return one(v.State) },
		"subnet-arn":                                                              func(v *SubnetView) []string { return one(SubnetARN(v.Subnet)) },
		"subnet-id":                                                               func(v *SubnetView) []string { return one(v.ID) },
		"vpc-id":                                                                  func(v *SubnetView) []string { return one(v.VpcID) },
	},
}

// DescribeSubnets lists the caller's subnets. Interfaces are counted once per
// call, not per subnet, so large listings stay cheap.
func (cp *ControlPlane) DescribeSubnets(ctx context.Context, c *Call, in DescribeInput) ([]*SubnetView, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := subnetFilters.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	want := idSet(in.IDs)
	// Counting interfaces walks every interface; do it once, and only for
	// the matching subnets unless a filter needs the count itself.
	countFirst := false
	for _, f := range in.Filters {
		countFirst = countFirst || f.Name == "available-ip-address-count" || f.Name == "availableIpAddressCount"
	}
	var items []*SubnetView
	err = cp.db.View(func(tx *store.Tx) error {
		for _, id := range in.IDs {
			if getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, id) == nil {
				return cloud.NotFound("InvalidSubnetID.NotFound", "subnet ID", id)
			}
		}
		var counts map[string]int
		if countFirst {
			counts = subnetInterfaceCounts(tx)
		}
		var scratch SubnetView
		eachCandidate(tx, cloud.KindSubnet, in.Filters, func(_ string, v any) bool {
			s := v.(*cloud.Subnet)
			if !visible(c, &s.Meta) || (want != nil && !want[s.ID]) {
				return true
			}
			scratch = SubnetView{Subnet: s, AvailableIPAddressCount: availableIPs(s, counts[s.ID])}
			if keep(&scratch) {
				sv := scratch
				items = append(items, &sv)
			}
			return true
		})
		if !countFirst && len(items) > 0 {
			byID := make(map[string]*SubnetView, len(items))
			for _, sv := range items {
				byID[sv.ID] = sv
			}
			tx.Each(cloud.KindNetworkInterface, func(_ string, v any) bool {
				if sv := byID[v.(*cloud.NetworkInterface).SubnetID]; sv != nil {
					sv.AvailableIPAddressCount--
				}
				return true
			})
			for _, sv := range items {
				sv.AvailableIPAddressCount = max(sv.AvailableIPAddressCount, 0)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return paginate(items, func(v *SubnetView) string { return v.ID }, in.Page, 5, 1000)
}

// availableIPs is the subnet's usable addresses less its allocated interfaces.
func availableIPs(s *cloud.Subnet, interfaces int) int {
	p, ok := parseIPv4Prefix(s.CidrBlock)
	if !ok {
		return 0
	}
	if n := usableAddrs(p) - interfaces; n > 0 {
		return n
	}
	return 0
}

// DeleteSubnet deletes a subnet with no network interfaces, dropping its
// network ACL and route table associations.
func (cp *ControlPlane) DeleteSubnet(ctx context.Context, c *Call, subnetID string) error {
	if subnetID == "" {
		return cloud.MissingParameter("SubnetId")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		s := getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, subnetID)
		if s == nil {
			return cloud.NotFound("InvalidSubnetID.NotFound", "subnet ID", subnetID)
		}
		if err := cp.authorize(ctx, c, SubnetARN(s)); err != nil {
			return err
		}
		inUse := false
		tx.Each(cloud.KindNetworkInterface, func(_ string, v any) bool {
			inUse = v.(*cloud.NetworkInterface).SubnetID == subnetID
			return !inUse
		})
		if inUse {
			return cloud.Errorf("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted.", subnetID)
		}
		for _, acl := range store.List[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, func(a *cloud.NetworkAcl) bool { return a.VpcID == s.VpcID }) {
			var kept []cloud.NetworkAclAssociation
			for _, a := range acl.Associations {
				if a.SubnetID != subnetID {
					kept = append(kept, a)
				}
			}
			if len(kept) != len(acl.Associations) {
				a := store.Clone(acl)
				a.Associations = kept
				tx.Put(cloud.KindNetworkAcl, a.ID, a)
			}
		}
		for _, rtb := range store.List[cloud.RouteTable](tx, cloud.KindRouteTable, func(r *cloud.RouteTable) bool { return r.VpcID == s.VpcID }) {
			var kept []cloud.RouteTableAssociation
			for _, a := range rtb.Associations {
				if a.SubnetID != subnetID {
					kept = append(kept, a)
				}
			}
			if len(kept) != len(rtb.Associations) {
				r := store.Clone(rtb)
				r.Associations = kept
				tx.Put(cloud.KindRouteTable, r.ID, r)
			}
		}
		tx.Delete(cloud.KindSubnet, subnetID)
		return nil
	})
}

// ModifySubnetAttributeInput is ModifySubnetAttribute's parameters: exactly
// one of MapPublicIPOnLaunch (the one subnet attribute privlink models) or
// AtDefault, the name of an unmodelled attribute being set to the value it
// always has here (e.g. EnableDns64=false), which changes nothing.
type ModifySubnetAttributeInput struct {
	SubnetID            string
	MapPublicIPOnLaunch *bool
	AtDefault           string
}

// ModifySubnetAttribute sets MapPublicIpOnLaunch.
func (cp *ControlPlane) ModifySubnetAttribute(ctx context.Context, c *Call, in ModifySubnetAttributeInput) error {
	if in.SubnetID == "" {
		return cloud.MissingParameter("SubnetId")
	}
	if (in.MapPublicIPOnLaunch == nil) == (in.AtDefault == "") {
		return cloud.Errorf("InvalidParameterCombination", "Exactly one attribute must be specified per request.")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		s := getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, in.SubnetID)
		if s == nil {
			return cloud.NotFound("InvalidSubnetID.NotFound", "subnet ID", in.SubnetID)
		}
		if err := cp.authorize(ctx, c, SubnetARN(s)); err != nil {
			return err
		}
		if in.MapPublicIPOnLaunch == nil || s.MapPublicIPOnLaunch == *in.MapPublicIPOnLaunch {
			return nil
		}
		n := store.Clone(s)
		n.MapPublicIPOnLaunch = *in.MapPublicIPOnLaunch
		tx.Put(cloud.KindSubnet, n.ID, n)
		return nil
	})
}

// subnetFor fetches the caller's subnet or InvalidSubnetID.NotFound.
func subnetFor(tx *store.Tx, c *Call, id string) (*cloud.Subnet, error) {
	if id == "" {
		return nil, cloud.MissingParameter("SubnetId")
	}
	s := getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, id)
	if s == nil {
		return nil, cloud.NotFound("InvalidSubnetID.NotFound", "subnet ID", id)
	}
	return s, nil
}

// freeAddrs counts the subnet's unallocated usable addresses.
func freeAddrs(tx *store.Tx, s *cloud.Subnet) int {
	p, ok := parseIPv4Prefix(s.CidrBlock)
	if !ok {
		return 0
	}
	used := 0
	for a := range usedAddrs(tx, s.ID) {
		if p.Contains(a) && !reservedInSubnet(p, a) {
			used++
		}
	}
	return usableAddrs(p) - used
}

// subnetsOfVpc returns a VPC's subnets through the by-VPC index (creates
// stay fast however many subnets other VPCs hold).
func subnetsOfVpc(tx *store.Tx, vpcID string) []*cloud.Subnet {
	ids, ok := tx.Lookup(cloud.KindSubnet, vpcIndex, vpcID)
	if !ok {
		return store.List[cloud.Subnet](tx, cloud.KindSubnet, func(s *cloud.Subnet) bool { return s.VpcID == vpcID })
	}
	out := make([]*cloud.Subnet, 0, len(ids))
	for _, id := range ids {
		if s, ok := store.Get[cloud.Subnet](tx, cloud.KindSubnet, id); ok {
			out = append(out, s)
		}
	}
	return out
}
