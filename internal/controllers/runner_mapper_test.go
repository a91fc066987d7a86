package controllers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
)

// mapRec is a Mapper and Lister reconciler: a thing "k-n" maps to key "k";
// Keys lists a fixed set. Reconciles of key block, the first time, until
// release is closed.
type mapRec struct {
	listed  []string
	block   string
	started chan struct{}
	release chan struct{}

	mu       sync.Mutex
	calls    map[string]int
	running  map[string]int
	overlaps int
}

func newMapRec(listed []string, block string) *mapRec {
	return &mapRec{listed: listed, block: block, started: make(chan struct{}), release: make(chan struct{}),
		calls: map[string]int{}, running: map[string]int{}}
}

func (m *mapRec) Kinds() []string { return []string{"thing"} }

func (m *mapRec) Map(e store.Event) []string {
	key, _, _ := strings.Cut(e.ID, "-")
	return []string{key}
}

func (m *mapRec) Keys(*store.Tx) []string { return m.listed }

func (m *mapRec) Reconcile(ctx context.Context, id string) (Result, error) {
	m.mu.Lock()
	m.calls[id]++
	m.running[id]++
	if m.running[id] > 1 {
		m.overlaps++
	}
	first := m.calls[id] == 1
	m.mu.Unlock()
	if id == m.block && first {
		close(m.started)
		<-m.release
	}
	m.mu.Lock()
	m.running[id]--
	m.mu.Unlock()
	return Result{}, nil
}

func (m *mapRec) count(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[id]
}

func putThing(t *testing.T, db *store.DB, id string) {
	t.Helper()
	if err := db.Update(context.Background(), func(tx *store.Tx) error { tx.Put("thing", id, &thing{}); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerMapperAndLister(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openDB(t)
	putThing(t, db, "a-1") // stored before start: resync lists keys, not IDs
	m := newMapRec([]string{"a", "listed"}, "")
	go NewRunner(db, Config{Workers: 2, Resync: time.Hour}, m).Run(ctx)

	for _, tc := range []struct {
		name, put, key string
	}{
		{"listed key at start", "", "a"},
		{"key only the lister knows", "", "listed"},
		{"changed record mapped to its key", "b-7", "b"},
		{"second record of the same key", "b-8", "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := 0
			if tc.put != "" {
				before = m.count(tc.key)
				putThing(t, db, tc.put)
			}
			waitFor(t, "key "+tc.key+" reconciled", func() bool { return m.count(tc.key) > before })
		})
	}
	for _, id := range []string{"a-1", "b-7", "b-8"} {
		if n := m.count(id); n != 0 {
			t.Errorf("record ID %s reconciled %d times; a Mapper is keyed by Map only", id, n)
		}
	}
}

func TestRunnerRequeuesDirtyKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openDB(t)
	m := newMapRec([]string{"warm"}, "slow")
	// One worker: the queue is FIFO, so a fence key reconciled after the
	// re-queue proves nothing else was queued for slow.
	go NewRunner(db, Config{Workers: 1, Resync: time.Hour}, m).Run(ctx)
	// The runner watches before its first resync lists "warm".
	waitFor(t, "the runner's first resync", func() bool { return m.count("warm") == 1 })

	putThing(t, db, "slow-1")
	select {
	case <-m.started:
	case <-time.After(5 * time.Second):
		t.Fatal("slow never started")
	}
	for _, id := range []string{"slow-2", "slow-3", "slow-4"} { // changes while it runs
		putThing(t, db, id)
	}
	if n := m.count("slow"); n != 1 {
		t.Fatalf("slow reconciled %d times while the first run was active, want 1", n)
	}
	close(m.release)
	waitFor(t, "slow re-queued after its run", func() bool { return m.count("slow") == 2 })
	putThing(t, db, "fence-1")
	waitFor(t, "fence reconciled", func() bool { return m.count("fence") == 1 })
	if n := m.count("slow"); n != 2 {
		t.Errorf("slow reconciled %d times, want 2 (changes during a run coalesce into one re-run)", n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.overlaps != 0 {
		t.Errorf("%d overlapping reconciles of one key", m.overlaps)
	}
}
