package iam

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

const testYAML = `
accounts:
  - id: "111111111111"
    name: a
    access_keys: [{id: AKIAAAAAAAAAAAAAAAA1, secret: a-secret}]
  - id: "222222222222"
    name: b
    access_keys: [{id: AKIABBBBBBBBBBBBBBB1, secret: b-secret}]
`

// newTestDir opens a directory over real bbolt in a temp dir with two accounts.
func newTestDir(t *testing.T) *Directory {
	t.Helper()
	backend, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), backend, Kinds(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg, err := config.Parse([]byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	d := New(db, nil)
	if _, err := d.Bootstrap(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return d
}

func root(account string) *cloud.Principal {
	return &cloud.Principal{AccountID: account, Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN(account), UserID: account}
}

func as(p *cloud.Principal, action string) Caller { return Caller{Principal: p, Action: action} }

// mustUser creates a user with inline policies (name → document) and
// returns its principal.
func mustUser(t *testing.T, d *Directory, account, name string, policies map[string]string) *cloud.Principal {
	t.Helper()
	ctx := context.Background()
	if _, err := d.CreateUser(ctx, as(root(account), "iam:CreateUser"), name, "", "", nil); err != nil {
		t.Fatal(err)
	}
	for pn, doc := range policies {
		if err := d.PutPolicy(ctx, as(root(account), "iam:PutUserPolicy"), PolicyHolder{Name: name}, pn, doc); err != nil {
			t.Fatal(err)
		}
	}
	k, err := d.CreateAccessKey(ctx, as(root(account), "iam:CreateAccessKey"), name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.PrincipalForKey(k.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRole(t *testing.T, d *Directory, account, name, trust string, maxSession int, policies map[string]string) *cloud.Role {
	t.Helper()
	ctx := context.Background()
	r, err := d.CreateRole(ctx, as(root(account), "iam:CreateRole"), RoleInput{Name: name, AssumeRolePolicy: trust, MaxSessionDuration: maxSession})
	if err != nil {
		t.Fatal(err)
	}
	for pn, doc := range policies {
		if err := d.PutPolicy(ctx, as(root(account), "iam:PutRolePolicy"), PolicyHolder{Role: true, Name: name}, pn, doc); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// wantCode fails unless err is a *cloud.Error with code (or nil for "").
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	e, ok := cloud.AsError(err)
	if !ok || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func fixedClock(t0 time.Time) (func() time.Time, func(time.Duration)) {
	now := t0
	return func() time.Time { return now }, func(d time.Duration) { now = now.Add(d) }
}

func allowDoc(action, resource string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"}]}`
}

func trustDoc(principal string, cond string) string {
	c := ""
	if cond != "" {
		c = `,"Condition":` + cond
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"sts:AssumeRole"` + c + `}]}`
}
