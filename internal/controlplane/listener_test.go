package controlplane

import (
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
)

func forward(arn string) []ListenerAction {
	return []ListenerAction{{Type: "forward", TargetGroupARN: arn}}
}

func (f *elbFixture) listener(t *testing.T, lb *cloud.LoadBalancer, tg *cloud.TargetGroup, protocol string, port int) *cloud.Listener {
	t.Helper()
	in := CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: protocol, DefaultActions: forward(tg.ARN)}
	if port != 0 {
		in.Port = intp(port)
	}
	l, err := f.cp.CreateListener(f.ctx, f.elbCall, in)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCreateListenerRules(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{})
	lb2 := f.nlb(t, "web2", CreateLoadBalancerInput{})
	gw := f.nlb(t, "gw", CreateLoadBalancerInput{Type: LBTypeGateway})
	tcp := f.tg(t, "tcp", CreateTargetGroupInput{TargetType: "ip"})
	udp := f.tg(t, "udp", CreateTargetGroupInput{Protocol: "UDP", TargetType: "ip"})
	both := f.tg(t, "both", CreateTargetGroupInput{Protocol: "TCP_UDP", TargetType: "ip"})
	geneve := f.tg(t, "geneve", CreateTargetGroupInput{Protocol: "GENEVE", Port: intp(6081), TargetType: "ip"})
	elsewhere := f.tg(t, "elsewhere", CreateTargetGroupInput{VpcID: f.otherVpc.ID})
	l := f.listener(t, lb, tcp, "TCP", 80)
	if !strings.HasPrefix(l.ARN, "arn:aws:elasticloadbalancing:us-east-1:111111111111:listener/"+lb.ID+"/") {
		t.Errorf("listener ARN = %s", l.ARN)
	}
	if again := f.listener(t, lb, tcp, "TCP", 80); again.ARN != l.ARN {
		t.Errorf("identical listener created twice")
	}
	tests := []struct {
		name string
		in   CreateListenerInput
		code string
	}{
		{"udp same port", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "UDP", Port: intp(80), DefaultActions: forward(udp.ARN)}, ""},
		{"tcp_udp overlaps", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP_UDP", Port: intp(80), DefaultActions: forward(both.ARN)}, "DuplicateListener"},
		{"same port other group", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(80), DefaultActions: forward(both.ARN)}, "DuplicateListener"},
		{"tcp to tcp_udp group", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(81), DefaultActions: forward(both.ARN)}, ""},
		{"incompatible", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "UDP", Port: intp(82), DefaultActions: forward(tcp.ARN)}, "IncompatibleProtocols"},
		{"geneve on nlb", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(83), DefaultActions: forward(geneve.ARN)}, "IncompatibleProtocols"},
		{"other vpc", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(84), DefaultActions: forward(elsewhere.ARN)}, "InvalidConfigurationRequest"},
		{"group on another lb", CreateListenerInput{LoadBalancerARN: lb2.ARN, Protocol: "TCP", Port: intp(80), DefaultActions: forward(tcp.ARN)}, "TargetGroupAssociationLimit"},
		{"tls", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TLS", Port: intp(443), DefaultActions: forward(tcp.ARN), Certificates: []string{"arn:aws:acm:us-east-1:111111111111:certificate/x"}}, "UnsupportedProtocol"},
		{"http", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "HTTP", Port: intp(8080), DefaultActions: forward(tcp.ARN)}, "UnsupportedProtocol"},
		{"no protocol", CreateListenerInput{LoadBalancerARN: lb.ARN, Port: intp(85), DefaultActions: forward(tcp.ARN)}, "ValidationError"},
		{"no port", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", DefaultActions: forward(tcp.ARN)}, "ValidationError"},
		{"port high", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(70000), DefaultActions: forward(tcp.ARN)}, "ValidationError"},
		{"no action", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(86)}, "ValidationError"},
		{"redirect", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(87), DefaultActions: []ListenerAction{{Type: "redirect"}}}, "InvalidLoadBalancerAction"},
		{"two groups", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(88), DefaultActions: []ListenerAction{{Type: "forward", ForwardTargetGroups: []string{tcp.ARN, both.ARN}}}}, "InvalidLoadBalancerAction"},
		{"forward config", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(89), DefaultActions: []ListenerAction{{Type: "forward", ForwardTargetGroups: []string{tcp.ARN}}}}, ""},
		{"missing group", CreateListenerInput{LoadBalancerARN: lb.ARN, Protocol: "TCP", Port: intp(90), DefaultActions: forward(tcp.ARN + "0")}, "TargetGroupNotFound"},
		{"missing lb", CreateListenerInput{LoadBalancerARN: lb.ARN + "0", Protocol: "TCP", Port: intp(91), DefaultActions: forward(tcp.ARN)}, "LoadBalancerNotFound"},
		{"gateway with port", CreateListenerInput{LoadBalancerARN: gw.ARN, Port: intp(6081), DefaultActions: forward(geneve.ARN)}, "ValidationError"},
		{"gateway to tcp group", CreateListenerInput{LoadBalancerARN: gw.ARN, DefaultActions: forward(udp.ARN)}, "IncompatibleProtocols"},
		{"gateway", CreateListenerInput{LoadBalancerARN: gw.ARN, DefaultActions: forward(geneve.ARN)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.cp.CreateListener(f.ctx, f.elbCall, tc.in)
			if errCode(err) != tc.code {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
		})
	}
	got, _, err := f.cp.DescribeListeners(f.ctx, f.elbCall, DescribeListenersInput{LoadBalancerARN: lb.ARN})
	if err != nil || len(got) != 4 {
		t.Fatalf("listeners = %d, %v", len(got), err)
	}
	if _, _, err := f.cp.DescribeListeners(f.ctx, f.elbCall, DescribeListenersInput{}); errCode(err) != "ValidationError" {
		t.Errorf("describe without selector = %v", err)
	}
	if _, _, err := f.cp.DescribeListeners(f.ctx, f.consumerElb, DescribeListenersInput{ARNs: []string{l.ARN}}); errCode(err) != "ListenerNotFound" {
		t.Errorf("consumer describe = %v", err)
	}
	tgs, _, err := f.cp.DescribeTargetGroups(f.ctx, f.elbCall, DescribeTargetGroupsInput{LoadBalancerARN: lb.ARN})
	if err != nil || len(tgs) != 3 {
		t.Errorf("groups of lb = %d, %v", len(tgs), err)
	}
	if err := f.cp.DeleteListener(f.ctx, f.elbCall, l.ARN+"0"); errCode(err) != "ListenerNotFound" {
		t.Errorf("delete missing listener = %v", err)
	}
}

func TestModifyListener(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{Subnets: []string{f.subA}})
	a := f.tg(t, "a", CreateTargetGroupInput{TargetType: "ip"})
	b := f.tg(t, "b", CreateTargetGroupInput{TargetType: "ip"})
	f.cp.RegisterTargets(f.ctx, f.elbCall, b.ARN, []TargetSpec{{ID: "10.0.1.5"}})
	l := f.listener(t, lb, a, "TCP", 80)
	f.listener(t, lb, a, "TCP", 443)
	got, err := f.cp.ModifyListener(f.ctx, f.elbCall, ModifyListenerInput{ListenerARN: l.ARN, Port: intp(8080), DefaultActions: forward(b.ARN)})
	if err != nil || got.Port != 8080 || got.Protocol != "TCP" || got.TargetGroupARN != b.ARN {
		t.Fatalf("modify = %+v, %v", got, err)
	}
	if h := f.health(t, b.ARN)["10.0.1.5"]; h != healthRegistering {
		t.Errorf("target of newly attached group = %+v", h)
	}
	if _, err := f.cp.ModifyListener(f.ctx, f.elbCall, ModifyListenerInput{ListenerARN: l.ARN, Port: intp(443)}); errCode(err) != "DuplicateListener" {
		t.Errorf("modify onto taken port = %v", err)
	}
}

func TestElbTags(t *testing.T) {
	f := newElbFixture(t)
	lb := f.nlb(t, "web", CreateLoadBalancerInput{Tags: cloud.Tags{{Key: "env", Value: "dev"}}})
	tg := f.tg(t, "tg", CreateTargetGroupInput{})
	if err := f.cp.AddElbTags(f.ctx, f.elbCall, []string{lb.ARN, tg.ARN}, cloud.Tags{{Key: "team", Value: "net"}}); err != nil {
		t.Fatal(err)
	}
	rows, err := f.cp.DescribeElbTags(f.ctx, f.elbCall, []string{lb.ARN, tg.ARN})
	if err != nil || len(rows) != 2 || len(rows[0].Tags) != 2 || len(rows[1].Tags) != 1 {
		t.Fatalf("tags = %+v, %v", rows, err)
	}
	if err := f.cp.RemoveElbTags(f.ctx, f.elbCall, []string{lb.ARN}, []string{"env"}); err != nil {
		t.Fatal(err)
	}
	rows, _ = f.cp.DescribeElbTags(f.ctx, f.elbCall, []string{lb.ARN})
	if v, ok := rows[0].Tags.Get("env"); ok || len(rows[0].Tags) != 1 {
		t.Fatalf("after remove: %+v (%s)", rows[0].Tags, v)
	}
	many := cloud.Tags{}
	for i := 0; i < 50; i++ {
		many = append(many, cloud.Tag{Key: "k" + string(rune('A'+i))})
	}
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"too many", f.cp.AddElbTags(f.ctx, f.elbCall, []string{lb.ARN}, many), "TooManyTags"},
		{"duplicate keys", f.cp.AddElbTags(f.ctx, f.elbCall, []string{lb.ARN}, cloud.Tags{{Key: "a"}, {Key: "a"}}), "DuplicateTagKeys"},
		{"missing lb", f.cp.AddElbTags(f.ctx, f.elbCall, []string{lb.ARN + "0"}, cloud.Tags{{Key: "a"}}), "LoadBalancerNotFound"},
		{"consumer", f.cp.AddElbTags(f.ctx, f.consumerElb, []string{tg.ARN}, cloud.Tags{{Key: "a"}}), "TargetGroupNotFound"},
		{"not elb", f.cp.AddElbTags(f.ctx, f.elbCall, []string{"arn:aws:ec2:us-east-1:111111111111:vpc/" + f.vpc.ID}, cloud.Tags{{Key: "a"}}), "ValidationError"},
		{"no arns", f.cp.AddElbTags(f.ctx, f.elbCall, nil, cloud.Tags{{Key: "a"}}), "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if errCode(tc.err) != tc.code {
				t.Fatalf("err = %v, want %q", tc.err, tc.code)
			}
		})
	}
}
