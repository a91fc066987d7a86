package ec2

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/awsapi/elbv2"
	"github.com/privlink/privlink/internal/awsapi/xmlenc"
	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane/cptest"
)

// TestXMLShapesMatchEncodingXML fills every named EC2 response shape with
// random values: the fast encoder must write what encoding/xml writes, and
// must not fall back for any of them.
func TestXMLShapesMatchEncodingXML(t *testing.T) {
	xmlenctest.CheckTypes(t,
		reflect.TypeFor[SubnetXML](), reflect.TypeFor[VpcXML](), reflect.TypeFor[CidrAssociation](),
		reflect.TypeFor[SecurityGroupXML](), reflect.TypeFor[IPPermissionXML](), reflect.TypeFor[SecurityGroupRuleXML](),
		reflect.TypeFor[revokedRuleXML](), reflect.TypeFor[NetworkAclXML](), reflect.TypeFor[InternetGatewayXML](),
		reflect.TypeFor[RouteTableXML](), reflect.TypeFor[RouteXML](), reflect.TypeFor[RouteTableAssociationXML](),
		reflect.TypeFor[InstanceXML](), reflect.TypeFor[reservationXML](), reflect.TypeFor[NetworkInterfaceXML](),
		reflect.TypeFor[GroupIdentifierXML](), reflect.TypeFor[VpcEndpointXML](), reflect.TypeFor[ServiceConfigurationXML](),
		reflect.TypeFor[ServiceDetailXML](), reflect.TypeFor[unsuccessfulResponse](), reflect.TypeFor[notificationXML](),
		reflect.TypeFor[ManagedPrefixListXML](), reflect.TypeFor[Tag](), reflect.TypeFor[ReturnResponse](),
		reflect.TypeFor[attributeBool](),
	)
}

// testAPI is an EC2 service over a fresh store, called as an account root,
// with the ELBv2 service that endpoint services need load balancers from.
type testAPI struct {
	t   testing.TB
	svc *awsapi.Service
	elb *awsapi.Service
	// ids collects resource IDs from earlier responses, by element name.
	ids map[string]string
}

func newTestAPI(t testing.TB) *testAPI {
	t.Helper()
	cp, _ := cptest.New(t)
	return &testAPI{t: t, svc: NewService(cp), elb: elbv2.NewService(cp), ids: map[string]string{}}
}

var idElement = regexp.MustCompile(`<(vpcId|subnetId|groupId|routeTableId|internetGatewayId|networkAclId|networkInterfaceId|instanceId|prefixListId|vpcEndpointId|associationId|serviceId|serviceName|connectionNotificationId|LoadBalancerArn|TargetGroupArn|ListenerArn)>([^<]+)</`)

// call runs action; a reference like "{vpcId}" in a parameter value is
// replaced by the first such ID a previous response held.
func (a *testAPI) call(action string, params awsapi.Params) (any, error) {
	p := awsapi.Params{}
	for k, v := range params {
		for name, id := range a.ids {
			v = strings.ReplaceAll(v, "{"+name+"}", id)
		}
		p[k] = v
	}
	h, ok := a.svc.Actions[action]
	if elbAction, isELB := strings.CutPrefix(action, "elb:"); isELB {
		action = elbAction
		h, ok = a.elb.Actions[action]
	}
	if !ok {
		a.t.Fatalf("no action %s", action)
	}
	caller := &cloud.Principal{AccountID: "111111111111", Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN("111111111111"), UserID: "111111111111"}
	out, err := h(context.Background(), &awsapi.Request{Service: "ec2", Action: action, Params: p, Caller: caller, Region: "us-east-1", RequestID: "req"})
	if err != nil || out == nil {
		return out, err
	}
	var buf bytes.Buffer
	if err := xml.NewEncoder(&buf).EncodeElement(out, xml.StartElement{Name: xml.Name{Local: "R"}}); err == nil {
		for _, m := range idElement.FindAllSubmatch(buf.Bytes(), -1) {
			if _, seen := a.ids[string(m[1])]; !seen {
				a.ids[string(m[1])] = string(m[2])
			}
		}
	}
	return out, nil
}

// tricky is a tag value with everything XML must escape.
const tricky = "a<b>&\"c'\t\n\r\x01\xff é"

var egressRule = awsapi.Params{"GroupId": "{groupId}", "IpPermissions.1.IpProtocol": "udp",
	"IpPermissions.1.FromPort": "53", "IpPermissions.1.ToPort": "53", "IpPermissions.1.IpRanges.1.CidrIp": "10.0.0.2/32"}

// world is a sequence of calls that creates one resource of each kind
// privlink models in EC2, so that the Describe actions have items to list.
var world = []struct {
	action string
	params awsapi.Params
}{
	{"CreateVpc", awsapi.Params{"CidrBlock": "10.0.0.0/16", "TagSpecification.1.ResourceType": "vpc",
		"TagSpecification.1.Tag.1.Key": "Name", "TagSpecification.1.Tag.1.Value": tricky}},
	{"CreateSubnet", awsapi.Params{"VpcId": "{vpcId}", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "us-east-1a"}},
	{"CreateSecurityGroup", awsapi.Params{"VpcId": "{vpcId}", "GroupName": "web", "GroupDescription": "web & api"}},
	{"AuthorizeSecurityGroupIngress", awsapi.Params{"GroupId": "{groupId}", "IpPermissions.1.IpProtocol": "tcp",
		"IpPermissions.1.FromPort": "443", "IpPermissions.1.ToPort": "443", "IpPermissions.1.IpRanges.1.CidrIp": "10.0.0.0/8",
		"IpPermissions.1.IpRanges.1.Description": "web & api", "IpPermissions.1.UserIdGroupPairs.1.GroupId": "{groupId}"}},
	{"AuthorizeSecurityGroupEgress", egressRule},
	{"RevokeSecurityGroupEgress", egressRule},
	{"CreateRouteTable", awsapi.Params{"VpcId": "{vpcId}"}},
	{"CreateInternetGateway", awsapi.Params{}},
	{"AttachInternetGateway", awsapi.Params{"VpcId": "{vpcId}", "InternetGatewayId": "{internetGatewayId}"}},
	{"CreateRoute", awsapi.Params{"RouteTableId": "{routeTableId}", "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "{internetGatewayId}"}},
	{"AssociateRouteTable", awsapi.Params{"RouteTableId": "{routeTableId}", "SubnetId": "{subnetId}"}},
	{"CreateNetworkAcl", awsapi.Params{"VpcId": "{vpcId}"}},
	{"CreateNetworkAclEntry", awsapi.Params{"NetworkAclId": "{networkAclId}", "RuleNumber": "100", "Protocol": "6",
		"RuleAction": "allow", "Egress": "false", "CidrBlock": "10.0.0.0/8", "PortRange.From": "80", "PortRange.To": "80"}},
	{"CreateNetworkInterface", awsapi.Params{"SubnetId": "{subnetId}", "Description": tricky, "SecurityGroupId.1": "{groupId}"}},
	{"RunInstances", awsapi.Params{"ImageId": "ami-12345678", "MinCount": "1", "MaxCount": "1", "SubnetId": "{subnetId}", "InstanceType": "t3.micro"}},
	{"CreateManagedPrefixList", awsapi.Params{"PrefixListName": "pl", "MaxEntries": "5", "AddressFamily": "IPv4",
		"Entry.1.Cidr": "10.1.0.0/16", "Entry.1.Description": tricky}},
	{"elb:CreateLoadBalancer", awsapi.Params{"Name": "nlb", "Type": "network", "Scheme": "internal", "Subnets.member.1": "{subnetId}"}},
	{"CreateVpcEndpointServiceConfiguration", awsapi.Params{"NetworkLoadBalancerArn.1": "{LoadBalancerArn}", "AcceptanceRequired": "true"}},
	{"ModifyVpcEndpointServicePermissions", awsapi.Params{"ServiceId": "{serviceId}", "AddAllowedPrincipals.1": "arn:aws:iam::111111111111:root"}},
	{"CreateVpcEndpoint", awsapi.Params{"VpcId": "{vpcId}", "VpcEndpointType": "Interface", "ServiceName": "{serviceName}",
		"SubnetId.1": "{subnetId}", "SecurityGroupId.1": "{groupId}"}},
	{"CreateVpcEndpointConnectionNotification", awsapi.Params{"ServiceId": "{serviceId}",
		"ConnectionNotificationArn": "arn:aws:sns:us-east-1:111111111111:topic", "ConnectionEvents.1": "Accept"}},
	{"CreateVpcEndpoint", awsapi.Params{"VpcId": "{vpcId}", "VpcEndpointType": "Gateway",
		"ServiceName": "com.amazonaws.us-east-1.s3", "RouteTableId.1": "{routeTableId}"}},
	{"CreateTags", awsapi.Params{"ResourceId.1": "{subnetId}", "Tag.1.Key": "k", "Tag.1.Value": tricky}},
	{"elb:CreateTargetGroup", awsapi.Params{"Name": "tg", "Protocol": "TCP", "Port": "80", "VpcId": "{vpcId}", "TargetType": "ip"}},
	{"elb:CreateListener", awsapi.Params{"LoadBalancerArn": "{LoadBalancerArn}", "Protocol": "TCP", "Port": "80",
		"DefaultActions.member.1.Type": "forward", "DefaultActions.member.1.TargetGroupArn": "{TargetGroupArn}"}},
	{"elb:DescribeListeners", awsapi.Params{"LoadBalancerArn": "{LoadBalancerArn}"}},
	{"elb:RegisterTargets", awsapi.Params{"TargetGroupArn": "{TargetGroupArn}", "Targets.member.1.Id": "10.0.1.10", "Targets.member.1.Port": "80"}},
	{"elb:AddTags", awsapi.Params{"ResourceArns.member.1": "{LoadBalancerArn}", "Tags.member.1.Key": "k", "Tags.member.1.Value": tricky}},
}

// TestHandlerBodiesMatchEncodingXML checks the bodies the EC2 and ELBv2
// handlers really return, whose wrapper types are declared inside the
// handlers: first the
// creations of a small world, then every other action with the world's
// IDs. Each successful body is compared as returned, then its type is
// filled with random values.
func TestHandlerBodiesMatchEncodingXML(t *testing.T) {
	a := newTestAPI(t)
	var enc xmlenc.Encoder
	checked := map[reflect.Type]bool{}
	answered := map[string]bool{}
	check := func(action string, out any) {
		answered[action] = true
		typ := reflect.TypeOf(out)
		if checked[typ] {
			if err := xmlenctest.Compare(&enc, out); err != nil {
				t.Fatalf("%s: %v", action, err)
			}
			return
		}
		checked[typ] = true
		xmlenctest.CheckBody(t, &enc, out, false, uint64(len(checked)), 200)
	}
	for _, c := range world {
		out, err := a.call(c.action, c.params)
		if err != nil {
			t.Fatalf("%s: %v", c.action, err)
		}
		check(c.action, out)
	}
	// Every action, reads first and deletions last, with every ID known.
	all := awsapi.Params{}
	for name := range a.ids {
		id := "{" + name + "}"
		key := strings.ToUpper(name[:1]) + name[1:] // vpcId → VpcId
		all[key] = id
		all[key+".1"] = id
		all[key+"s.member.1"] = id // ELBv2 lists: LoadBalancerArns.member.1
	}
	all["ResourceArns.member.1"] = "{LoadBalancerArn}"
	all["ResourceId.1"] = "{vpcId}"
	all["Attribute"] = "enableDnsSupport"
	actions := slices.Sorted(maps.Keys(a.svc.Actions))
	for _, name := range slices.Sorted(maps.Keys(a.elb.Actions)) {
		actions = append(actions, "elb:"+name)
	}
	rank := func(name string) int {
		name = strings.TrimPrefix(name, "elb:")
		switch {
		case strings.HasPrefix(name, "Describe"), strings.HasPrefix(name, "Get"):
			return 0
		case strings.HasPrefix(name, "Delete"), strings.HasPrefix(name, "Terminate"):
			return 2
		}
		return 1
	}
	slices.SortStableFunc(actions, func(x, y string) int { return rank(x) - rank(y) })
	for _, action := range actions {
		for _, p := range []awsapi.Params{{}, all} {
			if out, err := a.call(action, p); err == nil && out != nil {
				check(action, out)
			}
		}
	}
	var silent []string
	for _, action := range actions {
		if answered[action] {
			continue
		}
		if strings.HasPrefix(strings.TrimPrefix(action, "elb:"), "Describe") {
			t.Errorf("no body checked for %s", action)
		}
		silent = append(silent, action)
	}
	t.Logf("checked %d body types from %d actions; no body from %v", len(checked), len(answered), silent)
}

// describeSubnetsBody returns DescribeSubnets' body for n subnets with
// two tags each, about 1.1 KB of XML per subnet.
func describeSubnetsBody(tb testing.TB, n int) any {
	a := newTestAPI(tb)
	if _, err := a.call("CreateVpc", awsapi.Params{"CidrBlock": "10.0.0.0/16"}); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		_, err := a.call("CreateSubnet", awsapi.Params{
			"VpcId": "{vpcId}", "CidrBlock": fmt.Sprintf("10.0.%d.0/24", i), "AvailabilityZone": "us-east-1a",
			"TagSpecification.1.ResourceType": "subnet",
			"TagSpecification.1.Tag.1.Key":    "Name", "TagSpecification.1.Tag.1.Value": fmt.Sprintf("subnet-%d", i),
			"TagSpecification.1.Tag.2.Key": "team", "TagSpecification.1.Tag.2.Value": "platform & networking",
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	out, err := a.call("DescribeSubnets", awsapi.Params{"MaxResults": "1000"})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkDescribeSubnetsXML compares encoding/xml with xmlenc on a
// DescribeSubnets body of 140 subnets (what encodeInner encodes), and the
// whole EncodeResponse, which now uses xmlenc.
func BenchmarkDescribeSubnetsXML(b *testing.B) {
	body := describeSubnetsBody(b, 140)
	start := xml.StartElement{Name: xml.Name{Local: "R"}}
	var enc xmlenc.Encoder
	ref, err := enc.AppendElement(nil, "R", body)
	if err != nil {
		b.Fatal(err)
	}
	if err := xmlenctest.Compare(&enc, body); err != nil {
		b.Fatal(err)
	}
	b.Run("encoding-xml", func(b *testing.B) {
		b.SetBytes(int64(len(ref)))
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			if err := xml.NewEncoder(&buf).EncodeElement(body, start); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("xmlenc", func(b *testing.B) {
		b.SetBytes(int64(len(ref)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.AppendElement(nil, "R", body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodeResponse", func(b *testing.B) {
		b.SetBytes(int64(len(ref)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := awsapi.EncodeResponse(awsapi.ProtocolEC2, Xmlns, "DescribeSubnets", "req", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
