package iam

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

// newNetTestDir is newTestDir with VPC endpoints in the store.
func newNetTestDir(t *testing.T) *Directory {
	t.Helper()
	backend, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := Kinds()
	kinds[cloud.KindVpcEndpoint] = func() any { return new(cloud.VpcEndpoint) }
	db, err := store.Open(context.Background(), backend, kinds, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg, err := config.Parse([]byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	d := New(db, nil)
	if _, err := d.Bootstrap(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return d
}

func putEndpoint(t *testing.T, d *Directory, id, vpc, doc string) {
	t.Helper()
	err := d.db.Update(context.Background(), func(tx *store.Tx) error {
		tx.Put(cloud.KindVpcEndpoint, id, &cloud.VpcEndpoint{Meta: cloud.Meta{ID: id, OwnerID: acctB, Region: "us-east-1"},
			Type: cloud.EndpointInterface, VpcID: vpc, ServiceName: "com.amazonaws.us-east-1.sts", State: cloud.StateAvailable, PolicyDocument: doc})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthorizeNetwork(t *testing.T) {
	d := newNetTestDir(t)
	// The endpoints exist before the authorizer (initial load) and after
	// (watch).
	putEndpoint(t, d, "vpce-onlyb", "vpc-b", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":["sts:GetCallerIdentity","ec2:DescribeVpcs"],"Resource":"*"}]}`)
	authz := NewAuthorizer(d)
	putEndpoint(t, d, "vpce-full", "vpc-b", "")
	putEndpoint(t, d, "vpce-deny", "vpc-b", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"ec2:DescribeVpcs","Resource":"*","Condition":{"IpAddress":{"aws:VpcSourceIp":"10.0.1.0/24"}}}]}`)

	viaEndpoint := func(id, ip string) cloud.NetworkContext {
		return cloud.NetworkContext{EndpointID: id, SourceIP: netip.MustParseAddr(ip)}
	}
	internet := cloud.NetworkContext{SourceIP: netip.MustParseAddr("169.254.3.4")}
	host := cloud.NetworkContext{}

	userB := mustUser(t, d, acctB, "dev", map[string]string{
		"vpce": `{"Statement":[{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-full","aws:SourceVpc":"vpc-b","aws:VpcSourceIp":"10.0.2.9"}}}]}`,
		"ip":   `{"Statement":[{"Effect":"Allow","Action":"ec2:DescribeSubnets","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"169.254.0.0/16"}}}]}`,
	})
	userA := mustUser(t, d, acctA, "ops", map[string]string{"all": allowDoc("*", "*")})

	cases := []struct {
		name   string
		p      *cloud.Principal
		net    cloud.NetworkContext
		action string
		code   string
		msg    string
	}{
		{"root of the allowed account through the endpoint", root(acctB), viaEndpoint("vpce-onlyb", "10.0.1.5"), "sts:GetCallerIdentity", "", ""},
		{"root of another account is bounded by the endpoint policy", root(acctA), viaEndpoint("vpce-onlyb", "10.0.1.5"), "sts:GetCallerIdentity", "AccessDenied",
			"User: arn:aws:iam::111111111111:root is not authorized to perform: sts:GetCallerIdentity because no VPC endpoint policy allows the sts:GetCallerIdentity action"},
		{"root: action outside the endpoint policy", root(acctB), viaEndpoint("vpce-onlyb", "10.0.1.5"), "ec2:CreateVpc", "UnauthorizedOperation",
			"You are not authorized to perform this operation. User: arn:aws:iam::222222222222:root is not authorized to perform: ec2:CreateVpc because no VPC endpoint policy allows"},
		{"user with every identity permission, other account", userA, viaEndpoint("vpce-onlyb", "10.0.1.5"), "ec2:DescribeVpcs", "UnauthorizedOperation", "no VPC endpoint policy allows the ec2:DescribeVpcs action"},
		{"GetCallerIdentity needs no identity permission", userB, viaEndpoint("vpce-onlyb", "10.0.1.5"), "sts:GetCallerIdentity", "", ""},
		{"GetCallerIdentity from the host", userB, host, "sts:GetCallerIdentity", "", ""},
		{"explicit deny on aws:VpcSourceIp", root(acctB), viaEndpoint("vpce-deny", "10.0.1.7"), "ec2:DescribeVpcs", "UnauthorizedOperation", "with an explicit deny in a VPC endpoint policy"},
		{"the deny's condition does not match another address", root(acctB), viaEndpoint("vpce-deny", "10.0.2.7"), "ec2:DescribeVpcs", "", ""},
		{"identity condition on the endpoint keys, through it", userB, viaEndpoint("vpce-full", "10.0.2.9"), "ec2:DescribeVpcs", "", ""},
		{"identity condition on the endpoint keys, another endpoint", userB, viaEndpoint("vpce-deny", "10.0.2.9"), "ec2:DescribeVpcs", "UnauthorizedOperation", "because no identity-based policy allows"},
		{"identity condition on the endpoint keys, over the internet", userB, internet, "ec2:DescribeVpcs", "UnauthorizedOperation", ""},
		{"identity condition on the endpoint keys, from the host", userB, host, "ec2:DescribeVpcs", "UnauthorizedOperation", ""},
		{"aws:SourceIp over the internet", userB, internet, "ec2:DescribeSubnets", "", ""},
		{"aws:SourceIp is absent through an endpoint", userB, viaEndpoint("vpce-full", "169.254.3.4"), "ec2:DescribeSubnets", "UnauthorizedOperation", ""},
		{"aws:SourceIp is absent from the host", userB, host, "ec2:DescribeSubnets", "UnauthorizedOperation", ""},
		{"unknown endpoint allows nothing", root(acctB), viaEndpoint("vpce-gone", "10.0.1.5"), "sts:GetCallerIdentity", "AccessDenied", "no VPC endpoint policy allows"},
		{"root over the internet", root(acctA), internet, "ec2:CreateVpc", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := cloud.WithNetwork(context.Background(), tc.net)
			err := authz.Authorize(ctx, tc.p, tc.action, "*")
			wantCode(t, err, tc.code)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
		})
	}

	// A policy change applies to the next call.
	putEndpoint(t, d, "vpce-onlyb", "vpc-b", "")
	wantCode(t, authz.Authorize(cloud.WithNetwork(context.Background(), viaEndpoint("vpce-onlyb", "10.0.1.5")), root(acctA), "sts:GetCallerIdentity", "*"), "")
}
