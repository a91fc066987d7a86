package iam

import (
	"context"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
)

func TestUserNamesAreUniqueIgnoringCase(t *testing.T) {
	d := newTestDir(t)
	ctx := context.Background()
	c := as(root(acctA), "iam:CreateUser")
	if _, err := d.CreateUser(ctx, c, "Alice", "", "", nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		_, err := d.CreateUser(ctx, c, name, "", "", nil)
		if e, ok := cloud.AsError(err); !ok || e.Code != "EntityAlreadyExists" {
			t.Errorf("CreateUser(%q) = %v, want EntityAlreadyExists", name, err)
		}
	}
	// Another account may use the same name.
	if _, err := d.CreateUser(ctx, as(root(acctB), "iam:CreateUser"), "alice", "", "", nil); err != nil {
		t.Errorf("another account's alice: %v", err)
	}
	// A deleted name is free again.
	if err := d.DeleteUser(ctx, as(root(acctA), "iam:DeleteUser"), "Alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, c, "ALICE", "", "", nil); err != nil {
		t.Errorf("re-create after delete: %v", err)
	}
}
