package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		kind Kind
		want *Policy
	}{
		{
			name: "identity policy with one statement object",
			doc:  `{"Version":"2012-10-17","Statement":{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`,
			kind: Identity,
			want: &Policy{Version: Version2012, Kind: Identity, Statements: []Statement{
				{Sid: "A", Effect: Allow, Action: []string{"s3:GetObject"}, Resource: []string{"arn:aws:s3:::b/*"}},
			}},
		},
		{
			name: "account ID principal becomes root ARN",
			doc:  `{"Statement":[{"Effect":"Deny","Principal":{"AWS":["111111111111","arn:aws:iam::222222222222:user/x"]},"NotAction":"s3:*","NotResource":"*"}]}`,
			kind: Resource,
			want: &Policy{Version: Version2008, Kind: Resource, Statements: []Statement{
				{Effect: Deny, Principal: &Principals{AWS: []string{"arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:user/x"}},
					NotAction: []string{"s3:*"}, NotResource: []string{"*"}},
			}},
		},
		{
			name: "wildcard principal and service principal",
			doc:  `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"*","Resource":"*"}]}`,
			kind: Endpoint,
			want: &Policy{Version: Version2008, Kind: Endpoint, Statements: []Statement{
				{Effect: Allow, Principal: &Principals{Wildcard: true}, Action: []string{"*"}, Resource: []string{"*"}},
				{Effect: Allow, Principal: &Principals{Service: []string{"s3.amazonaws.com"}}, Action: []string{"*"}, Resource: []string{"*"}},
			}},
		},
		{
			name: "conditions are normalised and sorted, scalars kept as text",
			doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
				"numericlessthan":{"s3:max-keys":10},"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*","b"]},"Bool":{"aws:SecureTransport":true}}}}`,
			kind: Identity,
			want: &Policy{Version: Version2012, Kind: Identity, Statements: []Statement{
				{Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}, Conditions: []Condition{
					{Operator: "Bool", Key: "aws:SecureTransport", Values: []string{"true"}},
					{Operator: "ForAnyValue:StringLikeIfExists", Key: "aws:TagKeys", Values: []string{"a*", "b"}},
					{Operator: "NumericLessThan", Key: "s3:max-keys", Values: []string{"10"}},
				}},
			}},
		},
		{
			name: "trust policy needs no resource",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
			kind: Trust,
			want: &Policy{Version: Version2012, Kind: Trust, Statements: []Statement{
				{Effect: Allow, Principal: &Principals{Service: []string{"ec2.amazonaws.com"}}, Action: []string{"sts:AssumeRole"}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.doc), tc.kind)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		kind Kind
		want []string // substrings, one per expected message, in any order
	}{
		{"not JSON", `{`, Identity, []string{"Syntax errors in policy."}},
		{"array at top level", `[]`, Identity, []string{"Syntax errors in policy."}},
		{"missing Statement", `{"Version":"2012-10-17"}`, Identity, []string{"Missing required field Statement"}},
		{"missing Effect", `{"Statement":{"Action":"*","Resource":"*"}}`, Identity, []string{"Missing required field Effect"}},
		{"bad Effect", `{"Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}`, Identity, []string{`Invalid effect: "Permit"`}},
		{"unknown operator", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringFoo":{"a:b":"c"}}}}`, Identity, []string{"Invalid Condition type : StringFoo"}},
		{"unknown top-level element", `{"Statement":[],"Extra":1}`, Identity, []string{"Unknown field Extra"}},
		{"element names are case-sensitive", `{"statement":[]}`, Identity, []string{"Unknown field statement", "Missing required field Statement"}},
		{"principal required in resource policy", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Resource, []string{"Missing required field Principal"}},
		{"principal required in trust policy", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, Trust, []string{"Missing required field Principal"}},
		{"principal forbidden in boundary", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, Boundary, []string{"should not specify a principal"}},
		{"both Action and NotAction", `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}`, Identity, []string{"both Action and NotAction"}},
		{"both Resource and NotResource", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}`, Identity, []string{"both Resource and NotResource"}},
		{"bad ARN", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3"}}`, Identity, []string{`Resource arn:aws:s3 must be in ARN format or "*".`}},
		{"bad CIDR", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}}`, Identity, []string{"Invalid IP address or CIDR"}},
		{"bad date", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2020-13-45"}}}}`, Identity, []string{"Invalid date"}},
		{"bad number", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":"1e"}}}}`, Identity, []string{"Invalid number"}},
		{"bad Bool", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"maybe"}}}}`, Identity, []string{"Invalid boolean"}},
		{"bad Null", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"aws:SecureTransport":"1"}}}}`, Identity, []string{"Invalid boolean"}},
		{"bad base64", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"a:b":"!!"}}}}`, Identity, []string{"Invalid base64"}},
		{"condition value object", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"a:b":{"x":1}}}}}`, Identity, []string{"values must be strings"}},
		{"duplicate Sid", `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}]}`, Identity, []string{"must be unique"}},
		{"several problems reported together", `{"Statement":{"Effect":"Nope","Resource":"x"}}`, Identity,
			[]string{"Invalid effect", "must contain actions", "must be in ARN format"}},
		{"endpoint policy too long", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Sid":"` + strings.Repeat("a", MaxEndpointPolicyChars) + `"}}`,
			Endpoint, []string{"maximum length"}},
		{"NotPrincipal in endpoint policy", `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"*","Resource":"*"}}`, Endpoint, []string{"NotPrincipal"}},
		{"bad account principal", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"*","Resource":"*"}}`, Resource, []string{"Invalid principal"}},
		{"principal string other than star", `{"Statement":{"Effect":"Allow","Principal":"alice","Action":"*","Resource":"*"}}`, Resource, []string{"Invalid principal"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), tc.kind)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v, want *ValidationError", err)
			}
			msgs := Validate([]byte(tc.doc), tc.kind)
			if diff := cmp.Diff(verr.Messages, msgs); diff != "" {
				t.Errorf("Validate and Parse disagree (-parse +validate):\n%s", diff)
			}
			if len(msgs) != len(tc.want) {
				t.Errorf("got %d messages %q, want %d", len(msgs), msgs, len(tc.want))
			}
			for _, w := range tc.want {
				found := false
				for _, m := range msgs {
					found = found || strings.Contains(m, w)
				}
				if !found {
					t.Errorf("no message contains %q; got %q", w, msgs)
				}
			}
		})
	}
}

func TestKinds(t *testing.T) {
	for k := Identity; k <= Trust; k++ {
		t.Run(k.String(), func(t *testing.T) {
			got, err := ParseKind(k.String())
			if err != nil || got != k {
				t.Fatalf("ParseKind(%q) = %v, %v", k.String(), got, err)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := ParseKind("nope"); !errors.Is(err, ErrUnknownKind) {
			t.Fatalf("err = %v, want ErrUnknownKind", err)
		}
	})
}

func TestValidateDocument(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		kind     string
		wantKind Kind
		wantMsgs int
	}{
		{"guessed identity", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "", Identity, 0},
		{"guessed resource from Principal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "", Resource, 0},
		{"guessed resource from NotPrincipal", `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"*","Resource":"*"}}`, "", Resource, 0},
		{"explicit kind overrides guess", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, "identity", Identity, 1},
		{"all messages returned", `{"Statement":{"Effect":"x","Action":"nov","Resource":"bad"}}`, "", Identity, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, msgs, err := ValidateDocument([]byte(tc.doc), tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if k != tc.wantKind || len(msgs) != tc.wantMsgs {
				t.Errorf("got kind %v msgs %q, want kind %v and %d messages", k, msgs, tc.wantKind, tc.wantMsgs)
			}
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		if _, _, err := ValidateDocument([]byte(`{}`), "bogus"); !errors.Is(err, ErrUnknownKind) {
			t.Fatalf("err = %v", err)
		}
	})
}
