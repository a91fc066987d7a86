package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestIAMUsersRolesAndAssumeRole drives IAM and STS through the Go SDK: a
// user whose inline policy allows ec2:Describe* can describe but not create;
// the same user assumes a role whose trust policy names it, and the session
// credentials authenticate as the assumed role.
func TestIAMUsersRolesAndAssumeRole(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	root := newClients(srv, consumer)
	const acct = "222222222222"

	must[*iam.CreateUserOutput](t)(root.IAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("net")}}}))
	_, err := root.IAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("Alice")})
	wantCode(t, err, "EntityAlreadyExists")
	key := must[*iam.CreateAccessKeyOutput](t)(root.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}))
	if !strings.HasPrefix(aws.ToString(key.AccessKey.AccessKeyId), "AKIA") {
		t.Fatalf("access key id %q", aws.ToString(key.AccessKey.AccessKeyId))
	}
	policyDoc := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
		{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::` + acct + `:role/*"}]}`
	must[*iam.PutUserPolicyOutput](t)(root.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("describe"), PolicyDocument: aws.String(policyDoc)}))
	_, err = root.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":[{"Effect":"Perhaps"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument")
	got := must[*iam.GetUserPolicyOutput](t)(root.IAM.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("describe")}))
	if doc, _ := url.QueryUnescape(aws.ToString(got.PolicyDocument)); doc != policyDoc {
		t.Errorf("GetUserPolicy document = %q", doc)
	}
	users := must[*iam.ListUsersOutput](t)(root.IAM.ListUsers(ctx, &iam.ListUsersInput{}))
	if len(users.Users) != 1 || aws.ToString(users.Users[0].Arn) != "arn:aws:iam::"+acct+":user/alice" || users.IsTruncated {
		t.Fatalf("ListUsers = %+v", users.Users)
	}

	alice := newClients(srv, creds{aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)})
	who := must[*sts.GetCallerIdentityOutput](t)(alice.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(who.Arn) != "arn:aws:iam::"+acct+":user/alice" {
		t.Fatalf("alice is %s", aws.ToString(who.Arn))
	}
	must[*ec2.DescribeVpcsOutput](t)(alice.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))
	_, err = alice.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	wantCode(t, err, "UnauthorizedOperation")
	_, err = alice.IAM.ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")

	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/alice"},"Action":"sts:AssumeRole"}]}`
	_, err = root.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("reader"), AssumeRolePolicyDocument: aws.String(`{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = root.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("reader"), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(60)})
	wantCode(t, err, "ValidationError")
	role := must[*iam.CreateRoleOutput](t)(root.IAM.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("reader"), AssumeRolePolicyDocument: aws.String(trust), Description: aws.String("read only"),
	}))
	if id := aws.ToString(role.Role.RoleId); !strings.HasPrefix(id, "AROA") || aws.ToInt32(role.Role.MaxSessionDuration) != 3600 {
		t.Errorf("role id %q, max session %d", id, aws.ToInt32(role.Role.MaxSessionDuration))
	}
	gr := must[*iam.GetRoleOutput](t)(root.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("reader")}))
	if doc, _ := url.QueryUnescape(aws.ToString(gr.Role.AssumeRolePolicyDocument)); doc != trust {
		t.Errorf("GetRole trust policy = %q", doc)
	}
	must[*iam.PutRolePolicyOutput](t)(root.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("reader"), PolicyName: aws.String("ec2"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)}))
	_, err = root.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("reader")})
	wantCode(t, err, "DeleteConflict")
	_, err = root.IAM.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("reader"), PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/PowerUserAccess")})
	wantCode(t, err, "NoSuchEntity")

	_, err = root.STS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("root")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.STS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("s"), DurationSeconds: aws.Int32(900)})
	wantCode(t, err, "ValidationError")
	_, err = alice.STS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("alice-session"), DurationSeconds: aws.Int32(7200)})
	wantCode(t, err, "ValidationError")
	start := time.Now()
	out := must[*sts.AssumeRoleOutput](t)(alice.STS.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: role.Role.Arn, RoleSessionName: aws.String("alice-session"), DurationSeconds: aws.Int32(900),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`),
	}))
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SessionToken) == "" {
		t.Fatalf("credentials %+v", c)
	}
	if exp := aws.ToTime(c.Expiration); exp.Before(start.Add(890*time.Second)) || exp.After(start.Add(910*time.Second)) {
		t.Errorf("expiration %v, want about 900 s from now", exp)
	}
	wantARN := "arn:aws:sts::" + acct + ":assumed-role/reader/alice-session"
	if aws.ToString(out.AssumedRoleUser.Arn) != wantARN || aws.ToString(out.AssumedRoleUser.AssumedRoleId) != aws.ToString(role.Role.RoleId)+":alice-session" {
		t.Errorf("assumed role user %+v", out.AssumedRoleUser)
	}
	if out.PackedPolicySize == nil {
		t.Errorf("PackedPolicySize missing with a session policy")
	}

	cfg := awsConfig(srv, consumer, "us-east-1")
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	session := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(session.Arn) != wantARN {
		t.Fatalf("session identity %s, want %s", aws.ToString(session.Arn), wantARN)
	}
	// The role allows ec2:*, the session policy only ec2:Describe*.
	sessEC2 := ec2.NewFromConfig(cfg)
	must[*ec2.DescribeVpcsOutput](t)(sessEC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))
	_, err = sessEC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	wantCode(t, err, "UnauthorizedOperation")

	// Without the session token, the key is not valid.
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), "")
	_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

// TestIAMSimulateCustomPolicy checks a data-perimeter identity policy
// (aws:SourceVpce) through SimulateCustomPolicy with context entries.
func TestIAMSimulateCustomPolicy(t *testing.T) {
	srv := startServer(t, "")
	ctx := context.Background()
	root := newClients(srv, consumer)
	doc := `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ViaEndpoint", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
     "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}},
    {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
  ]
}`
	entry := func(v string) []iamtypes.ContextEntry {
		return []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:SourceVpce"), ContextKeyValues: []string{v}, ContextKeyType: iamtypes.ContextKeyTypeEnumString}}
	}
	tests := []struct {
		name     string
		action   string
		context  []iamtypes.ContextEntry
		decision iamtypes.PolicyEvaluationDecisionType
		matched  int
		missing  []string
	}{
		{"through the endpoint", "s3:GetObject", entry("vpce-1"), iamtypes.PolicyEvaluationDecisionTypeAllowed, 1, nil},
		{"through another endpoint", "s3:GetObject", entry("vpce-2"), iamtypes.PolicyEvaluationDecisionTypeImplicitDeny, 0, nil},
		{"no endpoint", "s3:GetObject", nil, iamtypes.PolicyEvaluationDecisionTypeImplicitDeny, 0, []string{"aws:SourceVpce"}},
		{"denied outright", "s3:DeleteObject", entry("vpce-1"), iamtypes.PolicyEvaluationDecisionTypeExplicitDeny, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := must[*iam.SimulateCustomPolicyOutput](t)(root.IAM.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
				PolicyInputList: []string{doc}, ActionNames: []string{tc.action},
				ResourceArns: []string{"arn:aws:s3:::b/k"}, ContextEntries: tc.context,
			}))
			if len(out.EvaluationResults) != 1 || out.IsTruncated {
				t.Fatalf("%d results, truncated %v", len(out.EvaluationResults), out.IsTruncated)
			}
			r := out.EvaluationResults[0]
			if r.EvalDecision != tc.decision || aws.ToString(r.EvalActionName) != tc.action || aws.ToString(r.EvalResourceName) != "arn:aws:s3:::b/k" {
				t.Errorf("result %s %s %s, want %s", aws.ToString(r.EvalActionName), aws.ToString(r.EvalResourceName), r.EvalDecision, tc.decision)
			}
			if len(r.MatchedStatements) != tc.matched {
				t.Fatalf("matched %d statements, want %d", len(r.MatchedStatements), tc.matched)
			}
			for _, m := range r.MatchedStatements {
				if aws.ToString(m.SourcePolicyId) != "PolicyInputList.1" || m.StartPosition == nil || m.StartPosition.Line < 4 {
					t.Errorf("matched statement %s at %+v", aws.ToString(m.SourcePolicyId), m.StartPosition)
				}
			}
			if strings.Join(r.MissingContextValues, ",") != strings.Join(tc.missing, ",") {
				t.Errorf("missing context values %v, want %v", r.MissingContextValues, tc.missing)
			}
		})
	}
	_, err := root.IAM.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{PolicyInputList: []string{"{"}, ActionNames: []string{"s3:GetObject"}})
	wantCode(t, err, "MalformedPolicyDocument")
}
