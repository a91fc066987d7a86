// Package bolt is the embedded, single-file store.Backend built on bbolt.
package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/privlink/privlink/internal/store"
	bbolt "go.etcd.io/bbolt"
)

// Backend stores each kind in a bucket of one bbolt file.
type Backend struct{ db *bbolt.DB }

// Open opens (creating if needed) the database file path.
func Open(path string) (*Backend, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create data dir: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &Backend{db: db}, nil
}

// Load calls fn for every stored record.
func (b *Backend) Load(ctx context.Context, fn func(kind, id string, data []byte) error) error {
	return b.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, bucket *bbolt.Bucket) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			kind := string(name)
			return bucket.ForEach(func(k, v []byte) error {
				return fn(kind, string(k), v)
			})
		})
	})
}

// Commit writes all changes in one durable transaction.
func (b *Backend) Commit(ctx context.Context, changes []store.Change) error {
	return b.db.Update(func(tx *bbolt.Tx) error {
		for _, c := range changes {
			bucket, err := tx.CreateBucketIfNotExists([]byte(c.Kind))
			if err != nil {
				return fmt.Errorf("bucket %s: %w", c.Kind, err)
			}
			if c.Data == nil {
				err = bucket.Delete([]byte(c.ID))
			} else {
				err = bucket.Put([]byte(c.ID), c.Data)
			}
			if err != nil {
				return fmt.Errorf("%s/%s: %w", c.Kind, c.ID, err)
			}
		}
		return nil
	})
}

// Close closes the database file.
func (b *Backend) Close() error { return b.db.Close() }
