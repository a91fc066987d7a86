// Package policy owns the IAM JSON policy language (parse, validate, compile,
// evaluate across policy types, explain); it performs no I/O and must not
// import other privlink packages or know where policies are stored.
package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownKind is returned when a policy kind name is not recognised.
var ErrUnknownKind = errors.New("policy: unknown policy kind")

// Kind is the type of a policy document; it decides which elements are
// required or forbidden and how the policy takes part in evaluation.
type Kind int

// Policy kinds.
const (
	Identity Kind = iota + 1
	Resource
	Endpoint
	SCP
	RCP
	Boundary
	Session
	Trust
)

var kindNames = [...]string{
	Identity: "identity",
	Resource: "resource",
	Endpoint: "endpoint",
	SCP:      "scp",
	RCP:      "rcp",
	Boundary: "boundary",
	Session:  "session",
	Trust:    "trust",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind maps a kind name ("identity", "resource", "endpoint", "scp", "rcp",
// "boundary", "session", "trust") to its Kind.
func ParseKind(name string) (Kind, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "vpce", "vpc-endpoint":
		return Endpoint, nil
	case "permissionsboundary", "permissions-boundary":
		return Boundary, nil
	}
	for k := Identity; k <= Trust; k++ {
		if kindNames[k] == n {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownKind, name)
}

// principalRequired reports whether statements of this kind must name a
// principal (resource-style policies).
func (k Kind) principalRequired() bool {
	return k == Resource || k == Endpoint || k == Trust || k == RCP
}

// Policy language versions.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// MaxEndpointPolicyChars is the largest VPC endpoint policy AWS accepts.
const MaxEndpointPolicyChars = 20480

// Effect is a statement's effect.
type Effect string

// Statement effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy is a parsed, validated policy document. A document without a
// Version gets 2008-10-17, its meaning in AWS (no policy variables).
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
	Kind       Kind
}

// Statement is one policy statement. Nil slices and nil principal sets mean the
// element was absent; Action and NotAction are never both non-nil.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
}

// Principals is the value of a Principal or NotPrincipal element. Wildcard is
// the bare "*" form; account IDs are normalised to arn:aws:iam::ID:root.
type Principals struct {
	Wildcard      bool
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one (operator, key, values) triple of a Condition block.
// Operator is the canonical spelling, qualifiers and IfExists included.
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

// ValidationError lists everything wrong with a policy document in AWS's
// wording; the API layer returns it as MalformedPolicyDocument.
type ValidationError struct {
	Messages []string
}

func (e *ValidationError) Error() string {
	if len(e.Messages) == 1 {
		return "policy: " + e.Messages[0]
	}
	return "policy: " + strings.Join(e.Messages, "; ")
}

// Parse parses and validates a policy document of the given kind. Any problem
// is reported as a *ValidationError carrying every message found.
func Parse(doc []byte, kind Kind) (*Policy, error) {
	p, msgs := parse(doc, kind)
	if len(msgs) > 0 {
		return nil, &ValidationError{Messages: msgs}
	}
	return p, nil
}

// Validate returns every validation message for doc as a policy of the given
// kind; an empty result means the document is valid.
func Validate(doc []byte, kind Kind) []string {
	_, msgs := parse(doc, kind)
	return msgs
}

// GuessKind guesses a document's kind for validation: a statement with a
// Principal or NotPrincipal makes it a resource policy, otherwise identity.
func GuessKind(doc []byte) Kind {
	p, _ := parse(doc, 0)
	if p == nil {
		return Identity
	}
	for _, s := range p.Statements {
		if s.Principal != nil || s.NotPrincipal != nil {
			return Resource
		}
	}
	return Identity
}
