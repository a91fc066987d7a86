package controlplane

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

// endpoint creates a consumer endpoint in the consumer VPC.
func (f *plFixture) endpoint(t *testing.T, in CreateEndpointInput) *cloud.VpcEndpoint {
	t.Helper()
	if in.VpcID == "" {
		in.VpcID = f.consVpc.ID
	}
	ep, err := f.cp.CreateVpcEndpoint(context.Background(), f.consCall("CreateVpcEndpoint"), in)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (f *plFixture) getEndpoint(t *testing.T, id string) *cloud.VpcEndpoint {
	t.Helper()
	var ep *cloud.VpcEndpoint
	f.cp.DB().View(func(tx *store.Tx) error {
		ep, _ = store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
		return nil
	})
	if ep == nil {
		t.Fatalf("endpoint %s is gone", id)
	}
	return ep
}

func (f *plFixture) enableDNS(t *testing.T, account, vpcID string) {
	t.Helper()
	yes := true
	if err := f.cp.ModifyVpcAttribute(context.Background(), rootCall(account, "ec2:ModifyVpcAttribute"), vpcID, nil, &yes); err != nil {
		t.Fatal(err)
	}
}

func interfacesOf(t *testing.T, cp *ControlPlane, ids []string) []*cloud.NetworkInterface {
	t.Helper()
	var out []*cloud.NetworkInterface
	cp.DB().View(func(tx *store.Tx) error {
		for _, id := range ids {
			if eni, ok := store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, id); ok {
				out = append(out, eni)
			}
		}
		return nil
	})
	return out
}

func TestCreateInterfaceEndpointRules(t *testing.T) {
	f := newPLFixture(t)
	svc := f.service(t, false, "")
	f.allow(t, svc.ID, cloud.AccountRootARN(plConsumer))
	otherVpc := mustVpc(t, f.cp, plConsumer, "10.9.0.0/16")
	otherSubnet := plSubnet(t, f.cp, plConsumer, otherVpc.ID, "10.9.1.0/24", "us-east-1a")
	provSG := f.provVpc.DefaultSecurityGroupID
	yes, no := true, false
	sqs := "com.amazonaws.us-east-1.sqs"
	tests := []struct {
		name     string
		in       CreateEndpointInput
		wantCode string
	}{
		{"missing service", CreateEndpointInput{Type: cloud.EndpointInterface, SubnetIDs: f.consSubnets[:1]}, "MissingParameter"},
		{"bad type", CreateEndpointInput{Type: "Lattice", ServiceName: sqs, SubnetIDs: f.consSubnets[:1]}, "InvalidParameterValue"},
		{"unknown service", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1.nosuch", SubnetIDs: f.consSubnets[:1]}, "InvalidServiceName"},
		{"service of another region", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.eu-west-1.sqs", SubnetIDs: f.consSubnets[:1]}, "InvalidServiceName"},
		{"gateway to sqs", CreateEndpointInput{Type: "Gateway", ServiceName: sqs}, "InvalidParameter"},
		{"gateway to custom", CreateEndpointInput{Type: "Gateway", ServiceName: svc.ServiceName}, "InvalidParameter"},
		{"no subnets", CreateEndpointInput{ServiceName: sqs}, "MissingParameter"},
		{"route tables on interface", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1], RouteTableIDs: []string{f.consVpc.MainRouteTableID}}, "InvalidParameter"},
		{"unknown VPC", CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: "vpc-00000000000000000", ServiceName: sqs, SubnetIDs: f.consSubnets[:1]}, "InvalidVpcId.NotFound"},
		{"provider's VPC", CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: f.provVpc.ID, ServiceName: sqs, SubnetIDs: f.consSubnets[:1]}, "InvalidVpcId.NotFound"},
		{"provider's subnet", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.provSubnets[:1]}, "InvalidSubnetID.NotFound"},
		{"subnet of another VPC", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: []string{otherSubnet}}, "InvalidParameter"},
		{"two subnets in one zone", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: []string{f.consSubnets[0], f.consSubnetA2}}, "DuplicateSubnetsInSameZone"},
		{"zone the service lacks", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: []string{f.consSubnets[2]}}, "InvalidParameter"},
		{"provider's security group", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1], SecurityGroupIDs: []string{provSG}}, "InvalidSecurityGroupId.NotFound"},
		{"malformed policy", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1], PolicyDocument: `{"Statement":`}, "InvalidPolicyDocument"},
		{"policy without principal", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1], PolicyDocument: `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}, "InvalidPolicyDocument"},
		{"policy too long", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1], PolicyDocument: `{"Statement":[{"Sid":"` + strings.Repeat("a", 20500) + `","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`}, "InvalidPolicyDocument"},
		{"custom policy on custom service", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1], PolicyDocument: `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}`}, "InvalidParameter"},
		{"private DNS without attributes", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1], PrivateDNSEnabled: &yes}, "InvalidParameter"},
		{"private DNS on a service without names", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1], PrivateDNSEnabled: &yes}, "InvalidParameter"},
		{"ipv6", CreateEndpointInput{ServiceName: sqs, SubnetIDs: f.consSubnets[:1], IPAddressType: "ipv6", PrivateDNSEnabled: &no}, "InvalidParameter"},
		{"sqs without private DNS", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:2], PrivateDNSEnabled: &no}, ""},
		{"custom with default policy", CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1], PolicyDocument: DefaultEndpointPolicy}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.VpcID == "" {
				tc.in.VpcID = f.consVpc.ID
			}
			if tc.in.Type == "" {
				tc.in.Type = cloud.EndpointInterface // these are the Interface rules; AWS defaults to Gateway
			}
			_, err := f.cp.CreateVpcEndpoint(context.Background(), f.consCall("CreateVpcEndpoint"), tc.in)
			if got := errCode(err); got != tc.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.wantCode)
			}
		})
	}
}

func TestInterfaceEndpointShape(t *testing.T) {
	f := newPLFixture(t)
	svc := f.service(t, true, "")
	f.allow(t, svc.ID, cloud.AccountRootARN(plConsumer))
	ep := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:2], ClientToken: "ep-1"})
	if ep.State != "pendingAcceptance" || ep.ServiceID != svc.ID || ep.Type != "Interface" || ep.PrivateDNSEnabled {
		t.Fatalf("endpoint = %+v", ep)
	}
	if ep.PolicyDocument != DefaultEndpointPolicy || ep.IPAddressType != "ipv4" || ep.DNSRecordIPType != "ipv4" {
		t.Errorf("defaults = %q %q %q", ep.PolicyDocument, ep.IPAddressType, ep.DNSRecordIPType)
	}
	if len(ep.SecurityGroupIDs) != 1 || ep.SecurityGroupIDs[0] != f.consVpc.DefaultSecurityGroupID {
		t.Errorf("groups = %v", ep.SecurityGroupIDs)
	}
	base := svc.ID + ".us-east-1.vpce.amazonaws.com"
	want := []string{
		ep.ID + "-" + ep.DNSSuffix + "." + base,
		ep.ID + "-" + ep.DNSSuffix + "-us-east-1a." + base,
		ep.ID + "-" + ep.DNSSuffix + "-us-east-1b." + base,
	}
	if len(ep.DNSEntries) != 3 {
		t.Fatalf("dns = %+v", ep.DNSEntries)
	}
	for i, e := range ep.DNSEntries {
		if e.DNSName != want[i] || e.HostedZoneID != "Z7HUB22UULQXV" {
			t.Errorf("dns[%d] = %+v, want %s", i, e, want[i])
		}
	}
	enis := interfacesOf(t, f.cp, ep.NetworkInterfaceIDs)
	if len(enis) != 2 {
		t.Fatalf("interfaces = %v", enis)
	}
	for _, eni := range enis {
		if eni.InterfaceType != "vpc_endpoint" || !eni.RequesterManaged || eni.RequesterID != EndpointRequesterID ||
			eni.Description != "VPC Endpoint Interface "+ep.ID || eni.OwnerID != plConsumer || eni.VpcID != f.consVpc.ID || eni.OwnerResource != ep.ID {
			t.Errorf("eni = %+v", eni)
		}
	}
	// ClientToken: the same request returns the same endpoint.
	again := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:2], ClientToken: "ep-1"})
	if again.ID != ep.ID {
		t.Fatalf("retry created %s, want %s", again.ID, ep.ID)
	}
	// The owner's own endpoint needs no acceptance.
	own, err := f.cp.CreateVpcEndpoint(context.Background(), f.provCall("CreateVpcEndpoint"), CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: f.provVpc.ID, ServiceName: svc.ServiceName, SubnetIDs: f.provSubnets[:1]})
	if err != nil || own.State != "pending" {
		t.Fatalf("owner's endpoint = %+v, %v", own, err)
	}
}

func TestPrivateDNSEndpoints(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	f.enableDNS(t, plConsumer, f.consVpc.ID)
	sqs := "com.amazonaws.us-east-1.sqs"
	ep := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: sqs, SubnetIDs: f.consSubnets[:1]})
	if !ep.PrivateDNSEnabled || ep.DNSEntries[len(ep.DNSEntries)-1].DNSName != "sqs.us-east-1.amazonaws.com" {
		t.Fatalf("sqs endpoint = %+v", ep)
	}
	_, err := f.cp.CreateVpcEndpoint(ctx, f.consCall("CreateVpcEndpoint"), CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: f.consVpc.ID, ServiceName: sqs, SubnetIDs: f.consSubnets[1:2]})
	if errCode(err) != "InvalidParameter" || !strings.Contains(err.Error(), "conflicting DNS domain") {
		t.Fatalf("second private-DNS sqs endpoint: %v", err)
	}
	no := false
	if err := f.cp.ModifyVpcAttribute(ctx, f.consCall("ModifyVpcAttribute"), f.consVpc.ID, nil, &no); errCode(err) != "InvalidParameterValue" {
		t.Fatalf("disable hostnames under a private-DNS endpoint: %v", err)
	}
	s3 := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1.s3", SubnetIDs: f.consSubnets[:1], PrivateDNSEnabled: &no})
	if !strings.HasPrefix(s3.DNSEntries[0].DNSName, "*.vpce-") {
		t.Errorf("s3 regional name = %s", s3.DNSEntries[0].DNSName)
	}
	// Turning private DNS off frees the names and the attributes.
	if err := f.cp.ModifyVpcEndpoint(ctx, f.consCall("ModifyVpcEndpoint"), ModifyEndpointInput{VpcEndpointID: ep.ID, PrivateDNSEnabled: &no}); err != nil {
		t.Fatal(err)
	}
	if got := f.getEndpoint(t, ep.ID); got.PrivateDNSEnabled || len(got.DNSEntries) != 2 {
		t.Fatalf("after disable = %+v", got)
	}
	if err := f.cp.ModifyVpcAttribute(ctx, f.consCall("ModifyVpcAttribute"), f.consVpc.ID, nil, &no); err != nil {
		t.Fatal(err)
	}

	// A custom service's verified name turns private DNS on by default.
	f.enableDNS(t, plConsumer, f.consVpc.ID)
	svc := f.service(t, false, "app.example.com")
	f.allow(t, svc.ID, cloud.AccountRootARN(plConsumer))
	if err := f.cp.VerifyServicePrivateDNS(ctx, svc.ID, func(context.Context, string) ([]string, error) {
		return []string{svc.PrivateDNSNameConfig.Value}, nil
	}); err != nil {
		t.Fatal(err)
	}
	custom := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1]})
	if !custom.PrivateDNSEnabled || custom.DNSEntries[len(custom.DNSEntries)-1].DNSName != "app.example.com" {
		t.Fatalf("custom endpoint = %+v", custom)
	}
}

func TestConnectionsAcceptRejectAndEvents(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	svc := f.service(t, true, "")
	f.allow(t, svc.ID, cloud.AccountRootARN(plConsumer))
	n, err := f.cp.CreateVpcEndpointConnectionNotification(ctx, f.provCall("CreateVpcEndpointConnectionNotification"), CreateNotificationInput{
		ServiceID: svc.ID, ARN: "arn:aws:sns:us-east-1:111111111111:conns", Events: []string{"Connect", "Accept", "Reject", "Delete"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1]})
	b := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[1:2]})

	conns, _, err := f.cp.DescribeVpcEndpointConnections(ctx, f.provCall("DescribeVpcEndpointConnections"), []cloud.Filter{{Name: "vpc-endpoint-state", Values: []string{"pendingAcceptance"}}}, Page{})
	if err != nil || len(conns) != 2 || conns[0].VpcEndpointOwner != plConsumer || conns[0].NetworkLoadBalancerARNs[0] != f.nlb.ARN {
		t.Fatalf("connections = %+v, %v", conns, err)
	}
	if mine, _, _ := f.cp.DescribeVpcEndpointConnections(ctx, f.consCall("DescribeVpcEndpointConnections"), nil, Page{}); len(mine) != 0 {
		t.Fatalf("consumer sees connections: %+v", mine)
	}
	if _, err := f.cp.AcceptVpcEndpointConnections(ctx, f.consCall("AcceptVpcEndpointConnections"), svc.ID, []string{a.ID}); errCode(err) != "InvalidVpcEndpointServiceId.NotFound" {
		t.Fatalf("consumer accepts: %v", err)
	}
	failed, err := f.cp.AcceptVpcEndpointConnections(ctx, f.provCall("AcceptVpcEndpointConnections"), svc.ID, []string{a.ID, "vpce-00000000000000000"})
	if err != nil || len(failed) != 1 || failed[0].Code != "InvalidVpcEndpointId.NotFound" {
		t.Fatalf("accept = %+v, %v", failed, err)
	}
	if got := f.getEndpoint(t, a.ID); got.State != "pending" {
		t.Fatalf("accepted state = %s", got.State)
	}
	failed, _ = f.cp.AcceptVpcEndpointConnections(ctx, f.provCall("AcceptVpcEndpointConnections"), svc.ID, []string{a.ID})
	if len(failed) != 1 || failed[0].Code != "IncorrectState" {
		t.Fatalf("second accept = %+v", failed)
	}
	if err := f.cp.EndpointAvailable(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.cp.EndpointAvailable(ctx, b.ID); errCode(err) != "IncorrectState" {
		t.Fatalf("pendingAcceptance → available: %v", err)
	}
	// Removing the permission does not cut the connection.
	if _, err := f.cp.ModifyVpcEndpointServicePermissions(ctx, f.provCall("ModifyVpcEndpointServicePermissions"), svc.ID, nil, []string{cloud.AccountRootARN(plConsumer)}); err != nil {
		t.Fatal(err)
	}
	if got := f.getEndpoint(t, a.ID); got.State != "available" {
		t.Fatalf("state after permission removal = %s", got.State)
	}
	if failed, _ := f.cp.RejectVpcEndpointConnections(ctx, f.provCall("RejectVpcEndpointConnections"), svc.ID, []string{a.ID, b.ID}); len(failed) != 0 {
		t.Fatalf("reject = %+v", failed)
	}
	for _, id := range []string{a.ID, b.ID} {
		if got := f.getEndpoint(t, id); got.State != "rejected" {
			t.Fatalf("%s state = %s", id, got.State)
		}
	}
	if _, err := f.cp.DeleteVpcEndpoints(ctx, f.consCall("DeleteVpcEndpoints"), []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	var events []string
	f.cp.DB().View(func(tx *store.Tx) error {
		for _, e := range store.List[cloud.EndpointEvent](tx, cloud.KindEndpointEvent, nil) {
			if e.NotificationID != n.ID || e.ServiceID != svc.ID || e.EndpointOwner != plConsumer {
				t.Errorf("event = %+v", e)
			}
			events = append(events, e.Event+":"+e.State)
		}
		return nil
	})
	want := map[string]int{"Connect:pendingAcceptance": 2, "Accept:pending": 1, "Reject:rejected": 2, "Delete:deleting": 1}
	got := map[string]int{}
	for _, e := range events {
		got[e]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

func TestEndpointLifecycle(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.cp.now = func() time.Time { return now }
	no := false
	ep := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1.sqs", SubnetIDs: f.consSubnets[:2], PrivateDNSEnabled: &no})
	if ep.State != "pending" {
		t.Fatalf("state = %s", ep.State)
	}
	if err := f.cp.EndpointDeleted(ctx, ep.ID); errCode(err) != "IncorrectState" {
		t.Fatalf("pending → deleted: %v", err)
	}
	if err := f.cp.DeleteVpc(ctx, f.consCall("DeleteVpc"), f.consVpc.ID); errCode(err) != "DependencyViolation" {
		t.Fatalf("VPC delete with an endpoint: %v", err)
	}
	if err := f.cp.EndpointAvailable(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	failed, err := f.cp.DeleteVpcEndpoints(ctx, f.consCall("DeleteVpcEndpoints"), []string{ep.ID, "vpce-00000000000000000"})
	if err != nil || len(failed) != 1 || failed[0].Code != "InvalidVpcEndpointId.NotFound" {
		t.Fatalf("delete = %+v, %v", failed, err)
	}
	if got := f.getEndpoint(t, ep.ID); got.State != "deleting" {
		t.Fatalf("state = %s", got.State)
	}
	if len(interfacesOf(t, f.cp, ep.NetworkInterfaceIDs)) != 2 {
		t.Fatal("interfaces freed before the data plane let go")
	}
	if err := f.cp.EndpointDeleted(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	got := f.getEndpoint(t, ep.ID)
	if got.State != "deleted" || got.DeletedAt == "" || len(got.NetworkInterfaceIDs) != 0 {
		t.Fatalf("deleted endpoint = %+v", got)
	}
	if len(interfacesOf(t, f.cp, ep.NetworkInterfaceIDs)) != 0 {
		t.Fatal("interfaces survive deletion")
	}
	if n, err := f.cp.PurgeDeletedEndpoints(ctx, now.Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("early purge = %d, %v", n, err)
	}
	if n, err := f.cp.PurgeDeletedEndpoints(ctx, now.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v", n, err)
	}
	if _, _, err := f.cp.DescribeVpcEndpoints(ctx, f.consCall("DescribeVpcEndpoints"), DescribeInput{IDs: []string{ep.ID}}); errCode(err) != "InvalidVpcEndpointId.NotFound" {
		t.Fatalf("describe purged: %v", err)
	}
	// Failed.
	ep2 := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1.sns", SubnetIDs: f.consSubnets[:1], PrivateDNSEnabled: &no})
	if err := f.cp.EndpointFailed(ctx, ep2.ID, "no route to the service"); err != nil {
		t.Fatal(err)
	}
	if got := f.getEndpoint(t, ep2.ID); got.State != "failed" || got.LastErrorMessage != "no route to the service" {
		t.Fatalf("failed endpoint = %+v", got)
	}
}

func TestVpcEndpointGatewayRoutes(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	rtb := f.consVpc.MainRouteTableID
	s3 := "com.amazonaws.us-east-1.s3"
	pl := cloud.AWSPrefixListID(s3)
	routeTo := func() string {
		var target string
		f.cp.DB().View(func(tx *store.Tx) error {
			t, _ := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, rtb)
			for _, r := range t.Routes {
				if r.DestinationPrefixListID == pl {
					target = r.GatewayID
				}
			}
			return nil
		})
		return target
	}
	ep := f.endpoint(t, CreateEndpointInput{Type: "Gateway", ServiceName: s3, RouteTableIDs: []string{rtb}})
	if ep.State != "pending" || routeTo() != ep.ID || len(ep.NetworkInterfaceIDs) != 0 || len(ep.DNSEntries) != 0 || ep.PolicyDocument != DefaultEndpointPolicy {
		t.Fatalf("gateway endpoint = %+v, route → %q", ep, routeTo())
	}
	_, err := f.cp.CreateVpcEndpoint(ctx, f.consCall("CreateVpcEndpoint"), CreateEndpointInput{VpcID: f.consVpc.ID, Type: "Gateway", ServiceName: s3, RouteTableIDs: []string{rtb}})
	if errCode(err) != "RouteAlreadyExists" {
		t.Fatalf("second s3 endpoint in the table: %v", err)
	}
	_, err = f.cp.CreateVpcEndpoint(ctx, f.consCall("CreateVpcEndpoint"), CreateEndpointInput{VpcID: f.consVpc.ID, Type: "Gateway", ServiceName: s3, RouteTableIDs: []string{f.provVpc.MainRouteTableID}})
	if errCode(err) != "InvalidRouteTableID.NotFound" {
		t.Fatalf("provider's table: %v", err)
	}
	_, err = f.cp.CreateVpcEndpoint(ctx, f.consCall("CreateVpcEndpoint"), CreateEndpointInput{VpcID: f.consVpc.ID, Type: "Gateway", ServiceName: s3, SubnetIDs: f.consSubnets[:1]})
	if errCode(err) != "InvalidParameter" {
		t.Fatalf("subnets on a gateway endpoint: %v", err)
	}
	policy := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	call := f.consCall("ModifyVpcEndpoint")
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, RemoveRouteTableIDs: []string{rtb}, PolicyDocument: policy}); err != nil {
		t.Fatal(err)
	}
	if routeTo() != "" || f.getEndpoint(t, ep.ID).PolicyDocument != policy {
		t.Fatal("route kept or policy not set")
	}
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, AddRouteTableIDs: []string{rtb}, ResetPolicy: true}); err != nil {
		t.Fatal(err)
	}
	if routeTo() != ep.ID || f.getEndpoint(t, ep.ID).PolicyDocument != DefaultEndpointPolicy {
		t.Fatal("route not restored or policy not reset")
	}
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, AddSubnetIDs: f.consSubnets[:1]}); errCode(err) != "InvalidParameter" {
		t.Fatalf("subnets added to gateway endpoint: %v", err)
	}
	if _, err := f.cp.DeleteVpcEndpoints(ctx, f.consCall("DeleteVpcEndpoints"), []string{ep.ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.cp.EndpointDeleted(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	if routeTo() != "" {
		t.Fatal("route survives the endpoint")
	}
}

func TestGatewayLoadBalancerEndpoint(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	svc, err := f.cp.CreateVpcEndpointServiceConfiguration(ctx, f.provCall("CreateVpcEndpointServiceConfiguration"), CreateEndpointServiceInput{GatewayLoadBalancerARNs: []string{f.gwlb.ARN}})
	if err != nil {
		t.Fatal(err)
	}
	f.allow(t, svc.ID, cloud.AccountRootARN(plConsumer))
	for name, in := range map[string]CreateEndpointInput{
		"two subnets":     {Type: "GatewayLoadBalancer", ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:2]},
		"security groups": {Type: "GatewayLoadBalancer", ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1], SecurityGroupIDs: []string{f.consVpc.DefaultSecurityGroupID}},
		"policy":          {Type: "GatewayLoadBalancer", ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1], PolicyDocument: DefaultEndpointPolicy},
		"interface type":  {ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1]},
	} {
		in.VpcID = f.consVpc.ID
		if _, err := f.cp.CreateVpcEndpoint(ctx, f.consCall("CreateVpcEndpoint"), in); errCode(err) != "InvalidParameter" {
			t.Errorf("%s: %v", name, err)
		}
	}
	ep := f.endpoint(t, CreateEndpointInput{Type: "GatewayLoadBalancer", ServiceName: svc.ServiceName, SubnetIDs: f.consSubnets[:1]})
	if ep.State != "pending" || ep.PolicyDocument != "" || len(ep.DNSEntries) != 0 || len(ep.SecurityGroupIDs) != 0 {
		t.Fatalf("gwlb endpoint = %+v", ep)
	}
	enis := interfacesOf(t, f.cp, ep.NetworkInterfaceIDs)
	if len(enis) != 1 || enis[0].InterfaceType != "gateway_load_balancer_endpoint" {
		t.Fatalf("interfaces = %+v", enis)
	}
}

func TestModifyInterfaceEndpoint(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	no := false
	ep := f.endpoint(t, CreateEndpointInput{Type: cloud.EndpointInterface, ServiceName: "com.amazonaws.us-east-1.kms", SubnetIDs: f.consSubnets[:1], PrivateDNSEnabled: &no})
	call := f.consCall("ModifyVpcEndpoint")
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, AddSubnetIDs: []string{f.consSubnetA2}}); errCode(err) != "DuplicateSubnetsInSameZone" {
		t.Fatalf("second subnet in zone a: %v", err)
	}
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, AddSubnetIDs: f.consSubnets[1:3]}); err != nil {
		t.Fatal(err)
	}
	got := f.getEndpoint(t, ep.ID)
	if len(got.SubnetIDs) != 3 || len(got.NetworkInterfaceIDs) != 3 || len(got.DNSEntries) != 4 {
		t.Fatalf("after add = %+v", got)
	}
	// Swap zone a's subnet in one call: the removed one frees its zone.
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, RemoveSubnetIDs: f.consSubnets[:1], AddSubnetIDs: []string{f.consSubnetA2}}); err != nil {
		t.Fatal(err)
	}
	got = f.getEndpoint(t, ep.ID)
	if len(got.SubnetIDs) != 3 || contains1(got.SubnetIDs, f.consSubnets[0]) || len(interfacesOf(t, f.cp, ep.NetworkInterfaceIDs)) != 0 {
		t.Fatalf("after swap = %+v", got)
	}
	sg, err := f.cp.CreateSecurityGroup(ctx, f.consCall("CreateSecurityGroup"), CreateSecurityGroupInput{GroupName: "ep", Description: "ep", VpcID: f.consVpc.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, AddSecurityGroupIDs: []string{sg.ID}, RemoveSecurityGroupIDs: []string{f.consVpc.DefaultSecurityGroupID}}); err != nil {
		t.Fatal(err)
	}
	for _, eni := range interfacesOf(t, f.cp, f.getEndpoint(t, ep.ID).NetworkInterfaceIDs) {
		if len(eni.SecurityGroupIDs) != 1 || eni.SecurityGroupIDs[0] != sg.ID {
			t.Fatalf("eni groups = %v", eni.SecurityGroupIDs)
		}
	}
	if err := f.cp.ModifyVpcEndpoint(ctx, call, ModifyEndpointInput{VpcEndpointID: ep.ID, RemoveSecurityGroupIDs: []string{sg.ID}}); errCode(err) != "InvalidParameter" {
		t.Fatalf("removing the last group: %v", err)
	}
	if err := f.cp.ModifyVpcEndpoint(ctx, f.provCall("ModifyVpcEndpoint"), ModifyEndpointInput{VpcEndpointID: ep.ID, ResetPolicy: true}); errCode(err) != "InvalidVpcEndpointId.NotFound" {
		t.Fatalf("provider modifies consumer endpoint: %v", err)
	}
	eps, _, err := f.cp.DescribeVpcEndpoints(ctx, f.consCall("DescribeVpcEndpoints"), DescribeInput{Filters: []cloud.Filter{{Name: "vpc-endpoint-type", Values: []string{"Interface"}}, {Name: "service-name", Values: []string{"*.kms"}}}})
	if err != nil || len(eps) != 1 {
		t.Fatalf("describe = %v, %v", eps, err)
	}
}

func TestNotificationsCRUD(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	svc := f.service(t, false, "")
	call := f.provCall("CreateVpcEndpointConnectionNotification")
	topic := "arn:aws:sns:us-east-1:111111111111:t"
	for name, tc := range map[string]struct {
		in   CreateNotificationInput
		code string
	}{
		"both targets":  {CreateNotificationInput{ServiceID: svc.ID, VpcEndpointID: "vpce-1", ARN: topic, Events: []string{"Connect"}}, "InvalidParameter"},
		"bad topic":     {CreateNotificationInput{ServiceID: svc.ID, ARN: "arn:aws:sqs:us-east-1:111111111111:q", Events: []string{"Connect"}}, "InvalidParameterValue"},
		"bad event":     {CreateNotificationInput{ServiceID: svc.ID, ARN: topic, Events: []string{"Explode"}}, "InvalidParameterValue"},
		"no events":     {CreateNotificationInput{ServiceID: svc.ID, ARN: topic}, "MissingParameter"},
		"other service": {CreateNotificationInput{ServiceID: "vpce-svc-00000000000000000", ARN: topic, Events: []string{"Connect"}}, "InvalidVpcEndpointServiceId.NotFound"},
	} {
		if _, err := f.cp.CreateVpcEndpointConnectionNotification(ctx, call, tc.in); errCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	in := CreateNotificationInput{ServiceID: svc.ID, ARN: topic, Events: []string{"Connect", "Connect"}, ClientToken: "n1"}
	n, err := f.cp.CreateVpcEndpointConnectionNotification(ctx, call, in)
	if err != nil || !strings.HasPrefix(n.ID, "vpce-nfn-") || len(n.Events) != 1 || n.State != "Enabled" || n.Type != "Topic" {
		t.Fatalf("notification = %+v, %v", n, err)
	}
	if again, _ := f.cp.CreateVpcEndpointConnectionNotification(ctx, call, in); again == nil || again.ID != n.ID {
		t.Fatal("client token not honoured")
	}
	if err := f.cp.ModifyVpcEndpointConnectionNotification(ctx, f.provCall("ModifyVpcEndpointConnectionNotification"), n.ID, "", []string{"Accept", "Reject"}); err != nil {
		t.Fatal(err)
	}
	list, _, err := f.cp.DescribeVpcEndpointConnectionNotifications(ctx, f.provCall("DescribeVpcEndpointConnectionNotifications"), n.ID, nil, Page{})
	if err != nil || len(list) != 1 || strings.Join(list[0].Events, ",") != "Accept,Reject" {
		t.Fatalf("describe = %+v, %v", list, err)
	}
	if _, _, err := f.cp.DescribeVpcEndpointConnectionNotifications(ctx, f.consCall("DescribeVpcEndpointConnectionNotifications"), n.ID, nil, Page{}); errCode(err) != "InvalidConnectionNotification" {
		t.Fatalf("consumer describe: %v", err)
	}
	failed, err := f.cp.DeleteVpcEndpointConnectionNotifications(ctx, f.provCall("DeleteVpcEndpointConnectionNotifications"), []string{n.ID, "vpce-nfn-00000000000000000"})
	if err != nil || len(failed) != 1 || failed[0].ResourceID != "vpce-nfn-00000000000000000" {
		t.Fatalf("delete = %+v, %v", failed, err)
	}
}

// BenchmarkDescribeVpcEndpointsTagFilter measures a tag-filtered describe
// among 10,000 endpoints (the target is p99 ≤ 50 ms).
func BenchmarkDescribeVpcEndpointsTagFilter(b *testing.B) {
	cp := newBenchCP(b)
	ctx := context.Background()
	if err := cp.DB().Update(ctx, func(tx *store.Tx) error {
		for i := 0; i < 10000; i++ {
			id := cloud.NewID("vpce")
			tx.Put(cloud.KindVpcEndpoint, id, &cloud.VpcEndpoint{
				Meta: cloud.Meta{ID: id, OwnerID: plConsumer, Region: "us-east-1", Tags: cloud.Tags{{Key: "team", Value: fmt.Sprintf("t%d", i%100)}}},
				Type: "Interface", VpcID: "vpc-1", ServiceName: "com.amazonaws.us-east-1.sqs", State: "available", IPAddressType: "ipv4",
			})
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	c := rootCall(plConsumer, "ec2:DescribeVpcEndpoints")
	in := DescribeInput{Filters: []cloud.Filter{{Name: "tag:team", Values: []string{"t42"}}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eps, _, err := cp.DescribeVpcEndpoints(ctx, c, in)
		if err != nil || len(eps) != 100 {
			b.Fatal(len(eps), err)
		}
	}
}

// newBenchCP is newTestCP for benchmarks.
func newBenchCP(b *testing.B) *ControlPlane {
	b.Helper()
	bk, err := bolt.Open(b.TempDir() + "/state.db")
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(context.Background(), bk, Kinds(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	r, _ := cloud.NewRegion("us-east-1")
	cp, err := New(Config{DB: db, Regions: []cloud.Region{r}})
	if err != nil {
		b.Fatal(err)
	}
	return cp
}

func TestEndpointDryRunAndPagination(t *testing.T) {
	f := newPLFixture(t)
	ctx := context.Background()
	dry := f.consCall("CreateVpcEndpoint")
	dry.DryRun = true
	no := false
	in := CreateEndpointInput{Type: cloud.EndpointInterface, VpcID: f.consVpc.ID, ServiceName: "com.amazonaws.us-east-1.sts", SubnetIDs: f.consSubnets[:1], PrivateDNSEnabled: &no}
	if _, err := f.cp.CreateVpcEndpoint(ctx, dry, in); errCode(err) != "DryRunOperation" {
		t.Fatalf("dry run: %v", err)
	}
	for i := 0; i < 7; i++ {
		f.endpoint(t, in)
	}
	c := f.consCall("DescribeVpcEndpoints")
	for _, bad := range []int{4, 1001} {
		if _, _, err := f.cp.DescribeVpcEndpoints(ctx, c, DescribeInput{Page: Page{MaxResults: &bad}}); errCode(err) != "InvalidParameterValue" {
			t.Errorf("MaxResults %d: %v", bad, err)
		}
	}
	five := 5
	first, next, err := f.cp.DescribeVpcEndpoints(ctx, c, DescribeInput{Page: Page{MaxResults: &five}})
	if err != nil || len(first) != 5 || next == "" {
		t.Fatalf("page 1 = %d, %q, %v", len(first), next, err)
	}
	rest, next, err := f.cp.DescribeVpcEndpoints(ctx, c, DescribeInput{Page: Page{MaxResults: &five, NextToken: next}})
	if err != nil || len(rest) != 2 || next != "" {
		t.Fatalf("page 2 = %d, %q, %v", len(rest), next, err)
	}
	if mine, _, _ := f.cp.DescribeVpcEndpoints(ctx, f.provCall("DescribeVpcEndpoints"), DescribeInput{}); len(mine) != 0 {
		t.Fatalf("provider sees consumer endpoints: %d", len(mine))
	}
}
