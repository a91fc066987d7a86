package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

type item struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

var kinds = store.Kinds{"item": func() any { return new(item) }}

func open(t *testing.T, path string) *store.DB {
	t.Helper()
	b, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), b, kinds, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestUpdateIsAtomicAndDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := open(t, path)

	if err := db.Update(ctx, func(tx *store.Tx) error {
		tx.Put("item", "a", &item{Name: "a", N: 1})
		tx.Put("item", "b", &item{Name: "b", N: 2})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := db.Update(ctx, func(tx *store.Tx) error {
		tx.Put("item", "c", &item{Name: "c"})
		tx.Delete("item", "a")
		if _, ok := store.Get[item](tx, "item", "c"); !ok {
			t.Error("a transaction must read its own writes")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want boom", err)
	}
	check := func(db *store.DB) {
		t.Helper()
		db.View(func(tx *store.Tx) error {
			got := store.List[item](tx, "item", nil)
			if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
				t.Errorf("items = %+v, want a and b only", got)
			}
			return nil
		})
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := open(t, path)
	defer db2.Close()
	check(db2)
}

func TestConcurrentWritesAllPersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db := open(t, path)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := db.Update(ctx, func(tx *store.Tx) error {
					tx.Put("item", id, &item{Name: id})
					return nil
				}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	db.Close()
	db2 := open(t, path)
	defer db2.Close()
	db2.View(func(tx *store.Tx) error {
		if n := tx.Count("item"); n != 16*50 {
			t.Errorf("count = %d, want %d", n, 16*50)
		}
		return nil
	})
}

func TestWatchSeesCommittedChangesOnly(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer db.Close()
	var events []store.Event
	db.Watch(func(e store.Event) { events = append(events, e) })
	db.Update(ctx, func(tx *store.Tx) error { tx.Put("item", "x", &item{}); return nil })
	db.Update(ctx, func(tx *store.Tx) error { tx.Put("item", "y", &item{}); return errors.New("no") })
	db.Update(ctx, func(tx *store.Tx) error { tx.Delete("item", "x"); return nil })
	if len(events) != 2 || events[0].ID != "x" || events[0].Value == nil || events[1].Value != nil {
		t.Fatalf("events = %+v, want put x then delete x", events)
	}
}

func TestIndexFollowsWritesAndTransactions(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer db.Close()
	put := func(id, name string) {
		t.Helper()
		if err := db.Update(ctx, func(tx *store.Tx) error { tx.Put("item", id, &item{Name: name}); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "red")
	db.AddIndex("item", "name", func(v any) []string { return []string{v.(*item).Name} })
	put("b", "red")
	put("c", "blue")
	lookup := func(tx *store.Tx, key string) []string {
		ids, ok := tx.Lookup("item", "name", key)
		if !ok {
			t.Fatal("index missing")
		}
		return ids
	}
	db.View(func(tx *store.Tx) error {
		if got := lookup(tx, "red"); fmt.Sprint(got) != "[a b]" {
			t.Errorf("red = %v, want [a b] (existing and new records)", got)
		}
		return nil
	})
	put("a", "blue")
	db.Update(ctx, func(tx *store.Tx) error { tx.Delete("item", "c"); return nil })
	db.Update(ctx, func(tx *store.Tx) error {
		tx.Put("item", "d", &item{Name: "blue"})
		tx.Put("item", "b", &item{Name: "green"})
		if got := lookup(tx, "blue"); fmt.Sprint(got) != "[a d]" {
			t.Errorf("blue inside tx = %v, want [a d]", got)
		}
		if got := lookup(tx, "red"); len(got) != 0 {
			t.Errorf("red inside tx = %v, want none", got)
		}
		return errors.New("roll back")
	})
	db.View(func(tx *store.Tx) error {
		if got := lookup(tx, "blue"); fmt.Sprint(got) != "[a]" {
			t.Errorf("blue = %v, want [a] after a delete and a rolled-back tx", got)
		}
		if _, ok := tx.Lookup("item", "nope", "x"); ok {
			t.Error("unknown index reported as present")
		}
		return nil
	})
}
