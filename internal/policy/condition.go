package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type baseOp uint8

const (
	opStringEquals baseOp = iota + 1
	opStringNotEquals
	opStringEqualsIgnoreCase
	opStringNotEqualsIgnoreCase
	opStringLike
	opStringNotLike
	opNumericEquals
	opNumericNotEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateNotEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opNotIPAddress
	opArnEquals
	opArnLike
	opArnNotEquals
	opArnNotLike
	opNull
	opCount
)

func (b baseOp) String() string {
	names := [opCount]string{"", "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
		"StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
		"NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
		"DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
		"NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null"}
	if b < opCount {
		return names[b]
	}
	return ""
}

// negated reports whether the operator is the negation of another one; such
// operators are evaluated as "no policy value matches".
func (b baseOp) negated() bool {
	switch b {
	case opStringNotEquals, opStringNotEqualsIgnoreCase, opStringNotLike, opNumericNotEquals,
		opDateNotEquals, opNotIPAddress, opArnNotEquals, opArnNotLike:
		return true
	}
	return false
}

type setQualifier uint8

const (
	setNone setQualifier = iota
	setForAnyValue
	setForAllValues
)

type opSpec struct {
	base     baseOp
	set      setQualifier
	ifExists bool
}

func (o opSpec) name() string {
	var b strings.Builder
	switch o.set {
	case setForAnyValue:
		b.WriteString("ForAnyValue:")
	case setForAllValues:
		b.WriteString("ForAllValues:")
	}
	b.WriteString(o.base.String())
	if o.ifExists {
		b.WriteString("IfExists")
	}
	return b.String()
}

// parseOperator parses an operator name with its optional ForAnyValue: or
// ForAllValues: qualifier and IfExists suffix (not allowed on Null).
// Names are matched case-insensitively and normalised.
func parseOperator(s string) (opSpec, bool) {
	var o opSpec
	low := strings.ToLower(s)
	if rest, ok := strings.CutPrefix(low, "foranyvalue:"); ok {
		o.set, low = setForAnyValue, rest
	} else if rest, ok := strings.CutPrefix(low, "forallvalues:"); ok {
		o.set, low = setForAllValues, rest
	}
	if rest, ok := strings.CutSuffix(low, "ifexists"); ok {
		o.ifExists, low = true, rest
	}
	for b := opStringEquals; b < opCount; b++ {
		if strings.ToLower(b.String()) == low {
			o.base = b
			break
		}
	}
	if o.base == 0 || (o.base == opNull && (o.ifExists || o.set != setNone)) {
		return opSpec{}, false
	}
	return o, true
}

// checkConditionValue validates a policy value for the operator's type.
func checkConditionValue(b baseOp, v string) error {
	switch b {
	case opNumericEquals, opNumericNotEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		if _, ok := parseNumber(v); !ok {
			return fmt.Errorf("Invalid number in %s condition: %q", b, v)
		}
	case opDateEquals, opDateNotEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		if _, ok := parseDate(v); !ok {
			return fmt.Errorf("Invalid date in %s condition: %q", b, v)
		}
	case opBool, opNull:
		if _, ok := parseBool(v); !ok {
			return fmt.Errorf("Invalid boolean in %s condition: %q", b, v)
		}
	case opBinaryEquals:
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			return fmt.Errorf("Invalid base64 value in BinaryEquals condition: %q", v)
		}
	case opIPAddress, opNotIPAddress:
		if _, ok := parseCIDR(v); !ok {
			return fmt.Errorf("Invalid IP address or CIDR in %s condition: %q", b, v)
		}
	}
	return nil
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil
}

func parseBool(s string) (bool, bool) {
	switch {
	case equalFoldASCII(s, "true"):
		return true, true
	case equalFoldASCII(s, "false"):
		return false, true
	}
	return false, false
}

// parseDate accepts ISO 8601 date-times (with or without zone and fraction),
// plain dates, and epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if c := s[0]; c == '-' || (c >= '0' && c <= '9') && !strings.ContainsAny(s, "-T:") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f > 1e12 || f < -1e12 {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, layout := range [...]string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseCIDR accepts IPv4/IPv6 CIDRs and bare addresses (as /32 or /128).
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// compiledCondition holds policy values pre-parsed for the operator's type.
type compiledCondition struct {
	op     opSpec
	key    contextKey
	strs   []pattern
	nums   []float64
	dates  []time.Time
	bools  []bool
	binary []string
	nets   []netip.Prefix
	arns   []arnPattern
}

func compileCondition(c Condition, vars bool) compiledCondition {
	op, _ := parseOperator(c.Operator)
	cc := compiledCondition{op: op, key: classifyKey(strings.ToLower(c.Key))}
	for _, v := range c.Values {
		switch op.base {
		case opStringEquals, opStringNotEquals:
			cc.strs = append(cc.strs, compilePattern(v, false, vars, false))
		case opStringEqualsIgnoreCase, opStringNotEqualsIgnoreCase:
			cc.strs = append(cc.strs, compilePattern(v, false, vars, true))
		case opStringLike, opStringNotLike:
			cc.strs = append(cc.strs, compilePattern(v, true, vars, false))
		case opNumericEquals, opNumericNotEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
			if f, ok := parseNumber(v); ok {
				cc.nums = append(cc.nums, f)
			}
		case opDateEquals, opDateNotEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
			if t, ok := parseDate(v); ok {
				cc.dates = append(cc.dates, t)
			}
		case opBool, opNull:
			if b, ok := parseBool(v); ok {
				cc.bools = append(cc.bools, b)
			}
		case opBinaryEquals:
			if b, err := base64.StdEncoding.DecodeString(v); err == nil {
				cc.binary = append(cc.binary, base64.StdEncoding.EncodeToString(b))
			}
		case opIPAddress, opNotIPAddress:
			if p, ok := parseCIDR(v); ok {
				cc.nets = append(cc.nets, p)
			}
		case opArnEquals, opArnLike, opArnNotEquals, opArnNotLike:
			cc.arns = append(cc.arns, compileARN(v, vars))
		}
	}
	return cc
}

// eval applies AWS's rules: values of one key are ORed (negated operators
// must match none); a missing key fails positive operators and satisfies
// negated ones; IfExists makes a missing key pass; ForAllValues passes on a
// missing or empty key, ForAnyValue fails on one.
func (c *compiledCondition) eval(r *Request) bool {
	vals := r.lookupKey(c.key)
	n := vals.len()
	if c.op.base == opNull {
		absent := n == 0
		for _, want := range c.bools {
			if want == absent {
				return true
			}
		}
		return false
	}
	neg := c.op.base.negated()
	switch c.op.set {
	case setForAllValues:
		for i := 0; i < n; i++ {
			if c.matchAny(vals.at(i), r) == neg {
				return false
			}
		}
		return true
	case setForAnyValue:
		if n == 0 {
			return c.op.ifExists
		}
		for i := 0; i < n; i++ {
			if c.matchAny(vals.at(i), r) != neg {
				return true
			}
		}
		return false
	}
	if n == 0 {
		return c.op.ifExists || neg
	}
	for i := 0; i < n; i++ {
		if c.matchAny(vals.at(i), r) {
			return !neg
		}
	}
	return neg
}

// matchAny reports whether request value v matches any policy value under the
// positive form of the operator.
func (c *compiledCondition) matchAny(v string, r *Request) bool {
	switch c.op.base {
	case opStringEquals, opStringNotEquals, opStringEqualsIgnoreCase, opStringNotEqualsIgnoreCase, opStringLike, opStringNotLike:
		for i := range c.strs {
			if c.strs[i].match(v, r) {
				return true
			}
		}
	case opNumericEquals, opNumericNotEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, p := range c.nums {
			if compareOrdered(c.op.base-opNumericEquals, cmpFloat(x, p)) {
				return true
			}
		}
	case opDateEquals, opDateNotEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, p := range c.dates {
			if compareOrdered(c.op.base-opDateEquals, t.Compare(p)) {
				return true
			}
		}
	case opBool:
		b, ok := parseBool(v)
		if !ok {
			return false
		}
		for _, p := range c.bools {
			if p == b {
				return true
			}
		}
	case opBinaryEquals:
		for _, p := range c.binary {
			if p == v {
				return true
			}
		}
	case opIPAddress, opNotIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
	case opArnEquals, opArnLike, opArnNotEquals, opArnNotLike:
		if !strings.HasPrefix(v, "arn:") {
			return false
		}
		for i := range c.arns {
			if c.arns[i].match(v, r) {
				return true
			}
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareOrdered applies the n-th comparison of the Equals, NotEquals,
// LessThan, LessThanEquals, GreaterThan, GreaterThanEquals family. NotEquals
// is evaluated as Equals and negated by the caller.
func compareOrdered(n baseOp, cmp int) bool {
	switch n {
	case 0, 1:
		return cmp == 0
	case 2:
		return cmp < 0
	case 3:
		return cmp <= 0
	case 4:
		return cmp > 0
	case 5:
		return cmp >= 0
	}
	return false
}
