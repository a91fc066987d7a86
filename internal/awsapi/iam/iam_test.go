package iam

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/iam"
)

func TestPage(t *testing.T) {
	items := []string{"e", "a", "d", "c", "b"}
	marker := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name      string
		params    awsapi.Params
		want      []string
		truncated bool
		next      string
		code      string
	}{
		{"all", awsapi.Params{}, []string{"a", "b", "c", "d", "e"}, false, "", ""},
		{"first page", awsapi.Params{"MaxItems": "2"}, []string{"a", "b"}, true, marker("c"), ""},
		{"middle page", awsapi.Params{"MaxItems": "2", "Marker": marker("c")}, []string{"c", "d"}, true, marker("e"), ""},
		{"last page", awsapi.Params{"MaxItems": "2", "Marker": marker("e")}, []string{"e"}, false, "", ""},
		{"max items zero", awsapi.Params{"MaxItems": "0"}, nil, false, "", "ValidationError"},
		{"max items too large", awsapi.Params{"MaxItems": "1001"}, nil, false, "", "ValidationError"},
		{"max items not a number", awsapi.Params{"MaxItems": "x"}, nil, false, "", "ValidationError"},
		{"bad marker", awsapi.Params{"Marker": "!!"}, nil, false, "", "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, truncated, next, err := page(tc.params, append([]string(nil), items...), func(s string) string { return s })
			if tc.code != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.code) {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) || truncated != tc.truncated || next != tc.next {
				t.Errorf("page = %v %v %q %v, want %v %v %q", got, truncated, next, err, tc.want, tc.truncated, tc.next)
			}
		})
	}
}

func TestSimulateResultXML(t *testing.T) {
	allowed := true
	res := []iam.EvalResult{{
		Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Decision: iam.DecisionAllowed,
		Matched:           []iam.MatchedStatement{{SourcePolicyID: "PolicyInputList.1", SourcePolicyType: "none", Start: &iam.Position{Line: 2, Column: 3}, End: &iam.Position{Line: 4, Column: 5}}},
		Missing:           []string{},
		Details:           map[string]string{iam.DetailResource: iam.DecisionAllowed, iam.DetailIdentity: iam.DecisionAllowed},
		AllowedByBoundary: &allowed, ResourceSpecific: true,
	}, {Action: "s3:PutObject", Resource: "*", Decision: iam.DecisionImplicitDeny, Missing: []string{"aws:SourceVpce"}}}
	body, err := simulateXML(awsapi.Params{}, res)
	if err != nil {
		t.Fatal(err)
	}
	out, err := awsapi.EncodeResponse(awsapi.ProtocolQuery, Xmlns, "SimulateCustomPolicy", "req-1", body)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"<SimulateCustomPolicyResult><EvaluationResults><member><EvalActionName>s3:GetObject</EvalActionName>",
		"<MatchedStatements><member><SourcePolicyId>PolicyInputList.1</SourcePolicyId><SourcePolicyType>none</SourcePolicyType><StartPosition><Line>2</Line><Column>3</Column></StartPosition>",
		"<EvalDecisionDetails><entry><key>IAM Policy</key><value>allowed</value></entry><entry><key>Resource Policy</key><value>allowed</value></entry></EvalDecisionDetails>",
		"<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>true</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>",
		"<ResourceSpecificResults><member><EvalResourceName>arn:aws:s3:::b/k</EvalResourceName><EvalResourceDecision>allowed</EvalResourceDecision>",
		"<EvalDecision>implicitDeny</EvalDecision><MatchedStatements></MatchedStatements><MissingContextValues><member>aws:SourceVpce</member></MissingContextValues></member>",
		"<IsTruncated>false</IsTruncated></SimulateCustomPolicyResult>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("response lacks %s\n%s", want, s)
		}
	}
	if strings.Count(s, "<EvalDecisionDetails>") != 2 {
		t.Errorf("EvalDecisionDetails must be absent for resource *:\n%s", s)
	}
}
