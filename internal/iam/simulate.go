package iam

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// Simulation decisions, as IAM's policy simulator names them.
const (
	DecisionAllowed      = "allowed"
	DecisionImplicitDeny = "implicitDeny"
	DecisionExplicitDeny = "explicitDeny"
)

// EvalDecisionDetails keys: how each policy type decided a cross-account
// simulation.
const (
	DetailIdentity = "IAM Policy"
	DetailResource = "Resource Policy"
)

// ContextEntry is one simulated context key.
type ContextEntry struct {
	Key    string
	Values []string
	// Type is string, stringList, numeric, numericList, boolean, booleanList,
	// ip, ipList, binary, binaryList, date or dateList ("" means string).
	Type string
}

// SimulationInput holds the parameters shared by SimulateCustomPolicy and
// SimulatePrincipalPolicy.
type SimulationInput struct {
	Policies       []string // PolicyInputList: identity-based policies
	Boundaries     []string // PermissionsBoundaryPolicyInputList
	Actions        []string
	Resources      []string // empty means "*"
	ResourcePolicy string
	ResourceOwner  string // account ID or arn:aws:iam::ID:root
	CallerARN      string
	Context        []ContextEntry
}

// Position is a line and column of a policy document (1-based).
type Position struct{ Line, Column int }

// MatchedStatement names a statement that decided a simulation.
type MatchedStatement struct {
	SourcePolicyID   string // PolicyInputList.1, ResourcePolicy, an inline policy name
	SourcePolicyType string // none, resource, user, role
	Start, End       *Position
}

// EvalResult is the outcome of one action on one resource.
type EvalResult struct {
	Action   string
	Resource string
	Decision string
	Matched  []MatchedStatement
	Missing  []string
	// Details is EvalDecisionDetails: nil when absent (resource "*"), empty
	// for a same-account resource, one entry per policy type across accounts.
	Details map[string]string
	// AllowedByBoundary is set when a permissions boundary took part.
	AllowedByBoundary *bool
	// ResourceSpecific is true when the resource was named (not "*"); IAM
	// then repeats the result under ResourceSpecificResults.
	ResourceSpecific bool
}

// simPolicy is one input policy of a simulation.
type simPolicy struct {
	id, typ string
	slot    policy.Kind // Identity, Boundary or Resource
	doc     string
	whole   *policy.Compiled
	stmts   []*policy.Compiled // one single-statement policy per statement
	bare    []*policy.Compiled // the same without conditions and resources
	spans   [][2]Position
}

var contextKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{5,256}$`)

func invalidInput(format string, args ...any) error {
	return cloud.Errorf("InvalidInput", format, args...)
}

func newSimPolicy(id, typ string, slot policy.Kind, doc string) (*simPolicy, error) {
	kind := slot
	p, err := policy.Parse([]byte(doc), kind)
	if err != nil {
		return nil, malformed(err)
	}
	sp := &simPolicy{id: id, typ: typ, slot: slot, doc: doc, whole: policy.Compile(p)}
	for _, s := range p.Statements {
		one := &policy.Policy{Version: p.Version, ID: p.ID, Kind: kind, Statements: []policy.Statement{s}}
		sp.stmts = append(sp.stmts, policy.Compile(one))
		// Relevance for MissingContextValues: the action (and principal)
		// match, whatever the resource and conditions.
		s.Conditions, s.Resource, s.NotResource = nil, nil, nil
		bare := &policy.Policy{Version: p.Version, ID: p.ID, Kind: kind, Statements: []policy.Statement{s}}
		sp.bare = append(sp.bare, policy.Compile(bare))
	}
	if spans := statementSpans(doc); len(spans) == len(p.Statements) {
		sp.spans = spans
	}
	return sp, nil
}

// in places a (single-statement) compiled policy in its slot.
func (sp *simPolicy) in(c *policy.Compiled) *policy.Policies {
	switch sp.slot {
	case policy.Resource:
		return &policy.Policies{Resource: c}
	case policy.Boundary:
		return &policy.Policies{Boundary: c}
	}
	return &policy.Policies{Identity: []*policy.Compiled{c}}
}

func checkContext(entries []ContextEntry) error {
	for _, e := range entries {
		if !contextKeyPattern.MatchString(e.Key) {
			return invalidInput("Invalid context key name: %q.", e.Key)
		}
		typ := strings.TrimSuffix(e.Type, "List")
		if e.Type != "" && e.Type != typ && len(e.Values) == 0 {
			continue
		}
		if e.Type != "" && e.Type == typ && len(e.Values) > 1 {
			return invalidInput("Context key %s of type %s takes one value; use %sList for several.", e.Key, e.Type, e.Type)
		}
		for _, v := range e.Values {
			ok := true
			switch typ {
			case "", "string":
			case "numeric":
				_, err := strconv.ParseFloat(v, 64)
				ok = err == nil
			case "boolean":
				ok = v == "true" || v == "false"
			case "ip":
				_, err := netip.ParseAddr(v)
				if err != nil {
					_, err = netip.ParsePrefix(v)
				}
				ok = err == nil
			case "binary":
				_, err := base64.StdEncoding.DecodeString(v)
				ok = err == nil
			case "date":
				_, err := time.Parse(time.RFC3339, v)
				if err != nil {
					_, err = strconv.ParseInt(v, 10, 64)
				}
				ok = err == nil
			default:
				return invalidInput("Invalid ContextKeyType %q for context key %s.", e.Type, e.Key)
			}
			if !ok {
				return invalidInput("Invalid value %q for context key %s of type %s.", v, e.Key, e.Type)
			}
		}
	}
	return nil
}

// simCaller describes the simulated principal.
type simCaller struct {
	arn, account, userID, name string
	typ                        policy.PrincipalType
	tags                       cloud.Tags
}

func userARNAccount(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !isAccountID(parts[4]) || !strings.HasPrefix(parts[5], "user/") {
		return "", false
	}
	return parts[4], true
}

// callerFromARN resolves a CallerArn (an IAM user ARN); a user privlink
// stores contributes its ID and tags.
func callerFromARN(tx *store.Tx, arn string) (simCaller, error) {
	acct, ok := userARNAccount(arn)
	if !ok {
		return simCaller{}, invalidInput("Invalid CallerArn %s: the caller must be an IAM user.", arn)
	}
	name := arn[strings.LastIndexByte(arn, '/')+1:]
	sc := simCaller{arn: arn, account: acct, name: name, typ: policy.PrincipalUser}
	if u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(acct, name)); ok && u.ARN() == arn {
		sc.userID, sc.tags = u.UserID, u.Tags
	}
	return sc, nil
}

// SimulateCustomPolicy simulates the input policies (no stored ones).
func (d *Directory) SimulateCustomPolicy(ctx context.Context, c Caller, in SimulationInput) ([]EvalResult, error) {
	if len(in.Policies) == 0 {
		return nil, validationError("1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null")
	}
	var out []EvalResult
	err := d.db.View(func(tx *store.Tx) error {
		if err := d.authz(c.Principal, c.Action, "*"); err != nil {
			return err
		}
		var sc simCaller
		switch {
		case in.CallerARN != "":
			var err error
			if sc, err = callerFromARN(tx, in.CallerARN); err != nil {
				return err
			}
		case in.ResourcePolicy != "":
			return invalidInput("CallerArn must be specified when a ResourcePolicy is simulated.")
		default:
			// The calling identity; an account root is simulated as a plain
			// IAM user of its account, so the input policies alone decide
			// (the root's implicit permissions would allow everything).
			p := c.Principal
			sc = simCaller{arn: p.ARN, account: p.AccountID, userID: p.UserID, name: p.Name, typ: policy.PrincipalType(p.Type)}
			if p.IsRoot() {
				sc.typ = policy.PrincipalUser
			}
		}
		var err error
		out, err = d.simulate(tx, sc, nil, in)
		return err
	})
	return out, err
}

// SimulatePrincipalPolicy simulates the inline policies (and boundary) of a
// user or role of the caller's account, with the input policies added.
func (d *Directory) SimulatePrincipalPolicy(ctx context.Context, c Caller, sourceARN string, in SimulationInput) ([]EvalResult, error) {
	if sourceARN == "" {
		return nil, validationError("1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null")
	}
	parts := strings.SplitN(sourceARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !isAccountID(parts[4]) {
		return nil, invalidInput("ARN %s is not valid.", sourceARN)
	}
	acct, res := parts[4], parts[5]
	name := res[strings.LastIndexByte(res, '/')+1:]
	var out []EvalResult
	err := d.db.View(func(tx *store.Tx) error {
		if acct != c.Principal.AccountID {
			return noSuchEntity("The entity %s cannot be found in account %s.", sourceARN, c.Principal.AccountID)
		}
		if err := d.authz(c.Principal, c.Action, sourceARN); err != nil {
			return err
		}
		var (
			sc       simCaller
			stored   []*simPolicy
			inline   map[string]string
			boundary string
			typ      string
		)
		switch {
		case strings.HasPrefix(res, "user/"):
			u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(acct, name))
			if !ok || u.ARN() != sourceARN {
				return noSuchEntity("The user with name %s cannot be found.", name)
			}
			sc = simCaller{arn: u.ARN(), account: acct, userID: u.UserID, name: u.UserName, typ: policy.PrincipalUser, tags: u.Tags}
			inline, boundary, typ = u.Policies, u.Boundary, "user"
		case strings.HasPrefix(res, "role/"):
			r, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(acct, name))
			if !ok || r.ARN() != sourceARN {
				return noSuchEntity("The role with name %s cannot be found.", name)
			}
			sc = simCaller{arn: r.ARN(), account: acct, userID: r.RoleID, name: r.RoleName, typ: policy.PrincipalAssumedRole, tags: r.Tags}
			inline, boundary, typ = r.Policies, r.Boundary, "role"
		default:
			return invalidInput("PolicySourceArn %s must name a user or a role.", sourceARN)
		}
		names := make([]string, 0, len(inline))
		for n := range inline {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sp, err := newSimPolicy(n, typ, policy.Identity, inline[n])
			if err != nil {
				return err
			}
			stored = append(stored, sp)
		}
		if boundary != "" && len(in.Boundaries) == 0 {
			sp, err := newSimPolicy("PermissionsBoundary", typ, policy.Boundary, boundary)
			if err != nil {
				return err
			}
			stored = append(stored, sp)
		}
		if in.CallerARN != "" {
			var err error
			if sc, err = callerFromARN(tx, in.CallerARN); err != nil {
				return err
			}
		}
		var err error
		out, err = d.simulate(tx, sc, stored, in)
		return err
	})
	return out, err
}

func (d *Directory) simulate(tx *store.Tx, sc simCaller, stored []*simPolicy, in SimulationInput) ([]EvalResult, error) {
	if len(in.Actions) == 0 {
		return nil, validationError("1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null")
	}
	for _, a := range in.Actions {
		if len(a) < 3 || len(a) > 128 || !strings.Contains(a, ":") {
			return nil, invalidInput("Invalid action name %q: actions are service:Action.", a)
		}
	}
	if len(in.Boundaries) > 1 {
		return nil, invalidInput("Only one permissions boundary policy can be simulated.")
	}
	if err := checkContext(in.Context); err != nil {
		return nil, err
	}
	resourceAccount := ""
	if o := in.ResourceOwner; o != "" {
		switch {
		case isAccountID(o):
			resourceAccount = o
		case strings.HasPrefix(o, "arn:") && strings.HasSuffix(o, ":root") && isAccountID(strings.Split(o, ":")[4]):
			resourceAccount = strings.Split(o, ":")[4]
		default:
			return nil, invalidInput("Invalid ResourceOwner %s: use an account ARN such as arn:aws:iam::123456789012:root.", o)
		}
	}
	policies := stored
	for i, doc := range in.Policies {
		sp, err := newSimPolicy("PolicyInputList."+strconv.Itoa(i+1), "none", policy.Identity, doc)
		if err != nil {
			return nil, err
		}
		policies = append(policies, sp)
	}
	for i, doc := range in.Boundaries {
		sp, err := newSimPolicy("PermissionsBoundaryPolicyInputList."+strconv.Itoa(i+1), "none", policy.Boundary, doc)
		if err != nil {
			return nil, err
		}
		policies = append(policies, sp)
	}
	if in.ResourcePolicy != "" {
		sp, err := newSimPolicy("ResourcePolicy", "resource", policy.Resource, in.ResourcePolicy)
		if err != nil {
			return nil, err
		}
		policies = append(policies, sp)
	}
	set := &policy.Policies{}
	for _, sp := range policies {
		switch sp.slot {
		case policy.Identity:
			set.Identity = append(set.Identity, sp.whole)
		case policy.Boundary:
			set.Boundary = sp.whole
		case policy.Resource:
			set.Resource = sp.whole
		}
	}
	resources := in.Resources
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	orgID := ""
	if a, ok := store.Get[cloud.Account](tx, cloud.KindAccount, sc.account); ok {
		orgID = a.OrgID
	}
	tags := map[string]string{}
	for _, t := range sc.tags {
		tags[t.Key] = t.Value
	}
	var out []EvalResult
	for _, action := range in.Actions {
		for _, resource := range resources {
			req := &policy.Request{
				Principal: sc.arn, PrincipalType: sc.typ, PrincipalAccount: sc.account, PrincipalOrgID: orgID,
				PrincipalTags: tags, UserID: sc.userID, Action: action, Resource: resource,
				ResourceAccount: resourceAccount, Time: d.now(),
			}
			if sc.typ == policy.PrincipalUser {
				req.Username = sc.name
			}
			for _, e := range in.Context {
				req.Context.Set(e.Key, e.Values...)
			}
			req.Complete()
			if resourceAccount == "" && req.ResourceAccount == "" {
				req.ResourceAccount = sc.account
			}
			out = append(out, evalOne(set, policies, req, resource))
		}
	}
	return out, nil
}

func decisionName(d policy.Decision) string {
	switch d {
	case policy.Allowed:
		return DecisionAllowed
	case policy.ExplicitlyDenied:
		return DecisionExplicitDeny
	}
	return DecisionImplicitDeny
}

func evalOne(set *policy.Policies, policies []*simPolicy, req *policy.Request, resource string) EvalResult {
	res := policy.Evaluate(set, req)
	er := EvalResult{Action: req.Action, Resource: resource, Decision: decisionName(res.Decision), Missing: []string{}, ResourceSpecific: resource != "*"}
	have := req.GlobalKeys()
	missing := map[string]bool{}
	// Per policy type: did an applying statement allow / deny?
	type verdict struct{ allow, deny, present bool }
	var identity, resourceV, boundary verdict
	for _, sp := range policies {
		v := &identity
		switch sp.slot {
		case policy.Resource:
			v = &resourceV
		case policy.Boundary:
			v = &boundary
		}
		v.present = true
		for i, one := range sp.stmts {
			stmt := one.Policy().Statements[0]
			if r := policy.Evaluate(sp.in(sp.bare[i]), req); len(r.Matched) > 0 {
				for _, c := range stmt.Conditions {
					if _, ok := have[strings.ToLower(c.Key)]; !ok {
						missing[c.Key] = true
					}
				}
			}
			r := policy.Evaluate(sp.in(one), req)
			if len(r.Matched) == 0 {
				continue
			}
			deny := stmt.Effect == policy.Deny
			v.allow = v.allow || !deny
			v.deny = v.deny || deny
			if (res.Decision == policy.ExplicitlyDenied) != deny || res.Decision == policy.ImplicitlyDenied {
				continue
			}
			m := MatchedStatement{SourcePolicyID: sp.id, SourcePolicyType: sp.typ}
			if sp.spans != nil {
				m.Start, m.End = &sp.spans[i][0], &sp.spans[i][1]
			}
			er.Matched = append(er.Matched, m)
		}
	}
	seen := map[string]bool{}
	for k := range missing {
		if !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			er.Missing = append(er.Missing, k)
		}
	}
	sort.Strings(er.Missing)
	if boundary.present {
		b := boundary.allow && !boundary.deny
		er.AllowedByBoundary = &b
	}
	if resource != "*" {
		er.Details = map[string]string{}
		if req.PrincipalAccount != "" && req.ResourceAccount != "" && req.PrincipalAccount != req.ResourceAccount {
			verdictName := func(v verdict) string {
				switch {
				case v.deny:
					return DecisionExplicitDeny
				case v.allow:
					return DecisionAllowed
				}
				return DecisionImplicitDeny
			}
			er.Details[DetailIdentity] = verdictName(identity)
			er.Details[DetailResource] = verdictName(resourceV)
		}
	}
	return er
}

// statementSpans returns the start and end position of each element of a
// policy's Statement (an array, or one object), or nil if the document
// cannot be scanned.
func statementSpans(doc string) [][2]Position {
	dec := json.NewDecoder(strings.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var offsets [][2]int64
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		if key != "Statement" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
			continue
		}
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		start = skipSpace(doc, start)
		if len(raw) > 0 && raw[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(raw, &elems); err != nil {
				return nil
			}
			inner := json.NewDecoder(strings.NewReader(string(raw)))
			inner.Token() // [
			for inner.More() {
				s := inner.InputOffset()
				var e json.RawMessage
				if err := inner.Decode(&e); err != nil {
					return nil
				}
				s = skipSpace(string(raw), s)
				offsets = append(offsets, [2]int64{start + s, start + inner.InputOffset()})
			}
		} else {
			offsets = append(offsets, [2]int64{start, start + int64(len(raw))})
		}
	}
	out := make([][2]Position, len(offsets))
	for i, o := range offsets {
		out[i] = [2]Position{positionAt(doc, o[0]), positionAt(doc, o[1])}
	}
	return out
}

// skipSpace skips whitespace, ':' and ',' from offset i.
func skipSpace(s string, i int64) int64 {
	for i < int64(len(s)) {
		switch s[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		}
		break
	}
	return i
}

func positionAt(s string, off int64) Position {
	line, col := 1, 1
	for i := int64(0); i < off && i < int64(len(s)); i++ {
		if s[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return Position{Line: line, Column: col}
}
