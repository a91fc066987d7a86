package iam

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// Authorizer evaluates a caller's identity-based policies (inline user or
// role policies, permissions boundary, session policy) for API calls. The
// account root is allowed everything in its own account, as on AWS.
//
// When the call's context carries a cloud.NetworkContext (the request came
// from inside a VPC), the network keys are set as AWS sets them, and a
// request through an interface VPC endpoint is also bounded by that
// endpoint's policy, for every principal including the account root.
type Authorizer struct {
	dir *Directory
	eps *endpointPolicies
}

// NewAuthorizer returns the identity-policy authorizer over dir.
func NewAuthorizer(dir *Directory) *Authorizer {
	return &Authorizer{dir: dir, eps: watchEndpoints(dir)}
}

// Authorize implements controlplane.Authorizer. It reads identities and
// endpoint policies from snapshots, never from the store, so callers may
// authorize while they hold a store transaction (store locks are not
// re-entrant).
func (a *Authorizer) Authorize(ctx context.Context, p *cloud.Principal, action, resource string) error {
	n, ok := cloud.NetworkFrom(ctx)
	if !ok {
		if _, free := freeActions[action]; free && p != nil {
			return nil
		}
		return a.dir.authz(p, action, resource)
	}
	return a.authzNetwork(p, action, resource, n)
}

func (d *Directory) authz(p *cloud.Principal, action, resource string) error {
	if p == nil {
		return deniedError(action, "anonymous", resource, "because no identity-based policy allows the "+action+" action")
	}
	if p.IsRoot() {
		return nil
	}
	set, err := d.identityPolicies(p)
	if err != nil {
		return err
	}
	req := d.requestFor(p, action, resource)
	res := policy.Evaluate(set, req)
	if res.Decision == policy.Allowed {
		return nil
	}
	return deniedError(action, p.ARN, resource, strings.TrimPrefix(res.Message, fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %q ", p.ARN, action, resource)))
}

// identities is an in-memory copy of the users and roles that
// authorization reads, kept current by a store watch.
type identities struct {
	mu    sync.RWMutex
	users map[string]*cloud.User // by store key
	roles map[string]*cloud.Role
}

// watchIdentities loads the users and roles and follows their changes.
// The watch is registered first: a write after it is seen by the watch, a
// write before the load is seen by the load, and no write runs during it.
func (d *Directory) watchIdentities() {
	d.ids.users, d.ids.roles = map[string]*cloud.User{}, map[string]*cloud.Role{}
	d.db.Watch(func(e store.Event) {
		switch e.Kind {
		case cloud.KindUser:
			d.ids.mu.Lock()
			if u, ok := e.Value.(*cloud.User); ok && u != nil {
				d.ids.users[e.ID] = u
			} else {
				delete(d.ids.users, e.ID)
			}
			d.ids.mu.Unlock()
		case cloud.KindRole:
			d.ids.mu.Lock()
			if r, ok := e.Value.(*cloud.Role); ok && r != nil {
				d.ids.roles[e.ID] = r
			} else {
				delete(d.ids.roles, e.ID)
			}
			d.ids.mu.Unlock()
		}
	})
	d.db.View(func(tx *store.Tx) error {
		d.ids.mu.Lock()
		defer d.ids.mu.Unlock()
		tx.Each(cloud.KindUser, func(id string, v any) bool { d.ids.users[id] = v.(*cloud.User); return true })
		tx.Each(cloud.KindRole, func(id string, v any) bool { d.ids.roles[id] = v.(*cloud.Role); return true })
		return nil
	})
}

// holderOf returns the inline policies, boundary and tags of a principal.
func (d *Directory) holderOf(p *cloud.Principal) (inline map[string]string, boundary string, tags cloud.Tags) {
	d.ids.mu.RLock()
	defer d.ids.mu.RUnlock()
	switch p.Type {
	case cloud.PrincipalUser:
		if u := d.ids.users[cloud.UserKey(p.AccountID, p.Name)]; u != nil {
			return u.Policies, u.Boundary, u.Tags
		}
	case cloud.PrincipalAssumedRole:
		if r := d.ids.roles[cloud.RoleKey(p.AccountID, p.Name)]; r != nil {
			return r.Policies, r.Boundary, r.Tags
		}
	}
	return nil, "", nil
}

// deniedError renders AWS's access-denied error for the action's service:
// EC2 says UnauthorizedOperation, the awsquery services AccessDenied.
func deniedError(action, principal, resource, because string) error {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", principal, action, resource, because)
	if strings.HasPrefix(action, "ec2:") {
		return &cloud.Error{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation. " + msg, Status: 403}
	}
	return &cloud.Error{Code: "AccessDenied", Message: msg, Status: 403}
}

// identityPolicies compiles the policies that bound a principal.
func (d *Directory) identityPolicies(p *cloud.Principal) (*policy.Policies, error) {
	set := &policy.Policies{}
	inline, boundary, _ := d.holderOf(p)
	names := make([]string, 0, len(inline))
	for name := range inline {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		doc := inline[name]
		c, err := d.compiled(doc, policy.Identity)
		if err != nil {
			return nil, fmt.Errorf("iam: stored policy %s of %s: %w", name, p.ARN, err)
		}
		set.Identity = append(set.Identity, c)
	}
	if boundary != "" {
		c, err := d.compiled(boundary, policy.Boundary)
		if err != nil {
			return nil, fmt.Errorf("iam: boundary of %s: %w", p.ARN, err)
		}
		set.Boundary = c
	}
	if p.SessionPolicy != "" {
		c, err := d.compiled(p.SessionPolicy, policy.Session)
		if err != nil {
			return nil, fmt.Errorf("iam: session policy of %s: %w", p.ARN, err)
		}
		set.Session = c
	}
	return set, nil
}

// compiled parses and compiles a stored document, caching by content.
func (d *Directory) compiled(doc string, kind policy.Kind) (*policy.Compiled, error) {
	key := fmt.Sprintf("%d:%s", kind, doc)
	d.cacheMu.Lock()
	c, ok := d.cache[key]
	d.cacheMu.Unlock()
	if ok {
		return c, nil
	}
	c, err := policy.ParseAndCompile([]byte(doc), kind)
	if err != nil {
		return nil, err
	}
	d.cacheMu.Lock()
	if len(d.cache) > 4096 {
		clear(d.cache)
	}
	d.cache[key] = c
	d.cacheMu.Unlock()
	return c, nil
}

// requestFor builds the request context of a call by p.
func (d *Directory) requestFor(p *cloud.Principal, action, resource string) *policy.Request {
	r := &policy.Request{
		Principal:        p.ARN,
		PrincipalAccount: p.AccountID,
		PrincipalOrgID:   p.OrgID,
		UserID:           p.UserID,
		Action:           action,
		Resource:         resource,
		ResourceAccount:  p.AccountID,
		ResourceOrgID:    p.OrgID,
		Time:             d.now(),
	}
	switch p.Type {
	case cloud.PrincipalUser:
		r.PrincipalType = policy.PrincipalUser
		r.Username = p.Name
	case cloud.PrincipalAssumedRole:
		r.PrincipalType = policy.PrincipalAssumedRole
	default:
		r.PrincipalType = policy.PrincipalRoot
	}
	r.PrincipalTags = d.principalTags(p)
	r.Complete()
	return r
}

func (d *Directory) principalTags(p *cloud.Principal) map[string]string {
	_, _, tags := d.holderOf(p)
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}
