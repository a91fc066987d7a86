package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/privlink/privlink/internal/config"
)

// FuzzAPI sends correctly signed requests with arbitrary bodies to every
// service: whatever the input, the answer is a well-formed AWS response or
// error, never a 5xx or a panic.
func FuzzAPI(f *testing.F) {
	cfg, err := config.Parse([]byte(`
accounts:
  - id: "111111111111"
    access_keys: [{id: AKIAFUZZ000000000001, secret: s}]
`))
	if err != nil {
		f.Fatal(err)
	}
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: f.TempDir(), Config: cfg, DataPlane: DataPlaneOff})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	seeds := []struct{ svc, body string }{
		{"ec2", "Action=CreateVpc&CidrBlock=10.0.0.0%2F16&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=a"},
		{"ec2", "Action=DescribeVpcs&Filter.1.Name=tag%3Aa&Filter.1.Value.1=*&MaxResults=5&NextToken=zz"},
		{"ec2", "Action=CreateSubnet&VpcId=vpc-1&CidrBlock=10.0.0.0%2F24&AvailabilityZone=us-east-1a"},
		{"ec2", "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=79"},
		{"ec2", "Action=CreateNetworkAclEntry&NetworkAclId=acl-1&RuleNumber=0&Protocol=6"},
		{"ec2", "Action=CreateRoute&RouteTableId=rtb-1&DestinationCidrBlock=0.0.0.0%2F0&GatewayId=igw-1"},
		{"ec2", "Action=RunInstances&ImageId=ami-12345678&MinCount=2&MaxCount=1"},
		{"ec2", "Action=CreateVpcEndpoint&VpcId=vpc-1&ServiceName=com.amazonaws.us-east-1.s3&PolicyDocument=%7B"},
		{"ec2", "Action=CreateManagedPrefixList&PrefixListName=x&MaxEntries=0&AddressFamily=IPv4"},
		{"ec2", "Action=CreateTags&ResourceId.1=vpc-1&Tag.1.Key=aws%3Ax"},
		{"elasticloadbalancing", "Action=CreateLoadBalancer&Name=-bad-&Type=network&Subnets.member.1=subnet-1"},
		{"elasticloadbalancing", "Action=CreateTargetGroup&Name=tg&Protocol=TCP&Port=99999&VpcId=vpc-1"},
		{"iam", "Action=CreateUser&UserName=alice"},
		{"iam", "Action=PutUserPolicy&UserName=alice&PolicyName=p&PolicyDocument=%7B%22Statement%22%3A1%7D"},
		{"sts", "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fx&RoleSessionName=s"},
		{"sts", "Action=GetCallerIdentity"},
	}
	for _, s := range seeds {
		f.Add(s.svc, s.body)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, svc, body string) {
		switch svc {
		case "ec2", "elasticloadbalancing", "iam", "sts":
		default:
			svc = "ec2"
		}
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: "AKIAFUZZ000000000001", SecretAccessKey: "s"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), svc, "us-east-1", time.Now()); err != nil {
			t.Skip()
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", svc, body, w.Code, w.Body.String())
		}
		if !strings.HasPrefix(w.Body.String(), "<?xml") {
			t.Fatalf("%s %q: body is not XML: %s", svc, body, w.Body.String())
		}
	})
}
