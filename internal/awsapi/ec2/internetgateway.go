package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerInternetGateway(m map[string]awsapi.Handler) {
	m["CreateInternetGateway"] = withCall(a.createInternetGateway)
	m["AttachInternetGateway"] = withCall(a.attachInternetGateway)
	m["DetachInternetGateway"] = withCall(a.detachInternetGateway)
	m["DeleteInternetGateway"] = withCall(a.deleteInternetGateway)
	m["DescribeInternetGateways"] = withCall(a.describeInternetGateways)
}

type igwAttachmentXML struct {
	State string `xml:"state"`
	VpcID string `xml:"vpcId"`
}

// InternetGatewayXML is the InternetGateway shape.
type InternetGatewayXML struct {
	InternetGatewayID string             `xml:"internetGatewayId"`
	OwnerID           string             `xml:"ownerId"`
	Attachments       []igwAttachmentXML `xml:"attachmentSet>item"`
	TagSet            []Tag              `xml:"tagSet>item"`
}

func internetGatewayXML(g *cloud.InternetGateway) InternetGatewayXML {
	out := InternetGatewayXML{InternetGatewayID: g.ID, OwnerID: g.OwnerID, TagSet: tagSet(g.Tags)}
	for _, at := range g.Attachments {
		out.Attachments = append(out.Attachments, igwAttachmentXML{State: at.State, VpcID: at.VpcID})
	}
	return out
}

func (a *API) createInternetGateway(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	g, err := a.cp.CreateInternetGateway(ctx, c, controlplane.CreateInternetGatewayInput{Tags: tags})
	if err != nil {
		return nil, err
	}
	return &struct {
		InternetGateway InternetGatewayXML `xml:"internetGateway"`
	}{internetGatewayXML(g)}, nil
}

func (a *API) attachInternetGateway(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.AttachInternetGateway(ctx, c, r.Params.Get("InternetGatewayId"), r.Params.Get("VpcId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) detachInternetGateway(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DetachInternetGateway(ctx, c, r.Params.Get("InternetGatewayId"), r.Params.Get("VpcId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) deleteInternetGateway(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DeleteInternetGateway(ctx, c, r.Params.Get("InternetGatewayId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) describeInternetGateways(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "InternetGatewayId")
	if err != nil {
		return nil, err
	}
	gws, next, err := a.cp.DescribeInternetGateways(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		InternetGateways []InternetGatewayXML `xml:"internetGatewaySet>item"`
		NextToken        string               `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, g := range gws {
		out.InternetGateways = append(out.InternetGateways, internetGatewayXML(g))
	}
	return out, nil
}
