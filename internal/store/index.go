package store

import "sort"

// IndexFunc returns the index keys of a record (for example one
// "key\x00value" per tag); a record may have any number of keys.
type IndexFunc func(v any) []string

// index maps keys to the IDs of the records that have them.
type index struct {
	fn   IndexFunc
	keys map[string]map[string]struct{}
}

func (ix *index) add(id string, v any) {
	if v == nil {
		return
	}
	for _, k := range ix.fn(v) {
		set, ok := ix.keys[k]
		if !ok {
			set = map[string]struct{}{}
			ix.keys[k] = set
		}
		set[id] = struct{}{}
	}
}

func (ix *index) remove(id string, v any) {
	if v == nil {
		return
	}
	for _, k := range ix.fn(v) {
		if set, ok := ix.keys[k]; ok {
			delete(set, id)
			if len(set) == 0 {
				delete(ix.keys, k)
			}
		}
	}
}

// AddIndex maintains a secondary index named name over kind, so that
// lookups by key (Tx.Lookup) cost the number of matches instead of a scan
// of the kind. It indexes the records already stored.
func (db *DB) AddIndex(kind, name string, fn IndexFunc) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.indexes == nil {
		db.indexes = map[string]map[string]*index{}
	}
	if db.indexes[kind] == nil {
		db.indexes[kind] = map[string]*index{}
	}
	ix := &index{fn: fn, keys: map[string]map[string]struct{}{}}
	for id, v := range db.tables[kind] {
		ix.add(id, v)
	}
	db.indexes[kind][name] = ix
}

// updateIndexesLocked moves a record's index entries from prev to v; the
// caller holds the write lock.
func (db *DB) updateIndexesLocked(kind, id string, prev, v any) {
	for _, ix := range db.indexes[kind] {
		ix.remove(id, prev)
		ix.add(id, v)
	}
}

// HasIndex reports whether kind has an index named name.
func (tx *Tx) HasIndex(kind, name string) bool {
	_, ok := tx.db.indexes[kind][name]
	return ok
}

// Lookup returns, sorted, the IDs of kind's records that have key in the
// index name, as this transaction sees them; ok is false when there is no
// such index (the caller then scans).
func (tx *Tx) Lookup(kind, name, key string) (ids []string, ok bool) {
	ix, ok := tx.db.indexes[kind][name]
	if !ok {
		return nil, false
	}
	seen := map[string]bool{}
	for id := range ix.keys[key] {
		if tx.writes != nil {
			if _, overridden := tx.writes[key2(kind, id)]; overridden {
				continue
			}
		}
		seen[id] = true
	}
	for _, k := range tx.order {
		if k.kind != kind {
			continue
		}
		if v := tx.writes[k]; v != nil {
			for _, have := range ix.fn(v) {
				if have == key {
					seen[k.id] = true
				}
			}
		}
	}
	ids = make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, true
}

func key2(kind, id string) key { return key{kind, id} }
