package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// parse turns doc into a Policy and collects every validation message. kind 0
// skips the kind-specific rules (used to guess a document's kind).
func parse(doc []byte, kind Kind) (*Policy, []string) {
	var msgs []string
	addf := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }

	if kind == Endpoint && utf8.RuneCount(doc) > MaxEndpointPolicyChars {
		addf("Policy document exceeds the maximum length of %d characters for a VPC endpoint policy", MaxEndpointPolicyChars)
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(doc, &top); err != nil || top == nil {
		return nil, append(msgs, "Syntax errors in policy.")
	}
	p := &Policy{Version: Version2008, Kind: kind}
	for name, raw := range top {
		switch name {
		case "Version":
			var v string
			if json.Unmarshal(raw, &v) != nil || (v != Version2012 && v != Version2008) {
				addf("Invalid Version: %s (must be %s or %s)", compact(raw), Version2012, Version2008)
				continue
			}
			p.Version = v
		case "Id":
			if json.Unmarshal(raw, &p.ID) != nil {
				addf("Id must be a string")
			}
		case "Statement":
		default:
			addf("Syntax errors in policy. Unknown field %s", name)
		}
	}
	rawStmts, ok := top["Statement"]
	if !ok {
		return p, append(msgs, "Missing required field Statement")
	}
	var list []json.RawMessage
	if t := firstByte(rawStmts); t == '[' {
		if json.Unmarshal(rawStmts, &list) != nil {
			return p, append(msgs, "Syntax errors in policy.")
		}
	} else if t == '{' {
		list = []json.RawMessage{rawStmts}
	} else {
		return p, append(msgs, "Statement must be an object or an array of objects")
	}
	sids := map[string]bool{}
	for i, raw := range list {
		s, smsgs := parseStatement(raw, kind, i)
		msgs = append(msgs, smsgs...)
		if s == nil {
			continue
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				addf("Statement IDs (SID) in a single policy must be unique: %s", s.Sid)
			}
			sids[s.Sid] = true
		}
		p.Statements = append(p.Statements, *s)
	}
	return p, msgs
}

func parseStatement(raw json.RawMessage, kind Kind, index int) (*Statement, []string) {
	var msgs []string
	addf := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	var fields map[string]json.RawMessage
	if firstByte(raw) != '{' || strictUnmarshal(raw, &fields) != nil {
		return nil, []string{fmt.Sprintf("Statement %d must be an object", index)}
	}
	s := &Statement{}
	for name, v := range fields {
		var err error
		switch name {
		case "Sid":
			if json.Unmarshal(v, &s.Sid) != nil {
				addf("Sid must be a string")
			}
		case "Effect":
			var e string
			if json.Unmarshal(v, &e) != nil || (e != string(Allow) && e != string(Deny)) {
				addf("Invalid effect: %s", compact(v))
				continue
			}
			s.Effect = Effect(e)
		case "Principal":
			s.Principal, err = parsePrincipals(v)
		case "NotPrincipal":
			s.NotPrincipal, err = parsePrincipals(v)
		case "Action":
			s.Action, err = parseStrings(v)
		case "NotAction":
			s.NotAction, err = parseStrings(v)
		case "Resource":
			s.Resource, err = parseStrings(v)
		case "NotResource":
			s.NotResource, err = parseStrings(v)
		case "Condition":
			var cmsgs []string
			s.Conditions, cmsgs = parseConditions(v)
			msgs = append(msgs, cmsgs...)
		default:
			addf("Syntax errors in policy. Unknown field %s", name)
		}
		switch {
		case err == nil:
		case name == "Principal" || name == "NotPrincipal":
			addf("%v", err)
		default:
			addf("%s: %v", name, err)
		}
	}
	if _, ok := fields["Effect"]; !ok {
		addf("Missing required field Effect")
	}
	switch {
	case s.Action == nil && s.NotAction == nil:
		addf("Policy statement must contain actions.")
	case s.Action != nil && s.NotAction != nil:
		addf("Statement cannot contain both Action and NotAction")
	}
	for _, a := range append(append([]string(nil), s.Action...), s.NotAction...) {
		if a != "*" && !hasVendor(a) {
			addf("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid action: %s", a)
		}
	}
	if s.Resource != nil && s.NotResource != nil {
		addf("Statement cannot contain both Resource and NotResource")
	}
	if s.Resource == nil && s.NotResource == nil && kind != Trust && kind != 0 {
		addf("Policy statement must contain resources.")
	}
	for _, r := range append(append([]string(nil), s.Resource...), s.NotResource...) {
		if !validResource(r) {
			addf("Resource %s must be in ARN format or \"*\".", r)
		}
	}
	if s.Principal != nil && s.NotPrincipal != nil {
		addf("Statement cannot contain both Principal and NotPrincipal")
	}
	_, hasP := fields["Principal"]
	_, hasNP := fields["NotPrincipal"]
	hasPrincipal := hasP || hasNP
	switch {
	case kind == 0:
	case kind.principalRequired() && !hasPrincipal:
		addf("Missing required field Principal")
	case !kind.principalRequired() && hasPrincipal:
		addf("Policy document should not specify a principal.")
	case kind == RCP && (s.Principal == nil || !s.Principal.Wildcard && !(len(s.Principal.AWS) == 1 && s.Principal.AWS[0] == "*")):
		addf("Resource control policies support only \"*\" as Principal")
	case kind == Endpoint && s.NotPrincipal != nil:
		addf("VPC endpoint policies do not support NotPrincipal")
	}
	return s, msgs
}

func hasVendor(s string) bool {
	i := strings.IndexByte(s, ':')
	return i > 0 && i < len(s)-1
}

// validResource accepts "*", ARNs with all six components, ARNs ending in a
// wildcard, and values built from policy variables.
func validResource(r string) bool {
	if r == "*" || strings.Contains(r, "${") {
		return true
	}
	if !strings.HasPrefix(r, "arn:") {
		return false
	}
	return strings.Count(r, ":") >= 5 || strings.Contains(r, "*")
}

// parseStrings accepts a JSON string or an array of strings; a present
// element always yields a non-nil slice.
func parseStrings(raw json.RawMessage) ([]string, error) {
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("invalid string: %w", err)
		}
		return []string{s}, nil
	case '[':
		out := []string{}
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("must be a string or a list of strings")
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a string or a list of strings")
}

func parsePrincipals(raw json.RawMessage) (*Principals, error) {
	if firstByte(raw) == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s != "*" {
			return nil, fmt.Errorf("Invalid principal in policy: %s", compact(raw))
		}
		return &Principals{Wildcard: true}, nil
	}
	var m map[string]json.RawMessage
	if firstByte(raw) != '{' || strictUnmarshal(raw, &m) != nil {
		return nil, fmt.Errorf("Invalid principal in policy: %s", compact(raw))
	}
	p := &Principals{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals, err := parseStrings(m[k])
		if err != nil {
			return nil, fmt.Errorf("Invalid principal in policy: %q %w", k, err)
		}
		switch k {
		case "AWS":
			for _, v := range vals {
				n, ok := normalizeAWSPrincipal(v)
				if !ok {
					return nil, fmt.Errorf("Invalid principal in policy: \"AWS\":%q", v)
				}
				p.AWS = append(p.AWS, n)
			}
		case "Service":
			p.Service = append(p.Service, vals...)
		case "Federated":
			p.Federated = append(p.Federated, vals...)
		case "CanonicalUser":
			p.CanonicalUser = append(p.CanonicalUser, vals...)
		default:
			return nil, fmt.Errorf("Invalid principal in policy: unknown principal type %q", k)
		}
		for _, v := range vals {
			if v != "*" && strings.ContainsAny(v, "*?") {
				return nil, fmt.Errorf("Invalid principal in policy: %q: wildcards are only allowed as the whole value \"*\"", v)
			}
		}
	}
	return p, nil
}

// normalizeAWSPrincipal turns a 12-digit account ID into its root ARN and
// rejects values that are neither "*" nor IAM/STS ARNs.
func normalizeAWSPrincipal(v string) (string, bool) {
	if v == "*" {
		return v, true
	}
	if isAccountID(v) {
		return "arn:aws:iam::" + v + ":root", true
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || (parts[2] != "iam" && parts[2] != "sts") || !isAccountID(parts[4]) || parts[5] == "" {
		return "", false
	}
	return v, true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseConditions(raw json.RawMessage) ([]Condition, []string) {
	var msgs []string
	var ops map[string]json.RawMessage
	if firstByte(raw) != '{' || strictUnmarshal(raw, &ops) != nil {
		return nil, []string{"Condition must be an object of operators"}
	}
	var out []Condition
	seenOps := map[string]bool{}
	for opName, body := range ops {
		spec, ok := parseOperator(opName)
		if !ok {
			msgs = append(msgs, fmt.Sprintf("Invalid Condition type : %s", opName))
			continue
		}
		if seenOps[spec.name()] {
			msgs = append(msgs, fmt.Sprintf("Duplicate condition operator %s", spec.name()))
			continue
		}
		seenOps[spec.name()] = true
		var keys map[string]json.RawMessage
		if firstByte(body) != '{' || strictUnmarshal(body, &keys) != nil {
			msgs = append(msgs, fmt.Sprintf("Condition %s must be an object of condition keys", opName))
			continue
		}
		for key, vraw := range keys {
			vals, err := conditionValues(vraw)
			if err != nil {
				msgs = append(msgs, fmt.Sprintf("Condition %s %s: %v", opName, key, err))
				continue
			}
			if !hasVendor(key) {
				msgs = append(msgs, fmt.Sprintf("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid condition key: %s", key))
				continue
			}
			for _, v := range vals {
				if err := checkConditionValue(spec.base, v); err != nil {
					msgs = append(msgs, err.Error())
				}
			}
			out = append(out, Condition{Operator: spec.name(), Key: key, Values: vals})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Operator != out[j].Operator {
			return out[i].Operator < out[j].Operator
		}
		return out[i].Key < out[j].Key
	})
	return out, msgs
}

// conditionValues accepts a scalar (string, number, bool) or a list of them
// and keeps each value's text.
func conditionValues(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid value: %w", err)
	}
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case json.Number:
			return t.String(), true
		case bool:
			if t {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, x := range list {
			s, ok := scalar(x)
			if !ok {
				return nil, fmt.Errorf("values must be strings, numbers or booleans")
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalar(v)
	if !ok {
		return nil, fmt.Errorf("values must be strings, numbers or booleans")
	}
	return []string{s}, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("policy: decode: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("policy: trailing data after JSON value")
	}
	return nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func compact(raw []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}
