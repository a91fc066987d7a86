package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerTags(m map[string]awsapi.Handler) {
	m["CreateTags"] = withCall(a.createTags)
	m["DeleteTags"] = withCall(a.deleteTags)
	m["DescribeTags"] = withCall(a.describeTags)
}

func (a *API) createTags(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := r.Params.Tags("Tag")
	if err != nil {
		return nil, err
	}
	if err := a.cp.CreateTags(ctx, c, r.Params.List("ResourceId"), tags); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) deleteTags(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	var tags []cloud.Tag
	var valueGiven []bool
	for _, s := range r.Params.Structs("Tag") {
		tags = append(tags, cloud.Tag{Key: s.Get("Key"), Value: s.Get("Value")})
		valueGiven = append(valueGiven, s.Has("Value"))
	}
	if err := a.cp.DeleteTags(ctx, c, r.Params.List("ResourceId"), tags, valueGiven); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) describeTags(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "")
	if err != nil {
		return nil, err
	}
	rows, next, err := a.cp.DescribeTags(ctx, c, in.Filters, in.Page)
	if err != nil {
		return nil, err
	}
	type tagXML struct {
		ResourceID   string `xml:"resourceId"`
		ResourceType string `xml:"resourceType"`
		Key          string `xml:"key"`
		Value        string `xml:"value"`
	}
	out := &struct {
		Tags      []tagXML `xml:"tagSet>item"`
		NextToken string   `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, t := range rows {
		out.Tags = append(out.Tags, tagXML{t.ResourceID, t.ResourceType, t.Key, t.Value})
	}
	return out, nil
}
