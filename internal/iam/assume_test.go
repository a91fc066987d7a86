package iam

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
)

func TestAssumeRoleDecisions(t *testing.T) {
	d := newTestDir(t)
	aRoot := "arn:aws:iam::" + acctA + ":root"
	alice := mustUser(t, d, acctA, "alice", nil)
	bob := mustUser(t, d, acctA, "bob", map[string]string{"assume": allowDoc("sts:AssumeRole", "*")})
	carol := mustUser(t, d, acctA, "carol", map[string]string{
		"assume": allowDoc("sts:AssumeRole", "*"),
		"deny":   `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::` + acctA + `:role/acct"}]}`,
	})
	mustRole(t, d, acctA, "direct", trustDoc(alice.ARN, ""), 0, nil)
	mustRole(t, d, acctA, "acct", trustDoc(aRoot, ""), 0, nil)
	mustRole(t, d, acctA, "ext", trustDoc(aRoot, `{"StringEquals":{"sts:ExternalId":"xyz"}}`), 0, nil)
	mustRole(t, d, acctB, "cross", trustDoc(aRoot, ""), 0, nil)
	mustRole(t, d, acctB, "local", trustDoc("arn:aws:iam::"+acctB+":root", ""), 0, nil)
	roleARN := func(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }

	tests := []struct {
		name   string
		caller *cloud.Principal
		in     AssumeRoleInput
		code   string
	}{
		{"trust names the user: no identity policy needed", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct")}, ""},
		{"trust names the account: identity policy needed", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "acct")}, "AccessDenied"},
		{"trust names the account, identity allows", bob, AssumeRoleInput{RoleARN: roleARN(acctA, "acct")}, ""},
		{"identity allows but trust does not name the caller", bob, AssumeRoleInput{RoleARN: roleARN(acctA, "direct")}, "AccessDenied"},
		{"explicit deny in identity policy", carol, AssumeRoleInput{RoleARN: roleARN(acctA, "acct")}, "AccessDenied"},
		{"external id missing", bob, AssumeRoleInput{RoleARN: roleARN(acctA, "ext")}, "AccessDenied"},
		{"external id wrong", bob, AssumeRoleInput{RoleARN: roleARN(acctA, "ext"), ExternalID: "abc"}, "AccessDenied"},
		{"external id right", bob, AssumeRoleInput{RoleARN: roleARN(acctA, "ext"), ExternalID: "xyz"}, ""},
		{"cross-account: trust and identity allow", bob, AssumeRoleInput{RoleARN: roleARN(acctB, "cross")}, ""},
		{"cross-account: identity does not allow", alice, AssumeRoleInput{RoleARN: roleARN(acctB, "cross")}, "AccessDenied"},
		{"cross-account: trust does not allow", bob, AssumeRoleInput{RoleARN: roleARN(acctB, "local")}, "AccessDenied"},
		{"root refused", root(acctA), AssumeRoleInput{RoleARN: roleARN(acctA, "direct")}, "AccessDenied"},
		{"role does not exist", bob, AssumeRoleInput{RoleARN: roleARN(acctA, "ghost")}, "AccessDenied"},
		{"role ARN with wrong path", alice, AssumeRoleInput{RoleARN: "arn:aws:iam::" + acctA + ":role/x/direct"}, "AccessDenied"},
		{"malformed role ARN", alice, AssumeRoleInput{RoleARN: "arn:aws:s3:::bucket/role/direct"}, "ValidationError"},
		{"duration too short", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), DurationSeconds: 899}, "ValidationError"},
		{"duration above IAM maximum", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), DurationSeconds: 43201}, "ValidationError"},
		{"duration above role maximum", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), DurationSeconds: 3601}, "ValidationError"},
		{"duration minimum", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), DurationSeconds: 900}, ""},
		{"session name too short", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), SessionName: "a"}, "ValidationError"},
		{"session name bad characters", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), SessionName: "a b"}, "ValidationError"},
		{"session policy malformed", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), Policy: `{"Statement":[]`}, "MalformedPolicyDocument"},
		{"session policy too large", alice, AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), Policy: bigPolicy(2100)}, "PackedPolicyTooLarge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.SessionName == "" {
				tc.in.SessionName = "sess"
			}
			s, err := d.AssumeRole(context.Background(), tc.caller, tc.in)
			wantCode(t, err, tc.code)
			if tc.code == "AccessDenied" && tc.caller.Type != cloud.PrincipalRoot {
				want := "User: " + tc.caller.ARN + " is not authorized to perform: sts:AssumeRole on resource: " + tc.in.RoleARN
				if e, _ := cloud.AsError(err); e.Message != want || e.Status != 403 {
					t.Errorf("message = %q (status %d), want %q", e.Message, e.Status, want)
				}
			}
			if tc.code != "" {
				return
			}
			if !strings.HasPrefix(s.Key.ID, "ASIA") || len(s.Key.SessionToken) < 100 || s.Key.Secret == "" {
				t.Errorf("bad credentials: %+v", s.Key)
			}
			wantARN := "arn:aws:sts::" + s.Role.AccountID + ":assumed-role/" + s.Role.RoleName + "/" + tc.in.SessionName
			if s.ARN != wantARN || s.AssumedRoleID != s.Role.RoleID+":"+tc.in.SessionName {
				t.Errorf("session = %s %s, want %s", s.ARN, s.AssumedRoleID, wantARN)
			}
			p, err := d.PrincipalForKey(s.Key.ID)
			if err != nil || p.ARN != wantARN || p.Type != cloud.PrincipalAssumedRole {
				t.Errorf("principal of the session key = %+v, %v", p, err)
			}
		})
	}
	if msg := func() string {
		_, err := d.AssumeRole(context.Background(), root(acctA), AssumeRoleInput{RoleARN: roleARN(acctA, "direct"), SessionName: "s1"})
		e, _ := cloud.AsError(err)
		return e.Message
	}(); msg != "Roles may not be assumed by root accounts." {
		t.Errorf("root refusal message = %q", msg)
	}
}

func bigPolicy(n int) string {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"ec2:DescribeVpcs"`)
	}
	b.WriteString(`],"Resource":"*"}]}`)
	return b.String()
}

func TestRoleChainingLimit(t *testing.T) {
	d := newTestDir(t)
	alice := mustUser(t, d, acctA, "alice", nil)
	first := mustRole(t, d, acctA, "first", trustDoc(alice.ARN, ""), 0, map[string]string{"chain": allowDoc("sts:AssumeRole", "*")})
	mustRole(t, d, acctA, "second", trustDoc(first.ARN(), ""), 43200, nil)
	s, err := d.AssumeRole(context.Background(), alice, AssumeRoleInput{RoleARN: first.ARN(), SessionName: "one"})
	wantCode(t, err, "")
	sessionP, err := d.PrincipalForKey(s.Key.ID)
	wantCode(t, err, "")
	second := "arn:aws:iam::" + acctA + ":role/second"
	_, err = d.AssumeRole(context.Background(), sessionP, AssumeRoleInput{RoleARN: second, SessionName: "two", DurationSeconds: 7200})
	wantCode(t, err, "ValidationError")
	_, err = d.AssumeRole(context.Background(), sessionP, AssumeRoleInput{RoleARN: second, SessionName: "two", DurationSeconds: 3600})
	wantCode(t, err, "")
}

// TestSessionPolicyBoundsSession checks that a session policy limits what
// the role's own policies allow.
func TestSessionPolicyBoundsSession(t *testing.T) {
	d := newTestDir(t)
	alice := mustUser(t, d, acctA, "alice", nil)
	role := mustRole(t, d, acctA, "ops", trustDoc(alice.ARN, ""), 0, map[string]string{"ec2": allowDoc("ec2:*", "*")})
	authz := NewAuthorizer(d)
	tests := []struct {
		name          string
		sessionPolicy string
		action        string
		code          string
	}{
		{"no session policy: role allows", "", "ec2:CreateVpc", ""},
		{"session policy allows describe", allowDoc("ec2:Describe*", "*"), "ec2:DescribeVpcs", ""},
		{"session policy bounds create", allowDoc("ec2:Describe*", "*"), "ec2:CreateVpc", "UnauthorizedOperation"},
		{"session policy cannot grant beyond the role", allowDoc("s3:*", "*"), "s3:GetObject", "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := d.AssumeRole(context.Background(), alice, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "s1", Policy: tc.sessionPolicy})
			wantCode(t, err, "")
			if (tc.sessionPolicy == "") != (s.PackedPolicySize < 0) {
				t.Errorf("PackedPolicySize = %d", s.PackedPolicySize)
			}
			p, err := d.PrincipalForKey(s.Key.ID)
			wantCode(t, err, "")
			wantCode(t, authz.Authorize(context.Background(), p, tc.action, "*"), tc.code)
		})
	}
}

func TestSessionExpiryAndPurge(t *testing.T) {
	d := newTestDir(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now, advance := fixedClock(t0)
	d.SetClock(now)
	alice := mustUser(t, d, acctA, "alice", nil)
	role := mustRole(t, d, acctA, "short", trustDoc(alice.ARN, ""), 0, nil)
	s, err := d.AssumeRole(context.Background(), alice, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "s1", DurationSeconds: 900})
	wantCode(t, err, "")
	if !s.Key.Expiration.Equal(t0.Add(900 * time.Second)) {
		t.Fatalf("Expiration = %v, want %v", s.Key.Expiration, t0.Add(900*time.Second))
	}
	auth := func(token string, at time.Time) error {
		_, _, err := d.Authenticate(context.Background(), s.Key.ID, token, at)
		return err
	}
	steps := []struct {
		name  string
		token string
		at    time.Duration
		want  error
	}{
		{"valid at issue", s.Key.SessionToken, 0, nil},
		{"valid a second before expiry", s.Key.SessionToken, 899 * time.Second, nil},
		{"expired at expiry", s.Key.SessionToken, 900 * time.Second, cloud.ErrExpiredToken},
		{"wrong token", "nope", 0, cloud.ErrUnknownAccessKey},
		{"no token", "", 0, cloud.ErrUnknownAccessKey},
	}
	for _, st := range steps {
		if err := auth(st.token, t0.Add(st.at)); !errors.Is(err, st.want) {
			t.Errorf("%s: Authenticate = %v, want %v", st.name, err, st.want)
		}
	}
	n, err := d.PurgeExpiredKeys(context.Background(), t0.Add(899*time.Second))
	if err != nil || n != 0 {
		t.Fatalf("early purge = %d, %v", n, err)
	}
	advance(901 * time.Second)
	n, err = d.PurgeExpiredKeys(context.Background(), now())
	if err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1", n, err)
	}
	if err := auth(s.Key.SessionToken, t0); !errors.Is(err, cloud.ErrUnknownAccessKey) {
		t.Errorf("purged key still authenticates: %v", err)
	}
}
