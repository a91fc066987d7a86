package policy

import (
	"fmt"
	"strings"
)

// Compiled is a policy lowered for fast evaluation: actions pre-lowered,
// resource ARNs pre-split, condition values pre-parsed. It is immutable and
// safe for concurrent use.
type Compiled struct {
	kind   Kind
	policy *Policy
	stmts  []compiledStatement
}

type compiledStatement struct {
	sid          string
	deny         bool
	principals   *compiledPrincipals // nil: no Principal/NotPrincipal element
	notPrincipal bool
	actions      []pattern
	notAction    bool
	resources    resourceSet
	notResource  bool
	anyResource  bool // no Resource element (trust policies)
	conds        []compiledCondition
}

// Compile lowers a parsed policy for evaluation.
func Compile(p *Policy) *Compiled {
	vars := p.Version == Version2012
	c := &Compiled{kind: p.Kind, policy: p, stmts: make([]compiledStatement, 0, len(p.Statements))}
	for _, s := range p.Statements {
		cs := compiledStatement{sid: s.Sid, deny: s.Effect == Deny}
		switch {
		case s.Principal != nil:
			cs.principals = compilePrincipals(s.Principal)
		case s.NotPrincipal != nil:
			cs.principals, cs.notPrincipal = compilePrincipals(s.NotPrincipal), true
		}
		actions := s.Action
		if s.NotAction != nil {
			actions, cs.notAction = s.NotAction, true
		}
		for _, a := range actions {
			cs.actions = append(cs.actions, compilePattern(a, true, false, true))
		}
		resources := s.Resource
		if s.NotResource != nil {
			resources, cs.notResource = s.NotResource, true
		}
		cs.anyResource = resources == nil
		cs.resources = compileResourceSet(resources, vars)
		for _, cond := range s.Conditions {
			cs.conds = append(cs.conds, compileCondition(cond, vars))
		}
		c.stmts = append(c.stmts, cs)
	}
	return c
}

// ParseAndCompile parses, validates and compiles doc as a policy of kind.
func ParseAndCompile(doc []byte, kind Kind) (*Compiled, error) {
	p, err := Parse(doc, kind)
	if err != nil {
		return nil, fmt.Errorf("parse %s policy: %w", kind, err)
	}
	return Compile(p), nil
}

// Kind returns the policy's kind.
func (c *Compiled) Kind() Kind { return c.kind }

// Policy returns the parsed policy the compiled form was built from.
func (c *Compiled) Policy() *Policy { return c.policy }

// principal match strengths, weakest first.
type principalMatch uint8

const (
	principalNone    principalMatch = iota
	principalAny                    // "*" or a NotPrincipal that does not list the caller
	principalAccount                // the caller's account
	principalRole                   // the role the caller's session belongs to
	principalDirect                 // the caller's own user or session ARN (or service)
)

type compiledPrincipals struct {
	all       bool
	onlyAll   bool     // "*" and nothing else: every caller, none named directly
	accounts  []string // account IDs from arn:...:iam::ID:root
	arns      []string
	services  []string
	federated []string
	canonical []string
}

func compilePrincipals(p *Principals) *compiledPrincipals {
	cp := &compiledPrincipals{all: p.Wildcard}
	for _, a := range p.AWS {
		switch {
		case a == "*":
			cp.all = true
		case arnField(a, 2) == "iam" && arnField(a, 5) == "root":
			cp.accounts = append(cp.accounts, arnField(a, 4))
		default:
			cp.arns = append(cp.arns, a)
		}
	}
	for _, s := range p.Service {
		if s == "*" {
			cp.all = true
		}
		cp.services = append(cp.services, strings.ToLower(s))
	}
	cp.federated = append(cp.federated, p.Federated...)
	cp.canonical = append(cp.canonical, p.CanonicalUser...)
	cp.onlyAll = cp.all && len(cp.accounts)+len(cp.arns)+len(cp.services)+len(cp.federated)+len(cp.canonical) == 0
	return cp
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if equalFoldASCII(x, s) {
			return true
		}
	}
	return false
}

// match returns how strongly the caller is named by a Principal element.
func (cp *compiledPrincipals) match(r *Request) principalMatch {
	if cp.onlyAll {
		return principalAny
	}
	best := principalNone
	if cp.all {
		best = principalAny
	}
	switch r.PrincipalType {
	case PrincipalAnonymous:
		return best
	case PrincipalService:
		if containsFold(cp.services, r.Principal) {
			return principalDirect
		}
		return best
	}
	if containsString(cp.arns, r.Principal) || containsString(cp.federated, r.Principal) ||
		(r.CanonicalUser != "" && containsString(cp.canonical, r.CanonicalUser)) {
		return principalDirect
	}
	if r.PrincipalType == PrincipalAssumedRole && len(cp.arns) > 0 {
		if containsString(cp.arns, r.role()) {
			return principalRole
		}
	}
	if r.PrincipalAccount != "" && containsString(cp.accounts, r.PrincipalAccount) && best < principalAccount {
		best = principalAccount
	}
	return best
}

// excludes reports whether a NotPrincipal list exempts the caller: every
// identity the caller evaluates as (session, role, account) must be listed.
func (cp *compiledPrincipals) excludes(r *Request) bool {
	if cp.all {
		return true
	}
	switch r.PrincipalType {
	case PrincipalAnonymous:
		return false
	case PrincipalService:
		return containsFold(cp.services, r.Principal)
	}
	if r.PrincipalType != PrincipalRoot && !containsString(cp.arns, r.Principal) && !containsString(cp.federated, r.Principal) {
		return false
	}
	if r.PrincipalType == PrincipalAssumedRole {
		if role := r.role(); role != r.Principal && !containsString(cp.arns, role) {
			return false
		}
	}
	return containsString(cp.accounts, r.PrincipalAccount)
}

// statementMatch is the outcome of one statement for one request.
type statementMatch struct {
	applies   bool
	principal principalMatch
}

// evaluate matches one statement. hasBoundary reports that the caller has a
// permissions boundary: AWS documents that a Deny with NotPrincipal then
// always applies to the caller, whatever NotPrincipal lists.
func (s *compiledStatement) evaluate(r *Request, hasBoundary bool) statementMatch {
	pm := principalAny
	if s.principals != nil {
		if s.notPrincipal {
			if !(s.deny && hasBoundary) && s.principals.excludes(r) {
				return statementMatch{}
			}
		} else if pm = s.principals.match(r); pm == principalNone {
			return statementMatch{}
		}
	}
	matched := false
	for i := range s.actions {
		if r.matchAction(&s.actions[i]) {
			matched = true
			break
		}
	}
	if matched == s.notAction {
		return statementMatch{}
	}
	if !s.anyResource && s.resources.match(r.Resource, r) == s.notResource {
		return statementMatch{}
	}
	for i := range s.conds {
		if !s.conds[i].eval(r) {
			return statementMatch{}
		}
	}
	return statementMatch{applies: true, principal: pm}
}

// policyOutcome summarises one policy for one request.
type policyOutcome struct {
	allow  bool
	deny   bool
	direct bool // an Allow named the caller's own ARN (resource policies)
}

// evaluate runs every statement; onMatch (may be nil) sees each applying
// statement's index.
func (c *Compiled) evaluate(r *Request, hasBoundary bool, onMatch func(stmt int)) policyOutcome {
	var out policyOutcome
	for i := range c.stmts {
		s := &c.stmts[i]
		m := s.evaluate(r, hasBoundary)
		if !m.applies {
			continue
		}
		if onMatch != nil {
			onMatch(i)
		}
		if s.deny {
			out.deny = true
			continue
		}
		out.allow = true
		if m.principal == principalDirect {
			out.direct = true
		}
	}
	return out
}
