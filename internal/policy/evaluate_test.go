package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func mustCompile(t testing.TB, doc string, kind Kind) *Compiled {
	t.Helper()
	c, err := ParseAndCompile([]byte(doc), kind)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// perimeterFixture is the S3 data-perimeter endpoint policy plus an identity
// policy and an in-organization request that both allow.
func perimeterFixture(t testing.TB) (*Policies, *Request) {
	t.Helper()
	doc, err := os.ReadFile("testdata/s3_endpoint_policy.json")
	if err != nil {
		t.Fatal(err)
	}
	p := &Policies{
		Endpoint: []*Compiled{mustCompile(t, string(doc), Endpoint)},
		Identity: []*Compiled{mustCompile(t, `{"Version":"2012-10-17","Statement":[
			{"Sid":"ReadHome","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::bucket/home/${aws:username}/*"},
			{"Sid":"DenyInsecure","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, Identity)},
	}
	r := &Request{
		Principal: "arn:aws:iam::111111111111:user/alice", PrincipalOrgID: "o-abc123def4",
		Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/home/alice/report.csv", ResourceAccount: "111111111111", ResourceOrgID: "o-abc123def4",
		PrincipalTags: map[string]string{"team": "blue"},
	}
	r.Context.Set("aws:SourceVpce", "vpce-0a1b2c3d4e5f60718")
	r.Context.Set("aws:SecureTransport", "true")
	r.Complete()
	return p, r
}

func TestEvaluateAllocations(t *testing.T) {
	p, r := perimeterFixture(t)
	if got := Evaluate(p, r); got.Decision != Allowed {
		t.Fatalf("fixture decision = %v (%s), want Allowed", got.Decision, got.Message)
	}
	allocs := testing.AllocsPerRun(1000, func() { _ = Evaluate(p, r) })
	if allocs > 2 {
		t.Errorf("Evaluate allocates %.1f times per decision, want <= 2", allocs)
	}
	var res Result
	EvaluateInto(p, r, &res)
	allocs = testing.AllocsPerRun(1000, func() { EvaluateInto(p, r, &res) })
	if allocs != 0 {
		t.Errorf("EvaluateInto with a reused Result allocates %.1f times per decision, want 0", allocs)
	}
	if res.Decision != Allowed || len(res.Matched) != 2 {
		t.Errorf("reused result = %+v", res)
	}
}

func TestEvaluateResultDetails(t *testing.T) {
	p, r := perimeterFixture(t)
	got := Evaluate(p, r)
	want := []MatchedStatement{
		{PolicyType: "vpce", PolicyIndex: 0, Sid: "AllowRequestsByOrgsIdentitiesToOrgsResources", Effect: Allow},
		{PolicyType: "identity", PolicyIndex: 0, Sid: "ReadHome", Effect: Allow},
	}
	if diff := cmp.Diff(want, got.Matched); diff != "" {
		t.Errorf("matched (-want +got):\n%s", diff)
	}
	if got.BlockedBy != nil || got.Message != "" {
		t.Errorf("allowed result has blockedBy %v message %q", got.BlockedBy, got.Message)
	}
}

func TestSimulateInputErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"unknown top-level field", `{"request":{},"policies":{},"extra":1}`, `unknown field "extra"`},
		{"unknown request field", `{"request":{"princpal":"x"},"policies":{}}`, `unknown field "princpal"`},
		{"unknown policies field", `{"request":{},"policies":{"identities":[]}}`, `unknown field "identities"`},
		{"bad context value", `{"request":{"context":{"a:b":{"x":1}}},"policies":{}}`, `request.context["a:b"]`},
		{"bad principal type", `{"request":{"principalType":"robot"},"policies":{}}`, `principalType`},
		{"bad time", `{"request":{"time":"soon"},"policies":{}}`, `request.time`},
		{"invalid policy names its place", `{"request":{},"policies":{"endpoint":[{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}]}}`, `policies.endpoint[0]`},
		{"mixed levels", `{"request":{},"policies":{"scp":[[], {"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}]}}`, `mixes levels`},
		{"not JSON", `nope`, `invalid simulate input`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Simulate([]byte(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("invalid policy is a ValidationError", func(t *testing.T) {
		_, err := Simulate([]byte(`{"request":{},"policies":{"identity":[{"Statement":{"Action":"*","Resource":"*"}}]}}`))
		var verr *ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("err = %v, want *ValidationError", err)
		}
	})
}

func TestSimulateOutputShape(t *testing.T) {
	out, err := Simulate([]byte(`{"request":{"principal":"arn:aws:iam::111111111111:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k",
		"context":{"aws:SourceVpce":"vpce-0a1b2c3d4e5f60718","aws:PrincipalTag/team":["a","b"]}},
		"policies":{"identity":[],"resource":null,"endpoint":[],"scp":[],"rcp":[],"permissionsBoundary":null,"session":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"decision":"ImplicitlyDenied","blockedBy":["identity"],"matchedStatements":[],"message":"User: arn:aws:iam::111111111111:user/alice is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::b/k\" because no identity-based policy allows the s3:GetObject action"}`
	if string(out) != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
}

func TestRequestComplete(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		wantType  PrincipalType
		wantAcct  string
		wantArn   []string // aws:PrincipalArn
		wantUser  []string // aws:username
	}{
		{"user", "arn:aws:iam::111111111111:user/dev/alice", PrincipalUser, "111111111111", []string{"arn:aws:iam::111111111111:user/dev/alice"}, []string{"alice"}},
		{"assumed role", "arn:aws:sts::111111111111:assumed-role/App/s1", PrincipalAssumedRole, "111111111111", []string{"arn:aws:iam::111111111111:role/App"}, nil},
		{"root ARN", "arn:aws:iam::111111111111:root", PrincipalRoot, "111111111111", []string{"arn:aws:iam::111111111111:root"}, nil},
		{"bare account ID", "111111111111", PrincipalRoot, "111111111111", []string{"arn:aws:iam::111111111111:root"}, nil},
		{"federated user", "arn:aws:sts::111111111111:federated-user/Bob", PrincipalFederatedUser, "111111111111", []string{"arn:aws:sts::111111111111:federated-user/Bob"}, nil},
		{"service", "s3.amazonaws.com", PrincipalService, "", nil, nil},
		{"anonymous", "", PrincipalAnonymous, "", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Principal: tc.principal}
			r.Complete()
			r.Complete() // idempotent
			if r.PrincipalType != tc.wantType || r.PrincipalAccount != tc.wantAcct {
				t.Errorf("type %q account %q, want %q %q", r.PrincipalType, r.PrincipalAccount, tc.wantType, tc.wantAcct)
			}
			keys := r.GlobalKeys()
			if diff := cmp.Diff(tc.wantArn, keys["aws:principalarn"]); diff != "" {
				t.Errorf("aws:PrincipalArn (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUser, keys["aws:username"]); diff != "" {
				t.Errorf("aws:username (-want +got):\n%s", diff)
			}
			wantSvc := "false"
			if tc.wantType == PrincipalService {
				wantSvc = "true"
			}
			if got := keys["aws:principalisawsservice"]; len(got) != 1 || got[0] != wantSvc {
				t.Errorf("aws:PrincipalIsAWSService = %v, want %s", got, wantSvc)
			}
		})
	}
}

func TestSetNetwork(t *testing.T) {
	tests := []struct {
		name string
		n    Network
		want map[string][]string
	}{
		{"through an endpoint", Network{EndpointID: "vpce-1", VpcID: "vpc-1", SourceIP: netip.MustParseAddr("10.0.0.5")},
			map[string][]string{"aws:sourcevpce": {"vpce-1"}, "aws:sourcevpc": {"vpc-1"}, "aws:vpcsourceip": {"10.0.0.5"}}},
		{"from the internet", Network{SourceIP: netip.MustParseAddr("::ffff:203.0.113.9")},
			map[string][]string{"aws:sourceip": {"203.0.113.9"}}},
		{"nothing known", Network{}, map[string][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{}
			r.Context.Set("aws:SourceIp", "198.51.100.1") // replaced, never kept alongside endpoint keys
			r.Context.Set("aws:SourceVpce", "vpce-old")
			r.SetNetwork(tc.n)
			got := map[string][]string{}
			for _, k := range r.Context.Keys() {
				got[k], _ = r.Context.Get(k)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("context (-want +got):\n%s", diff)
			}
		})
	}
}

func TestViaAWSServiceAlwaysPresent(t *testing.T) {
	for _, via := range []bool{false, true} {
		t.Run(fmt.Sprint(via), func(t *testing.T) {
			r := &Request{Principal: "arn:aws:iam::111111111111:user/alice", ViaAWSService: via}
			r.Complete()
			if got := r.GlobalKeys()["aws:viaawsservice"]; len(got) != 1 || got[0] != fmt.Sprint(via) {
				t.Errorf("aws:ViaAWSService = %v, want %v", got, via)
			}
		})
	}
}

// TestRequestChangedAfterComplete checks that values derived by Complete are
// not used once their source field changed.
func TestRequestChangedAfterComplete(t *testing.T) {
	p := &Policies{Identity: []*Compiled{mustCompile(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
		"Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/B"},"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}}}`, Identity)}}
	r := &Request{Principal: "arn:aws:sts::111111111111:assumed-role/A/s", Action: "s3:PutObject", Time: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.Complete()
	r.Principal = "arn:aws:sts::111111111111:assumed-role/B/s"
	r.Action = "S3:GETOBJECT"
	r.Time = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := Evaluate(p, r); got.Decision != Allowed {
		t.Fatalf("decision = %v (%s), want Allowed from the changed fields", got.Decision, got.Message)
	}
}
