package controlplane

import (
	"context"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

func TestCreateVpc(t *testing.T) {
	tests := []struct {
		name, cidr, wantCode, wantCidr string
	}{
		{name: "canonicalizes", cidr: "10.0.0.18/16", wantCidr: "10.0.0.0/16"},
		{name: "smallest", cidr: "10.0.0.0/28", wantCidr: "10.0.0.0/28"},
		{name: "too large", cidr: "10.0.0.0/15", wantCode: "InvalidVpc.Range"},
		{name: "too small", cidr: "10.0.0.0/29", wantCode: "InvalidVpc.Range"},
		{name: "not a cidr", cidr: "10.0.0.0", wantCode: "InvalidParameterValue"},
		{name: "ipv6", cidr: "fd00::/56", wantCode: "InvalidParameterValue"},
		{name: "missing", cidr: "", wantCode: "MissingParameter"},
	}
	cp := newTestCP(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := cp.CreateVpc(context.Background(), rootCall("111111111111", "ec2:CreateVpc"), CreateVpcInput{CidrBlock: tc.cidr})
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.wantCode)
			}
			if err == nil && v.CidrBlock != tc.wantCidr {
				t.Fatalf("cidr = %s, want %s", v.CidrBlock, tc.wantCidr)
			}
		})
	}
}

func TestCreateVpcMakesDefaults(t *testing.T) {
	cp := newTestCP(t)
	v := mustVpc(t, cp, "111111111111", "10.0.0.0/16")
	cp.DB().View(func(tx *store.Tx) error {
		rtb, ok := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, v.MainRouteTableID)
		if !ok || !rtb.IsMain() || len(rtb.Routes) != 1 || rtb.Routes[0].GatewayID != "local" || rtb.Routes[0].DestinationCidrBlock != "10.0.0.0/16" {
			t.Errorf("main route table = %+v", rtb)
		}
		acl, ok := store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, v.DefaultNetworkAclID)
		if !ok || !acl.IsDefault || len(acl.Entries) != 4 {
			t.Errorf("default ACL = %+v", acl)
		}
		sg, ok := store.Get[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, v.DefaultSecurityGroupID)
		if !ok || sg.GroupName != "default" || len(sg.Rules) != 2 {
			t.Errorf("default SG = %+v", sg)
		}
		return nil
	})
	if !v.EnableDnsSupport || v.EnableDnsHostnames {
		t.Errorf("dns attributes = %v/%v, want true/false", v.EnableDnsSupport, v.EnableDnsHostnames)
	}
}

func TestPaginate(t *testing.T) {
	items := []*string{}
	for _, s := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		s := s
		items = append(items, &s)
	}
	id := func(s *string) string { return *s }
	five := 5
	page1, next, err := paginate(items, id, Page{MaxResults: &five}, 5, 1000)
	if err != nil || len(page1) != 5 || next == "" {
		t.Fatalf("page1 = %d items, next %q, %v", len(page1), next, err)
	}
	page2, next2, err := paginate(items, id, Page{MaxResults: &five, NextToken: next}, 5, 1000)
	if err != nil || len(page2) != 2 || *page2[0] != "f" || next2 != "" {
		t.Fatalf("page2 = %v next %q %v", page2, next2, err)
	}
	if _, _, err := paginate(items, id, Page{NextToken: "zz"}, 5, 1000); errCode(err) != "InvalidNextToken" {
		t.Fatalf("bad token: %v", err)
	}
	four := 4
	if _, _, err := paginate(items, id, Page{MaxResults: &four}, 5, 1000); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("MaxResults 4: %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"abc", "abc", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"*", "", true}, {"a*b*c", "axxbyyc", true}, {"a*b", "abc", false},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
