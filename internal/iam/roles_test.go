package iam

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
)

func TestCreateRoleValidation(t *testing.T) {
	d := newTestDir(t)
	mustUser(t, d, acctA, "alice", nil)
	mustRole(t, d, acctA, "Existing", trustDoc("arn:aws:iam::"+acctA+":root", ""), 0, nil)
	good := trustDoc("arn:aws:iam::"+acctA+":user/alice", "")
	tests := []struct {
		name string
		in   RoleInput
		code string
	}{
		{"ok", RoleInput{Name: "ok", AssumeRolePolicy: good}, ""},
		{"ok with path and max", RoleInput{Name: "ok2", Path: "/team/", AssumeRolePolicy: good, MaxSessionDuration: 43200}, ""},
		{"missing name", RoleInput{AssumeRolePolicy: good}, "ValidationError"},
		{"bad name", RoleInput{Name: "bad name", AssumeRolePolicy: good}, "ValidationError"},
		{"bad path", RoleInput{Name: "p", Path: "team", AssumeRolePolicy: good}, "ValidationError"},
		{"missing trust", RoleInput{Name: "t"}, "ValidationError"},
		{"trust not json", RoleInput{Name: "t", AssumeRolePolicy: "{"}, "MalformedPolicyDocument"},
		{"trust without principal", RoleInput{Name: "t", AssumeRolePolicy: allowDoc("sts:AssumeRole", "*")}, "MalformedPolicyDocument"},
		{"trust names unknown user", RoleInput{Name: "t", AssumeRolePolicy: trustDoc("arn:aws:iam::"+acctA+":user/nobody", "")}, "MalformedPolicyDocument"},
		{"max session too small", RoleInput{Name: "m", AssumeRolePolicy: good, MaxSessionDuration: 900}, "ValidationError"},
		{"max session too large", RoleInput{Name: "m", AssumeRolePolicy: good, MaxSessionDuration: 43201}, "ValidationError"},
		{"boundary arn", RoleInput{Name: "b", AssumeRolePolicy: good, BoundaryARN: "arn:aws:iam::" + acctA + ":policy/b"}, "NoSuchEntity"},
		{"reserved tag", RoleInput{Name: "tg", AssumeRolePolicy: good, Tags: cloud.Tags{{Key: "aws:x", Value: "1"}}}, "InvalidInput"},
		{"duplicate, other case", RoleInput{Name: "EXISTING", AssumeRolePolicy: good}, "EntityAlreadyExists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := d.ListRoles(context.Background(), as(root(acctA), "iam:ListRoles"), "")
			r, err := d.CreateRole(context.Background(), as(root(acctA), "iam:CreateRole"), tc.in)
			wantCode(t, err, tc.code)
			after, _ := d.ListRoles(context.Background(), as(root(acctA), "iam:ListRoles"), "")
			if tc.code != "" {
				if len(after) != len(before) {
					t.Fatalf("failed CreateRole changed state: %d roles, then %d", len(before), len(after))
				}
				return
			}
			if len(r.RoleID) != 21 || r.RoleID[:4] != "AROA" {
				t.Errorf("RoleID = %q, want AROA + 17", r.RoleID)
			}
			wantMax := tc.in.MaxSessionDuration
			if wantMax == 0 {
				wantMax = 3600
			}
			if r.MaxSessionDuration != wantMax {
				t.Errorf("MaxSessionDuration = %d, want %d", r.MaxSessionDuration, wantMax)
			}
		})
	}
}

func TestRoleLifecycle(t *testing.T) {
	d := newTestDir(t)
	ctx := context.Background()
	c := func(action string) Caller { return as(root(acctA), action) }
	trust := trustDoc("arn:aws:iam::"+acctA+":root", "")
	mustRole(t, d, acctA, "app", trust, 0, map[string]string{"p": allowDoc("ec2:*", "*")})

	r, err := d.GetRole(ctx, c("iam:GetRole"), "app")
	wantCode(t, err, "")
	if got, _ := url.QueryUnescape(EncodedTrustPolicy(r)); got != trust {
		t.Errorf("encoded trust policy does not decode to the document: %q", got)
	}
	_, err = d.GetRole(ctx, c("iam:GetRole"), "nope")
	wantCode(t, err, "NoSuchEntity")
	_, err = d.GetRole(ctx, as(root(acctB), "iam:GetRole"), "app")
	wantCode(t, err, "NoSuchEntity")

	wantCode(t, d.UpdateAssumeRolePolicy(ctx, c("iam:UpdateAssumeRolePolicy"), "app", "not json"), "MalformedPolicyDocument")
	next := trustDoc("arn:aws:iam::"+acctB+":root", "")
	wantCode(t, d.UpdateAssumeRolePolicy(ctx, c("iam:UpdateAssumeRolePolicy"), "app", next), "")
	if r, _ := d.GetRole(ctx, c("iam:GetRole"), "app"); r.AssumeRolePolicy != next {
		t.Errorf("trust policy not updated")
	}
	wantCode(t, d.PutPermissionsBoundary(ctx, c("iam:PutRolePermissionsBoundary"), PolicyHolder{Role: true, Name: "app"}, "arn:aws:iam::aws:policy/PowerUserAccess"), "NoSuchEntity")
	wantCode(t, d.PutPermissionsBoundary(ctx, c("iam:PutRolePermissionsBoundary"), PolicyHolder{Role: true, Name: "ghost"}, "arn:aws:iam::aws:policy/PowerUserAccess"), "NoSuchEntity")

	// A session of the role dies with it.
	d.SetClock(func() time.Time { return time.Now() })
	wantCode(t, d.DeleteRole(ctx, c("iam:DeleteRole"), "app"), "DeleteConflict")
	wantCode(t, d.DeletePolicy(ctx, c("iam:DeleteRolePolicy"), PolicyHolder{Role: true, Name: "app"}, "p"), "")
	wantCode(t, d.DeleteRole(ctx, c("iam:DeleteRole"), "app"), "")
	wantCode(t, d.DeleteRole(ctx, c("iam:DeleteRole"), "app"), "NoSuchEntity")
}

// TestNonRootCallersDoNotDeadlock checks that rules which authorize a
// non-root caller inside a store write complete (store locks are not
// re-entrant; authorization reads the identity snapshot).
func TestNonRootCallersDoNotDeadlock(t *testing.T) {
	d := newTestDir(t)
	admin := mustUser(t, d, acctA, "admin", map[string]string{"all": allowDoc("iam:*", "*")})
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		if _, err := d.CreateRole(ctx, as(admin, "iam:CreateRole"), RoleInput{Name: "r", AssumeRolePolicy: trustDoc("arn:aws:iam::"+acctA+":root", "")}); err != nil {
			done <- err
			return
		}
		if err := d.PutPolicy(ctx, as(admin, "iam:PutRolePolicy"), PolicyHolder{Role: true, Name: "r"}, "p", allowDoc("s3:*", "*")); err != nil {
			done <- err
			return
		}
		_, err := d.CreateAccessKey(ctx, as(admin, "iam:CreateAccessKey"), "")
		done <- err
	}()
	select {
	case err := <-done:
		wantCode(t, err, "")
	case <-time.After(10 * time.Second):
		t.Fatal("IAM calls by a user did not complete: authorization deadlocked on the store")
	}
	// And the snapshot follows changes: without the policy, refused.
	wantCode(t, d.DeletePolicy(context.Background(), as(root(acctA), "iam:DeleteUserPolicy"), PolicyHolder{Name: "admin"}, "all"), "")
	_, err := d.CreateRole(context.Background(), as(admin, "iam:CreateRole"), RoleInput{Name: "r2", AssumeRolePolicy: trustDoc("arn:aws:iam::"+acctA+":root", "")})
	wantCode(t, err, "AccessDenied")
}
