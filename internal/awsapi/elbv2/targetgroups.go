package elbv2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// TargetGroupXML is the TargetGroup shape.
type TargetGroupXML struct {
	TargetGroupArn             string      `xml:"TargetGroupArn"`
	TargetGroupName            string      `xml:"TargetGroupName"`
	Protocol                   string      `xml:"Protocol"`
	Port                       int         `xml:"Port"`
	VpcID                      string      `xml:"VpcId"`
	HealthCheckProtocol        string      `xml:"HealthCheckProtocol"`
	HealthCheckPort            string      `xml:"HealthCheckPort"`
	HealthCheckEnabled         bool        `xml:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int         `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int         `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int         `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int         `xml:"UnhealthyThresholdCount"`
	HealthCheckPath            string      `xml:"HealthCheckPath,omitempty"`
	Matcher                    *MatcherXML `xml:"Matcher,omitempty"`
	LoadBalancerArns           []string    `xml:"LoadBalancerArns>member"`
	TargetType                 string      `xml:"TargetType"`
	IPAddressType              string      `xml:"IpAddressType"`
}

// MatcherXML is the Matcher shape.
type MatcherXML struct {
	HTTPCode string `xml:"HttpCode"`
}

func targetGroupXML(tg *cloud.TargetGroup) TargetGroupXML {
	hc := tg.HealthCheck
	out := TargetGroupXML{
		TargetGroupArn: tg.ARN, TargetGroupName: tg.Name, Protocol: tg.Protocol, Port: tg.Port, VpcID: tg.VpcID,
		HealthCheckProtocol: hc.Protocol, HealthCheckPort: hc.Port, HealthCheckEnabled: hc.Enabled,
		HealthCheckIntervalSeconds: hc.IntervalSeconds, HealthCheckTimeoutSeconds: hc.TimeoutSeconds,
		HealthyThresholdCount: hc.HealthyThreshold, UnhealthyThresholdCount: hc.UnhealthyThreshold,
		HealthCheckPath: hc.Path, LoadBalancerArns: tg.LoadBalancerARNs, TargetType: tg.TargetType, IPAddressType: "ipv4",
	}
	if hc.Matcher != "" {
		out.Matcher = &MatcherXML{HTTPCode: hc.Matcher}
	}
	return out
}

type targetGroupsResult struct {
	TargetGroups []TargetGroupXML `xml:"TargetGroups>member"`
	NextMarker   string           `xml:"NextMarker,omitempty"`
}

// healthCheckInput decodes the health-check parameters shared by
// CreateTargetGroup and ModifyTargetGroup.
func healthCheckInput(p awsapi.Params) (controlplane.HealthCheckInput, error) {
	in := controlplane.HealthCheckInput{
		Protocol: optString(p, "HealthCheckProtocol"), Port: optString(p, "HealthCheckPort"),
		Path: optString(p, "HealthCheckPath"),
	}
	if m := p.Struct("Matcher"); len(m) > 0 {
		if m.Has("GrpcCode") {
			return in, validation("gRPC health checks are not supported for network and gateway target groups")
		}
		in.Matcher = optString(m, "HttpCode")
	}
	var err error
	if in.Enabled, err = optBool(p, "HealthCheckEnabled"); err != nil {
		return in, err
	}
	for _, f := range []struct {
		name string
		dst  **int
	}{
		{"HealthCheckIntervalSeconds", &in.IntervalSeconds},
		{"HealthCheckTimeoutSeconds", &in.TimeoutSeconds},
		{"HealthyThresholdCount", &in.HealthyThreshold},
		{"UnhealthyThresholdCount", &in.UnhealthyThreshold},
	} {
		if *f.dst, err = optInt(p, f.name); err != nil {
			return in, err
		}
	}
	return in, nil
}

func (a *API) createTargetGroup(ctx context.Context, r *awsapi.Request) (any, error) {
	p := r.Params
	if err := refuse(p, "TargetControlPort"); err != nil {
		return nil, err
	}
	t, err := tags(p)
	if err != nil {
		return nil, err
	}
	port, err := optInt(p, "Port")
	if err != nil {
		return nil, err
	}
	hc, err := healthCheckInput(p)
	if err != nil {
		return nil, err
	}
	tg, err := a.cp.CreateTargetGroup(ctx, call(r), controlplane.CreateTargetGroupInput{
		Name: p.Get("Name"), Protocol: p.Get("Protocol"), ProtocolVersion: p.Get("ProtocolVersion"), Port: port,
		VpcID: p.Get("VpcId"), TargetType: p.Get("TargetType"), IPAddressType: p.Get("IpAddressType"),
		HealthCheck: hc, Tags: t,
	})
	if err != nil {
		return nil, err
	}
	return &targetGroupsResult{TargetGroups: []TargetGroupXML{targetGroupXML(tg)}}, nil
}

func (a *API) describeTargetGroups(ctx context.Context, r *awsapi.Request) (any, error) {
	size, err := optInt(r.Params, "PageSize")
	if err != nil {
		return nil, err
	}
	tgs, next, err := a.cp.DescribeTargetGroups(ctx, call(r), controlplane.DescribeTargetGroupsInput{
		LoadBalancerARN: r.Params.Get("LoadBalancerArn"), ARNs: r.Params.List("TargetGroupArns"),
		Names: r.Params.List("Names"), Marker: r.Params.Get("Marker"), PageSize: size,
	})
	if err != nil {
		return nil, err
	}
	out := &targetGroupsResult{TargetGroups: []TargetGroupXML{}, NextMarker: next}
	for _, tg := range tgs {
		out.TargetGroups = append(out.TargetGroups, targetGroupXML(tg))
	}
	return out, nil
}

func (a *API) deleteTargetGroup(ctx context.Context, r *awsapi.Request) (any, error) {
	arn := r.Params.Get("TargetGroupArn")
	if arn == "" {
		return nil, validation("1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null")
	}
	if err := a.cp.DeleteTargetGroup(ctx, call(r), arn); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (a *API) modifyTargetGroup(ctx context.Context, r *awsapi.Request) (any, error) {
	hc, err := healthCheckInput(r.Params)
	if err != nil {
		return nil, err
	}
	tg, err := a.cp.ModifyTargetGroup(ctx, call(r), r.Params.Get("TargetGroupArn"), hc)
	if err != nil {
		return nil, err
	}
	return &targetGroupsResult{TargetGroups: []TargetGroupXML{targetGroupXML(tg)}}, nil
}

func (a *API) describeTargetGroupAttributes(ctx context.Context, r *awsapi.Request) (any, error) {
	attrs, err := a.cp.DescribeTargetGroupAttributes(ctx, call(r), r.Params.Get("TargetGroupArn"))
	if err != nil {
		return nil, err
	}
	return attributesResult(attrs), nil
}

func (a *API) modifyTargetGroupAttributes(ctx context.Context, r *awsapi.Request) (any, error) {
	attrs, err := a.cp.ModifyTargetGroupAttributes(ctx, call(r), r.Params.Get("TargetGroupArn"), attributes(r.Params))
	if err != nil {
		return nil, err
	}
	return attributesResult(attrs), nil
}

// targets decodes Targets.member.N.{Id,Port,AvailabilityZone}.
func targets(p awsapi.Params) ([]controlplane.TargetSpec, error) {
	var out []controlplane.TargetSpec
	for _, s := range p.Structs("Targets") {
		if s.Has("QuicServerId") {
			return nil, validation("QUIC server IDs are not supported by privlink")
		}
		port, err := optInt(s, "Port")
		if err != nil {
			return nil, err
		}
		out = append(out, controlplane.TargetSpec{ID: s.Get("Id"), Port: port, AvailabilityZone: s.Get("AvailabilityZone")})
	}
	return out, nil
}

func (a *API) registerTargets(ctx context.Context, r *awsapi.Request) (any, error) {
	ts, err := targets(r.Params)
	if err != nil {
		return nil, err
	}
	if err := a.cp.RegisterTargets(ctx, call(r), r.Params.Get("TargetGroupArn"), ts); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (a *API) deregisterTargets(ctx context.Context, r *awsapi.Request) (any, error) {
	ts, err := targets(r.Params)
	if err != nil {
		return nil, err
	}
	if err := a.cp.DeregisterTargets(ctx, call(r), r.Params.Get("TargetGroupArn"), ts); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

// TargetHealthDescriptionXML is the TargetHealthDescription shape.
type TargetHealthDescriptionXML struct {
	Target struct {
		ID               string `xml:"Id"`
		Port             int    `xml:"Port"`
		AvailabilityZone string `xml:"AvailabilityZone,omitempty"`
	} `xml:"Target"`
	HealthCheckPort string `xml:"HealthCheckPort"`
	TargetHealth    struct {
		State       string `xml:"State"`
		Reason      string `xml:"Reason,omitempty"`
		Description string `xml:"Description,omitempty"`
	} `xml:"TargetHealth"`
}

func (a *API) describeTargetHealth(ctx context.Context, r *awsapi.Request) (any, error) {
	if err := refuse(r.Params, "Include"); err != nil {
		return nil, err
	}
	ts, err := targets(r.Params)
	if err != nil {
		return nil, err
	}
	rows, err := a.cp.DescribeTargetHealth(ctx, call(r), r.Params.Get("TargetGroupArn"), ts)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Descriptions []TargetHealthDescriptionXML `xml:"TargetHealthDescriptions>member"`
	}{Descriptions: []TargetHealthDescriptionXML{}}
	for _, row := range rows {
		var d TargetHealthDescriptionXML
		d.Target.ID, d.Target.Port, d.Target.AvailabilityZone = row.Target.ID, row.Target.Port, row.Target.AvailabilityZone
		d.HealthCheckPort = row.HealthCheckPort
		h := row.Target.Health
		d.TargetHealth.State, d.TargetHealth.Reason, d.TargetHealth.Description = h.State, h.Reason, h.Description
		out.Descriptions = append(out.Descriptions, d)
	}
	return out, nil
}
