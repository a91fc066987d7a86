package iam

import (
	"context"
	"reflect"
	"testing"
)

// perimeter allows s3:GetObject only through one VPC endpoint and denies
// object deletion outright.
const perimeter = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ViaEndpoint",
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::b/*",
      "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    },
    {
      "Sid": "NoDelete",
      "Effect": "Deny",
      "Action": "s3:DeleteObject",
      "Resource": "*"
    }
  ]
}`

func TestSimulateCustomPolicy(t *testing.T) {
	d := newTestDir(t)
	c := as(root(acctA), "iam:SimulateCustomPolicy")
	vpce := func(v string) []ContextEntry {
		return []ContextEntry{{Key: "aws:SourceVpce", Values: []string{v}, Type: "string"}}
	}
	tests := []struct {
		name     string
		in       SimulationInput
		decision string
		matched  []string
		missing  []string
	}{
		{"allowed through the endpoint", SimulationInput{Actions: []string{"s3:GetObject"}, Resources: []string{"arn:aws:s3:::b/k"}, Context: vpce("vpce-1")},
			DecisionAllowed, []string{"PolicyInputList.1"}, []string{}},
		{"other endpoint", SimulationInput{Actions: []string{"s3:GetObject"}, Resources: []string{"arn:aws:s3:::b/k"}, Context: vpce("vpce-2")},
			DecisionImplicitDeny, nil, []string{}},
		{"no endpoint: context value missing", SimulationInput{Actions: []string{"s3:GetObject"}, Resources: []string{"arn:aws:s3:::b/k"}},
			DecisionImplicitDeny, nil, []string{"aws:SourceVpce"}},
		{"explicit deny", SimulationInput{Actions: []string{"s3:DeleteObject"}, Context: vpce("vpce-1")},
			DecisionExplicitDeny, []string{"PolicyInputList.1"}, []string{}},
		{"boundary bounds the grant", SimulationInput{Actions: []string{"s3:GetObject"}, Resources: []string{"arn:aws:s3:::b/k"}, Context: vpce("vpce-1"),
			Boundaries: []string{allowDoc("ec2:*", "*")}}, DecisionImplicitDeny, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Policies = []string{perimeter}
			res, err := d.SimulateCustomPolicy(context.Background(), c, tc.in)
			wantCode(t, err, "")
			if len(res) != 1 {
				t.Fatalf("%d results, want 1", len(res))
			}
			r := res[0]
			if r.Decision != tc.decision {
				t.Errorf("decision = %s, want %s", r.Decision, tc.decision)
			}
			var ids []string
			for _, m := range r.Matched {
				ids = append(ids, m.SourcePolicyID)
				if m.SourcePolicyType != "none" || m.Start == nil || m.End == nil {
					t.Errorf("matched statement %+v lacks type or position", m)
				}
			}
			if !reflect.DeepEqual(ids, tc.matched) {
				t.Errorf("matched = %v, want %v", ids, tc.matched)
			}
			if !reflect.DeepEqual(r.Missing, tc.missing) {
				t.Errorf("missing = %v, want %v", r.Missing, tc.missing)
			}
		})
	}
}

func TestSimulateStatementPositions(t *testing.T) {
	spans := statementSpans(perimeter)
	want := [][2]Position{{{4, 5}, {10, 6}}, {{11, 5}, {16, 6}}}
	if !reflect.DeepEqual(spans, want) {
		t.Errorf("spans = %v, want %v", spans, want)
	}
	if spans := statementSpans(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`); !reflect.DeepEqual(spans, [][2]Position{{{1, 14}, {1, 60}}}) {
		t.Errorf("single statement spans = %v", spans)
	}
}

func TestSimulateInputErrors(t *testing.T) {
	d := newTestDir(t)
	c := as(root(acctA), "iam:SimulateCustomPolicy")
	ok := []string{allowDoc("s3:*", "*")}
	tests := []struct {
		name string
		in   SimulationInput
		code string
	}{
		{"no policies", SimulationInput{Actions: []string{"s3:GetObject"}}, "ValidationError"},
		{"no actions", SimulationInput{Policies: ok}, "ValidationError"},
		{"bad action", SimulationInput{Policies: ok, Actions: []string{"GetObject"}}, "InvalidInput"},
		{"malformed policy", SimulationInput{Policies: []string{"{"}, Actions: []string{"s3:GetObject"}}, "MalformedPolicyDocument"},
		{"bad context type", SimulationInput{Policies: ok, Actions: []string{"s3:GetObject"}, Context: []ContextEntry{{Key: "aws:SourceIp", Values: []string{"x"}, Type: "ip"}}}, "InvalidInput"},
		{"unknown context type", SimulationInput{Policies: ok, Actions: []string{"s3:GetObject"}, Context: []ContextEntry{{Key: "aws:SourceIp", Values: []string{"1.2.3.4"}, Type: "cidr"}}}, "InvalidInput"},
		{"resource policy without caller", SimulationInput{Policies: ok, Actions: []string{"s3:GetObject"}, ResourcePolicy: `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`}, "InvalidInput"},
		{"caller not a user", SimulationInput{Policies: ok, Actions: []string{"s3:GetObject"}, CallerARN: "arn:aws:iam::" + acctA + ":role/r"}, "InvalidInput"},
		{"bad resource owner", SimulationInput{Policies: ok, Actions: []string{"s3:GetObject"}, ResourceOwner: "me"}, "InvalidInput"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.SimulateCustomPolicy(context.Background(), c, tc.in)
			wantCode(t, err, tc.code)
		})
	}
}

func TestSimulateCrossAccountDetails(t *testing.T) {
	d := newTestDir(t)
	c := as(root(acctA), "iam:SimulateCustomPolicy")
	caller := "arn:aws:iam::" + acctA + ":user/alice"
	resPolicy := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"s3:GetObject","Resource":"*"}]}`
	}
	tests := []struct {
		name     string
		resource string
		decision string
		details  map[string]string
	}{
		{"trusted", resPolicy(caller), DecisionAllowed, map[string]string{DetailIdentity: DecisionAllowed, DetailResource: DecisionAllowed}},
		{"not trusted", resPolicy("arn:aws:iam::" + acctB + ":root"), DecisionImplicitDeny, map[string]string{DetailIdentity: DecisionAllowed, DetailResource: DecisionImplicitDeny}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.SimulateCustomPolicy(context.Background(), c, SimulationInput{
				Policies: []string{allowDoc("s3:GetObject", "*")}, Actions: []string{"s3:GetObject"},
				Resources: []string{"arn:aws:s3:::b/k"}, ResourcePolicy: tc.resource, ResourceOwner: "arn:aws:iam::" + acctB + ":root", CallerARN: caller,
			})
			wantCode(t, err, "")
			if res[0].Decision != tc.decision || !reflect.DeepEqual(res[0].Details, tc.details) {
				t.Errorf("got %s %v, want %s %v", res[0].Decision, res[0].Details, tc.decision, tc.details)
			}
		})
	}
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	d := newTestDir(t)
	alice := mustUser(t, d, acctA, "alice", map[string]string{"describe": allowDoc("ec2:Describe*", "*")})
	role := mustRole(t, d, acctA, "app", trustDoc(alice.ARN, ""), 0, map[string]string{"s3": allowDoc("s3:GetObject", "*")})
	c := as(root(acctA), "iam:SimulatePrincipalPolicy")
	tests := []struct {
		name, source, action string
		extra                []string
		decision, matchedID  string
		matchedType          string
		code                 string
	}{
		{"user inline allows", alice.ARN, "ec2:DescribeVpcs", nil, DecisionAllowed, "describe", "user", ""},
		{"user inline does not allow", alice.ARN, "ec2:CreateVpc", nil, DecisionImplicitDeny, "", "", ""},
		{"extra input policy", alice.ARN, "ec2:CreateVpc", []string{allowDoc("ec2:CreateVpc", "*")}, DecisionAllowed, "PolicyInputList.1", "none", ""},
		{"role inline allows", role.ARN(), "s3:GetObject", nil, DecisionAllowed, "s3", "role", ""},
		{"unknown user", "arn:aws:iam::" + acctA + ":user/ghost", "s3:GetObject", nil, "", "", "", "NoSuchEntity"},
		{"other account", "arn:aws:iam::" + acctB + ":user/alice", "s3:GetObject", nil, "", "", "", "NoSuchEntity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.SimulatePrincipalPolicy(context.Background(), c, tc.source, SimulationInput{Actions: []string{tc.action}, Policies: tc.extra})
			wantCode(t, err, tc.code)
			if tc.code != "" {
				return
			}
			r := res[0]
			if r.Decision != tc.decision {
				t.Fatalf("decision = %s, want %s", r.Decision, tc.decision)
			}
			if tc.matchedID == "" {
				if len(r.Matched) != 0 {
					t.Errorf("matched = %+v, want none", r.Matched)
				}
				return
			}
			if len(r.Matched) != 1 || r.Matched[0].SourcePolicyID != tc.matchedID || r.Matched[0].SourcePolicyType != tc.matchedType {
				t.Errorf("matched = %+v, want %s/%s", r.Matched, tc.matchedID, tc.matchedType)
			}
		})
	}
}
