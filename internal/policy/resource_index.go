package policy

import (
	"sort"
	"strings"
)

// minIndexedPatterns is the list length from which a statement's resource
// patterns are indexed by literal prefix instead of scanned one by one.
const minIndexedPatterns = 8

// resourceSet is a statement's Resource or NotResource list. Long lists (data
// perimeter policies carry dozens of ARNs) are indexed by each pattern's
// literal prefix, the text before its first wildcard or variable: only
// patterns whose prefix is a prefix of the request ARN can match, and those
// are found with a few binary searches.
type resourceSet struct {
	patterns []arnPattern
	groups   []prefixGroup // sorted by prefix; nil when not indexed
	always   []int         // patterns without a literal prefix
}

type prefixGroup struct {
	prefix string
	idx    []int
}

func compileResourceSet(raw []string, vars bool) resourceSet {
	rs := resourceSet{patterns: make([]arnPattern, len(raw))}
	for i, s := range raw {
		rs.patterns[i] = compileARN(s, vars)
	}
	if len(raw) < minIndexedPatterns {
		return rs
	}
	byPrefix := map[string][]int{}
	for i, s := range raw {
		p := literalPrefix(s, vars)
		if p == "" {
			rs.always = append(rs.always, i)
			continue
		}
		byPrefix[p] = append(byPrefix[p], i)
	}
	for p, idx := range byPrefix {
		rs.groups = append(rs.groups, prefixGroup{prefix: p, idx: idx})
	}
	sort.Slice(rs.groups, func(i, j int) bool { return rs.groups[i].prefix < rs.groups[j].prefix })
	if rs.groups == nil {
		rs.groups = []prefixGroup{}
	}
	return rs
}

// literalPrefix is the text of s before its first wildcard or variable.
func literalPrefix(s string, vars bool) string {
	end := strings.IndexAny(s, "*?")
	if end < 0 {
		end = len(s)
	}
	if vars {
		if i := strings.Index(s[:end], "${"); i >= 0 {
			end = i
		}
	}
	return s[:end]
}

func (rs *resourceSet) match(arn string, r *Request) bool {
	if rs.groups == nil {
		for i := range rs.patterns {
			if rs.patterns[i].match(arn, r) {
				return true
			}
		}
		return false
	}
	for _, i := range rs.always {
		if rs.patterns[i].match(arn, r) {
			return true
		}
	}
	// Walk the candidate prefixes from longest to shortest. Invariant: every
	// prefix of arn not yet visited has length <= limit.
	limit := len(arn)
	for limit >= 0 {
		j := rs.lastAtMost(arn[:limit])
		if j < 0 {
			return false
		}
		p := rs.groups[j].prefix
		n := commonPrefixLen(p, arn[:limit])
		if n < len(p) {
			limit = n
			continue
		}
		for _, i := range rs.groups[j].idx {
			if rs.patterns[i].match(arn, r) {
				return true
			}
		}
		limit = len(p) - 1
	}
	return false
}

// lastAtMost returns the index of the greatest prefix <= key, or -1.
func (rs *resourceSet) lastAtMost(key string) int {
	lo, hi := 0, len(rs.groups)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if rs.groups[mid].prefix <= key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
