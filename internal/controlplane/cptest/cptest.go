// Package cptest builds a control plane over a real store for other
// packages' tests.
package cptest

import (
	"context"
	"maps"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

// Region is the one region of the control plane New returns.
const Region = "us-east-1"

// New returns a control plane in Region over a bbolt store in a temporary
// directory, closed when the test ends. extra adds record kinds other
// packages keep in the same store (IAM's, say).
func New(t testing.TB, extra ...store.Kinds) (*controlplane.ControlPlane, *store.DB) {
	t.Helper()
	b, err := bolt.Open(t.TempDir() + "/state.db")
	if err != nil {
		t.Fatal(err)
	}
	kinds := controlplane.Kinds()
	for _, k := range extra {
		maps.Copy(kinds, k)
	}
	db, err := store.Open(context.Background(), b, kinds, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r, err := cloud.NewRegion(Region)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.New(controlplane.Config{DB: db, Regions: []cloud.Region{r}})
	if err != nil {
		t.Fatal(err)
	}
	return cp, db
}
