package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrSimulateInput marks a malformed simulation input.
var ErrSimulateInput = errors.New("policy: invalid simulate input")

type simulateInput struct {
	Request  simulateRequest  `json:"request"`
	Policies simulatePolicies `json:"policies"`
}

type simulateRequest struct {
	Principal        string                     `json:"principal"`
	PrincipalType    string                     `json:"principalType"`
	PrincipalAccount string                     `json:"principalAccount"`
	PrincipalOrgID   string                     `json:"principalOrgId"`
	PrincipalTags    map[string]string          `json:"principalTags"`
	Username         string                     `json:"username"`
	UserID           string                     `json:"userid"`
	CanonicalUser    string                     `json:"canonicalUser"`
	Action           string                     `json:"action"`
	Resource         string                     `json:"resource"`
	ResourceAccount  string                     `json:"resourceAccount"`
	ResourceOrgID    string                     `json:"resourceOrgId"`
	Time             string                     `json:"time"`
	ViaAWSService    bool                       `json:"viaAWSService"`
	Context          map[string]json.RawMessage `json:"context"`
}

type simulatePolicies struct {
	Identity            []json.RawMessage `json:"identity"`
	Resource            json.RawMessage   `json:"resource"`
	Trust               json.RawMessage   `json:"trust"` // a role trust policy, in place of resource
	Endpoint            []json.RawMessage `json:"endpoint"`
	SCP                 []json.RawMessage `json:"scp"`
	RCP                 []json.RawMessage `json:"rcp"`
	PermissionsBoundary json.RawMessage   `json:"permissionsBoundary"`
	Session             json.RawMessage   `json:"session"`
}

// Simulate evaluates the request and policies described by input (the
// contract of `privlink policy simulate --input FILE`) and returns the
// result as JSON: {"decision", "blockedBy", "matchedStatements", "message"}.
// Unknown fields are rejected by name.
func Simulate(input []byte) ([]byte, error) {
	res, err := SimulateResult(input)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("policy: simulate: encode result: %w", err)
	}
	return out, nil
}

// SimulateResult is Simulate returning the Result value.
func SimulateResult(input []byte) (Result, error) {
	var in simulateInput
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrSimulateInput, err)
	}
	req, err := in.Request.build()
	if err != nil {
		return Result{}, err
	}
	pols, err := in.Policies.build()
	if err != nil {
		return Result{}, err
	}
	return Evaluate(pols, req), nil
}

func (s *simulateRequest) build() (*Request, error) {
	r := &Request{
		Principal: s.Principal, PrincipalType: PrincipalType(s.PrincipalType), PrincipalAccount: s.PrincipalAccount,
		PrincipalOrgID: s.PrincipalOrgID, PrincipalTags: s.PrincipalTags, Username: s.Username, UserID: s.UserID,
		CanonicalUser: s.CanonicalUser, Action: s.Action, Resource: s.Resource, ResourceAccount: s.ResourceAccount,
		ResourceOrgID: s.ResourceOrgID, ViaAWSService: s.ViaAWSService,
	}
	switch r.PrincipalType {
	case "", PrincipalRoot, PrincipalUser, PrincipalAssumedRole, PrincipalFederatedUser, PrincipalService, PrincipalAnonymous:
	default:
		return nil, fmt.Errorf("%w: request.principalType %q", ErrSimulateInput, s.PrincipalType)
	}
	if s.Time != "" {
		t, ok := parseDate(s.Time)
		if !ok {
			return nil, fmt.Errorf("%w: request.time %q is not a date", ErrSimulateInput, s.Time)
		}
		r.Time = t
	}
	for k, raw := range s.Context {
		vals, err := conditionValues(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: request.context[%q]: %w", ErrSimulateInput, k, err)
		}
		r.Context.Set(k, vals...)
	}
	r.Complete()
	return r, nil
}

func (s *simulatePolicies) build() (*Policies, error) {
	p := &Policies{}
	one := func(field string, i int, raw json.RawMessage, kind Kind) (*Compiled, error) {
		doc := raw
		if firstByte(raw) == '"' { // a policy passed as a JSON string, as AWS APIs do
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return nil, fmt.Errorf("%w: policies.%s[%d]: %w", ErrSimulateInput, field, i, err)
			}
			doc = []byte(str)
		}
		c, err := ParseAndCompile(doc, kind)
		if err != nil {
			return nil, fmt.Errorf("policies.%s[%d]: %w", field, i, err)
		}
		return c, nil
	}
	isNull := func(raw json.RawMessage) bool { return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" }
	for i, raw := range s.Identity {
		c, err := one("identity", i, raw, Identity)
		if err != nil {
			return nil, err
		}
		p.Identity = append(p.Identity, c)
	}
	for i, raw := range s.Endpoint {
		c, err := one("endpoint", i, raw, Endpoint)
		if err != nil {
			return nil, err
		}
		p.Endpoint = append(p.Endpoint, c)
	}
	var err error
	if !isNull(s.Resource) {
		if p.Resource, err = one("resource", 0, s.Resource, Resource); err != nil {
			return nil, err
		}
	}
	if !isNull(s.Trust) {
		if p.Resource != nil {
			return nil, fmt.Errorf("%w: policies.trust and policies.resource are exclusive", ErrSimulateInput)
		}
		if p.Resource, err = one("trust", 0, s.Trust, Trust); err != nil {
			return nil, err
		}
	}
	if !isNull(s.PermissionsBoundary) {
		if p.Boundary, err = one("permissionsBoundary", 0, s.PermissionsBoundary, Boundary); err != nil {
			return nil, err
		}
	}
	if !isNull(s.Session) {
		if p.Session, err = one("session", 0, s.Session, Session); err != nil {
			return nil, err
		}
	}
	// levels accepts [[root...], [ou...]] or a flat list meaning one level.
	levels := func(field string, raws []json.RawMessage, kind Kind) ([][]*Compiled, error) {
		var out [][]*Compiled
		var flat []*Compiled
		n := 0
		for _, raw := range raws {
			if firstByte(raw) != '[' {
				c, err := one(field, n, raw, kind)
				if err != nil {
					return nil, err
				}
				n++
				flat = append(flat, c)
				continue
			}
			var level []json.RawMessage
			if err := json.Unmarshal(raw, &level); err != nil {
				return nil, fmt.Errorf("%w: policies.%s: %w", ErrSimulateInput, field, err)
			}
			var cs []*Compiled
			for _, lr := range level {
				c, err := one(field, n, lr, kind)
				if err != nil {
					return nil, err
				}
				n++
				cs = append(cs, c)
			}
			out = append(out, cs)
		}
		if len(flat) > 0 {
			if len(out) > 0 {
				return nil, fmt.Errorf("%w: policies.%s mixes levels and policies", ErrSimulateInput, field)
			}
			out = append(out, flat)
		}
		return out, nil
	}
	if p.SCP, err = levels("scp", s.SCP, SCP); err != nil {
		return nil, err
	}
	if p.RCP, err = levels("rcp", s.RCP, RCP); err != nil {
		return nil, err
	}
	return p, nil
}

// ValidateDocument validates doc for `privlink policy validate FILE`. An empty
// kind guesses it (a Principal makes it a resource policy). It returns the kind
// used and every validation message.
func ValidateDocument(doc []byte, kind string) (Kind, []string, error) {
	k := GuessKind(doc)
	if kind != "" {
		var err error
		if k, err = ParseKind(kind); err != nil {
			return 0, nil, err
		}
	}
	return k, Validate(doc, k), nil
}
