// Package ec2 serves the EC2 Query API (version 2016-11-15): it decodes each
// action's parameters as botocore's model names them, calls controlplane and
// renders the model's XML shapes. Business rules live in controlplane.
package ec2

import (
	"context"
	"time"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// Xmlns is the EC2 response namespace.
const Xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

// API holds the EC2 handlers.
type API struct {
	cp *controlplane.ControlPlane
}

// NewService returns the EC2 service for awsapi.NewServer.
func NewService(cp *controlplane.ControlPlane) *awsapi.Service {
	a := &API{cp: cp}
	actions := map[string]awsapi.Handler{}
	for _, register := range []func(map[string]awsapi.Handler){
		a.registerVpc, a.registerTags,
		a.registerSecurityGroup, a.registerNetworkAcl,
		a.registerSubnet, a.registerInstance, a.registerENI,
		a.registerRouteTable, a.registerInternetGateway, a.registerPrefixList,
		a.registerEndpointServices, a.registerEndpoints,
	} {
		register(actions)
	}
	return &awsapi.Service{Name: "ec2", Protocol: awsapi.ProtocolEC2, Xmlns: Xmlns, Actions: actions}
}

// call builds the controlplane call context of a request.
func call(r *awsapi.Request) (*controlplane.Call, error) {
	dry, err := r.Params.Bool("DryRun", false)
	if err != nil {
		return nil, err
	}
	return &controlplane.Call{Caller: r.Caller, Region: r.Region, Action: "ec2:" + r.Action, DryRun: dry, Network: r.Network}, nil
}

// describeInput decodes the IDs list (named idParam), Filters, MaxResults and NextToken.
func describeInput(r *awsapi.Request, idParam string) (controlplane.DescribeInput, error) {
	var in controlplane.DescribeInput
	if idParam != "" {
		in.IDs = r.Params.List(idParam)
	}
	f, err := r.Params.Filters()
	if err != nil {
		return in, err
	}
	in.Filters = f
	in.Page, err = page(r)
	return in, err
}

func page(r *awsapi.Request) (controlplane.Page, error) {
	max, err := r.Params.OptInt("MaxResults")
	return controlplane.Page{MaxResults: max, NextToken: r.Params.Get("NextToken")}, err
}

func tagSpecs(r *awsapi.Request) ([]controlplane.TagSpec, error) {
	specs, err := r.Params.TagSpecifications()
	if err != nil {
		return nil, err
	}
	out := make([]controlplane.TagSpec, len(specs))
	for i, s := range specs {
		out[i] = controlplane.TagSpec{ResourceType: s.ResourceType, Tags: s.Tags}
	}
	return out, nil
}

// Tag is the XML shape of a tag.
type Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func tagSet(tags cloud.Tags) []Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// ReturnResponse is the body of actions that answer <return>true</return>.
type ReturnResponse struct {
	Return bool `xml:"return"`
}

var ok = &ReturnResponse{Return: true}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// callHandler is a handler that receives its controlplane call context.
type callHandler func(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error)

// withCall decodes the call context (caller, region, DryRun) once for h.
func withCall(h callHandler) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		c, err := call(r)
		if err != nil {
			return nil, err
		}
		return h(ctx, r, c)
	}
}
