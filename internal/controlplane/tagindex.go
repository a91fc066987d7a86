package controlplane

import (
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// tagIndex names the store index of resources by "key\x00value" of each
// tag; Describe calls filtered by tag:<key> read it instead of scanning.
const tagIndex = "tag"

func tagIndexKey(key, value string) string { return key + "\x00" + value }

// vpcIndex names the store index of subnets by VPC ID.
const vpcIndex = "vpc"

// indexTags registers the tag index on every taggable kind of the store.
func indexTags(db *store.DB) {
	fn := func(v any) []string {
		r, ok := v.(cloud.Resource)
		if !ok {
			return nil
		}
		tags := r.Base().Tags
		keys := make([]string, len(tags))
		for i, t := range tags {
			keys[i] = tagIndexKey(t.Key, t.Value)
		}
		return keys
	}
	var kinds []string
	db.View(func(tx *store.Tx) error {
		for _, k := range taggableKinds {
			if tx.HasKind(k.kind) {
				kinds = append(kinds, k.kind)
			}
		}
		return nil
	})
	for _, k := range kinds {
		db.AddIndex(k, tagIndex, fn)
	}
	db.AddIndex(cloud.KindSubnet, vpcIndex, func(v any) []string { return []string{v.(*cloud.Subnet).VpcID} })
}

// eachCandidate calls fn for every record of kind that can match filters:
// when a tag:<key> filter lists only exact values, just the records with
// one of those tags (from the index); otherwise every record.
func eachCandidate(tx *store.Tx, kind string, filters []cloud.Filter, fn func(id string, v any) bool) {
	for _, f := range filters {
		key, isTag := strings.CutPrefix(f.Name, "tag:")
		if !isTag || len(f.Values) == 0 || anyWildcard(f.Values) {
			continue
		}
		seen := map[string]bool{}
		for _, value := range f.Values {
			ids, ok := tx.Lookup(kind, tagIndex, tagIndexKey(key, value))
			if !ok {
				break
			}
			for _, id := range ids {
				if seen[id] {
					continue
				}
				seen[id] = true
				if v := tx.Get(kind, id); v != nil && !fn(id, v) {
					return
				}
			}
		}
		if len(seen) > 0 || tx.HasIndex(kind, tagIndex) {
			return
		}
	}
	tx.Each(kind, fn)
}

func anyWildcard(values []string) bool {
	for _, v := range values {
		if strings.ContainsAny(v, "*?") {
			return true
		}
	}
	return false
}
