package policy

import (
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokLit  tokKind = iota // literal text
	tokStar                // * : any run of characters, possibly empty
	tokOne                 // ? : exactly one character
	tokVar                 // ${key} or ${key, 'default'}
)

type token struct {
	kind   tokKind
	text   string     // literal text (lower-cased when the pattern folds case)
	key    contextKey // context key of a variable
	def    string
	hasDef bool
	vidx   int // index of a variable's value among the pattern's variables
}

type patternMode uint8

const (
	modeTokens  patternMode = iota
	modeAll                 // a lone "*"
	modeLiteral             // no wildcards and no variables
	modePrefix              // literal text followed by a single trailing *
)

// pattern is a pre-lowered string pattern: wildcards and policy variables are
// split into tokens once at compile time so matching never allocates.
type pattern struct {
	mode  patternMode
	lit   string
	toks  []token
	nvars int
	fold  bool
}

// maxInlineVars bounds the variables resolved on the stack; patterns with more
// still work but allocate.
const maxInlineVars = 4

// compilePattern lowers s into tokens. wildcards makes * and ? special; vars
// interpolates ${...} (policy language 2012-10-17 only); fold matches ASCII
// case-insensitively.
func compilePattern(s string, wildcards, vars, fold bool) pattern {
	p := pattern{fold: fold}
	if wildcards && s == "*" {
		p.mode = modeAll
		return p
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t := lit.String()
			if fold {
				t = strings.ToLower(t)
			}
			p.toks = append(p.toks, token{kind: tokLit, text: t})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case vars && c == '$' && strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				lit.WriteByte(c)
				i++
				continue
			}
			body := s[i+2 : i+end]
			if t, ok := parseVariable(body); ok {
				if t.kind == tokLit {
					lit.WriteString(t.text)
				} else {
					flush()
					t.vidx = p.nvars
					p.toks = append(p.toks, t)
					p.nvars++
				}
				i += end + 1
				continue
			}
			lit.WriteByte(c)
			i++
		case wildcards && c == '*':
			flush()
			if n := len(p.toks); n == 0 || p.toks[n-1].kind != tokStar {
				p.toks = append(p.toks, token{kind: tokStar})
			}
			i++
		case wildcards && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tokOne})
			i++
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	if len(p.toks) == 0 {
		p.mode = modeLiteral
		return p
	}
	if len(p.toks) == 1 && p.toks[0].kind == tokLit {
		p.mode, p.lit, p.toks = modeLiteral, p.toks[0].text, nil
	}
	if len(p.toks) == 2 && p.toks[0].kind == tokLit && p.toks[1].kind == tokStar {
		p.mode, p.lit, p.toks = modePrefix, p.toks[0].text, nil
	}
	return p
}

// parseVariable parses the body of ${...}: the escapes *, ? and $, a context
// key, or a key with a quoted default ("aws:PrincipalTag/team, 'none'").
func parseVariable(body string) (token, bool) {
	b := strings.TrimSpace(body)
	switch b {
	case "*", "?", "$":
		return token{kind: tokLit, text: b}, true
	case "":
		return token{}, false
	}
	t := token{kind: tokVar}
	if i := strings.IndexByte(b, ','); i >= 0 {
		d := strings.TrimSpace(b[i+1:])
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return token{}, false
		}
		t.def, t.hasDef = d[1:len(d)-1], true
		b = strings.TrimSpace(b[:i])
	}
	if b == "" || strings.ContainsAny(b, " \t'${}") {
		return token{}, false
	}
	t.key = classifyKey(strings.ToLower(b))
	return t, true
}

// match reports whether s matches the pattern for request r (which supplies
// policy variable values). An unresolvable variable never matches.
func (p *pattern) match(s string, r *Request) bool {
	return p.matchCase(s, r, p.fold)
}

// matchCase matches with explicit case folding; callers that lower-cased s
// themselves pass false for a pattern compiled with fold.
func (p *pattern) matchCase(s string, r *Request, fold bool) bool {
	switch p.mode {
	case modeAll:
		return true
	case modeLiteral:
		if fold {
			return equalFoldASCII(p.lit, s)
		}
		return p.lit == s
	case modePrefix:
		if len(s) < len(p.lit) {
			return false
		}
		if fold {
			return equalFoldASCII(p.lit, s[:len(p.lit)])
		}
		return p.lit == s[:len(p.lit)]
	}
	var inline [maxInlineVars]string
	vals := inline[:0]
	if p.nvars > maxInlineVars {
		vals = make([]string, 0, p.nvars)
	}
	if p.nvars > 0 {
		for i := range p.toks {
			t := &p.toks[i]
			if t.kind != tokVar {
				continue
			}
			v, ok := r.variable(t.key)
			if !ok {
				if !t.hasDef {
					return false
				}
				v = t.def
			}
			vals = append(vals, v)
		}
	}
	return globMatch(p.toks, vals, s, fold)
}

// globMatch is the classic single-backtrack wildcard matcher (on a mismatch,
// let the last * swallow one more byte and retry) run over whole tokens; a
// literal token is compared at once. Worst case O(len(pattern)*len(s)).
func globMatch(toks []token, vals []string, s string, fold bool) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti == len(toks) {
			if si == len(s) {
				return true
			}
		} else {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			default:
				lit := t.text
				if t.kind == tokVar {
					lit = vals[t.vidx]
				}
				if hasPrefixCase(s[si:], lit, fold) {
					si += len(lit)
					ti++
					continue
				}
			}
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		starSi++
		si, ti = starSi, starTi+1
	}
}

func hasPrefixCase(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if fold {
		return equalFoldASCII(s[:len(prefix)], prefix)
	}
	return s[:len(prefix)] == prefix
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// arnPattern matches ARNs component by component: the pattern is split on the
// first five colons (outside ${...}), each component is a wildcard pattern,
// and the last component also covers any further colons in the ARN.
type arnPattern struct {
	all bool
	// head is the leading components that are plain text, joined with their
	// trailing colons ("arn:aws:s3:::"); segs are the components after them.
	head string
	segs []pattern
}

func compileARN(s string, vars bool) arnPattern {
	if s == "*" {
		return arnPattern{all: true}
	}
	parts := splitARNPattern(s)
	var a arnPattern
	for i, part := range parts {
		seg := compilePattern(part, true, vars, false)
		if i < len(parts)-1 && len(a.segs) == 0 && seg.mode == modeLiteral {
			a.head += seg.lit + ":"
			continue
		}
		a.segs = append(a.segs, seg)
	}
	return a
}

// splitARNPattern splits on at most five colons that are not inside ${...}.
func splitARNPattern(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s) && len(out) < 5; i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func (a *arnPattern) match(arn string, r *Request) bool {
	if a.all {
		return true
	}
	if len(arn) < len(a.head) || arn[:len(a.head)] != a.head {
		return false
	}
	rest := arn[len(a.head):]
	for i := range a.segs {
		if i == len(a.segs)-1 {
			return a.segs[i].match(rest, r)
		}
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return false
		}
		if !a.segs[i].match(rest[:j], r) {
			return false
		}
		rest = rest[j+1:]
	}
	return false
}
