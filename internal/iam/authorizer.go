package iam

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// Authorizer evaluates a caller's identity-based policies (inline user or
// role policies, permissions boundary, session policy) for API calls. The
// account root is allowed everything in its own account, as on AWS.
type Authorizer struct {
	dir *Directory
}

// NewAuthorizer returns the identity-policy authorizer over dir.
func NewAuthorizer(dir *Directory) *Authorizer { return &Authorizer{dir: dir} }

// Authorize implements controlplane.Authorizer.
func (a *Authorizer) Authorize(_ context.Context, p *cloud.Principal, action, resource string) error {
	if p == nil {
		return deniedError(action, "anonymous", resource, "because no identity-based policy allows the "+action+" action")
	}
	if p.IsRoot() {
		return nil
	}
	set, err := a.dir.identityPolicies(p)
	if err != nil {
		return err
	}
	req := a.dir.requestFor(p, action, resource)
	res := policy.Evaluate(set, req)
	if res.Decision == policy.Allowed {
		return nil
	}
	return deniedError(action, p.ARN, resource, strings.TrimPrefix(res.Message, fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %q ", p.ARN, action, resource)))
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
	var inline map[string]string
	var boundary string
	d.db.View(func(tx *store.Tx) error {
		switch p.Type {
		case cloud.PrincipalUser:
			if u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(p.AccountID, p.Name)); ok {
				inline, boundary = u.Policies, u.Boundary
			}
		case cloud.PrincipalAssumedRole:
			if r, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(p.AccountID, p.Name)); ok {
				inline, boundary = r.Policies, r.Boundary
			}
		}
		return nil
	})
	for name, doc := range inline {
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
		Time:             time.Now(),
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
	var tags cloud.Tags
	d.db.View(func(tx *store.Tx) error {
		switch p.Type {
		case cloud.PrincipalUser:
			if u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(p.AccountID, p.Name)); ok {
				tags = u.Tags
			}
		case cloud.PrincipalAssumedRole:
			if r, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(p.AccountID, p.Name)); ok {
				tags = r.Tags
			}
		}
		return nil
	})
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}
