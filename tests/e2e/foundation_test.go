package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestCallerIdentityAndAuth(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	c := newClients(srv, consumer)
	id, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != "222222222222" || aws.ToString(id.Arn) != "arn:aws:iam::222222222222:root" {
		t.Fatalf("identity = %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}

	bad := func(key, secret string) aws.Config {
		cfg := awsConfig(srv, consumer, "us-east-1")
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
		return cfg
	}
	_, err = ec2.NewFromConfig(bad("AKIACONSUMER00000001", "wrong")).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	wantCode(t, err, "AuthFailure")
	_, err = ec2.NewFromConfig(bad("AKIANOSUCHKEY0000001", "x")).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	wantCode(t, err, "AuthFailure")
	_, err = sts.NewFromConfig(bad("AKIANOSUCHKEY0000001", "x")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = sts.NewFromConfig(bad("AKIACONSUMER00000001", "wrong")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
}

func TestVpcLifecycleAndAccountWalls(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	prov, cons := newClients(srv, provider), newClients(srv, consumer)

	out, err := prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{
		CidrBlock: aws.String("10.1.0.0/16"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpc,
			Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("prov")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(out.Vpc.VpcId)
	if len(vpcID) != len("vpc-")+17 || aws.ToString(out.Vpc.OwnerId) != "111111111111" {
		t.Fatalf("vpc = %s owner %s", vpcID, aws.ToString(out.Vpc.OwnerId))
	}

	// The defaults AWS creates with a VPC exist.
	attr, err := prov.EC2.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: &vpcID, Attribute: types.VpcAttributeNameEnableDnsSupport})
	if err != nil || !aws.ToBool(attr.EnableDnsSupport.Value) {
		t.Fatalf("enableDnsSupport = %+v, %v; want true", attr, err)
	}
	attr, err = prov.EC2.DescribeVpcAttribute(ctx, &ec2.DescribeVpcAttributeInput{VpcId: &vpcID, Attribute: types.VpcAttributeNameEnableDnsHostnames})
	if err != nil || aws.ToBool(attr.EnableDnsHostnames.Value) {
		t.Fatalf("enableDnsHostnames = %+v, %v; want false", attr, err)
	}
	if _, err := prov.EC2.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: &vpcID, EnableDnsHostnames: &types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}

	// Filters and tags.
	got, err := prov.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"pr*"}}}})
	if err != nil || len(got.Vpcs) != 1 {
		t.Fatalf("tag filter: %v %v", got, err)
	}
	_, err = prov.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("no-such-filter"), Values: []string{"x"}}}})
	wantCode(t, err, "InvalidParameterValue")

	// Another account cannot see or delete it.
	_, err = cons.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	wantCode(t, err, "InvalidVpcID.NotFound")
	_, err = cons.EC2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: &vpcID})
	wantCode(t, err, "InvalidVpcID.NotFound")

	// Bad input is refused with the code AWS uses.
	_, err = prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/8")})
	wantCode(t, err, "InvalidVpc.Range")
	_, err = prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("banana")})
	wantCode(t, err, "InvalidParameterValue")
	_, err = prov.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.2.0.0/16"), DryRun: aws.Bool(true)})
	wantCode(t, err, "DryRunOperation")

	if _, err := prov.EC2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: &vpcID}); err != nil {
		t.Fatal(err)
	}
	_, err = prov.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	wantCode(t, err, "InvalidVpcID.NotFound")
}

func TestDescribePagination(t *testing.T) {
	ctx := context.Background()
	srv := startServer(t, "")
	c := newClients(srv, provider)
	for i := 0; i < 12; i++ {
		if _, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	p := ec2.NewDescribeVpcsPaginator(c.EC2, &ec2.DescribeVpcsInput{MaxResults: aws.Int32(5)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, v := range out.Vpcs {
			if seen[*v.VpcId] {
				t.Fatalf("vpc %s returned twice", *v.VpcId)
			}
			seen[*v.VpcId] = true
		}
	}
	if len(seen) != 12 || pages != 3 {
		t.Fatalf("saw %d vpcs in %d pages, want 12 in 3", len(seen), pages)
	}
	_, err := c.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{MaxResults: aws.Int32(2)})
	wantCode(t, err, "InvalidParameterValue")
}
