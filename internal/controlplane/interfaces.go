package controlplane

import (
	"fmt"
	"net/netip"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// InterfaceSpec describes a network interface to allocate in a subnet.
type InterfaceSpec struct {
	// PrivateIP requests a specific address ("" lets the subnet choose).
	PrivateIP        string
	InterfaceType    string
	Description      string
	SecurityGroupIDs []string
	// RequesterManaged marks interfaces AWS creates for a service (endpoints,
	// load balancers); RequesterID names that service.
	RequesterManaged bool
	RequesterID      string
	OwnerResource    string
	InstanceID       string
	Tags             cloud.Tags
}

// usedAddrs returns the addresses allocated to interfaces in a subnet.
func usedAddrs(tx *store.Tx, subnetID string) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	tx.Each(cloud.KindNetworkInterface, func(_ string, v any) bool {
		eni := v.(*cloud.NetworkInterface)
		if eni.SubnetID == subnetID {
			if a, err := netip.ParseAddr(eni.PrivateIPAddress); err == nil {
				used[a] = true
			}
		}
		return true
	})
	return used
}

// allocateInterface creates a network interface in subnet with a free
// private IP (the requested one, or the lowest free one) and puts it in tx.
// Errors are AWS's: InvalidIPAddress.InUse, InvalidParameterValue for an
// address outside the subnet or reserved, InsufficientFreeAddressesInSubnet.
func (cp *ControlPlane) allocateInterface(tx *store.Tx, c *Call, subnet *cloud.Subnet, spec InterfaceSpec) (*cloud.NetworkInterface, error) {
	prefix, ok := parseIPv4Prefix(subnet.CidrBlock)
	if !ok {
		return nil, fmt.Errorf("controlplane: subnet %s has a bad CIDR %q", subnet.ID, subnet.CidrBlock)
	}
	used := usedAddrs(tx, subnet.ID)
	var ip netip.Addr
	if spec.PrivateIP != "" {
		a, err := netip.ParseAddr(spec.PrivateIP)
		if err != nil || !a.Is4() {
			return nil, cloud.InvalidParameterValue("PrivateIpAddress", spec.PrivateIP, "")
		}
		if !prefix.Contains(a) {
			return nil, cloud.Errorf("InvalidParameterValue", "Address %s does not fall within the subnet's address range", a)
		}
		if reservedInSubnet(prefix, a) {
			return nil, cloud.Errorf("InvalidParameterValue", "Address %s is in subnet's reserved address range", a)
		}
		if used[a] {
			return nil, cloud.Errorf("InvalidIPAddress.InUse", "Address %s is in use.", a)
		}
		ip = a
	} else {
		for n := 4; n < addrCount(prefix)-1; n++ {
			if a := nthAddr(prefix, n); !used[a] {
				ip = a
				break
			}
		}
		if !ip.IsValid() {
			return nil, cloud.Errorf("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", subnet.ID)
		}
	}
	id := cloud.NewID("eni")
	eni := &cloud.NetworkInterface{
		Meta:             cp.newMeta(c, id, spec.Tags),
		SubnetID:         subnet.ID,
		VpcID:            subnet.VpcID,
		AvailabilityZone: subnet.AvailabilityZone,
		InterfaceType:    spec.InterfaceType,
		Description:      spec.Description,
		PrivateIPAddress: ip.String(),
		MacAddress:       macFor(id),
		SecurityGroupIDs: append([]string(nil), spec.SecurityGroupIDs...),
		Status:           "in-use",
		RequesterID:      spec.RequesterID,
		RequesterManaged: spec.RequesterManaged,
		SourceDestCheck:  true,
		OwnerResource:    spec.OwnerResource,
		InstanceID:       spec.InstanceID,
	}
	if eni.InterfaceType == "" {
		eni.InterfaceType = cloud.InterfaceTypeInterface
	}
	if spec.InstanceID != "" {
		eni.AttachmentID = cloud.NewID("eni-attach")
	}
	eni.PrivateDNSName = privateDNSName(c.Region, ip)
	tx.Put(cloud.KindNetworkInterface, id, eni)
	return eni, nil
}

// subnetInterfaceCounts counts allocated interfaces per subnet (one pass).
func subnetInterfaceCounts(tx *store.Tx) map[string]int {
	counts := map[string]int{}
	tx.Each(cloud.KindNetworkInterface, func(_ string, v any) bool {
		counts[v.(*cloud.NetworkInterface).SubnetID]++
		return true
	})
	return counts
}

// privateDNSName is the EC2 private hostname of an address:
// ip-10-0-1-5.ec2.internal in us-east-1, ip-10-0-1-5.<region>.compute.internal elsewhere.
func privateDNSName(region string, ip netip.Addr) string {
	b := ip.As4()
	host := fmt.Sprintf("ip-%d-%d-%d-%d", b[0], b[1], b[2], b[3])
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

// macFor derives a stable, locally administered MAC from an interface ID.
func macFor(id string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return fmt.Sprintf("0e:%02x:%02x:%02x:%02x:%02x", byte(h>>24), byte(h>>16), byte(h>>8), byte(h), byte(len(id)))
}
