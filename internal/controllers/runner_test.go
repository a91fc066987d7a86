package controllers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

type rec struct {
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]int // fail this many times first
	panic bool
}

func (r *rec) Kinds() []string { return []string{"thing"} }

func (r *rec) Reconcile(ctx context.Context, id string) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id]++
	if r.panic && id == "boom" && r.calls[id] == 1 {
		panic("boom")
	}
	if r.fail[id] > 0 {
		r.fail[id]--
		return Result{}, errors.New("transient")
	}
	return Result{}, nil
}

func (r *rec) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

type thing struct{ N int }

func openDB(t *testing.T) *store.DB {
	b, err := bolt.Open(t.TempDir() + "/s.db")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), b, store.Kinds{"thing": func() any { return new(thing) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunnerReconcilesExistingChangedAndRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openDB(t)
	put := func(id string) {
		if err := db.Update(ctx, func(tx *store.Tx) error { tx.Put("thing", id, &thing{}); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	put("before-start")
	r := &rec{calls: map[string]int{}, fail: map[string]int{"flaky": 2}, panic: true}
	runner := NewRunner(db, Config{Workers: 2, Resync: time.Hour}, r)
	go runner.Run(ctx)

	waitFor(t, "existing resource reconciled at start", func() bool { return r.count("before-start") >= 1 })
	put("flaky")
	waitFor(t, "flaky resource retried to success", func() bool { return r.count("flaky") >= 3 })
	put("boom")
	waitFor(t, "panicking reconcile retried", func() bool { return r.count("boom") >= 2 })
	if runner.Stats.Panicked.Load() != 1 {
		t.Fatalf("panics = %d, want 1", runner.Stats.Panicked.Load())
	}
	time.Sleep(100 * time.Millisecond)
	if n := r.count("flaky"); n != 3 {
		t.Fatalf("flaky reconciled %d times, want exactly 3 (2 failures + 1 success)", n)
	}
}

// lockedBuffer is a log sink the runner's workers may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunnerWarnsAboutStreaks: a resource that keeps failing is reported at
// warning level with its error; one that recovers after a few tries is not.
func TestRunnerWarnsAboutStreaks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := openDB(t)
	var logs lockedBuffer
	r := &rec{calls: map[string]int{}, fail: map[string]int{"flaky": 2, "stuck": stuckAfter}}
	runner := NewRunner(db, Config{Workers: 2, Resync: time.Hour, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))}, r)
	go runner.Run(ctx)
	if err := db.Update(ctx, func(tx *store.Tx) error {
		tx.Put("thing", "flaky", &thing{})
		tx.Put("thing", "stuck", &thing{})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stuck resource retried to success", func() bool { return r.count("stuck") > stuckAfter })
	out := logs.String()
	if !strings.Contains(out, `msg="reconcile keeps failing"`) || !strings.Contains(out, "id=stuck") || !strings.Contains(out, "err=transient") {
		t.Errorf("no warning about the stuck resource:\n%s", out)
	}
	if strings.Contains(out, "id=flaky") {
		t.Errorf("warned about a resource that recovered after 2 tries:\n%s", out)
	}
}
