package controlplane

import (
	"strings"

	"github.com/privlink/privlink/internal/cloud"
)

// fields maps a filter name to the values a resource has for it.
type fields[T any] map[string]func(*T) []string

// filterer compiles describe filters for one resource type.
type filterer[T any] struct {
	fields fields[T]
	tags   func(*T) cloud.Tags
}

// compile validates filter names and returns a predicate that ANDs the
// filters and ORs each filter's values.
func (f filterer[T]) compile(filters []cloud.Filter) (func(*T) bool, error) {
	type check func(*T) bool
	var checks []check
	for _, flt := range filters {
		flt := flt
		if len(flt.Values) == 0 {
			return nil, cloud.Errorf("InvalidParameterValue", "The filter '%s' requires at least one value.", flt.Name)
		}
		var get func(*T) []string
		switch {
		case strings.HasPrefix(flt.Name, "tag:") && f.tags != nil:
			key := strings.TrimPrefix(flt.Name, "tag:")
			get = func(v *T) []string {
				if val, ok := f.tags(v).Get(key); ok {
					return []string{val}
				}
				return nil
			}
		case flt.Name == "tag-key" && f.tags != nil:
			get = func(v *T) []string { return tagField(f.tags(v), true) }
		case flt.Name == "tag-value" && f.tags != nil:
			get = func(v *T) []string { return tagField(f.tags(v), false) }
		default:
			g, ok := f.fields[flt.Name]
			if !ok {
				return nil, cloud.Errorf("InvalidParameterValue", "The filter '%s' is invalid", flt.Name)
			}
			get = g
		}
		checks = append(checks, func(v *T) bool { return anyMatch(get(v), flt.Values) })
	}
	return func(v *T) bool {
		for _, c := range checks {
			if !c(v) {
				return false
			}
		}
		return true
	}, nil
}

func tagField(tags cloud.Tags, keys bool) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		if keys {
			out[i] = t.Key
		} else {
			out[i] = t.Value
		}
	}
	return out
}

func anyMatch(have, patterns []string) bool {
	for _, h := range have {
		for _, p := range patterns {
			if globMatch(p, h) {
				return true
			}
		}
	}
	return false
}

// globMatch matches s against p where * is any run and ? one character,
// as EC2 filter values do.
func globMatch(p, s string) bool {
	if !strings.ContainsAny(p, "*?") {
		return p == s
	}
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(p) && (p[px] == '?' || p[px] == s[sx]):
			px++
			sx++
		case px < len(p) && p[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			px = starP + 1
			starS++
			sx = starS
		default:
			return false
		}
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func boolStr(b bool) []string {
	if b {
		return []string{"true"}
	}
	return []string{"false"}
}

// idSet turns a list of requested IDs into a set (nil when none requested).
func idSet(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
