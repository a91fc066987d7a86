package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerEndpointServices(m map[string]awsapi.Handler) {
	m["CreateVpcEndpointServiceConfiguration"] = withCall(a.createVpcEndpointServiceConfiguration)
	m["DescribeVpcEndpointServiceConfigurations"] = withCall(a.describeVpcEndpointServiceConfigurations)
	m["ModifyVpcEndpointServiceConfiguration"] = withCall(a.modifyVpcEndpointServiceConfiguration)
	m["DeleteVpcEndpointServiceConfigurations"] = withCall(a.deleteVpcEndpointServiceConfigurations)
	m["DescribeVpcEndpointServicePermissions"] = withCall(a.describeVpcEndpointServicePermissions)
	m["ModifyVpcEndpointServicePermissions"] = withCall(a.modifyVpcEndpointServicePermissions)
	m["StartVpcEndpointServicePrivateDnsVerification"] = withCall(a.startVpcEndpointServicePrivateDnsVerification)
	m["DescribeVpcEndpointServices"] = withCall(a.describeVpcEndpointServices)
	m["DescribeVpcEndpointConnections"] = withCall(a.describeVpcEndpointConnections)
	m["AcceptVpcEndpointConnections"] = withCall(a.acceptVpcEndpointConnections)
	m["RejectVpcEndpointConnections"] = withCall(a.rejectVpcEndpointConnections)
	m["CreateVpcEndpointConnectionNotification"] = withCall(a.createVpcEndpointConnectionNotification)
	m["DescribeVpcEndpointConnectionNotifications"] = withCall(a.describeVpcEndpointConnectionNotifications)
	m["ModifyVpcEndpointConnectionNotification"] = withCall(a.modifyVpcEndpointConnectionNotification)
	m["DeleteVpcEndpointConnectionNotifications"] = withCall(a.deleteVpcEndpointConnectionNotifications)
}

type serviceTypeXML struct {
	ServiceType string `xml:"serviceType"`
}

type privateDNSConfigXML struct {
	State string `xml:"state,omitempty"`
	Type  string `xml:"type,omitempty"`
	Value string `xml:"value,omitempty"`
	Name  string `xml:"name,omitempty"`
}

type supportedRegionXML struct {
	Region       string `xml:"region"`
	ServiceState string `xml:"serviceState"`
}

// ServiceConfigurationXML is the ServiceConfiguration shape.
type ServiceConfigurationXML struct {
	ServiceType                 []serviceTypeXML     `xml:"serviceType>item"`
	ServiceID                   string               `xml:"serviceId"`
	ServiceName                 string               `xml:"serviceName"`
	ServiceState                string               `xml:"serviceState"`
	AvailabilityZoneIDs         []string             `xml:"availabilityZoneIdSet>item"`
	AvailabilityZones           []string             `xml:"availabilityZoneSet>item"`
	AcceptanceRequired          bool                 `xml:"acceptanceRequired"`
	ManagesVpcEndpoints         bool                 `xml:"managesVpcEndpoints"`
	NetworkLoadBalancerARNs     []string             `xml:"networkLoadBalancerArnSet>item,omitempty"`
	GatewayLoadBalancerARNs     []string             `xml:"gatewayLoadBalancerArnSet>item,omitempty"`
	SupportedIPAddressTypes     []string             `xml:"supportedIpAddressTypeSet>item"`
	BaseEndpointDNSNames        []string             `xml:"baseEndpointDnsNameSet>item"`
	PrivateDNSName              string               `xml:"privateDnsName,omitempty"`
	PrivateDNSNameConfiguration *privateDNSConfigXML `xml:"privateDnsNameConfiguration,omitempty"`
	PayerResponsibility         string               `xml:"payerResponsibility"`
	TagSet                      []Tag                `xml:"tagSet>item,omitempty"`
	SupportedRegions            []supportedRegionXML `xml:"supportedRegionSet>item"`
	RemoteAccessEnabled         bool                 `xml:"remoteAccessEnabled"`
}

func (a *API) zoneIDs(region string, zones []string) []string {
	var out []string
	for _, r := range a.cp.Regions() {
		if r.Name != region {
			continue
		}
		for _, z := range zones {
			if az, ok := r.AZ(z); ok {
				out = append(out, az.ID)
			}
		}
	}
	return out
}

func (a *API) serviceConfigXML(s *cloud.VpcEndpointService) ServiceConfigurationXML {
	out := ServiceConfigurationXML{
		ServiceType: []serviceTypeXML{{s.ServiceType}}, ServiceID: s.ID, ServiceName: s.ServiceName,
		ServiceState: s.ServiceState, AvailabilityZoneIDs: a.zoneIDs(s.Region, s.AvailabilityZones),
		AvailabilityZones: s.AvailabilityZones, AcceptanceRequired: s.AcceptanceRequired,
		ManagesVpcEndpoints: s.ManagesVpcEndpoints, NetworkLoadBalancerARNs: s.NetworkLoadBalancerARNs,
		GatewayLoadBalancerARNs: s.GatewayLoadBalancerARNs, SupportedIPAddressTypes: s.SupportedIPAddressTypes,
		BaseEndpointDNSNames: s.BaseEndpointDNSNames, PrivateDNSName: s.PrivateDNSName,
		PayerResponsibility: s.PayerResponsibility, TagSet: tagSet(s.Tags),
	}
	if c := s.PrivateDNSNameConfig; c != nil {
		out.PrivateDNSNameConfiguration = &privateDNSConfigXML{State: c.State, Type: c.Type, Value: c.Value, Name: c.Name}
	}
	for _, r := range s.SupportedRegions {
		out.SupportedRegions = append(out.SupportedRegions, supportedRegionXML{Region: r, ServiceState: s.ServiceState})
	}
	return out
}

func (a *API) createVpcEndpointServiceConfiguration(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	acceptance, err := r.Params.Bool("AcceptanceRequired", false)
	if err != nil {
		return nil, err
	}
	token := r.Params.Get("ClientToken")
	s, err := a.cp.CreateVpcEndpointServiceConfiguration(ctx, c, controlplane.CreateEndpointServiceInput{
		NetworkLoadBalancerARNs: r.Params.List("NetworkLoadBalancerArn"),
		GatewayLoadBalancerARNs: r.Params.List("GatewayLoadBalancerArn"),
		AcceptanceRequired:      acceptance,
		PrivateDNSName:          r.Params.Get("PrivateDnsName"),
		SupportedIPAddressTypes: r.Params.List("SupportedIpAddressType"),
		SupportedRegions:        r.Params.List("SupportedRegion"),
		Tags:                    tags,
		ClientToken:             token,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		ServiceConfiguration ServiceConfigurationXML `xml:"serviceConfiguration"`
		ClientToken          string                  `xml:"clientToken,omitempty"`
	}{a.serviceConfigXML(s), token}, nil
}

func (a *API) describeVpcEndpointServiceConfigurations(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "ServiceId")
	if err != nil {
		return nil, err
	}
	list, next, err := a.cp.DescribeVpcEndpointServiceConfigurations(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Items     []ServiceConfigurationXML `xml:"serviceConfigurationSet>item"`
		NextToken string                    `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, s := range list {
		out.Items = append(out.Items, a.serviceConfigXML(s))
	}
	return out, nil
}

func (a *API) modifyVpcEndpointServiceConfiguration(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	acceptance, err := r.Params.OptBool("AcceptanceRequired")
	if err != nil {
		return nil, err
	}
	removeDNS, err := r.Params.Bool("RemovePrivateDnsName", false)
	if err != nil {
		return nil, err
	}
	p := r.Params
	if err := a.cp.ModifyVpcEndpointServiceConfiguration(ctx, c, controlplane.ModifyEndpointServiceInput{
		ServiceID:                     p.Get("ServiceId"),
		PrivateDNSName:                p.Get("PrivateDnsName"),
		RemovePrivateDNSName:          removeDNS,
		AcceptanceRequired:            acceptance,
		AddNetworkLoadBalancerARNs:    p.List("AddNetworkLoadBalancerArn"),
		RemoveNetworkLoadBalancerARNs: p.List("RemoveNetworkLoadBalancerArn"),
		AddGatewayLoadBalancerARNs:    p.List("AddGatewayLoadBalancerArn"),
		RemoveGatewayLoadBalancerARNs: p.List("RemoveGatewayLoadBalancerArn"),
		AddSupportedIPAddressTypes:    p.List("AddSupportedIpAddressType"),
		RemoveSupportedIPAddressTypes: p.List("RemoveSupportedIpAddressType"),
		AddSupportedRegions:           p.List("AddSupportedRegion"),
		RemoveSupportedRegions:        p.List("RemoveSupportedRegion"),
	}); err != nil {
		return nil, err
	}
	return ok, nil
}

// unsuccessfulXML is the UnsuccessfulItem shape.
type unsuccessfulXML struct {
	Error struct {
		Code    string `xml:"code"`
		Message string `xml:"message"`
	} `xml:"error"`
	ResourceID string `xml:"resourceId"`
}

type unsuccessfulResponse struct {
	Unsuccessful []unsuccessfulXML `xml:"unsuccessful>item"`
}

func unsuccessfulSet(items []controlplane.Unsuccessful) *unsuccessfulResponse {
	out := &unsuccessfulResponse{}
	for _, u := range items {
		x := unsuccessfulXML{ResourceID: u.ResourceID}
		x.Error.Code, x.Error.Message = u.Code, u.Message
		out.Unsuccessful = append(out.Unsuccessful, x)
	}
	return out
}

func (a *API) deleteVpcEndpointServiceConfigurations(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	failed, err := a.cp.DeleteVpcEndpointServiceConfigurations(ctx, c, r.Params.List("ServiceId"))
	if err != nil {
		return nil, err
	}
	return unsuccessfulSet(failed), nil
}

func (a *API) describeVpcEndpointServicePermissions(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "")
	if err != nil {
		return nil, err
	}
	id := r.Params.Get("ServiceId")
	list, next, err := a.cp.DescribeVpcEndpointServicePermissions(ctx, c, id, in.Filters, in.Page)
	if err != nil {
		return nil, err
	}
	type principalXML struct {
		PrincipalType       string `xml:"principalType"`
		Principal           string `xml:"principal"`
		ServicePermissionID string `xml:"servicePermissionId"`
		TagSet              []Tag  `xml:"tagSet>item,omitempty"`
		ServiceID           string `xml:"serviceId"`
	}
	out := &struct {
		Items     []principalXML `xml:"allowedPrincipals>item"`
		NextToken string         `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, p := range list {
		out.Items = append(out.Items, principalXML{p.PrincipalType, p.Principal, p.ID, tagSet(p.Tags), id})
	}
	return out, nil
}

func (a *API) modifyVpcEndpointServicePermissions(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	id := r.Params.Get("ServiceId")
	added, err := a.cp.ModifyVpcEndpointServicePermissions(ctx, c, id, r.Params.List("AddAllowedPrincipals"), r.Params.List("RemoveAllowedPrincipals"))
	if err != nil {
		return nil, err
	}
	type addedXML struct {
		PrincipalType       string `xml:"principalType"`
		Principal           string `xml:"principal"`
		ServicePermissionID string `xml:"servicePermissionId"`
		ServiceID           string `xml:"serviceId"`
	}
	out := &struct {
		Added  []addedXML `xml:"addedPrincipalSet>item,omitempty"`
		Return bool       `xml:"return"`
	}{Return: true}
	for _, p := range added {
		out.Added = append(out.Added, addedXML{p.PrincipalType, p.Principal, p.ID, id})
	}
	return out, nil
}

func (a *API) startVpcEndpointServicePrivateDnsVerification(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.StartVpcEndpointServicePrivateDnsVerification(ctx, c, r.Params.Get("ServiceId")); err != nil {
		return nil, err
	}
	return ok, nil
}

type privateDNSDetailXML struct {
	PrivateDNSName string `xml:"privateDnsName"`
}

// ServiceDetailXML is the ServiceDetail shape.
type ServiceDetailXML struct {
	ServiceName                     string                `xml:"serviceName"`
	ServiceID                       string                `xml:"serviceId"`
	ServiceType                     []serviceTypeXML      `xml:"serviceType>item"`
	ServiceRegion                   string                `xml:"serviceRegion"`
	AvailabilityZoneIDs             []string              `xml:"availabilityZoneIdSet>item"`
	AvailabilityZones               []string              `xml:"availabilityZoneSet>item"`
	Owner                           string                `xml:"owner"`
	BaseEndpointDNSNames            []string              `xml:"baseEndpointDnsNameSet>item"`
	PrivateDNSName                  string                `xml:"privateDnsName,omitempty"`
	PrivateDNSNames                 []privateDNSDetailXML `xml:"privateDnsNameSet>item,omitempty"`
	VpcEndpointPolicySupported      bool                  `xml:"vpcEndpointPolicySupported"`
	AcceptanceRequired              bool                  `xml:"acceptanceRequired"`
	ManagesVpcEndpoints             bool                  `xml:"managesVpcEndpoints"`
	PayerResponsibility             string                `xml:"payerResponsibility,omitempty"`
	TagSet                          []Tag                 `xml:"tagSet>item,omitempty"`
	PrivateDNSNameVerificationState string                `xml:"privateDnsNameVerificationState,omitempty"`
	SupportedIPAddressTypes         []string              `xml:"supportedIpAddressTypeSet>item"`
}

func (a *API) describeVpcEndpointServices(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "")
	if err != nil {
		return nil, err
	}
	names, rows, next, err := a.cp.DescribeVpcEndpointServices(ctx, c, controlplane.DescribeEndpointServicesInput{
		ServiceNames: r.Params.List("ServiceName"), ServiceRegions: r.Params.List("ServiceRegion"),
		Filters: in.Filters, Page: in.Page,
	})
	if err != nil {
		return nil, err
	}
	out := &struct {
		ServiceNames []string           `xml:"serviceNameSet>item"`
		Details      []ServiceDetailXML `xml:"serviceDetailSet>item"`
		NextToken    string             `xml:"nextToken,omitempty"`
	}{ServiceNames: names, NextToken: next}
	for _, d := range rows {
		x := ServiceDetailXML{
			ServiceName: d.ServiceName, ServiceID: d.ServiceID, ServiceType: []serviceTypeXML{{d.ServiceType}},
			ServiceRegion: d.ServiceRegion, AvailabilityZoneIDs: d.AvailabilityZoneIDs, AvailabilityZones: d.AvailabilityZones,
			Owner: d.Owner, BaseEndpointDNSNames: d.BaseEndpointDNSNames, PrivateDNSName: d.PrivateDNSName,
			VpcEndpointPolicySupported: d.VpcEndpointPolicySupported, AcceptanceRequired: d.AcceptanceRequired,
			ManagesVpcEndpoints: d.ManagesVpcEndpoints, PayerResponsibility: d.PayerResponsibility, TagSet: tagSet(d.Tags),
			PrivateDNSNameVerificationState: d.PrivateDNSNameVerificationState, SupportedIPAddressTypes: d.SupportedIPAddressTypes,
		}
		for _, n := range d.PrivateDNSNames {
			x.PrivateDNSNames = append(x.PrivateDNSNames, privateDNSDetailXML{n})
		}
		out.Details = append(out.Details, x)
	}
	return out, nil
}

func (a *API) describeVpcEndpointConnections(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "")
	if err != nil {
		return nil, err
	}
	list, next, err := a.cp.DescribeVpcEndpointConnections(ctx, c, in.Filters, in.Page)
	if err != nil {
		return nil, err
	}
	type connXML struct {
		ServiceID               string        `xml:"serviceId"`
		VpcEndpointID           string        `xml:"vpcEndpointId"`
		VpcEndpointOwner        string        `xml:"vpcEndpointOwner"`
		VpcEndpointState        string        `xml:"vpcEndpointState"`
		CreationTimestamp       string        `xml:"creationTimestamp"`
		DNSEntries              []dnsEntryXML `xml:"dnsEntrySet>item,omitempty"`
		NetworkLoadBalancerARNs []string      `xml:"networkLoadBalancerArnSet>item,omitempty"`
		GatewayLoadBalancerARNs []string      `xml:"gatewayLoadBalancerArnSet>item,omitempty"`
		IPAddressType           string        `xml:"ipAddressType"`
		VpcEndpointConnectionID string        `xml:"vpcEndpointConnectionId"`
		VpcEndpointRegion       string        `xml:"vpcEndpointRegion"`
	}
	out := &struct {
		Items     []connXML `xml:"vpcEndpointConnectionSet>item"`
		NextToken string    `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, e := range list {
		out.Items = append(out.Items, connXML{
			ServiceID: e.ServiceID, VpcEndpointID: e.VpcEndpointID, VpcEndpointOwner: e.VpcEndpointOwner,
			VpcEndpointState: e.VpcEndpointState, CreationTimestamp: timestamp(e.CreationTimestamp),
			DNSEntries: dnsEntries(e.DNSEntries), NetworkLoadBalancerARNs: e.NetworkLoadBalancerARNs,
			GatewayLoadBalancerARNs: e.GatewayLoadBalancerARNs, IPAddressType: e.IPAddressType,
			VpcEndpointConnectionID: e.VpcEndpointConnectionID, VpcEndpointRegion: e.VpcEndpointRegion,
		})
	}
	return out, nil
}

func (a *API) acceptVpcEndpointConnections(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	failed, err := a.cp.AcceptVpcEndpointConnections(ctx, c, r.Params.Get("ServiceId"), r.Params.List("VpcEndpointId"))
	if err != nil {
		return nil, err
	}
	return unsuccessfulSet(failed), nil
}

func (a *API) rejectVpcEndpointConnections(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	failed, err := a.cp.RejectVpcEndpointConnections(ctx, c, r.Params.Get("ServiceId"), r.Params.List("VpcEndpointId"))
	if err != nil {
		return nil, err
	}
	return unsuccessfulSet(failed), nil
}

type notificationXML struct {
	ID        string   `xml:"connectionNotificationId"`
	ServiceID string   `xml:"serviceId,omitempty"`
	Endpoint  string   `xml:"vpcEndpointId,omitempty"`
	Type      string   `xml:"connectionNotificationType"`
	ARN       string   `xml:"connectionNotificationArn"`
	Events    []string `xml:"connectionEvents>item"`
	State     string   `xml:"connectionNotificationState"`
	Region    string   `xml:"serviceRegion"`
}

func notificationOf(n *cloud.ConnectionNotification) notificationXML {
	return notificationXML{n.ID, n.ServiceID, n.VpcEndpointID, n.Type, n.ARN, n.Events, n.State, n.Region}
}

func (a *API) createVpcEndpointConnectionNotification(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	token := r.Params.Get("ClientToken")
	n, err := a.cp.CreateVpcEndpointConnectionNotification(ctx, c, controlplane.CreateNotificationInput{
		ServiceID: r.Params.Get("ServiceId"), VpcEndpointID: r.Params.Get("VpcEndpointId"),
		ARN: r.Params.Get("ConnectionNotificationArn"), Events: r.Params.List("ConnectionEvents"), ClientToken: token,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		Notification notificationXML `xml:"connectionNotification"`
		ClientToken  string          `xml:"clientToken,omitempty"`
	}{notificationOf(n), token}, nil
}

func (a *API) describeVpcEndpointConnectionNotifications(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "")
	if err != nil {
		return nil, err
	}
	list, next, err := a.cp.DescribeVpcEndpointConnectionNotifications(ctx, c, r.Params.Get("ConnectionNotificationId"), in.Filters, in.Page)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Items     []notificationXML `xml:"connectionNotificationSet>item"`
		NextToken string            `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, n := range list {
		out.Items = append(out.Items, notificationOf(n))
	}
	return out, nil
}

func (a *API) modifyVpcEndpointConnectionNotification(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.ModifyVpcEndpointConnectionNotification(ctx, c, r.Params.Get("ConnectionNotificationId"),
		r.Params.Get("ConnectionNotificationArn"), r.Params.List("ConnectionEvents")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) deleteVpcEndpointConnectionNotifications(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	failed, err := a.cp.DeleteVpcEndpointConnectionNotifications(ctx, c, r.Params.List("ConnectionNotificationId"))
	if err != nil {
		return nil, err
	}
	return unsuccessfulSet(failed), nil
}
