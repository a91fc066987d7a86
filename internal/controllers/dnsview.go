package controllers

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// endpointServesDNS reports whether an endpoint's names are published: from
// the moment it is being realized until it is rejected or deleted.
func endpointServesDNS(state string) bool {
	return state == cloud.StatePending || state == cloud.StateAvailable
}

// buildView computes the Amazon DNS view of one VPC: instance hostnames,
// interface endpoint names, and private hosted zones for private DNS. It
// also returns the endpoints whose names the view publishes.
func buildView(tx *store.Tx, vpc *cloud.Vpc) (*dns.View, map[string]bool, error) {
	published := map[string]bool{}
	b := dns.NewViewBuilder()
	b.EnableDNSSupport = vpc.EnableDnsSupport
	enis := map[string]*cloud.NetworkInterface{}
	tx.Each(cloud.KindNetworkInterface, func(id string, v any) bool {
		e := v.(*cloud.NetworkInterface)
		if e.VpcID == vpc.ID {
			enis[id] = e
		}
		return true
	})
	if vpc.EnableDnsHostnames {
		ids := make([]string, 0, len(enis))
		for id := range enis {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			e := enis[id]
			ip, err := netip.ParseAddr(e.PrivateIPAddress)
			if err != nil || e.PrivateDNSName == "" {
				continue
			}
			if err := b.AddA(e.PrivateDNSName, ip); err != nil {
				return nil, nil, err
			}
			if err := b.AddPTR(ip, e.PrivateDNSName); err != nil {
				return nil, nil, err
			}
		}
	}
	if !tx.HasKind(cloud.KindVpcEndpoint) {
		v, err := b.Build()
		return v, published, err
	}
	endpoints := store.List[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, func(ep *cloud.VpcEndpoint) bool {
		return ep.VpcID == vpc.ID && ep.Type == cloud.EndpointInterface && endpointServesDNS(ep.State)
	})
	for _, ep := range endpoints {
		if err := addEndpointNames(tx, b, vpc, ep, enis); err != nil {
			return nil, nil, fmt.Errorf("endpoint %s: %w", ep.ID, err)
		}
		published[ep.ID] = true
	}
	v, err := b.Build()
	return v, published, err
}

func addEndpointNames(tx *store.Tx, b *dns.ViewBuilder, vpc *cloud.Vpc, ep *cloud.VpcEndpoint, enis map[string]*cloud.NetworkInterface) error {
	var all []netip.Addr
	byAZ := map[string][]netip.Addr{}
	for _, id := range ep.NetworkInterfaceIDs {
		e := enis[id]
		if e == nil {
			continue
		}
		ip, err := netip.ParseAddr(e.PrivateIPAddress)
		if err != nil {
			continue
		}
		all = append(all, ip)
		byAZ[e.AvailabilityZone] = append(byAZ[e.AvailabilityZone], ip)
	}
	if len(all) == 0 || ep.DNSSuffix == "" {
		return nil
	}
	wildcard := dns.EndpointNamesAreWildcard(ep.ServiceName)
	add := func(name string, ips []netip.Addr) error {
		if err := b.AddA(name, ips...); err != nil {
			return err
		}
		if wildcard {
			return b.AddA("*."+name, ips...)
		}
		return nil
	}
	regional, err := dns.EndpointRegionalName(ep.ID, ep.DNSSuffix, ep.ServiceName, vpc.Region)
	if err != nil {
		return err
	}
	if err := add(regional, all); err != nil {
		return err
	}
	azs := make([]string, 0, len(byAZ))
	for az := range byAZ {
		azs = append(azs, az)
	}
	sort.Strings(azs)
	for _, az := range azs {
		zonal, err := dns.EndpointZonalName(ep.ID, ep.DNSSuffix, az, ep.ServiceName, vpc.Region)
		if err != nil {
			return err
		}
		if err := add(zonal, byAZ[az]); err != nil {
			return err
		}
	}
	if !ep.PrivateDNSEnabled {
		return nil
	}
	names := privateNames(tx, vpc.Region, ep)
	if len(names) == 0 {
		return nil
	}
	zone, err := dns.EndpointPrivateZone(names, all...)
	if err != nil {
		return err
	}
	return b.AttachPrivateZone(zone)
}

// privateNames are the service names private DNS answers with the
// endpoint's addresses: the AWS service's own names, or a custom service's
// verified private DNS name.
func privateNames(tx *store.Tx, region string, ep *cloud.VpcEndpoint) []string {
	if _, ok := cloud.LookupAWSService(region, ep.ServiceName); ok {
		names, err := dns.ServicePrivateDNSNames(ep.ServiceName, region)
		if err != nil {
			return nil
		}
		return names
	}
	if ep.ServiceID == "" || !tx.HasKind(cloud.KindVpcEndpointService) {
		return nil
	}
	svc, ok := store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, ep.ServiceID)
	if !ok || svc.PrivateDNSName == "" || svc.PrivateDNSNameConfig == nil || svc.PrivateDNSNameConfig.State != "verified" {
		return nil
	}
	return []string{svc.PrivateDNSName}
}

// PublicZone holds the regions' public AWS service names, pointing at the
// project's stand-in public addresses.
func PublicZone(regions []string) (*dns.Zone, error) {
	b := dns.NewZoneBuilder("amazonaws.com")
	for _, region := range regions {
		for _, s := range cloud.AWSServices() {
			addr, ok := cloud.ServicePublicAddr(region, s.Short)
			if !ok {
				continue
			}
			names, err := dns.ServicePrivateDNSNames(cloud.AWSServiceName(region, s.Short), region)
			if err != nil {
				continue
			}
			for _, n := range names {
				if err := b.AddA(n, addr); err != nil {
					return nil, err
				}
			}
		}
	}
	return b.Build()
}
