package controlplane

import (
	"context"
	"slices"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
)

func TestInternetGatewayRules(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, rtAccount, "10.0.0.0/16")
	vpc2 := mustVpc(t, cp, rtAccount, "10.1.0.0/16")
	igw := rtIGW(t, cp, "")
	igw2 := rtIGW(t, cp, "")
	call := rtCall("AttachInternetGateway")
	stranger := rootCall("222222222222", "ec2:AttachInternetGateway")
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"detach unattached", func() error { return cp.DetachInternetGateway(ctx, call, igw, vpc.ID) }, "Gateway.NotAttached"},
		{"attach unknown vpc", func() error { return cp.AttachInternetGateway(ctx, call, igw, "vpc-00000000000000000") }, "InvalidVpcID.NotFound"},
		{"attach unknown igw", func() error { return cp.AttachInternetGateway(ctx, call, "igw-00000000000000000", vpc.ID) }, "InvalidInternetGatewayID.NotFound"},
		{"attach missing igw", func() error { return cp.AttachInternetGateway(ctx, call, "", vpc.ID) }, "MissingParameter"},
		{"stranger attaches", func() error { return cp.AttachInternetGateway(ctx, stranger, igw, vpc.ID) }, "InvalidInternetGatewayID.NotFound"},
		{"attach", func() error { return cp.AttachInternetGateway(ctx, call, igw, vpc.ID) }, ""},
		{"attach again", func() error { return cp.AttachInternetGateway(ctx, call, igw, vpc.ID) }, "Resource.AlreadyAssociated"},
		{"attach elsewhere", func() error { return cp.AttachInternetGateway(ctx, call, igw, vpc2.ID) }, "Resource.AlreadyAssociated"},
		{"second gateway", func() error { return cp.AttachInternetGateway(ctx, call, igw2, vpc.ID) }, "InvalidParameterValue"},
		{"delete attached", func() error { return cp.DeleteInternetGateway(ctx, call, igw) }, "DependencyViolation"},
		{"vpc delete blocked", func() error { return cp.DeleteVpc(ctx, call, vpc.ID) }, "DependencyViolation"},
		{"detach wrong vpc", func() error { return cp.DetachInternetGateway(ctx, call, igw, vpc2.ID) }, "Gateway.NotAttached"},
		{"dry run detach", func() error {
			dry := rtCall("DetachInternetGateway")
			dry.DryRun = true
			return cp.DetachInternetGateway(ctx, dry, igw, vpc.ID)
		}, "DryRunOperation"},
		{"detach", func() error { return cp.DetachInternetGateway(ctx, call, igw, vpc.ID) }, ""},
		{"delete", func() error { return cp.DeleteInternetGateway(ctx, call, igw) }, ""},
		{"delete again", func() error { return cp.DeleteInternetGateway(ctx, call, igw) }, "InvalidInternetGatewayID.NotFound"},
	}
	for _, s := range steps {
		if got := errCode(s.do()); got != s.want {
			t.Fatalf("%s: code %q, want %q", s.name, got, s.want)
		}
	}
}

func TestDescribeInternetGateways(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	vpc := mustVpc(t, cp, rtAccount, "10.0.0.0/16")
	attached := rtIGW(t, cp, vpc.ID)
	loose, err := cp.CreateInternetGateway(ctx, rtCall("CreateInternetGateway"), CreateInternetGatewayInput{
		Tags: []TagSpec{{ResourceType: "internet-gateway", Tags: cloud.Tags{{Key: "Name", Value: "spare"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	call := rtCall("DescribeInternetGateways")
	tests := []struct {
		name    string
		in      DescribeInput
		want    []string
		wantErr string
	}{
		{"all", DescribeInput{}, slices.Sorted(slices.Values([]string{attached, loose.ID})), ""},
		{"by vpc", DescribeInput{Filters: []cloud.Filter{{Name: "attachment.vpc-id", Values: []string{vpc.ID}}}}, []string{attached}, ""},
		{"by state", DescribeInput{Filters: []cloud.Filter{{Name: "attachment.state", Values: []string{"available"}}}}, []string{attached}, ""},
		{"by tag", DescribeInput{Filters: []cloud.Filter{{Name: "tag:Name", Values: []string{"sp*"}}}}, []string{loose.ID}, ""},
		{"by id", DescribeInput{IDs: []string{loose.ID}}, []string{loose.ID}, ""},
		{"unknown id", DescribeInput{IDs: []string{"igw-00000000000000000"}}, nil, "InvalidInternetGatewayID.NotFound"},
		{"bad filter", DescribeInput{Filters: []cloud.Filter{{Name: "vpc-id", Values: []string{"x"}}}}, nil, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := cp.DescribeInternetGateways(ctx, call, tc.in)
			if errCode(err) != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			var ids []string
			for _, g := range out {
				ids = append(ids, g.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("ids = %v, want %v", ids, tc.want)
			}
		})
	}
	out, _, err := cp.DescribeInternetGateways(ctx, rootCall("222222222222", "ec2:DescribeInternetGateways"), DescribeInput{})
	if err != nil || len(out) != 0 {
		t.Fatalf("another account sees %v (%v)", out, err)
	}
}
