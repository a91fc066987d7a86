package elbv2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// LoadBalancerXML is the LoadBalancer shape.
type LoadBalancerXML struct {
	LoadBalancerArn       string      `xml:"LoadBalancerArn"`
	DNSName               string      `xml:"DNSName,omitempty"`
	CanonicalHostedZoneID string      `xml:"CanonicalHostedZoneId,omitempty"`
	CreatedTime           string      `xml:"CreatedTime"`
	LoadBalancerName      string      `xml:"LoadBalancerName"`
	Scheme                string      `xml:"Scheme,omitempty"`
	VpcID                 string      `xml:"VpcId"`
	State                 StateXML    `xml:"State"`
	Type                  string      `xml:"Type"`
	AvailabilityZones     []AZXML     `xml:"AvailabilityZones>member"`
	SecurityGroups        *memberList `xml:"SecurityGroups,omitempty"`
	IPAddressType         string      `xml:"IpAddressType"`
	EnforceSGInbound      string      `xml:"EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic,omitempty"`
}

// memberList is a list that AWS omits when empty.
type memberList struct {
	Members []string `xml:"member"`
}

// StateXML is the LoadBalancerState shape.
type StateXML struct {
	Code   string `xml:"Code"`
	Reason string `xml:"Reason,omitempty"`
}

// AZXML is the AvailabilityZone shape.
type AZXML struct {
	ZoneName              string       `xml:"ZoneName"`
	SubnetID              string       `xml:"SubnetId"`
	LoadBalancerAddresses []AddressXML `xml:"LoadBalancerAddresses>member,omitempty"`
}

// AddressXML is the LoadBalancerAddress shape.
type AddressXML struct {
	PrivateIPv4Address string `xml:"PrivateIPv4Address,omitempty"`
}

func loadBalancerXML(lb *cloud.LoadBalancer) LoadBalancerXML {
	out := LoadBalancerXML{
		LoadBalancerArn: lb.ARN, DNSName: lb.DNSName, CanonicalHostedZoneID: lb.CanonicalHostedZn,
		CreatedTime: timestamp(lb.CreatedAt), LoadBalancerName: lb.Name, Scheme: lb.Scheme, VpcID: lb.VpcID,
		State: StateXML{Code: lb.State, Reason: lb.StateReason}, Type: lb.Type, IPAddressType: lb.IPAddressType,
	}
	if len(lb.SecurityGroupIDs) > 0 {
		out.SecurityGroups = &memberList{Members: lb.SecurityGroupIDs}
		out.EnforceSGInbound = "on"
	}
	for _, az := range lb.AZs {
		x := AZXML{ZoneName: az.ZoneName, SubnetID: az.SubnetID}
		if lb.Scheme == "internal" {
			x.LoadBalancerAddresses = []AddressXML{{PrivateIPv4Address: az.PrivateIPv4Address}}
		}
		out.AvailabilityZones = append(out.AvailabilityZones, x)
	}
	return out
}

type loadBalancersResult struct {
	LoadBalancers []LoadBalancerXML `xml:"LoadBalancers>member"`
	NextMarker    string            `xml:"NextMarker,omitempty"`
}

func (a *API) createLoadBalancer(ctx context.Context, r *awsapi.Request) (any, error) {
	p := r.Params
	if err := refuse(p, "CustomerOwnedIpv4Pool", "EnablePrefixForIpv6SourceNat", "IpamPools"); err != nil {
		return nil, err
	}
	t, err := tags(p)
	if err != nil {
		return nil, err
	}
	in := controlplane.CreateLoadBalancerInput{
		Name: p.Get("Name"), Type: p.Get("Type"), Scheme: p.Get("Scheme"),
		Subnets: p.List("Subnets"), SecurityGroups: p.List("SecurityGroups"),
		IPAddressType: p.Get("IpAddressType"), Tags: t,
	}
	for _, m := range p.Structs("SubnetMappings") {
		if m.Has("SourceNatIpv6Prefix") {
			return nil, validation("The parameter SourceNatIpv6Prefix is not supported by privlink")
		}
		in.SubnetMappings = append(in.SubnetMappings, controlplane.SubnetMapping{
			SubnetID: m.Get("SubnetId"), PrivateIPv4Address: m.Get("PrivateIPv4Address"),
			AllocationID: m.Get("AllocationId"), IPv6Address: m.Get("IPv6Address"),
		})
	}
	lb, err := a.cp.CreateLoadBalancer(ctx, call(r), in)
	if err != nil {
		return nil, err
	}
	return &loadBalancersResult{LoadBalancers: []LoadBalancerXML{loadBalancerXML(lb)}}, nil
}

func (a *API) describeLoadBalancers(ctx context.Context, r *awsapi.Request) (any, error) {
	size, err := optInt(r.Params, "PageSize")
	if err != nil {
		return nil, err
	}
	lbs, next, err := a.cp.DescribeLoadBalancers(ctx, call(r), controlplane.DescribeLoadBalancersInput{
		ARNs: r.Params.List("LoadBalancerArns"), Names: r.Params.List("Names"),
		Marker: r.Params.Get("Marker"), PageSize: size,
	})
	if err != nil {
		return nil, err
	}
	out := &loadBalancersResult{LoadBalancers: []LoadBalancerXML{}, NextMarker: next}
	for _, lb := range lbs {
		out.LoadBalancers = append(out.LoadBalancers, loadBalancerXML(lb))
	}
	return out, nil
}

func (a *API) deleteLoadBalancer(ctx context.Context, r *awsapi.Request) (any, error) {
	arn := r.Params.Get("LoadBalancerArn")
	if arn == "" {
		return nil, validation("1 validation error detected: Value null at 'loadBalancerArn' failed to satisfy constraint: Member must not be null")
	}
	if err := a.cp.DeleteLoadBalancer(ctx, call(r), arn); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (a *API) describeLoadBalancerAttributes(ctx context.Context, r *awsapi.Request) (any, error) {
	attrs, err := a.cp.DescribeLoadBalancerAttributes(ctx, call(r), r.Params.Get("LoadBalancerArn"))
	if err != nil {
		return nil, err
	}
	return attributesResult(attrs), nil
}

func (a *API) modifyLoadBalancerAttributes(ctx context.Context, r *awsapi.Request) (any, error) {
	attrs, err := a.cp.ModifyLoadBalancerAttributes(ctx, call(r), r.Params.Get("LoadBalancerArn"), attributes(r.Params))
	if err != nil {
		return nil, err
	}
	return attributesResult(attrs), nil
}
