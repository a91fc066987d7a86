package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerRouteTable(m map[string]awsapi.Handler) {
	m["CreateRouteTable"] = withCall(a.createRouteTable)
	m["DeleteRouteTable"] = withCall(a.deleteRouteTable)
	m["DescribeRouteTables"] = withCall(a.describeRouteTables)
	m["AssociateRouteTable"] = withCall(a.associateRouteTable)
	m["DisassociateRouteTable"] = withCall(a.disassociateRouteTable)
	m["ReplaceRouteTableAssociation"] = withCall(a.replaceRouteTableAssociation)
	m["CreateRoute"] = withCall(a.createRoute)
	m["ReplaceRoute"] = withCall(a.replaceRoute)
	m["DeleteRoute"] = withCall(a.deleteRoute)
}

// RouteXML is the Route shape.
type RouteXML struct {
	DestinationCidrBlock    string `xml:"destinationCidrBlock,omitempty"`
	DestinationPrefixListID string `xml:"destinationPrefixListId,omitempty"`
	GatewayID               string `xml:"gatewayId,omitempty"`
	InstanceID              string `xml:"instanceId,omitempty"`
	InstanceOwnerID         string `xml:"instanceOwnerId,omitempty"`
	NetworkInterfaceID      string `xml:"networkInterfaceId,omitempty"`
	Origin                  string `xml:"origin"`
	State                   string `xml:"state"`
}

type associationState struct {
	State string `xml:"state"`
}

// RouteTableAssociationXML is the RouteTableAssociation shape.
type RouteTableAssociationXML struct {
	Main                    bool             `xml:"main"`
	RouteTableAssociationID string           `xml:"routeTableAssociationId"`
	RouteTableID            string           `xml:"routeTableId"`
	SubnetID                string           `xml:"subnetId,omitempty"`
	GatewayID               string           `xml:"gatewayId,omitempty"`
	AssociationState        associationState `xml:"associationState"`
}

// RouteTableXML is the RouteTable shape.
type RouteTableXML struct {
	RouteTableID string                     `xml:"routeTableId"`
	VpcID        string                     `xml:"vpcId"`
	OwnerID      string                     `xml:"ownerId"`
	Routes       []RouteXML                 `xml:"routeSet>item"`
	Associations []RouteTableAssociationXML `xml:"associationSet>item"`
	TagSet       []Tag                      `xml:"tagSet>item"`
}

func routeTableXML(t *cloud.RouteTable) RouteTableXML {
	out := RouteTableXML{RouteTableID: t.ID, VpcID: t.VpcID, OwnerID: t.OwnerID, TagSet: tagSet(t.Tags)}
	for _, r := range t.Routes {
		x := RouteXML{
			DestinationCidrBlock: r.DestinationCidrBlock, DestinationPrefixListID: r.DestinationPrefixListID,
			GatewayID: r.GatewayID, InstanceID: r.InstanceID, NetworkInterfaceID: r.NetworkInterfaceID,
			Origin: r.Origin, State: r.State,
		}
		// AWS shows a Gateway Load Balancer endpoint target as the gatewayId.
		if x.GatewayID == "" {
			x.GatewayID = r.VpcEndpointID
		}
		if r.InstanceID != "" {
			x.InstanceOwnerID = t.OwnerID
		}
		out.Routes = append(out.Routes, x)
	}
	for _, a := range t.Associations {
		out.Associations = append(out.Associations, RouteTableAssociationXML{
			Main: a.Main, RouteTableAssociationID: a.ID, RouteTableID: t.ID, SubnetID: a.SubnetID, GatewayID: a.GatewayID,
			AssociationState: associationState{State: "associated"},
		})
	}
	return out
}

func (a *API) createRouteTable(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	t, err := a.cp.CreateRouteTable(ctx, c, controlplane.CreateRouteTableInput{
		VpcID: r.Params.Get("VpcId"), Tags: tags, ClientToken: r.Params.Get("ClientToken"),
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		RouteTable  RouteTableXML `xml:"routeTable"`
		ClientToken string        `xml:"clientToken,omitempty"`
	}{routeTableXML(t), r.Params.Get("ClientToken")}, nil
}

func (a *API) deleteRouteTable(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DeleteRouteTable(ctx, c, r.Params.Get("RouteTableId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) describeRouteTables(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "RouteTableId")
	if err != nil {
		return nil, err
	}
	tables, next, err := a.cp.DescribeRouteTables(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		RouteTables []RouteTableXML `xml:"routeTableSet>item"`
		NextToken   string          `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, t := range tables {
		out.RouteTables = append(out.RouteTables, routeTableXML(t))
	}
	return out, nil
}

func (a *API) associateRouteTable(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if r.Params.Has("PublicIpv4Pool") {
		return nil, cloud.Errorf("UnsupportedOperation", "The parameter PublicIpv4Pool is not supported by privlink.")
	}
	id, err := a.cp.AssociateRouteTable(ctx, c, r.Params.Get("RouteTableId"), r.Params.Get("SubnetId"), r.Params.Get("GatewayId"))
	if err != nil {
		return nil, err
	}
	return &struct {
		AssociationID    string           `xml:"associationId"`
		AssociationState associationState `xml:"associationState"`
	}{id, associationState{State: "associated"}}, nil
}

func (a *API) disassociateRouteTable(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DisassociateRouteTable(ctx, c, r.Params.Get("AssociationId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) replaceRouteTableAssociation(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	id, err := a.cp.ReplaceRouteTableAssociation(ctx, c, r.Params.Get("AssociationId"), r.Params.Get("RouteTableId"))
	if err != nil {
		return nil, err
	}
	return &struct {
		NewAssociationID string           `xml:"newAssociationId"`
		AssociationState associationState `xml:"associationState"`
	}{id, associationState{State: "associated"}}, nil
}

// unsupportedRouteTargets are CreateRoute/ReplaceRoute targets privlink
// does not model.
var unsupportedRouteTargets = []string{
	"NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "CarrierGatewayId",
	"LocalGatewayId", "EgressOnlyInternetGatewayId", "CoreNetworkArn", "OdbNetworkArn",
}

func routeInput(r *awsapi.Request) (controlplane.RouteInput, error) {
	if r.Params.Has("DestinationIpv6CidrBlock") {
		return controlplane.RouteInput{}, cloud.Errorf("UnsupportedOperation", "IPv6 routes are not supported by privlink: VPCs are IPv4 only.")
	}
	local, err := r.Params.Bool("LocalTarget", false)
	if err != nil {
		return controlplane.RouteInput{}, err
	}
	in := controlplane.RouteInput{
		RouteTableID:            r.Params.Get("RouteTableId"),
		DestinationCidrBlock:    r.Params.Get("DestinationCidrBlock"),
		DestinationPrefixListID: r.Params.Get("DestinationPrefixListId"),
		GatewayID:               r.Params.Get("GatewayId"),
		NetworkInterfaceID:      r.Params.Get("NetworkInterfaceId"),
		InstanceID:              r.Params.Get("InstanceId"),
		VpcEndpointID:           r.Params.Get("VpcEndpointId"),
		LocalTarget:             local,
	}
	for _, p := range unsupportedRouteTargets {
		if r.Params.Get(p) != "" {
			in.UnsupportedTargets = append(in.UnsupportedTargets, p)
		}
	}
	return in, nil
}

func (a *API) createRoute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := routeInput(r)
	if err != nil {
		return nil, err
	}
	if err := a.cp.CreateRoute(ctx, c, in); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) replaceRoute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := routeInput(r)
	if err != nil {
		return nil, err
	}
	if err := a.cp.ReplaceRoute(ctx, c, in); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) deleteRoute(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if r.Params.Has("DestinationIpv6CidrBlock") {
		return nil, cloud.Errorf("UnsupportedOperation", "IPv6 routes are not supported by privlink: VPCs are IPv4 only.")
	}
	if err := a.cp.DeleteRoute(ctx, c, r.Params.Get("RouteTableId"), r.Params.Get("DestinationCidrBlock"), r.Params.Get("DestinationPrefixListId")); err != nil {
		return nil, err
	}
	return ok, nil
}
