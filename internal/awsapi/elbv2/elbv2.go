// Package elbv2 serves the Elastic Load Balancing v2 Query API (2015-12-01)
// for the network and gateway load balancers PrivateLink uses: it decodes
// each action's parameters as botocore's model names them, calls
// controlplane and renders the model's XML shapes. Business rules live in
// controlplane.
package elbv2

import (
	"context"
	"strconv"
	"time"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// Xmlns is the ELBv2 response namespace.
const Xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// API holds the ELBv2 handlers.
type API struct {
	cp *controlplane.ControlPlane
}

// NewService returns the ELBv2 service for awsapi.NewServer.
func NewService(cp *controlplane.ControlPlane) *awsapi.Service {
	a := &API{cp: cp}
	actions := map[string]awsapi.Handler{
		"CreateLoadBalancer":             a.createLoadBalancer,
		"DescribeLoadBalancers":          a.describeLoadBalancers,
		"DeleteLoadBalancer":             a.deleteLoadBalancer,
		"DescribeLoadBalancerAttributes": a.describeLoadBalancerAttributes,
		"ModifyLoadBalancerAttributes":   a.modifyLoadBalancerAttributes,
		"CreateTargetGroup":              a.createTargetGroup,
		"DescribeTargetGroups":           a.describeTargetGroups,
		"DeleteTargetGroup":              a.deleteTargetGroup,
		"ModifyTargetGroup":              a.modifyTargetGroup,
		"DescribeTargetGroupAttributes":  a.describeTargetGroupAttributes,
		"ModifyTargetGroupAttributes":    a.modifyTargetGroupAttributes,
		"RegisterTargets":                a.registerTargets,
		"DeregisterTargets":              a.deregisterTargets,
		"DescribeTargetHealth":           a.describeTargetHealth,
		"CreateListener":                 a.createListener,
		"DescribeListeners":              a.describeListeners,
		"DeleteListener":                 a.deleteListener,
		"ModifyListener":                 a.modifyListener,
		"AddTags":                        a.addTags,
		"RemoveTags":                     a.removeTags,
		"DescribeTags":                   a.describeTags,
	}
	return &awsapi.Service{Name: "elasticloadbalancing", Protocol: awsapi.ProtocolQuery, Xmlns: Xmlns, Actions: actions}
}

// call builds the controlplane call context of a request.
func call(r *awsapi.Request) *controlplane.Call {
	return &controlplane.Call{Caller: r.Caller, Region: r.Region, Action: "elasticloadbalancing:" + r.Action}
}

func validation(format string, args ...any) error {
	return cloud.Errorf("ValidationError", format, args...)
}

// optInt parses an integer parameter (nil when absent) with ELBv2's error.
func optInt(p awsapi.Params, name string) (*int, error) {
	if !p.Has(name) {
		return nil, nil
	}
	n, err := strconv.Atoi(p.Get(name))
	if err != nil {
		return nil, validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", p.Get(name), lowerFirst(name))
	}
	return &n, nil
}

// optBool parses a boolean parameter (nil when absent) with ELBv2's error.
func optBool(p awsapi.Params, name string) (*bool, error) {
	if !p.Has(name) {
		return nil, nil
	}
	switch p.Get(name) {
	case "true":
		b := true
		return &b, nil
	case "false":
		b := false
		return &b, nil
	}
	return nil, validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", p.Get(name), lowerFirst(name))
}

func optString(p awsapi.Params, name string) *string {
	if !p.Has(name) {
		return nil
	}
	v := p.Get(name)
	return &v
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// refuse returns a ValidationError for the first of names that was sent:
// parameters of features privlink does not model.
func refuse(p awsapi.Params, names ...string) error {
	for _, n := range names {
		if p.Has(n) || len(p.Struct(n)) > 0 {
			return validation("The parameter %s is not supported by privlink", n)
		}
	}
	return nil
}

// tags decodes Tags.member.N.{Key,Value}.
func tags(p awsapi.Params) (cloud.Tags, error) {
	t, err := p.Tags("Tags")
	if err != nil {
		return nil, validation("1 validation error detected: Value null at 'tags.member.key' failed to satisfy constraint: Member must not be null")
	}
	return t, nil
}

// Tag is the XML shape of a tag.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func tagList(tags cloud.Tags) []Tag {
	out := make([]Tag, len(tags))
	for i, t := range tags {
		out[i] = Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// Attribute is a load balancer or target group attribute.
type Attribute struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// AttributesResult is the result of the attribute actions.
type AttributesResult struct {
	Attributes []Attribute `xml:"Attributes>member"`
}

func attributesResult(attrs []controlplane.LoadBalancerAttribute) *AttributesResult {
	out := &AttributesResult{Attributes: []Attribute{}}
	for _, a := range attrs {
		out.Attributes = append(out.Attributes, Attribute{Key: a.Key, Value: a.Value})
	}
	return out
}

func attributes(p awsapi.Params) []controlplane.LoadBalancerAttribute {
	var out []controlplane.LoadBalancerAttribute
	for _, s := range p.Structs("Attributes") {
		out = append(out, controlplane.LoadBalancerAttribute{Key: s.Get("Key"), Value: s.Get("Value")})
	}
	return out
}

// empty is the body of actions whose result has no members.
type empty struct{}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ResourceTags is a TagDescription.
type ResourceTags struct {
	ResourceArn string `xml:"ResourceArn"`
	Tags        []Tag  `xml:"Tags>member"`
}

func (a *API) addTags(ctx context.Context, r *awsapi.Request) (any, error) {
	t, err := tags(r.Params)
	if err != nil {
		return nil, err
	}
	if err := a.cp.AddElbTags(ctx, call(r), r.Params.List("ResourceArns"), t); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (a *API) removeTags(ctx context.Context, r *awsapi.Request) (any, error) {
	if err := a.cp.RemoveElbTags(ctx, call(r), r.Params.List("ResourceArns"), r.Params.List("TagKeys")); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (a *API) describeTags(ctx context.Context, r *awsapi.Request) (any, error) {
	rows, err := a.cp.DescribeElbTags(ctx, call(r), r.Params.List("ResourceArns"))
	if err != nil {
		return nil, err
	}
	out := &struct {
		TagDescriptions []ResourceTags `xml:"TagDescriptions>member"`
	}{TagDescriptions: []ResourceTags{}}
	for _, row := range rows {
		out.TagDescriptions = append(out.TagDescriptions, ResourceTags{ResourceArn: row.ARN, Tags: tagList(row.Tags)})
	}
	return out, nil
}
