package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/server"
)

// startRoute53Server is startServer with a short private DNS verification
// window, so that a wrong record fails within the test.
func startRoute53Server(t *testing.T) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Config: cfg, DataPlane: server.DataPlaneOff,
		PrivateDNSVerificationWindow: 1500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, dir
}

func route53Client(srv *server.Server, c creds) *route53.Client {
	return route53.NewFromConfig(awsConfig(srv, c, "us-east-1"))
}

// pollUntil retries cond every 50 ms for up to d.
func pollUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRoute53HostedZones(t *testing.T) {
	ctx := context.Background()
	srv, _ := startRoute53Server(t)
	r53, other := route53Client(srv, provider), route53Client(srv, consumer)

	created := must[*route53.CreateHostedZoneOutput](t)(r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{
		Name: aws.String("Example.com"), CallerReference: aws.String("ref-1"),
		HostedZoneConfig: &r53types.HostedZoneConfig{Comment: aws.String("verification records")},
	}))
	zoneID := strings.TrimPrefix(aws.ToString(created.HostedZone.Id), "/hostedzone/")
	if !strings.HasPrefix(aws.ToString(created.HostedZone.Id), "/hostedzone/Z") || len(zoneID) < 14 || aws.ToString(created.HostedZone.Name) != "example.com." ||
		created.ChangeInfo.Status != r53types.ChangeStatusInsync || len(created.DelegationSet.NameServers) != 4 ||
		aws.ToInt64(created.HostedZone.ResourceRecordSetCount) != 2 || !strings.HasSuffix(aws.ToString(created.Location), "/hostedzone/"+zoneID) {
		t.Fatalf("created = %+v %+v %+v", created.HostedZone, created.ChangeInfo, created.DelegationSet)
	}
	_, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.org"), CallerReference: aws.String("ref-1")})
	wantCode(t, err, "HostedZoneAlreadyExists")
	_, err = r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("corp.internal"), CallerReference: aws.String("ref-2"),
		VPC: &r53types.VPC{VPCId: aws.String("vpc-0123456789abcdef0"), VPCRegion: r53types.VPCRegionUsEast1}})
	wantCode(t, err, "InvalidInput")

	// Accounts are walls.
	_, err = other.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zoneID)})
	wantCode(t, err, "NoSuchHostedZone")
	if l := must[*route53.ListHostedZonesOutput](t)(other.ListHostedZones(ctx, &route53.ListHostedZonesInput{})); len(l.HostedZones) != 0 {
		t.Fatalf("other account lists %+v", l.HostedZones)
	}
	if l := must[*route53.ListHostedZonesOutput](t)(r53.ListHostedZones(ctx, &route53.ListHostedZonesInput{})); len(l.HostedZones) != 1 || l.IsTruncated {
		t.Fatalf("owner lists %+v", l.HostedZones)
	}
	got := must[*route53.GetHostedZoneOutput](t)(r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zoneID)}))
	if aws.ToString(got.HostedZone.Config.Comment) != "verification records" || got.HostedZone.Config.PrivateZone {
		t.Fatalf("get = %+v", got.HostedZone.Config)
	}

	txt := func(action r53types.ChangeAction, name, value string) r53types.Change {
		return r53types.Change{Action: action, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(name), Type: r53types.RRTypeTxt, TTL: aws.Int64(300),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(value)}},
		}}
	}
	change := func(changes ...r53types.Change) error {
		_, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: changes}})
		return err
	}
	changed := must[*route53.ChangeResourceRecordSetsOutput](t)(r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{
			txt(r53types.ChangeActionCreate, "www.example.com", `"hello world"`),
			{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("a.example.com"), Type: r53types.RRTypeA, TTL: aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("198.18.0.10")}}}},
		}},
	}))
	if changed.ChangeInfo.Status != r53types.ChangeStatusInsync {
		t.Fatalf("change = %+v", changed.ChangeInfo)
	}
	gc := must[*route53.GetChangeOutput](t)(r53.GetChange(ctx, &route53.GetChangeInput{Id: changed.ChangeInfo.Id}))
	if gc.ChangeInfo.Status != r53types.ChangeStatusInsync {
		t.Fatalf("get change = %+v", gc.ChangeInfo)
	}
	_, err = other.GetChange(ctx, &route53.GetChangeInput{Id: changed.ChangeInfo.Id})
	wantCode(t, err, "NoSuchChange")

	var icb *r53types.InvalidChangeBatch
	err = change(txt(r53types.ChangeActionCreate, "www.example.com", `"again"`))
	if !errors.As(err, &icb) && errCode(err) != "InvalidChangeBatch" {
		t.Fatalf("duplicate create: %v", err)
	}
	if !strings.Contains(err.Error(), "Tried to create resource record set [name='www.example.com.', type='TXT'] but it already exists") {
		t.Fatalf("duplicate create message: %v", err)
	}
	err = change(txt(r53types.ChangeActionDelete, "nope.example.com", `"x"`))
	if errCode(err) != "InvalidChangeBatch" || !strings.Contains(err.Error(), "but it was not found") {
		t.Fatalf("delete missing: %v", err)
	}
	wantCode(t, change(txt(r53types.ChangeActionCreate, "www.example.org", `"x"`)), "InvalidChangeBatch")
	wantCode(t, change(txt(r53types.ChangeActionCreate, "bare.example.com", `unquoted`)), "InvalidChangeBatch")
	if err := change(txt(r53types.ChangeActionUpsert, "www.example.com", `"hello" "again"`)); err != nil {
		t.Fatal(err)
	}

	sets := must[*route53.ListResourceRecordSetsOutput](t)(r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID)}))
	var names []string
	for _, rs := range sets.ResourceRecordSets {
		names = append(names, aws.ToString(rs.Name)+" "+string(rs.Type))
	}
	if strings.Join(names, ",") != "example.com. NS,example.com. SOA,a.example.com. A,www.example.com. TXT" {
		t.Fatalf("record sets = %v", names)
	}
	page := must[*route53.ListResourceRecordSetsOutput](t)(r53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID), MaxItems: aws.Int32(3)}))
	if !page.IsTruncated || aws.ToString(page.NextRecordName) != "www.example.com." || page.NextRecordType != r53types.RRTypeTxt {
		t.Fatalf("page = %+v", page)
	}

	_, err = r53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(zoneID)})
	wantCode(t, err, "HostedZoneNotEmpty")
	if err := change(txt(r53types.ChangeActionDelete, "www.example.com", `"hello" "again"`),
		r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("a.example.com"), Type: r53types.RRTypeA, TTL: aws.Int64(60),
			ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("198.18.0.10")}}}}); err != nil {
		t.Fatal(err)
	}
	must[*route53.DeleteHostedZoneOutput](t)(r53.DeleteHostedZone(ctx, &route53.DeleteHostedZoneInput{Id: aws.String(zoneID)}))
	_, err = r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(zoneID)})
	wantCode(t, err, "NoSuchHostedZone")
}

// TestPrivateDNSVerificationAndNotifications is the provider's story: it
// hosts example.com, publishes its endpoint service's verification TXT
// record, gets the name verified (and a wrong record failed), and reads the
// connection events of its service from the notification topic's file.
func TestPrivateDNSVerificationAndNotifications(t *testing.T) {
	ctx := context.Background()
	srv, dataDir := startRoute53Server(t)
	prov, cons := newClients(srv, provider), newClients(srv, consumer)
	r53 := route53Client(srv, provider)

	zone := must[*route53.CreateHostedZoneOutput](t)(r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("example.com"), CallerReference: aws.String("zone-1")}))
	zoneID := zone.HostedZone.Id

	_, provSubnets := elbNetwork(t, prov, "10.70")
	newService := func(name string) (id, svcName string, conf *ec2types.PrivateDnsNameConfiguration) {
		lb := must[*elbv2.CreateLoadBalancerOutput](t)(prov.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
			Name: aws.String(strings.ReplaceAll(name, ".", "-")), Type: elbtypes.LoadBalancerTypeEnumNetwork, Scheme: elbtypes.LoadBalancerSchemeEnumInternal, Subnets: provSubnets,
		})).LoadBalancers[0]
		out := must[*ec2.CreateVpcEndpointServiceConfigurationOutput](t)(prov.EC2.CreateVpcEndpointServiceConfiguration(ctx, &ec2.CreateVpcEndpointServiceConfigurationInput{
			NetworkLoadBalancerArns: []string{aws.ToString(lb.LoadBalancerArn)}, AcceptanceRequired: aws.Bool(true), PrivateDnsName: aws.String(name),
		}))
		c := out.ServiceConfiguration
		return aws.ToString(c.ServiceId), aws.ToString(c.ServiceName), c.PrivateDnsNameConfiguration
	}
	publish := func(name, value string) {
		must[*route53.ChangeResourceRecordSetsOutput](t)(r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: zoneID, ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeTxt, TTL: aws.Int64(60),
					ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"` + value + `"`)}}}}}},
		}))
	}
	dnsState := func(id string) ec2types.DnsNameState {
		out, err := prov.EC2.DescribeVpcEndpointServiceConfigurations(ctx, &ec2.DescribeVpcEndpointServiceConfigurationsInput{ServiceIds: []string{id}})
		if err != nil || len(out.ServiceConfigurations) != 1 || out.ServiceConfigurations[0].PrivateDnsNameConfiguration == nil {
			t.Fatalf("describe service %s: %v", id, err)
		}
		return out.ServiceConfigurations[0].PrivateDnsNameConfiguration.State
	}

	// The right record verifies the name.
	svcID, svcName, conf := newService("api.example.com")
	if conf == nil || conf.Type == nil || aws.ToString(conf.Type) != "TXT" || !strings.HasPrefix(aws.ToString(conf.Name), "_") {
		t.Fatalf("private DNS name configuration = %+v", conf)
	}
	publish(aws.ToString(conf.Name)+".api.example.com", aws.ToString(conf.Value))
	must[*ec2.StartVpcEndpointServicePrivateDnsVerificationOutput](t)(prov.EC2.StartVpcEndpointServicePrivateDnsVerification(ctx, &ec2.StartVpcEndpointServicePrivateDnsVerificationInput{ServiceId: &svcID}))
	pollUntil(t, "api.example.com verified", 10*time.Second, func() bool { return dnsState(svcID) == ec2types.DnsNameStateVerified })

	// A wrong value fails once the verification window has passed.
	badID, _, badConf := newService("bad.example.com")
	publish(aws.ToString(badConf.Name)+".bad.example.com", "vpce:not-the-value")
	must[*ec2.StartVpcEndpointServicePrivateDnsVerificationOutput](t)(prov.EC2.StartVpcEndpointServicePrivateDnsVerification(ctx, &ec2.StartVpcEndpointServicePrivateDnsVerificationInput{ServiceId: &badID}))
	pollUntil(t, "bad.example.com failed", 15*time.Second, func() bool { return dnsState(badID) == ec2types.DnsNameStateFailed })

	// Consumers see the verified name.
	must[*ec2.ModifyVpcEndpointServicePermissionsOutput](t)(prov.EC2.ModifyVpcEndpointServicePermissions(ctx, &ec2.ModifyVpcEndpointServicePermissionsInput{
		ServiceId: &svcID, AddAllowedPrincipals: []string{"arn:aws:iam::222222222222:root"},
	}))
	details := must[*ec2.DescribeVpcEndpointServicesOutput](t)(cons.EC2.DescribeVpcEndpointServices(ctx, &ec2.DescribeVpcEndpointServicesInput{ServiceNames: []string{svcName}}))
	if len(details.ServiceDetails) != 1 || aws.ToString(details.ServiceDetails[0].PrivateDnsName) != "api.example.com" ||
		details.ServiceDetails[0].PrivateDnsNameVerificationState != ec2types.DnsNameStateVerified {
		t.Fatalf("consumer's view = %+v", details.ServiceDetails)
	}

	// Connection events reach the topic's file.
	topic := "arn:aws:sns:us-east-1:111111111111:endpoint-events"
	must[*ec2.CreateVpcEndpointConnectionNotificationOutput](t)(prov.EC2.CreateVpcEndpointConnectionNotification(ctx, &ec2.CreateVpcEndpointConnectionNotificationInput{
		ServiceId: &svcID, ConnectionNotificationArn: aws.String(topic), ConnectionEvents: []string{"Connect", "Accept"},
	}))
	consVpc, consSubnets := elbNetwork(t, cons, "10.70")
	// The verified name makes private DNS the default, which needs DNS hostnames.
	must[*ec2.ModifyVpcAttributeOutput](t)(cons.EC2.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: &consVpc, EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}))
	ep := must[*ec2.CreateVpcEndpointOutput](t)(cons.EC2.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
		VpcId: &consVpc, ServiceName: &svcName, VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: consSubnets,
	})).VpcEndpoint
	epID := aws.ToString(ep.VpcEndpointId)
	if !aws.ToBool(ep.PrivateDnsEnabled) {
		t.Fatalf("endpoint to a verified service has private DNS off: %+v", ep)
	}
	must[*ec2.AcceptVpcEndpointConnectionsOutput](t)(prov.EC2.AcceptVpcEndpointConnections(ctx, &ec2.AcceptVpcEndpointConnectionsInput{ServiceId: &svcID, VpcEndpointIds: []string{epID}}))

	path := filepath.Join(dataDir, "notifications", "111111111111", "endpoint-events.jsonl")
	var lines []map[string]string
	pollUntil(t, "two notification lines", 10*time.Second, func() bool {
		lines = readJSONLines(t, path)
		return len(lines) >= 2
	})
	if len(lines) != 2 {
		t.Fatalf("lines = %v", lines)
	}
	for i, want := range []struct{ event, state string }{{"Connect", "pendingAcceptance"}, {"Accept", ""}} {
		l := lines[i]
		if l["EventType"] != want.event || l["ServiceId"] != svcID || l["VpceId"] != epID || l["VpceOwner"] != "222222222222" ||
			(want.state != "" && l["VpceState"] != want.state) || l["ConnectionNotificationArn"] != topic || l["Timestamp"] == "" {
			t.Errorf("line %d = %v", i, l)
		}
	}
}

func readJSONLines(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}
