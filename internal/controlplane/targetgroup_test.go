package controlplane

import (
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

func intp(n int) *int       { return &n }
func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }
func (f *elbFixture) tgIn(name string, in CreateTargetGroupInput) CreateTargetGroupInput {
	in.Name = name
	if in.Protocol == "" {
		in.Protocol = "TCP"
	}
	if in.Port == nil {
		in.Port = intp(80)
	}
	if in.VpcID == "" {
		in.VpcID = f.vpc.ID
	}
	return in
}

func (f *elbFixture) tg(t *testing.T, name string, in CreateTargetGroupInput) *cloud.TargetGroup {
	t.Helper()
	tg, err := f.cp.CreateTargetGroup(f.ctx, f.elbCall, f.tgIn(name, in))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestHealthCheckDefaults(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		in       HealthCheckInput
		want     cloud.HealthCheck
	}{
		{"tcp", "TCP", HealthCheckInput{}, cloud.HealthCheck{Enabled: true, Protocol: "TCP", Port: "traffic-port", IntervalSeconds: 30, TimeoutSeconds: 10, HealthyThreshold: 5, UnhealthyThreshold: 2}},
		{"udp checks with tcp", "UDP", HealthCheckInput{}, cloud.HealthCheck{Enabled: true, Protocol: "TCP", Port: "traffic-port", IntervalSeconds: 30, TimeoutSeconds: 10, HealthyThreshold: 5, UnhealthyThreshold: 2}},
		{"http", "TCP", HealthCheckInput{Protocol: strp("HTTP")}, cloud.HealthCheck{Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/", Matcher: "200-399", IntervalSeconds: 30, TimeoutSeconds: 6, HealthyThreshold: 5, UnhealthyThreshold: 2}},
		{"https", "TCP", HealthCheckInput{Protocol: strp("HTTPS")}, cloud.HealthCheck{Enabled: true, Protocol: "HTTPS", Port: "traffic-port", Path: "/", Matcher: "200-399", IntervalSeconds: 30, TimeoutSeconds: 10, HealthyThreshold: 5, UnhealthyThreshold: 2}},
		{"geneve", "GENEVE", HealthCheckInput{}, cloud.HealthCheck{Enabled: true, Protocol: "TCP", Port: "80", IntervalSeconds: 10, TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2}},
		{"custom", "TCP", HealthCheckInput{Port: strp("8080"), IntervalSeconds: intp(10), TimeoutSeconds: intp(5), HealthyThreshold: intp(3), UnhealthyThreshold: intp(3)}, cloud.HealthCheck{Enabled: true, Protocol: "TCP", Port: "8080", IntervalSeconds: 10, TimeoutSeconds: 5, HealthyThreshold: 3, UnhealthyThreshold: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveHealthCheck(tc.protocol, "ip", cloud.HealthCheck{}, tc.in, true)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestHealthCheckRanges(t *testing.T) {
	tests := []struct {
		name string
		in   HealthCheckInput
	}{
		{"interval low", HealthCheckInput{IntervalSeconds: intp(4)}},
		{"interval high", HealthCheckInput{IntervalSeconds: intp(301)}},
		{"timeout low", HealthCheckInput{TimeoutSeconds: intp(1)}},
		{"timeout high", HealthCheckInput{TimeoutSeconds: intp(121), IntervalSeconds: intp(300)}},
		{"timeout not below interval", HealthCheckInput{TimeoutSeconds: intp(10), IntervalSeconds: intp(10)}},
		{"healthy low", HealthCheckInput{HealthyThreshold: intp(1)}},
		{"unhealthy high", HealthCheckInput{UnhealthyThreshold: intp(11)}},
		{"disabled", HealthCheckInput{Enabled: boolp(false)}},
		{"udp protocol", HealthCheckInput{Protocol: strp("UDP")}},
		{"bad protocol", HealthCheckInput{Protocol: strp("ICMP")}},
		{"bad port", HealthCheckInput{Port: strp("70000")}},
		{"path on tcp", HealthCheckInput{Path: strp("/health")}},
		{"matcher on tcp", HealthCheckInput{Matcher: strp("200")}},
		{"bad path", HealthCheckInput{Protocol: strp("HTTP"), Path: strp("health")}},
		{"bad matcher", HealthCheckInput{Protocol: strp("HTTP"), Matcher: strp("100-200")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveHealthCheck("TCP", "instance", cloud.HealthCheck{}, tc.in, true)
			if errCode(err) != "ValidationError" {
				t.Fatalf("err = %v, want ValidationError", err)
			}
		})
	}
}

func TestCreateTargetGroupRules(t *testing.T) {
	f := newElbFixture(t)
	tests := []struct {
		name string
		in   CreateTargetGroupInput
		code string
	}{
		{"tcp", CreateTargetGroupInput{}, ""},
		{"bad name", CreateTargetGroupInput{Name: "-x"}, "ValidationError"},
		{"http", CreateTargetGroupInput{Protocol: "HTTP"}, "ValidationError"},
		{"lambda", CreateTargetGroupInput{TargetType: "lambda"}, "ValidationError"},
		{"alb", CreateTargetGroupInput{TargetType: "alb"}, "ValidationError"},
		{"port 0", CreateTargetGroupInput{Port: intp(0)}, "ValidationError"},
		{"port high", CreateTargetGroupInput{Port: intp(65536)}, "ValidationError"},
		{"geneve wrong port", CreateTargetGroupInput{Protocol: "GENEVE", Port: intp(80)}, "ValidationError"},
		{"geneve", CreateTargetGroupInput{Protocol: "GENEVE", Port: intp(6081)}, ""},
		{"missing vpc", CreateTargetGroupInput{VpcID: "vpc-0123456789abcdef0"}, "ValidationError"},
		{"ipv6", CreateTargetGroupInput{IPAddressType: "ipv6"}, "ValidationError"},
		{"protocol version", CreateTargetGroupInput{ProtocolVersion: "HTTP2"}, "ValidationError"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.in.Name
			if name == "" {
				name = "tg" + string(rune('a'+i))
			}
			_, err := f.cp.CreateTargetGroup(f.ctx, f.elbCall, f.tgIn(name, tc.in))
			if errCode(err) != tc.code {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
	tg := f.tg(t, "dup", CreateTargetGroupInput{})
	if !strings.HasPrefix(tg.ARN, "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/dup/") {
		t.Errorf("ARN = %s", tg.ARN)
	}
	if again := f.tg(t, "dup", CreateTargetGroupInput{}); again.ARN != tg.ARN {
		t.Errorf("identical create made a new group")
	}
	if _, err := f.cp.CreateTargetGroup(f.ctx, f.elbCall, f.tgIn("dup", CreateTargetGroupInput{Port: intp(81)})); errCode(err) != "DuplicateTargetGroupName" {
		t.Fatalf("err = %v, want DuplicateTargetGroupName", err)
	}
	// Consumer sees nothing.
	if got, _, _ := f.cp.DescribeTargetGroups(f.ctx, f.consumerElb, DescribeTargetGroupsInput{}); len(got) != 0 {
		t.Errorf("consumer sees %d target groups", len(got))
	}
	if _, _, err := f.cp.DescribeTargetGroups(f.ctx, f.elbCall, DescribeTargetGroupsInput{Names: []string{"nope"}}); errCode(err) != "TargetGroupNotFound" {
		t.Errorf("describe missing = %v", err)
	}
}

func TestModifyTargetGroup(t *testing.T) {
	f := newElbFixture(t)
	tg := f.tg(t, "tg", CreateTargetGroupInput{})
	got, err := f.cp.ModifyTargetGroup(f.ctx, f.elbCall, tg.ARN, HealthCheckInput{Protocol: strp("HTTP"), Path: strp("/healthz")})
	if err != nil || got.HealthCheck.Protocol != "HTTP" || got.HealthCheck.Path != "/healthz" || got.HealthCheck.Matcher != "200-399" {
		t.Fatalf("modify = %+v, %v", got, err)
	}
	got, err = f.cp.ModifyTargetGroup(f.ctx, f.elbCall, tg.ARN, HealthCheckInput{Protocol: strp("TCP")})
	if err != nil || got.HealthCheck.Path != "" || got.HealthCheck.Matcher != "" {
		t.Fatalf("back to TCP = %+v, %v", got, err)
	}
	if _, err := f.cp.ModifyTargetGroup(f.ctx, f.elbCall, tg.ARN, HealthCheckInput{TimeoutSeconds: intp(60)}); errCode(err) != "ValidationError" {
		t.Fatalf("timeout over interval = %v", err)
	}
}

func TestTargetGroupAttributes(t *testing.T) {
	f := newElbFixture(t)
	tg := f.tg(t, "tg", CreateTargetGroupInput{TargetType: "ip"})
	udp := f.tg(t, "udp", CreateTargetGroupInput{Protocol: "UDP", TargetType: "ip"})
	attrs, _ := f.cp.DescribeTargetGroupAttributes(f.ctx, f.elbCall, tg.ARN)
	m := map[string]string{}
	for _, a := range attrs {
		m[a.Key] = a.Value
	}
	for k, want := range map[string]string{
		"proxy_protocol_v2.enabled": "false", "deregistration_delay.timeout_seconds": "300", "preserve_client_ip.enabled": "false",
		"load_balancing.cross_zone.enabled": "use_load_balancer_configuration", "stickiness.type": "source_ip",
	} {
		if m[k] != want {
			t.Errorf("%s = %q, want %q", k, m[k], want)
		}
	}
	tests := []struct {
		name string
		arn  string
		in   []LoadBalancerAttribute
		code string
	}{
		{"proxy protocol", tg.ARN, []LoadBalancerAttribute{{"proxy_protocol_v2.enabled", "true"}}, ""},
		{"delay", tg.ARN, []LoadBalancerAttribute{{"deregistration_delay.timeout_seconds", "0"}}, ""},
		{"delay high", tg.ARN, []LoadBalancerAttribute{{"deregistration_delay.timeout_seconds", "3601"}}, "ValidationError"},
		{"delay text", tg.ARN, []LoadBalancerAttribute{{"deregistration_delay.timeout_seconds", "soon"}}, "ValidationError"},
		{"cross zone", tg.ARN, []LoadBalancerAttribute{{"load_balancing.cross_zone.enabled", "maybe"}}, "ValidationError"},
		{"stickiness type", tg.ARN, []LoadBalancerAttribute{{"stickiness.type", "lb_cookie"}}, "ValidationError"},
		{"unknown", tg.ARN, []LoadBalancerAttribute{{"slow_start.duration_seconds", "30"}}, "ValidationError"},
		{"proxy protocol on udp", udp.ARN, []LoadBalancerAttribute{{"proxy_protocol_v2.enabled", "true"}}, "InvalidConfigurationRequest"},
		{"missing group", tg.ARN + "x", []LoadBalancerAttribute{{"stickiness.enabled", "true"}}, "TargetGroupNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.cp.ModifyTargetGroupAttributes(f.ctx, f.elbCall, tc.arn, tc.in)
			if errCode(err) != tc.code {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
	f.cp.DB().View(func(tx *store.Tx) error {
		g, _ := TargetGroupByARN(tx, tg.ARN)
		if a := TargetGroupAttributes(g); a["proxy_protocol_v2.enabled"] != "true" || a["deregistration_delay.timeout_seconds"] != "0" {
			t.Errorf("attributes after modify = %v", a)
		}
		return nil
	})
}

func (f *elbFixture) health(t *testing.T, tgARN string) map[string]cloud.TargetHealth {
	t.Helper()
	rows, err := f.cp.DescribeTargetHealth(f.ctx, f.elbCall, tgARN, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cloud.TargetHealth{}
	for _, r := range rows {
		out[r.Target.ID] = r.Target.Health
	}
	return out
}

func TestRegisterTargetsValidation(t *testing.T) {
	f := newElbFixture(t)
	ipTG := f.tg(t, "ip", CreateTargetGroupInput{TargetType: "ip"})
	instTG := f.tg(t, "inst", CreateTargetGroupInput{})
	inst := &cloud.Instance{Meta: cloud.Meta{ID: "i-0123456789abcdef0", OwnerID: elbProvider, Region: "us-east-1"}, VpcID: f.vpc.ID, AvailabilityZone: "us-east-1a", State: "running"}
	other := &cloud.Instance{Meta: cloud.Meta{ID: "i-0123456789abcdef1", OwnerID: elbProvider, Region: "us-east-1"}, VpcID: f.otherVpc.ID, AvailabilityZone: "us-east-1c", State: "running"}
	gone := &cloud.Instance{Meta: cloud.Meta{ID: "i-0123456789abcdef2", OwnerID: elbProvider, Region: "us-east-1"}, VpcID: f.vpc.ID, AvailabilityZone: "us-east-1a", State: "terminated"}
	theirs := &cloud.Instance{Meta: cloud.Meta{ID: "i-0123456789abcdef3", OwnerID: elbConsumer, Region: "us-east-1"}, VpcID: f.vpc.ID, State: "running"}
	f.cp.DB().Update(f.ctx, func(tx *store.Tx) error {
		for _, i := range []*cloud.Instance{inst, other, gone, theirs} {
			tx.Put(cloud.KindInstance, i.ID, i)
		}
		return nil
	})
	tests := []struct {
		name string
		tg   string
		spec TargetSpec
		code string
	}{
		{"ip in subnet", ipTG.ARN, TargetSpec{ID: "10.0.1.10"}, ""},
		{"ip with port", ipTG.ARN, TargetSpec{ID: "10.0.2.10", Port: intp(8080)}, ""},
		{"ip outside with all", ipTG.ARN, TargetSpec{ID: "192.168.1.1", AvailabilityZone: "all"}, ""},
		{"ip outside without zone", ipTG.ARN, TargetSpec{ID: "192.168.1.2"}, "InvalidTarget"},
		{"public ip", ipTG.ARN, TargetSpec{ID: "8.8.8.8", AvailabilityZone: "all"}, "InvalidTarget"},
		{"ipv6", ipTG.ARN, TargetSpec{ID: "fd00::1"}, "InvalidTarget"},
		{"not an ip", ipTG.ARN, TargetSpec{ID: "i-0123456789abcdef0"}, "InvalidTarget"},
		{"in vpc no subnet", ipTG.ARN, TargetSpec{ID: "10.0.200.1"}, "InvalidTarget"},
		{"in vpc with all", ipTG.ARN, TargetSpec{ID: "10.0.1.11", AvailabilityZone: "all"}, "InvalidTarget"},
		{"bad port", ipTG.ARN, TargetSpec{ID: "10.0.1.12", Port: intp(0)}, "ValidationError"},
		{"no id", ipTG.ARN, TargetSpec{}, "ValidationError"},
		{"instance", instTG.ARN, TargetSpec{ID: inst.ID}, ""},
		{"instance other vpc", instTG.ARN, TargetSpec{ID: other.ID}, "InvalidTarget"},
		{"instance terminated", instTG.ARN, TargetSpec{ID: gone.ID}, "InvalidTarget"},
		{"instance of another account", instTG.ARN, TargetSpec{ID: theirs.ID}, "InvalidTarget"},
		{"instance with zone", instTG.ARN, TargetSpec{ID: inst.ID, AvailabilityZone: "us-east-1a"}, "InvalidTarget"},
		{"missing group", ipTG.ARN + "x", TargetSpec{ID: "10.0.1.10"}, "TargetGroupNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.cp.RegisterTargets(f.ctx, f.elbCall, tc.tg, []TargetSpec{tc.spec})
			if errCode(err) != tc.code {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
	rows, _ := f.cp.DescribeTargetHealth(f.ctx, f.elbCall, ipTG.ARN, nil)
	if len(rows) != 3 || rows[0].Target.ID != "10.0.1.10" || rows[0].Target.AvailabilityZone != "us-east-1a" || rows[0].HealthCheckPort != "80" {
		t.Errorf("ip targets = %+v", rows)
	}
	if err := f.cp.RegisterTargets(f.ctx, f.consumerElb, ipTG.ARN, []TargetSpec{{ID: "10.0.1.10"}}); errCode(err) != "TargetGroupNotFound" {
		t.Errorf("consumer register = %v", err)
	}
}

func TestTargetLifecycle(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{Subnets: []string{f.subA}})
	tg := f.tg(t, "tg", CreateTargetGroupInput{TargetType: "ip"})
	reg := func(ids ...string) {
		t.Helper()
		var specs []TargetSpec
		for _, id := range ids {
			specs = append(specs, TargetSpec{ID: id})
		}
		if err := f.cp.RegisterTargets(f.ctx, f.elbCall, tg.ARN, specs); err != nil {
			t.Fatal(err)
		}
	}
	reg("10.0.1.10", "10.0.2.10")
	h := f.health(t, tg.ARN)
	if h["10.0.1.10"] != healthNotInUse {
		t.Fatalf("before a listener: %+v", h)
	}
	// Attaching the group starts registration; a target in a zone the load
	// balancer does not serve stays unused.
	l := f.listener(t, lb, tg, "TCP", 80)
	h = f.health(t, tg.ARN)
	if h["10.0.1.10"] != healthRegistering || h["10.0.2.10"] != healthZoneOff {
		t.Fatalf("after listener: %+v", h)
	}
	// Health comes only from the health-check controller.
	if err := f.cp.SetTargetHealth(f.ctx, tg.ARN, "10.0.1.10", 80, cloud.TargetHealth{State: "healthy"}); err != nil {
		t.Fatal(err)
	}
	if err := f.cp.SetTargetHealth(f.ctx, tg.ARN, "10.0.9.9", 80, cloud.TargetHealth{State: "healthy"}); err != ErrTargetNotRegistered {
		t.Fatalf("unknown target: %v", err)
	}
	if err := f.cp.SetTargetHealth(f.ctx, tg.ARN, "10.0.1.10", 80, cloud.TargetHealth{State: "draining"}); errCode(err) != "ValidationError" {
		t.Fatalf("draining via health: %v", err)
	}
	if got := f.health(t, tg.ARN)["10.0.1.10"]; got.State != "healthy" {
		t.Fatalf("healthy not recorded: %+v", got)
	}
	// A target that was never registered.
	rows, err := f.cp.DescribeTargetHealth(f.ctx, f.elbCall, tg.ARN, []TargetSpec{{ID: "10.0.1.99"}})
	if err != nil || len(rows) != 1 || rows[0].Target.Health != healthNotFound {
		t.Fatalf("unregistered = %+v, %v", rows, err)
	}
	// Deregistering drains, then FinishDraining removes it after the delay.
	if err := f.cp.DeregisterTargets(f.ctx, f.elbCall, tg.ARN, []TargetSpec{{ID: "10.0.1.10"}}); err != nil {
		t.Fatal(err)
	}
	if got := f.health(t, tg.ARN)["10.0.1.10"]; got != healthDraining {
		t.Fatalf("after deregister: %+v", got)
	}
	f.cp.SetTargetHealth(f.ctx, tg.ARN, "10.0.1.10", 80, cloud.TargetHealth{State: "healthy"})
	if got := f.health(t, tg.ARN)["10.0.1.10"]; got != healthDraining {
		t.Fatalf("health check overrode draining: %+v", got)
	}
	if n, err := f.cp.FinishDraining(f.ctx, time.Now().Add(10*time.Second)); err != nil || n != 0 {
		t.Fatalf("early FinishDraining = %d, %v", n, err)
	}
	if n, err := f.cp.FinishDraining(f.ctx, time.Now().Add(301*time.Second)); err != nil || n != 1 {
		t.Fatalf("FinishDraining = %d, %v", n, err)
	}
	if _, ok := f.health(t, tg.ARN)["10.0.1.10"]; ok {
		t.Fatalf("drained target still registered")
	}
	if err := f.cp.DeregisterTargets(f.ctx, f.elbCall, tg.ARN, []TargetSpec{{ID: "10.0.1.10"}}); errCode(err) != "InvalidTarget" {
		t.Fatalf("deregister unknown = %v", err)
	}
	// Deleting the listener detaches the group: its targets become unused.
	reg("10.0.1.20")
	if err := f.cp.DeleteListener(f.ctx, f.elbCall, l.ARN); err != nil {
		t.Fatal(err)
	}
	h = f.health(t, tg.ARN)
	if h["10.0.1.20"] != healthNotInUse || h["10.0.2.10"] != healthNotInUse {
		t.Fatalf("after listener deletion: %+v", h)
	}
	// Unused targets leave at once.
	if err := f.cp.DeregisterTargets(f.ctx, f.elbCall, tg.ARN, []TargetSpec{{ID: "10.0.1.20"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.health(t, tg.ARN)["10.0.1.20"]; ok {
		t.Fatalf("unused target did not leave at once")
	}
	// A group in use cannot be deleted; a free one can, twice.
	f.listener(t, lb, tg, "TCP", 80)
	if err := f.cp.DeleteTargetGroup(f.ctx, f.elbCall, tg.ARN); errCode(err) != "ResourceInUse" {
		t.Fatalf("delete in use = %v", err)
	}
	free := f.tg(t, "free", CreateTargetGroupInput{})
	for i := 0; i < 2; i++ {
		if err := f.cp.DeleteTargetGroup(f.ctx, f.elbCall, free.ARN); err != nil {
			t.Fatalf("delete free #%d = %v", i, err)
		}
	}
}
