// Package store owns privlink's desired state: an in-memory, typed copy of
// every resource, made durable by a Backend (bbolt by default) before a write
// is acknowledged. It knows nothing of AWS rules; controlplane enforces them.
//
// Reads never touch the backend: every record is decoded once at Open and
// kept in memory, so Describe calls scale with memory speed. Writes run one
// at a time under a lock, are applied to memory atomically when their
// function returns nil, and are handed in order to a single persister that
// group-commits many writes in one backend transaction. Update returns only
// after the backend has made its changes durable.
//
// Stored values are immutable: a writer copies a value, changes the copy and
// Puts it. Readers may therefore keep values beyond their transaction.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("store: closed")

// Change is one durable mutation; Data nil means delete.
type Change struct {
	Kind string
	ID   string
	Data []byte
}

// Backend persists changes. Commit must be atomic and durable on return.
type Backend interface {
	Load(ctx context.Context, fn func(kind, id string, data []byte) error) error
	Commit(ctx context.Context, changes []Change) error
	Close() error
}

// Kinds maps each kind name to a constructor of its value type (a pointer).
type Kinds map[string]func() any

// Event tells a watcher that a record changed: Value is the new value (nil
// when deleted) and Prev the old one (nil when created).
type Event struct {
	Kind  string
	ID    string
	Value any
	Prev  any
}

// DB is the in-memory state over a durable Backend.
type DB struct {
	backend Backend
	kinds   Kinds
	log     *slog.Logger

	mu       sync.RWMutex
	tables   map[string]map[string]any
	rev      int64
	watchers []func(Event)
	broken   error
	indexes  map[string]map[string]*index

	persist chan *batch
	done    chan struct{}
	closed  bool
}

type batch struct {
	changes []Change
	result  chan error
}

// Open loads every record from backend and starts the persister.
func Open(ctx context.Context, backend Backend, kinds Kinds, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{
		backend: backend,
		kinds:   kinds,
		log:     log,
		tables:  make(map[string]map[string]any, len(kinds)),
		persist: make(chan *batch, 4096),
		done:    make(chan struct{}),
	}
	for k := range kinds {
		db.tables[k] = make(map[string]any)
	}
	err := backend.Load(ctx, func(kind, id string, data []byte) error {
		newValue, ok := kinds[kind]
		if !ok {
			log.Warn("store: skipping record of unknown kind", "kind", kind, "id", id)
			return nil
		}
		v := newValue()
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("store: decode %s/%s: %w", kind, id, err)
		}
		db.tables[kind][id] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	go db.runPersister()
	return db, nil
}

// Close stops the persister after pending writes are durable, then closes the backend.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.persist)
	db.mu.Unlock()
	<-db.done
	return db.backend.Close()
}

// Watch registers fn to be called, in commit order and under the write
// lock, for every change. fn must not block or call back into the DB.
func (db *DB) Watch(fn func(Event)) {
	db.mu.Lock()
	db.watchers = append(db.watchers, fn)
	db.mu.Unlock()
}

// View runs fn with a read-only transaction.
func (db *DB) View(fn func(tx *Tx) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return fn(&Tx{db: db})
}

// Update runs fn with a read-write transaction. Its writes are applied only
// if fn returns nil, and Update returns once they are durable.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	if db.broken != nil {
		db.mu.Unlock()
		return db.broken
	}
	tx := &Tx{db: db, writable: true}
	if err := fn(tx); err != nil {
		db.mu.Unlock()
		return err
	}
	if len(tx.order) == 0 {
		db.mu.Unlock()
		return nil
	}
	changes := make([]Change, 0, len(tx.order))
	for _, k := range tx.order {
		v := tx.writes[k]
		c := Change{Kind: k.kind, ID: k.id}
		if v != nil {
			data, err := json.Marshal(v)
			if err != nil {
				db.mu.Unlock()
				return fmt.Errorf("store: encode %s/%s: %w", k.kind, k.id, err)
			}
			c.Data = data
		}
		changes = append(changes, c)
	}
	for _, k := range tx.order {
		v := tx.writes[k]
		prev := db.tables[k.kind][k.id]
		db.updateIndexesLocked(k.kind, k.id, prev, v)
		if v == nil {
			delete(db.tables[k.kind], k.id)
		} else {
			db.tables[k.kind][k.id] = v
		}
		for _, w := range db.watchers {
			w(Event{Kind: k.kind, ID: k.id, Value: v, Prev: prev})
		}
	}
	db.rev++
	b := &batch{changes: changes, result: make(chan error, 1)}
	db.persist <- b
	db.mu.Unlock()

	select {
	case err := <-b.result:
		return err
	case <-ctx.Done():
		// The write is applied in memory and queued; it will still be made
		// durable, but the caller stops waiting.
		return ctx.Err()
	}
}

// Revision counts committed write transactions since Open.
func (db *DB) Revision() int64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.rev
}

// runPersister group-commits queued batches in order.
func (db *DB) runPersister() {
	defer close(db.done)
	for first := range db.persist {
		group := []*batch{first}
	drain:
		for len(group) < 1024 {
			select {
			case b, ok := <-db.persist:
				if !ok {
					break drain
				}
				group = append(group, b)
			default:
				break drain
			}
		}
		var all []Change
		for _, b := range group {
			all = append(all, b.changes...)
		}
		err := db.backend.Commit(context.Background(), all)
		if err != nil {
			err = fmt.Errorf("store: commit: %w", err)
			db.log.Error("store: backend commit failed; refusing further writes", "err", err)
			db.mu.Lock()
			db.broken = err
			db.mu.Unlock()
		}
		for _, b := range group {
			b.result <- err
		}
	}
}

type key struct{ kind, id string }

// Tx is a transaction. A read-only Tx panics on Put/Delete.
type Tx struct {
	db       *DB
	writable bool
	writes   map[key]any
	order    []key
}

// Get returns the record of kind with id, or nil.
func (tx *Tx) Get(kind, id string) any {
	if tx.writes != nil {
		if v, ok := tx.writes[key{kind, id}]; ok {
			return v
		}
	}
	t, ok := tx.db.tables[kind]
	if !ok {
		panic("store: unknown kind " + kind)
	}
	return t[id]
}

// Put stores v (a pointer of the kind's type) under id.
func (tx *Tx) Put(kind, id string, v any) {
	if v == nil {
		panic("store: Put of nil value")
	}
	tx.set(kind, id, v)
}

// Delete removes the record; deleting a missing record is not an error.
func (tx *Tx) Delete(kind, id string) { tx.set(kind, id, nil) }

func (tx *Tx) set(kind, id string, v any) {
	if !tx.writable {
		panic("store: write in a read-only transaction")
	}
	if _, ok := tx.db.tables[kind]; !ok {
		panic("store: unknown kind " + kind)
	}
	if tx.writes == nil {
		tx.writes = make(map[key]any)
	}
	k := key{kind, id}
	if _, seen := tx.writes[k]; !seen {
		tx.order = append(tx.order, k)
	}
	tx.writes[k] = v
}

// Each calls fn for every record of kind, in no particular order, until fn
// returns false.
func (tx *Tx) Each(kind string, fn func(id string, v any) bool) {
	t, ok := tx.db.tables[kind]
	if !ok {
		panic("store: unknown kind " + kind)
	}
	for id, v := range t {
		if tx.writes != nil {
			if _, overridden := tx.writes[key{kind, id}]; overridden {
				continue
			}
		}
		if !fn(id, v) {
			return
		}
	}
	for _, k := range tx.order {
		if k.kind != kind {
			continue
		}
		if v := tx.writes[k]; v != nil {
			if !fn(k.id, v) {
				return
			}
		}
	}
}

// Count returns the number of records of kind.
func (tx *Tx) Count(kind string) int {
	n := 0
	tx.Each(kind, func(string, any) bool { n++; return true })
	return n
}

// Get is the typed form of Tx.Get.
func Get[T any](tx *Tx, kind, id string) (*T, bool) {
	v, ok := tx.Get(kind, id).(*T)
	return v, ok && v != nil
}

// List returns every record of kind that keep accepts (nil keeps all),
// sorted by ID so that listings and pagination are stable.
func List[T any](tx *Tx, kind string, keep func(*T) bool) []*T {
	var ids []string
	byID := map[string]*T{}
	tx.Each(kind, func(id string, v any) bool {
		t := v.(*T)
		if keep == nil || keep(t) {
			ids = append(ids, id)
			byID[id] = t
		}
		return true
	})
	sort.Strings(ids)
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// Clone returns a shallow copy of v for copy-on-write updates.
func Clone[T any](v *T) *T {
	c := *v
	return &c
}

// HasKind reports whether kind is registered in this DB.
func (tx *Tx) HasKind(kind string) bool {
	_, ok := tx.db.tables[kind]
	return ok
}
