package controlplane

import (
	"context"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

// newTestCP returns a control plane over a real bbolt store in a temp dir,
// modelling us-east-1.
func newTestCP(t *testing.T) *ControlPlane {
	t.Helper()
	b, err := bolt.Open(t.TempDir() + "/state.db")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), b, Kinds(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, _ := cloud.NewRegion("us-east-1")
	cp, err := New(Config{DB: db, Regions: []cloud.Region{r}})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// rootCall is a call by account's root user in us-east-1.
func rootCall(account, action string) *Call {
	return &Call{
		Caller: &cloud.Principal{AccountID: account, Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN(account), UserID: account},
		Region: "us-east-1",
		Action: action,
	}
}

// errCode returns the AWS code of err, "" for nil or a non-AWS error.
func errCode(err error) string {
	if e, ok := cloud.AsError(err); ok {
		return e.Code
	}
	return ""
}

// mustVpc creates a VPC for tests.
func mustVpc(t *testing.T, cp *ControlPlane, account, cidr string) *cloud.Vpc {
	t.Helper()
	v, err := cp.CreateVpc(context.Background(), rootCall(account, "ec2:CreateVpc"), CreateVpcInput{CidrBlock: cidr})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
