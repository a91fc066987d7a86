package iam

import (
	"context"
	"net/url"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// Role session duration bounds (seconds), as IAM enforces them.
const (
	DefaultMaxSessionDuration = 3600
	MinMaxSessionDuration     = 3600
	MaxMaxSessionDuration     = 43200
)

// RoleInput holds the parameters of CreateRole.
type RoleInput struct {
	Name             string
	Path             string
	AssumeRolePolicy string
	Description      string
	// MaxSessionDuration is in seconds; 0 means the default (3600).
	MaxSessionDuration int
	// BoundaryARN is a managed-policy ARN; privlink has no managed policies,
	// so a non-empty value is answered with NoSuchEntity.
	BoundaryARN string
	Tags        cloud.Tags
}

// NoSuchPolicy is IAM's answer for a managed-policy ARN that does not exist.
// privlink stores no managed policies, so every PermissionsBoundary ARN gets it.
func NoSuchPolicy(arn string) error {
	return noSuchEntity("Policy %s does not exist or is not attachable.", arn)
}

// checkTrustPolicy validates a role trust policy: the policy language rules
// of a trust policy, and principals that name users or roles of accounts
// privlink knows must exist (IAM rejects "Invalid principal in policy").
func checkTrustPolicy(tx *store.Tx, doc string) error {
	if doc == "" {
		return validationError("1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	if len(doc) > 131072 {
		return validationError("1 validation error detected: Value at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must have length less than or equal to 131072")
	}
	p, err := policy.Parse([]byte(doc), policy.Trust)
	if err != nil {
		return malformed(err)
	}
	for _, s := range p.Statements {
		for _, ps := range []*policy.Principals{s.Principal, s.NotPrincipal} {
			if ps == nil {
				continue
			}
			for _, a := range ps.AWS {
				if !principalExists(tx, a) {
					return cloud.Errorf("MalformedPolicyDocument", "Invalid principal in policy: \"AWS\":\"%s\"", a)
				}
			}
		}
	}
	return nil
}

// principalExists reports whether an AWS principal of a trust policy names
// something that exists. Principals of accounts privlink does not serve
// cannot be checked and are accepted.
func principalExists(tx *store.Tx, arn string) bool {
	if arn == "*" || !strings.HasPrefix(arn, "arn:") {
		return true
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" {
		return true
	}
	account, res := parts[4], parts[5]
	if _, ok := store.Get[cloud.Account](tx, cloud.KindAccount, account); !ok {
		return true
	}
	name := res[strings.LastIndexByte(res, '/')+1:]
	switch {
	case res == "root":
		return true
	case strings.HasPrefix(res, "user/"):
		u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(account, name))
		return ok && u.ARN() == arn
	case strings.HasPrefix(res, "role/"):
		r, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(account, name))
		return ok && r.ARN() == arn
	}
	return true
}

func malformed(err error) error {
	return cloud.Errorf("MalformedPolicyDocument", "%s", strings.TrimPrefix(err.Error(), "policy: "))
}

func checkMaxSession(v int) error {
	switch {
	case v < MinMaxSessionDuration:
		return validationError("1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to %d", v, MinMaxSessionDuration)
	case v > MaxMaxSessionDuration:
		return validationError("1 validation error detected: Value '%d' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to %d", v, MaxMaxSessionDuration)
	}
	return nil
}

func checkDescription(s string) error {
	if len(s) > 1000 {
		return validationError("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000")
	}
	return nil
}

// CreateRole creates an IAM role in the caller's account.
func (d *Directory) CreateRole(ctx context.Context, c Caller, in RoleInput) (*cloud.Role, error) {
	if err := checkName("RoleName", in.Name); err != nil {
		return nil, err
	}
	path, err := checkPath(in.Path)
	if err != nil {
		return nil, err
	}
	if in.MaxSessionDuration == 0 {
		in.MaxSessionDuration = DefaultMaxSessionDuration
	}
	if err := checkMaxSession(in.MaxSessionDuration); err != nil {
		return nil, err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if in.BoundaryARN != "" {
		return nil, NoSuchPolicy(in.BoundaryARN)
	}
	acct := c.Principal.AccountID
	var role *cloud.Role
	err = d.db.Update(ctx, func(tx *store.Tx) error {
		if err := checkTrustPolicy(tx, in.AssumeRolePolicy); err != nil {
			return err
		}
		arn := "arn:aws:iam::" + acct + ":role" + path + in.Name
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		if nameTaken(tx, cloud.KindRole, acct, in.Name) {
			return conflict("EntityAlreadyExists", "Role with name %s already exists.", in.Name)
		}
		role = &cloud.Role{
			AccountID: acct, RoleID: NewUniqueID("AROA"), RoleName: in.Name, Path: path,
			Description: in.Description, AssumeRolePolicy: in.AssumeRolePolicy,
			MaxSessionDuration: in.MaxSessionDuration, Tags: sortedTags(in.Tags), CreatedAt: d.now().UTC(),
		}
		tx.Put(cloud.KindRole, cloud.RoleKey(acct, in.Name), role)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return role, nil
}

func sortedTags(tags cloud.Tags) cloud.Tags {
	if len(tags) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	out := make(cloud.Tags, 0, len(m))
	for k, v := range m {
		out = append(out, cloud.Tag{Key: k, Value: v})
	}
	sortTags(out)
	return out
}

func sortTags(t cloud.Tags) {
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j].Key < t[j-1].Key; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
}

func roleOf(tx *store.Tx, account, name string) (*cloud.Role, error) {
	if err := checkName("RoleName", name); err != nil {
		return nil, err
	}
	r, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(account, name))
	if !ok {
		return nil, noSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, nil
}

// GetRole returns the named role of the caller's account.
func (d *Directory) GetRole(ctx context.Context, c Caller, name string) (*cloud.Role, error) {
	var role *cloud.Role
	err := d.db.View(func(tx *store.Tx) error {
		r, err := roleOf(tx, c.Principal.AccountID, name)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, r.ARN()); err != nil {
			return err
		}
		role = r
		return nil
	})
	return role, err
}

// EncodedTrustPolicy is a role's trust policy URL-encoded, as IAM returns it.
func EncodedTrustPolicy(r *cloud.Role) string { return url.QueryEscape(r.AssumeRolePolicy) }

// ListRoles lists the account's roles with the path prefix, sorted by name.
func (d *Directory) ListRoles(ctx context.Context, c Caller, pathPrefix string) ([]*cloud.Role, error) {
	if pathPrefix == "" {
		pathPrefix = "/"
	}
	if !strings.HasPrefix(pathPrefix, "/") || len(pathPrefix) > 512 {
		return nil, validationError("1 validation error detected: Value '%s' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*", pathPrefix)
	}
	var out []*cloud.Role
	err := d.db.View(func(tx *store.Tx) error {
		if err := d.authz(c.Principal, c.Action, "arn:aws:iam::"+c.Principal.AccountID+":role/*"); err != nil {
			return err
		}
		out = store.List[cloud.Role](tx, cloud.KindRole, func(r *cloud.Role) bool {
			return r.AccountID == c.Principal.AccountID && strings.HasPrefix(r.Path, pathPrefix)
		})
		return nil
	})
	return out, err
}

// DeleteRole deletes a role without inline policies. Its sessions stop
// working at once: their temporary keys are removed with it.
func (d *Directory) DeleteRole(ctx context.Context, c Caller, name string) error {
	return d.db.Update(ctx, func(tx *store.Tx) error {
		r, err := roleOf(tx, c.Principal.AccountID, name)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, r.ARN()); err != nil {
			return err
		}
		if len(r.Policies) > 0 {
			return conflict("DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		var sessions []string
		tx.Each(cloud.KindAccessKey, func(id string, v any) bool {
			if k := v.(*cloud.AccessKey); k.AccountID == r.AccountID && k.RoleName == r.RoleName {
				sessions = append(sessions, id)
			}
			return true
		})
		for _, id := range sessions {
			tx.Delete(cloud.KindAccessKey, id)
		}
		tx.Delete(cloud.KindRole, cloud.RoleKey(r.AccountID, r.RoleName))
		return nil
	})
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (d *Directory) UpdateAssumeRolePolicy(ctx context.Context, c Caller, name, doc string) error {
	return d.db.Update(ctx, func(tx *store.Tx) error {
		r, err := roleOf(tx, c.Principal.AccountID, name)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, r.ARN()); err != nil {
			return err
		}
		if doc == "" {
			return validationError("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
		}
		if err := checkTrustPolicy(tx, doc); err != nil {
			return err
		}
		nr := store.Clone(r)
		nr.AssumeRolePolicy = doc
		tx.Put(cloud.KindRole, cloud.RoleKey(r.AccountID, r.RoleName), nr)
		return nil
	})
}

// UpdateRole changes a role's description and maximum session duration
// (nil leaves a field unchanged).
func (d *Directory) UpdateRole(ctx context.Context, c Caller, name string, description *string, maxSession *int) error {
	if description != nil {
		if err := checkDescription(*description); err != nil {
			return err
		}
	}
	if maxSession != nil {
		if err := checkMaxSession(*maxSession); err != nil {
			return err
		}
	}
	return d.db.Update(ctx, func(tx *store.Tx) error {
		r, err := roleOf(tx, c.Principal.AccountID, name)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, r.ARN()); err != nil {
			return err
		}
		nr := store.Clone(r)
		if description != nil {
			nr.Description = *description
		}
		if maxSession != nil {
			nr.MaxSessionDuration = *maxSession
		}
		tx.Put(cloud.KindRole, cloud.RoleKey(r.AccountID, r.RoleName), nr)
		return nil
	})
}

// PutPermissionsBoundary is PutUserPermissionsBoundary and
// PutRolePermissionsBoundary. On AWS the boundary is a managed-policy ARN;
// privlink stores no managed policies, so after checking that the user or
// role exists the ARN is answered with NoSuchEntity, as IAM answers an ARN
// that names no policy. Nothing changes.
func (d *Directory) PutPermissionsBoundary(ctx context.Context, c Caller, h PolicyHolder, arn string) error {
	if arn == "" {
		return validationError("1 validation error detected: Value null at 'permissionsBoundary' failed to satisfy constraint: Member must not be null")
	}
	if len(arn) < 20 || len(arn) > 2048 {
		return validationError("1 validation error detected: Value '%s' at 'permissionsBoundary' failed to satisfy constraint: Member must have length greater than or equal to 20", arn)
	}
	return d.db.View(func(tx *store.Tx) error {
		_, holderARN, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, holderARN); err != nil {
			return err
		}
		if !strings.HasPrefix(arn, "arn:") || strings.Count(arn, ":") < 5 {
			return cloud.Errorf("InvalidInput", "ARN %s is not valid.", arn)
		}
		return NoSuchPolicy(arn)
	})
}

// Tags returns the tags of a user or role.
func (d *Directory) Tags(ctx context.Context, c Caller, h PolicyHolder) (cloud.Tags, error) {
	var tags cloud.Tags
	err := d.db.View(func(tx *store.Tx) error {
		_, arn, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		kind, key := h.key(c.Principal.AccountID)
		if h.Role {
			tags = tx.Get(kind, key).(*cloud.Role).Tags
		} else {
			tags = tx.Get(kind, key).(*cloud.User).Tags
		}
		return nil
	})
	return tags, err
}

// roleARNParts splits arn:aws:iam::<account>:role/<path><name>.
func roleARNParts(arn string) (account, path, name string, err error) {
	bad := validationError("%s is invalid", arn)
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[3] != "" {
		return "", "", "", bad
	}
	res, ok := strings.CutPrefix(parts[5], "role/")
	if !ok || res == "" || !isAccountID(parts[4]) {
		return "", "", "", bad
	}
	i := strings.LastIndexByte(res, '/')
	path, name = "/"+res[:i+1], res[i+1:]
	if !namePattern.MatchString(name) {
		return "", "", "", bad
	}
	return parts[4], path, name, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
