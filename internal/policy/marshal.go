package policy

import (
	"encoding/json"
	"fmt"
)

// MarshalJSON renders a normalised, equivalent policy: Statement is always a
// list, element values are always lists, account IDs appear as root ARNs,
// conditions are grouped by operator in sorted order, and the Version is kept
// (an absent one is written as 2008-10-17, its default meaning).
func (p *Policy) MarshalJSON() ([]byte, error) {
	type stmt struct {
		Sid          string                         `json:"Sid,omitempty"`
		Effect       Effect                         `json:"Effect"`
		Principal    any                            `json:"Principal,omitempty"`
		NotPrincipal any                            `json:"NotPrincipal,omitempty"`
		Action       *[]string                      `json:"Action,omitempty"`
		NotAction    *[]string                      `json:"NotAction,omitempty"`
		Resource     *[]string                      `json:"Resource,omitempty"`
		NotResource  *[]string                      `json:"NotResource,omitempty"`
		Condition    map[string]map[string][]string `json:"Condition,omitempty"`
	}
	type doc struct {
		Version   string `json:"Version"`
		ID        string `json:"Id,omitempty"`
		Statement []stmt `json:"Statement"`
	}
	d := doc{Version: p.Version, ID: p.ID, Statement: make([]stmt, 0, len(p.Statements))}
	if d.Version == "" {
		d.Version = Version2008
	}
	for _, s := range p.Statements {
		// Pointers keep an empty but present list through the round trip.
		o := stmt{Sid: s.Sid, Effect: s.Effect, Action: present(s.Action), NotAction: present(s.NotAction),
			Resource: present(s.Resource), NotResource: present(s.NotResource)}
		o.Principal, o.NotPrincipal = principalsJSON(s.Principal), principalsJSON(s.NotPrincipal)
		if len(s.Conditions) > 0 {
			o.Condition = map[string]map[string][]string{}
			for _, c := range s.Conditions {
				if o.Condition[c.Operator] == nil {
					o.Condition[c.Operator] = map[string][]string{}
				}
				o.Condition[c.Operator][c.Key] = c.Values
			}
		}
		d.Statement = append(d.Statement, o)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("policy: marshal: %w", err)
	}
	return b, nil
}

func principalsJSON(p *Principals) any {
	if p == nil {
		return nil
	}
	if p.Wildcard && len(p.AWS)+len(p.Service)+len(p.Federated)+len(p.CanonicalUser) == 0 {
		return "*"
	}
	m := map[string][]string{}
	if p.Wildcard {
		m["AWS"] = append(m["AWS"], "*")
	}
	add := func(k string, v []string) {
		if len(v) > 0 {
			m[k] = append(m[k], v...)
		}
	}
	add("AWS", p.AWS)
	add("Service", p.Service)
	add("Federated", p.Federated)
	add("CanonicalUser", p.CanonicalUser)
	return m
}

func present(v []string) *[]string {
	if v == nil {
		return nil
	}
	return &v
}
