// Package controllers moves stored resources through their lifecycles:
// level-based reconcilers, keyed by (kind, ID), that re-read desired state,
// ask the data plane to realize it and record the outcome in the store. API
// handlers never wait on them.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Result tells the runner what to do after a successful reconcile.
type Result struct {
	// RequeueAfter > 0 polls the resource again after that long.
	RequeueAfter time.Duration
}

// Reconciler brings one kind of resource to its desired state.
type Reconciler interface {
	// Kinds lists the store kinds whose changes trigger this reconciler.
	Kinds() []string
	// Reconcile handles the resource with id. A returned error is retried
	// with backoff; a TerminalError is recorded and not retried.
	Reconcile(ctx context.Context, id string) (Result, error)
}

// Mapper is implemented by reconcilers whose keys are not the IDs of the
// changed records (the network reconciler is keyed by VPC ID): Map returns
// the keys a change affects.
type Mapper interface {
	Map(e store.Event) []string
}

// Lister is implemented by Mapper reconcilers to list every key at resync.
type Lister interface {
	Keys(tx *store.Tx) []string
}

// TerminalError marks an error that retrying cannot fix.
type TerminalError struct{ Err error }

func (e *TerminalError) Error() string { return "terminal: " + e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// Stats counts reconcile outcomes.
type Stats struct {
	Succeeded, Failed, Terminal, Panicked atomic.Int64
}

type item struct {
	rec Reconciler
	id  string
}

// stuckAfter is how many consecutive failures of one item make the runner
// warn about it, instead of retrying quietly.
const stuckAfter = 5

// Runner feeds store changes to reconcilers through a deduplicating queue.
type Runner struct {
	db      *store.DB
	log     *slog.Logger
	timeout time.Duration
	workers int
	resync  time.Duration

	byKind map[string][]Reconciler
	all    []Reconciler

	mu       sync.Mutex
	queued   map[item]bool
	active   map[item]bool
	dirty    map[item]bool
	failures map[item]int
	ready    chan item
	wake     chan struct{}
	pending  []item

	Stats Stats
	seq   atomic.Int64
}

// Config configures a Runner.
type Config struct {
	Workers int           // default 4
	Timeout time.Duration // per reconcile, default 30 s
	Resync  time.Duration // full re-list period, default 30 s
	Log     *slog.Logger
}

// NewRunner builds a runner over db for the given reconcilers.
func NewRunner(db *store.DB, cfg Config, recs ...Reconciler) *Runner {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		db: db, log: cfg.Log, timeout: cfg.Timeout, workers: cfg.Workers, resync: cfg.Resync,
		byKind: map[string][]Reconciler{}, all: recs,
		queued: map[item]bool{}, active: map[item]bool{}, dirty: map[item]bool{}, failures: map[item]int{},
		ready: make(chan item, 1<<16), wake: make(chan struct{}, 1),
	}
	for _, rec := range recs {
		for _, k := range rec.Kinds() {
			r.byKind[k] = append(r.byKind[k], rec)
		}
	}
	return r
}

// Run processes changes until ctx ends. It first enqueues every existing
// resource, so state written before a restart is realized again.
func (r *Runner) Run(ctx context.Context) {
	r.db.Watch(func(e store.Event) {
		for _, rec := range r.byKind[e.Kind] {
			if m, ok := rec.(Mapper); ok {
				for _, key := range m.Map(e) {
					r.enqueue(item{rec, key})
				}
				continue
			}
			r.enqueue(item{rec, e.ID})
		}
	})
	r.resyncAll()
	var wg sync.WaitGroup
	for i := 0; i < r.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx)
		}()
	}
	ticker := time.NewTicker(r.resync)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-ticker.C:
			r.resyncAll()
		}
	}
}

// resyncAll enqueues every stored resource of every watched kind.
func (r *Runner) resyncAll() {
	var items []item
	r.db.View(func(tx *store.Tx) error {
		for _, rec := range r.all {
			if l, ok := rec.(Lister); ok {
				for _, key := range l.Keys(tx) {
					items = append(items, item{rec, key})
				}
			}
		}
		for kind, recs := range r.byKind {
			if !tx.HasKind(kind) {
				continue
			}
			tx.Each(kind, func(id string, _ any) bool {
				for _, rec := range recs {
					if _, mapped := rec.(Lister); !mapped {
						items = append(items, item{rec, id})
					}
				}
				return true
			})
		}
		return nil
	})
	for _, it := range items {
		r.enqueue(it)
	}
}

// enqueue adds it unless already queued; if it is being reconciled now, it
// is marked dirty and queued again when that run ends. It never blocks: it
// is called under the store's write lock.
func (r *Runner) enqueue(it item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[it] {
		r.dirty[it] = true
		return
	}
	if r.queued[it] {
		return
	}
	r.queued[it] = true
	select {
	case r.ready <- it:
	default:
		r.pending = append(r.pending, it)
	}
}

func (r *Runner) enqueueAfter(it item, d time.Duration) {
	time.AfterFunc(d, func() { r.enqueue(it) })
}

func (r *Runner) next(ctx context.Context) (item, bool) {
	r.mu.Lock()
	if len(r.pending) > 0 {
		it := r.pending[0]
		r.pending = r.pending[1:]
		r.mu.Unlock()
		return it, true
	}
	r.mu.Unlock()
	select {
	case it := <-r.ready:
		return it, true
	case <-ctx.Done():
		return item{}, false
	}
}

func (r *Runner) work(ctx context.Context) {
	for {
		it, ok := r.next(ctx)
		if !ok {
			return
		}
		r.mu.Lock()
		delete(r.queued, it)
		r.active[it] = true
		r.mu.Unlock()

		res, err := r.reconcileOne(ctx, it)

		r.mu.Lock()
		delete(r.active, it)
		again := r.dirty[it]
		delete(r.dirty, it)
		var backoff time.Duration
		var terminal *TerminalError
		switch {
		case err == nil || errors.As(err, &terminal):
			delete(r.failures, it)
		default:
			r.failures[it]++
			backoff = time.Duration(1<<min(r.failures[it], 8)) * 50 * time.Millisecond
		}
		failures := r.failures[it]
		r.mu.Unlock()
		if failures >= stuckAfter && !errors.Is(err, context.Canceled) {
			// One failure is routine (a conflict, a namespace not yet
			// there); a streak means the desired state cannot be reached,
			// and an operator must be able to see why.
			r.log.Warn("reconcile keeps failing", "reconciler", fmt.Sprintf("%T", it.rec), "id", it.id, "failures", failures, "retry_in", backoff, "err", err)
		}
		switch {
		case backoff > 0:
			r.enqueueAfter(it, backoff)
		case again:
			r.enqueue(it)
		case res.RequeueAfter > 0:
			r.enqueueAfter(it, res.RequeueAfter)
		}
	}
}

// reconcileOne runs one reconcile with a timeout, a tagged logger and panic
// recovery, and counts the outcome.
func (r *Runner) reconcileOne(ctx context.Context, it item) (res Result, err error) {
	rid := r.seq.Add(1)
	log := r.log.With("reconciler", fmt.Sprintf("%T", it.rec), "id", it.id, "reconcile_id", rid)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r.Stats.Panicked.Add(1)
			log.Error("reconcile panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("controllers: panic: %v", p)
		}
	}()
	res, err = it.rec.Reconcile(ctx, it.id)
	var terminal *TerminalError
	switch {
	case err == nil:
		r.Stats.Succeeded.Add(1)
	case errors.As(err, &terminal):
		r.Stats.Terminal.Add(1)
		log.Warn("reconcile failed permanently", "err", err)
	case errors.Is(err, context.Canceled):
	default:
		r.Stats.Failed.Add(1)
		log.Debug("reconcile failed; retrying", "err", err)
	}
	return res, err
}

// ignoreGone turns the "resource vanished" errors of transition functions
// into success: a level-based reconciler has nothing left to do then.
func ignoreGone(err error) error {
	if e, ok := cloud.AsError(err); ok && (e.Code == "IncorrectState" || hasSuffix(e.Code, ".NotFound")) {
		return nil
	}
	return err
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
