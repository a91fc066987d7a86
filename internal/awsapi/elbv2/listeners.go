package elbv2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

// ListenerXML is the Listener shape.
type ListenerXML struct {
	ListenerArn     string      `xml:"ListenerArn"`
	LoadBalancerArn string      `xml:"LoadBalancerArn"`
	Port            int         `xml:"Port,omitempty"`
	Protocol        string      `xml:"Protocol,omitempty"`
	DefaultActions  []ActionXML `xml:"DefaultActions>member"`
}

// ActionXML is the Action shape of a forward action.
type ActionXML struct {
	Type           string `xml:"Type"`
	TargetGroupArn string `xml:"TargetGroupArn"`
}

func listenerXML(l *cloud.Listener) ListenerXML {
	return ListenerXML{
		ListenerArn: l.ARN, LoadBalancerArn: l.LoadBalancerARN, Port: l.Port, Protocol: l.Protocol,
		DefaultActions: []ActionXML{{Type: "forward", TargetGroupArn: l.TargetGroupARN}},
	}
}

type listenersResult struct {
	Listeners  []ListenerXML `xml:"Listeners>member"`
	NextMarker string        `xml:"NextMarker,omitempty"`
}

// actions decodes DefaultActions.member.N (ForwardConfig included).
func actions(p awsapi.Params) ([]controlplane.ListenerAction, error) {
	var out []controlplane.ListenerAction
	for _, s := range p.Structs("DefaultActions") {
		for _, unsupported := range []string{"AuthenticateOidcConfig", "AuthenticateCognitoConfig", "RedirectConfig", "FixedResponseConfig", "JwtValidationConfig"} {
			if len(s.Struct(unsupported)) > 0 {
				return nil, cloud.Errorf("InvalidLoadBalancerAction", "%s is not supported by network and gateway load balancers", unsupported)
			}
		}
		a := controlplane.ListenerAction{Type: s.Get("Type"), TargetGroupARN: s.Get("TargetGroupArn")}
		fc := s.Struct("ForwardConfig")
		for _, tg := range fc.Structs("TargetGroups") {
			a.ForwardTargetGroups = append(a.ForwardTargetGroups, tg.Get("TargetGroupArn"))
		}
		out = append(out, a)
	}
	return out, nil
}

func certificates(p awsapi.Params) []string {
	var out []string
	for _, s := range p.Structs("Certificates") {
		out = append(out, s.Get("CertificateArn"))
	}
	return out
}

func (a *API) createListener(ctx context.Context, r *awsapi.Request) (any, error) {
	p := r.Params
	if err := refuse(p, "MutualAuthentication"); err != nil {
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
	acts, err := actions(p)
	if err != nil {
		return nil, err
	}
	l, err := a.cp.CreateListener(ctx, call(r), controlplane.CreateListenerInput{
		LoadBalancerARN: p.Get("LoadBalancerArn"), Protocol: p.Get("Protocol"), Port: port,
		DefaultActions: acts, Certificates: certificates(p), SslPolicy: p.Get("SslPolicy"),
		AlpnPolicy: p.List("AlpnPolicy"), Tags: t,
	})
	if err != nil {
		return nil, err
	}
	return &listenersResult{Listeners: []ListenerXML{listenerXML(l)}}, nil
}

func (a *API) describeListeners(ctx context.Context, r *awsapi.Request) (any, error) {
	size, err := optInt(r.Params, "PageSize")
	if err != nil {
		return nil, err
	}
	ls, next, err := a.cp.DescribeListeners(ctx, call(r), controlplane.DescribeListenersInput{
		LoadBalancerARN: r.Params.Get("LoadBalancerArn"), ARNs: r.Params.List("ListenerArns"),
		Marker: r.Params.Get("Marker"), PageSize: size,
	})
	if err != nil {
		return nil, err
	}
	out := &listenersResult{Listeners: []ListenerXML{}, NextMarker: next}
	for _, l := range ls {
		out.Listeners = append(out.Listeners, listenerXML(l))
	}
	return out, nil
}

func (a *API) deleteListener(ctx context.Context, r *awsapi.Request) (any, error) {
	if err := a.cp.DeleteListener(ctx, call(r), r.Params.Get("ListenerArn")); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

func (a *API) modifyListener(ctx context.Context, r *awsapi.Request) (any, error) {
	p := r.Params
	if err := refuse(p, "MutualAuthentication"); err != nil {
		return nil, err
	}
	port, err := optInt(p, "Port")
	if err != nil {
		return nil, err
	}
	acts, err := actions(p)
	if err != nil {
		return nil, err
	}
	l, err := a.cp.ModifyListener(ctx, call(r), controlplane.ModifyListenerInput{
		ListenerARN: p.Get("ListenerArn"), Protocol: p.Get("Protocol"), Port: port, DefaultActions: acts,
		Certificates: certificates(p), SslPolicy: p.Get("SslPolicy"), AlpnPolicy: p.List("AlpnPolicy"),
	})
	if err != nil {
		return nil, err
	}
	return &listenersResult{Listeners: []ListenerXML{listenerXML(l)}}, nil
}
