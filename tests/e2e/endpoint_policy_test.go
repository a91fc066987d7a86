package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	mdns "github.com/miekg/dns"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dataplane"
)

// vpcHTTPClient is an HTTP client that runs inside namespace ns: it
// resolves names with the VPC resolver (or pins them to pin, when set) and
// dials from the namespace.
func vpcHTTPClient(t *testing.T, ns, resolver string, pin map[string]string) *http.Client {
	t.Helper()
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ip := pin[host]
		if ip == "" && net.ParseIP(host) == nil {
			var ips []string
			err := dataplane.RunInNamespace(ns, func() error {
				m := new(mdns.Msg)
				m.SetQuestion(mdns.Fqdn(host), mdns.TypeA)
				r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, net.JoinHostPort(resolver, "53"))
				if err != nil {
					return err
				}
				for _, a := range r.Answer {
					if rr, ok := a.(*mdns.A); ok {
						ips = append(ips, rr.A.String())
					}
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if len(ips) == 0 {
				return nil, fmt.Errorf("%s does not resolve in the VPC", host)
			}
			ip = ips[0]
		} else if ip == "" {
			ip = host
		}
		return dataplane.DialTCP(ctx, ns, net.JoinHostPort(ip, port))
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// stsFrom is an STS client with c's keys whose requests leave from the
// instance namespace ns towards the service's regional name.
func stsFrom(c creds, hc *http.Client) *sts.Client {
	return sts.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(c.id, c.secret, ""),
		BaseEndpoint:     aws.String("http://sts.us-east-1.amazonaws.com"),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	})
}

// TestEndpointPolicyDecidesAPICalls proves that privlink's own API is
// reachable from inside a VPC at the AWS service's name, and that a request
// through an STS interface endpoint is bounded by the endpoint policy (for
// the account root too) while the same request over the internet gateway,
// or from the host, is not; resetting the policy opens the endpoint.
func TestEndpointPolicyDecidesAPICalls(t *testing.T) {
	requireDataPlane(t)
	prefix, dp := uniquePrefix(t)
	srv := startDataPlaneServer(t, prefix, "")
	ctx := context.Background()
	cons, prov := newClientsAt(srv.Endpoint(), consumer), newClientsAt(srv.Endpoint(), provider)

	vpc := *ok(cons.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.7.0.0/16")}))(t).Vpc.VpcId
	ok(cons.EC2.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: &vpc, EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}))(t)
	isolated := *ok(cons.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpc, CidrBlock: aws.String("10.7.1.0/24"), AvailabilityZone: aws.String("us-east-1a")}))(t).Subnet.SubnetId
	public := *ok(cons.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: &vpc, CidrBlock: aws.String("10.7.2.0/24"), AvailabilityZone: aws.String("us-east-1a")}))(t).Subnet.SubnetId
	apiSG := *ok(cons.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("api"), Description: aws.String("https to endpoints"), VpcId: &vpc}))(t).GroupId
	ok(cons.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: &apiSG,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.7.0.0/16")}}}}}))(t)

	// The public subnet routes to an internet gateway; the isolated one has
	// only the local route.
	igw := *ok(cons.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{}))(t).InternetGateway.InternetGatewayId
	ok(cons.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: &igw, VpcId: &vpc}))(t)
	rtb := *ok(cons.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: &vpc}))(t).RouteTable.RouteTableId
	ok(cons.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: &rtb, DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: &igw}))(t)
	ok(cons.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: &rtb, SubnetId: &public}))(t)

	_, isoENI, isoIP := runInstance(t, cons.EC2, isolated)
	_, pubENI, _ := runInstance(t, cons.EC2, public)

	// Only principals of the consumer account may call GetCallerIdentity
	// through the endpoint.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sts:GetCallerIdentity","Resource":"*"}]}`
	ep := ok(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &vpc, ServiceName: aws.String("com.amazonaws.us-east-1.sts"),
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: []string{isolated}, SecurityGroupIds: []string{apiSG},
		PrivateDnsEnabled: aws.Bool(true), PolicyDocument: &policy}))(t).VpcEndpoint
	epID := *ep.VpcEndpointId
	eventually(t, "sts endpoint available", 30*time.Second, func() bool {
		out, err := cons.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{epID}})
		return err == nil && string(out.VpcEndpoints[0].State) == "available"
	})

	isoNS := dp.InterfaceNamespace(isoENI)
	viaEndpoint := vpcHTTPClient(t, isoNS, "10.7.0.2", nil)
	// The private DNS name answers with the endpoint, and the consumer's
	// request through it succeeds.
	var id *sts.GetCallerIdentityOutput
	eventually(t, "GetCallerIdentity through the endpoint", 15*time.Second, func() bool {
		var err error
		id, err = stsFrom(consumer, viaEndpoint).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err == nil
	})
	if aws.ToString(id.Account) != "222222222222" {
		t.Fatalf("GetCallerIdentity through the endpoint: account %s", aws.ToString(id.Account))
	}
	// Another account's root is refused by the endpoint policy.
	_, err := stsFrom(provider, viaEndpoint).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "AccessDenied")
	if want := "arn:aws:iam::111111111111:root is not authorized to perform: sts:GetCallerIdentity because no VPC endpoint policy allows the sts:GetCallerIdentity action"; !strings.Contains(err.Error(), want) {
		t.Fatalf("denial through the endpoint: %v\nwant it to contain %q", err, want)
	}
	// The AWS CLI on the instance gets the same answers.
	epAddr := net.JoinHostPort(endpointAddr(t, cons.EC2, ep), "80")
	if out, err := awsCLIIn(ctx, isoNS, consumer, "http://"+epAddr); err != nil && err != errNoCLI {
		t.Fatalf("aws sts get-caller-identity as the consumer: %v\n%s", err, out)
	} else if err == nil && !strings.Contains(out, "222222222222") {
		t.Fatalf("aws sts get-caller-identity as the consumer: %s", out)
	}
	if out, err := awsCLIIn(ctx, isoNS, provider, "http://"+epAddr); err != errNoCLI && !strings.Contains(out, "because no VPC endpoint policy allows the sts:GetCallerIdentity action") {
		t.Fatalf("aws sts get-caller-identity as the provider: %v\n%s", err, out)
	}
	// From the host (no modelled network), nothing bounds it.
	ok(prov.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))(t)

	// Over the internet gateway (the service's public address) the request
	// crosses no endpoint: the provider is answered.
	pubAddr, _ := cloud.ServicePublicAddr("us-east-1", "sts")
	viaInternet := vpcHTTPClient(t, dp.InterfaceNamespace(pubENI), "", map[string]string{"sts.us-east-1.amazonaws.com": pubAddr.String()})
	eventually(t, "GetCallerIdentity over the internet gateway", 15*time.Second, func() bool {
		out, err := stsFrom(provider, viaInternet).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err == nil && aws.ToString(out.Account) == "111111111111"
	})

	// A statement on the network keys: deny this instance's address
	// through this endpoint, explicitly.
	deny := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"sts:GetCallerIdentity","Resource":"*",
		 "Condition":{"StringEquals":{"aws:SourceVpce":"%s","aws:SourceVpc":"%s"},"IpAddress":{"aws:VpcSourceIp":"%s/32"}}}]}`, epID, vpc, isoIP)
	ok(cons.EC2.ModifyVpcEndpoint(ctx, &ec2.ModifyVpcEndpointInput{VpcEndpointId: &epID, PolicyDocument: &deny}))(t)
	_, err = stsFrom(consumer, viaEndpoint).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "AccessDenied")
	if !strings.Contains(err.Error(), "with an explicit deny in a VPC endpoint policy") {
		t.Fatalf("explicit deny through the endpoint: %v", err)
	}

	// Resetting the policy to full access lets every account through.
	ok(cons.EC2.ModifyVpcEndpoint(ctx, &ec2.ModifyVpcEndpointInput{VpcEndpointId: &epID, ResetPolicy: aws.Bool(true)}))(t)
	for _, c := range []creds{consumer, provider} {
		if _, err := stsFrom(c, viaEndpoint).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("after reset-policy, %s: %v", c.id, err)
		}
	}

	// EC2 through its own endpoint: the policy denies DescribeVpcs, and EC2
	// says so in its own error code.
	ec2Policy := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"ec2:DescribeVpcs","Resource":"*"}]}`
	ec2EP := *ok(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: &vpc, ServiceName: aws.String("com.amazonaws.us-east-1.ec2"),
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: []string{isolated}, SecurityGroupIds: []string{apiSG},
		PrivateDnsEnabled: aws.Bool(true), PolicyDocument: &ec2Policy}))(t).VpcEndpoint.VpcEndpointId
	ec2In := ec2.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(consumer.id, consumer.secret, ""),
		BaseEndpoint: aws.String("http://ec2.us-east-1.amazonaws.com"), HTTPClient: viaEndpoint, RetryMaxAttempts: 1})
	eventually(t, "DescribeSubnets through the EC2 endpoint", 30*time.Second, func() bool {
		_, err := ec2In.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
		return err == nil
	})
	_, err = ec2In.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	wantCode(t, err, "UnauthorizedOperation")
	if !strings.Contains(err.Error(), "ec2:DescribeVpcs with an explicit deny in a VPC endpoint policy") {
		t.Fatalf("DescribeVpcs through the EC2 endpoint: %v", err)
	}
	ok(cons.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))(t) // from the host
	ok(cons.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{ec2EP}}))(t)

	// Deleting the endpoint stops its listener: the private name no longer
	// carries requests.
	ok(cons.EC2.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{epID}}))(t)
	eventually(t, "endpoint listener closed", 15*time.Second, func() bool {
		c, err := dataplane.DialTCP(ctx, isoNS, epAddr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}

var errNoCLI = errors.New("the aws CLI or ip is not installed")

// awsCLIIn runs "aws sts get-caller-identity" with c's keys inside
// namespace ns against endpointURL.
func awsCLIIn(ctx context.Context, ns string, c creds, endpointURL string) (string, error) {
	for _, bin := range []string{"aws", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "", errNoCLI
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "aws", "sts", "get-caller-identity",
		"--endpoint-url", endpointURL, "--region", "us-east-1", "--output", "json")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+c.id, "AWS_SECRET_ACCESS_KEY="+c.secret,
		"AWS_MAX_ATTEMPTS=1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// endpointAddr is the private address of an endpoint's first interface.
func endpointAddr(t *testing.T, c *ec2.Client, ep *ec2types.VpcEndpoint) string {
	t.Helper()
	out := ok(c.DescribeNetworkInterfaces(context.Background(), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: ep.NetworkInterfaceIds[:1]}))(t)
	return aws.ToString(out.NetworkInterfaces[0].PrivateIpAddress)
}
