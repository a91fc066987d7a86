package policy

import (
	"encoding/json"
	"strings"
)

// Policies are every policy that applies to one request, grouped by type.
type Policies struct {
	Identity []*Compiled // the principal's identity-based policies (ORed)
	Resource *Compiled   // the resource-based policy, if any
	// Endpoint holds the policy of each VPC endpoint the request crosses;
	// every one of them must allow.
	Endpoint []*Compiled
	// SCP and RCP hold one slice per level, root → OU(s) → account; at every
	// level some policy must allow.
	SCP      [][]*Compiled
	RCP      [][]*Compiled
	Boundary *Compiled // the principal's permissions boundary
	Session  *Compiled // the session policy of an assumed-role session
}

// Decision is the outcome of an evaluation.
type Decision int

// Decisions. The zero value is ImplicitlyDenied: nothing is allowed by default.
const (
	ImplicitlyDenied Decision = iota
	Allowed
	ExplicitlyDenied
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allowed"
	case ExplicitlyDenied:
		return "ExplicitlyDenied"
	}
	return "ImplicitlyDenied"
}

// MarshalText encodes the decision by name.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Policy type names used in results, in the order denials are reported.
const (
	TypeRCP      = "rcp"
	TypeSCP      = "scp"
	TypeEndpoint = "vpce"
	TypeIdentity = "identity"
	TypeResource = "resource"
	TypeBoundary = "boundary"
	TypeSession  = "session"
)

type policyType uint8

const (
	ptRCP policyType = iota
	ptSCP
	ptEndpoint
	ptIdentity
	ptResource
	ptBoundary
	ptSession
	ptCount
)

func (t policyType) String() string {
	return [ptCount]string{TypeRCP, TypeSCP, TypeEndpoint, TypeIdentity, TypeResource, TypeBoundary, TypeSession}[t]
}

// phrase is how AWS names the policy type in access-denied messages.
func (t policyType) phrase() (withArticle, bare string) {
	switch t {
	case ptRCP:
		return "a resource control policy", "resource control policy"
	case ptSCP:
		return "a service control policy", "service control policy"
	case ptEndpoint:
		return "a VPC endpoint policy", "VPC endpoint policy"
	case ptIdentity:
		return "an identity-based policy", "identity-based policy"
	case ptResource:
		return "a resource-based policy", "resource-based policy"
	case ptBoundary:
		return "a permissions boundary", "permissions boundary"
	}
	return "a session policy", "session policy"
}

// MatchedStatement identifies a statement that applied to the request.
// PolicyIndex counts policies of that type in input order (SCP and RCP levels
// flattened, root first).
type MatchedStatement struct {
	PolicyType  string `json:"policyType"`
	PolicyIndex int    `json:"policyIndex"`
	Sid         string `json:"sid"`
	Effect      Effect `json:"effect"`
}

// Result explains a decision.
type Result struct {
	Decision  Decision           `json:"decision"`
	BlockedBy []string           `json:"blockedBy"`
	Matched   []MatchedStatement `json:"matchedStatements"`
	Message   string             `json:"message"`
}

// MarshalJSON always emits lists, never null.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	p := plain(r)
	if p.BlockedBy == nil {
		p.BlockedBy = []string{}
	}
	if p.Matched == nil {
		p.Matched = []MatchedStatement{}
	}
	return json.Marshal(p)
}

// Evaluate decides one request the way AWS's policy evaluation logic does.
// Everything is denied by default; a request is allowed only when:
//
//   - no applicable policy of any type has a matching Deny (explicit deny wins);
//   - every RCP level allows (RCPs do not apply to AWS service principals);
//   - every SCP level allows (SCPs apply to the principal's account only);
//   - every VPC endpoint policy on the path allows (they never grant, only bound);
//   - the grant holds: within one account an identity-based OR a resource-based
//     policy allows; across accounts the identity-based AND the resource-based
//     policy must both allow; service and anonymous principals need the
//     resource-based policy; a role trust policy (kind Trust) must always
//     allow; the account root user counts as allowed by identity;
//   - the permissions boundary and the session policy, when present, allow —
//     except that within one account a resource-based policy naming the
//     caller's own user or role-session ARN is not limited by their implicit
//     deny (one naming the role ARN is).
//
// Call r.Complete() once before evaluating a request.
func Evaluate(p *Policies, r *Request) Result {
	res := Result{Matched: make([]MatchedStatement, 0, 4)}
	EvaluateInto(p, r, &res)
	return res
}

// EvaluateInto is Evaluate writing into res and reusing its slices, so a
// caller on a hot path that keeps one Result per goroutine decides allowed
// requests without allocating.
func EvaluateInto(p *Policies, r *Request, res *Result) {
	res.Decision, res.Message = ImplicitlyDenied, ""
	res.BlockedBy, res.Matched = res.BlockedBy[:0], res.Matched[:0]
	var allow, deny, blocked [ptCount]bool

	svc := r.PrincipalType == PrincipalService
	anon := r.PrincipalType == PrincipalAnonymous
	hasIdentity := !svc && !anon

	hasBoundary := hasIdentity && p.Boundary != nil
	record := func(t policyType, index int, c *Compiled) policyOutcome {
		return c.evaluate(r, hasBoundary, func(stmt int) {
			s := &c.stmts[stmt]
			eff := Allow
			if s.deny {
				eff = Deny
			}
			res.Matched = append(res.Matched, MatchedStatement{PolicyType: t.String(), PolicyIndex: index, Sid: s.sid, Effect: eff})
		})
	}
	// levels evaluates SCP/RCP levels: every level needs an allowing policy.
	levels := func(t policyType, ls [][]*Compiled) {
		allow[t] = true
		n := 0
		for _, level := range ls {
			levelAllows := false
			for _, c := range level {
				o := record(t, n, c)
				n++
				levelAllows = levelAllows || o.allow
				deny[t] = deny[t] || o.deny
			}
			allow[t] = allow[t] && levelAllows
		}
	}

	if len(p.RCP) > 0 && !svc {
		levels(ptRCP, p.RCP)
		blocked[ptRCP] = !allow[ptRCP]
	}
	if len(p.SCP) > 0 && hasIdentity {
		levels(ptSCP, p.SCP)
		blocked[ptSCP] = !allow[ptSCP]
	}
	if len(p.Endpoint) > 0 {
		allow[ptEndpoint] = true
		for i, c := range p.Endpoint {
			o := record(ptEndpoint, i, c)
			allow[ptEndpoint] = allow[ptEndpoint] && o.allow
			deny[ptEndpoint] = deny[ptEndpoint] || o.deny
		}
		blocked[ptEndpoint] = !allow[ptEndpoint]
	}
	if hasIdentity {
		for i, c := range p.Identity {
			o := record(ptIdentity, i, c)
			allow[ptIdentity] = allow[ptIdentity] || o.allow
			deny[ptIdentity] = deny[ptIdentity] || o.deny
		}
	}
	direct := false
	if p.Resource != nil {
		o := record(ptResource, 0, p.Resource)
		allow[ptResource], deny[ptResource], direct = o.allow, o.deny, o.direct
	}
	if hasIdentity && p.Boundary != nil {
		o := record(ptBoundary, 0, p.Boundary)
		allow[ptBoundary], deny[ptBoundary] = o.allow, o.deny
	}
	if hasIdentity && p.Session != nil {
		o := record(ptSession, 0, p.Session)
		allow[ptSession], deny[ptSession] = o.allow, o.deny
	}

	for t := range ptCount {
		if deny[t] {
			res.Decision = ExplicitlyDenied
			res.BlockedBy = append(res.BlockedBy, t.String())
		}
	}
	if res.Decision == ExplicitlyDenied {
		res.Message = denyMessage(r, firstType(deny), true)
		return
	}

	// The account root user has every identity permission in its account.
	if r.PrincipalType == PrincipalRoot {
		allow[ptIdentity] = true
	}
	crossAccount := r.PrincipalAccount != "" && r.ResourceAccount != "" && r.PrincipalAccount != r.ResourceAccount
	switch {
	case !hasIdentity:
		blocked[ptResource] = !allow[ptResource]
	case p.Resource != nil && p.Resource.kind == Trust:
		// Role trust policies must always allow the caller; naming the
		// account (not the caller itself) also needs the caller's own
		// identity-based allow, as does any cross-account assumption.
		blocked[ptResource] = !allow[ptResource]
		blocked[ptIdentity] = !allow[ptIdentity] && (crossAccount || !direct)
		blocked[ptBoundary] = p.Boundary != nil && !allow[ptBoundary] && (crossAccount || !direct)
		blocked[ptSession] = p.Session != nil && !allow[ptSession] && (crossAccount || !direct)
	case crossAccount:
		blocked[ptIdentity] = !allow[ptIdentity]
		blocked[ptResource] = !allow[ptResource]
		blocked[ptBoundary] = p.Boundary != nil && !allow[ptBoundary]
		blocked[ptSession] = p.Session != nil && !allow[ptSession]
	case direct && allow[ptResource]:
		// A same-account resource policy naming the caller's own ARN grants on
		// its own; boundaries and session policies do not limit it.
	default:
		if !allow[ptIdentity] && !allow[ptResource] {
			blocked[ptIdentity] = true
			blocked[ptResource] = p.Resource != nil
		}
		blocked[ptBoundary] = p.Boundary != nil && !allow[ptBoundary]
		blocked[ptSession] = p.Session != nil && !allow[ptSession]
	}
	for t := range ptCount {
		if blocked[t] {
			res.BlockedBy = append(res.BlockedBy, t.String())
		}
	}
	if len(res.BlockedBy) > 0 {
		res.Decision = ImplicitlyDenied
		res.Message = denyMessage(r, firstType(blocked), false)
		return
	}
	res.Decision = Allowed
}

func firstType(set [ptCount]bool) policyType {
	for t := range ptCount {
		if set[t] {
			return t
		}
	}
	return ptIdentity
}

// denyMessage renders AWS's access-denied wording in one allocation.
func denyMessage(r *Request, t policyType, explicit bool) string {
	who := r.Principal
	if r.PrincipalType == PrincipalAnonymous || who == "" {
		who = "anonymous"
	}
	withArticle, bare := t.phrase()
	var b strings.Builder
	b.Grow(128 + len(who) + 2*len(r.Action) + len(r.Resource))
	b.WriteString("User: ")
	b.WriteString(who)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(r.Action)
	if r.Resource != "" && r.Resource != "*" {
		b.WriteString(` on resource: "`)
		b.WriteString(r.Resource)
		b.WriteByte('"')
	}
	if explicit {
		b.WriteString(" with an explicit deny in ")
		b.WriteString(withArticle)
	} else {
		b.WriteString(" because no ")
		b.WriteString(bare)
		b.WriteString(" allows the ")
		b.WriteString(r.Action)
		b.WriteString(" action")
	}
	return b.String()
}
