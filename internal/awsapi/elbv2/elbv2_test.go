package elbv2

import (
	"context"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane/cptest"
)

func newService(t *testing.T) *awsapi.Service {
	t.Helper()
	cp, _ := cptest.New(t)
	return NewService(cp)
}

// TestMalformedInput sends bad and missing parameters to every action: each
// must answer with an AWS error of the sender's fault, never panic or 500.
func TestMalformedInput(t *testing.T) {
	svc := newService(t)
	const lbARN = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/x/0123456789abcdef"
	const tgARN = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/x/0123456789abcdef"
	inputs := []awsapi.Params{
		{},
		{"Name": "x", "Type": "network", "Subnets.member.1": "subnet-1"},
		{"LoadBalancerArn": "::::", "TargetGroupArn": "arn:aws:ec2:us-east-1:1:vpc/x", "ListenerArn": "nope"},
		{"LoadBalancerArn": lbARN, "TargetGroupArn": tgARN, "PageSize": "many", "Port": "eighty"},
		{"TargetGroupArn": tgARN, "Targets.member.1.Id": "10.0.0.1", "Targets.member.1.Port": "x"},
		{"TargetGroupArn": tgARN, "HealthCheckEnabled": "maybe", "HealthCheckIntervalSeconds": "9999999999999999999999"},
		{"Marker": "zz", "PageSize": "0", "Names.member.1": "a", "LoadBalancerArns.member.1": lbARN},
		{"ResourceArns.member.1": lbARN, "Tags.member.1.Value": "v", "TagKeys.member.1": "k"},
		{"LoadBalancerArn": lbARN, "Attributes.member.1.Value": "true", "DefaultActions.member.1.Type": "fixed-response",
			"DefaultActions.member.1.FixedResponseConfig.StatusCode": "200"},
		{"Name": "x", "Type": "network", "CustomerOwnedIpv4Pool": "ipv4pool-coip-1", "Include.member.1": "AnomalyDetection", "TargetControlPort": "1"},
	}
	caller := &cloud.Principal{AccountID: "111111111111", Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN("111111111111"), UserID: "111111111111"}
	for action, h := range svc.Actions {
		for i, p := range inputs {
			_, err := h(context.Background(), &awsapi.Request{Service: svc.Name, Action: action, Params: p, Caller: caller, Region: "us-east-1"})
			if err == nil {
				continue
			}
			e, ok := cloud.AsError(err)
			if !ok || e.Status >= 500 || e.Code == "" {
				t.Errorf("%s input #%d: %v", action, i, err)
			}
		}
	}
}

func TestEncodeDescribeLoadBalancers(t *testing.T) {
	svc := newService(t)
	out, err := svc.Actions["DescribeLoadBalancers"](context.Background(), &awsapi.Request{
		Action: "DescribeLoadBalancers", Params: awsapi.Params{}, Region: "us-east-1",
		Caller: &cloud.Principal{AccountID: "111111111111", Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN("111111111111")},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, err := awsapi.EncodeResponse(svc.Protocol, svc.Xmlns, "DescribeLoadBalancers", "req-1", out)
	if err != nil {
		t.Fatal(err)
	}
	want := `<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeLoadBalancersResult><LoadBalancers></LoadBalancers></DescribeLoadBalancersResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>`
	if !strings.HasSuffix(string(body), want) {
		t.Fatalf("body = %s", body)
	}
}
