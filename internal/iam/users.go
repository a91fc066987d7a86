package iam

import (
	"context"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// Caller is who makes an IAM call and which action it is.
type Caller struct {
	Principal *cloud.Principal
	Action    string // "iam:CreateUser"
}

var (
	namePattern = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	pathPattern = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
)

func (d *Directory) authorize(_ context.Context, c Caller, resource string) error {
	return d.authz(c.Principal, c.Action, resource)
}

func validationError(format string, args ...any) *cloud.Error {
	e := cloud.Errorf("ValidationError", format, args...)
	return e
}

func noSuchEntity(format string, args ...any) *cloud.Error {
	e := cloud.Errorf("NoSuchEntity", format, args...)
	e.Status = 404
	return e
}

func conflict(code, format string, args ...any) *cloud.Error {
	e := cloud.Errorf(code, format, args...)
	e.Status = 409
	return e
}

func checkName(param, name string) error {
	if name == "" {
		return validationError("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(param))
	}
	if !namePattern.MatchString(name) {
		return validationError("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name, lowerFirst(param))
	}
	return nil
}

func checkPath(path string) (string, error) {
	if path == "" {
		return "/", nil
	}
	if len(path) > 512 || !pathPattern.MatchString(path) {
		return "", validationError("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return path, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func checkTags(tags cloud.Tags) error {
	if len(tags) > 50 {
		return conflict("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return validationError("Tag keys must be 1-128 characters and values at most 256 characters.")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return cloud.Errorf("InvalidInput", "User-created tag keys may not start with aws:")
		}
	}
	return nil
}

// CreateUser creates an IAM user in the caller's account.
func (d *Directory) CreateUser(ctx context.Context, c Caller, name, path, boundaryARN string, tags cloud.Tags) (*cloud.User, error) {
	if err := checkName("UserName", name); err != nil {
		return nil, err
	}
	path, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	if boundaryARN != "" {
		return nil, NoSuchPolicy(boundaryARN) // privlink stores no managed policies
	}
	acct := c.Principal.AccountID
	if err := d.authorize(ctx, c, "arn:aws:iam::"+acct+":user"+path+name); err != nil {
		return nil, err
	}
	var u *cloud.User
	err = d.db.Update(ctx, func(tx *store.Tx) error {
		if nameTaken(tx, cloud.KindUser, acct, name) {
			return conflict("EntityAlreadyExists", "User with name %s already exists.", name)
		}
		u = &cloud.User{AccountID: acct, UserID: NewUniqueID("AIDA"), UserName: name, Path: path, Tags: tags, CreatedAt: d.now().UTC()}
		tx.Put(cloud.KindUser, cloud.UserKey(acct, name), u)
		return nil
	})
	return u, err
}

// userOf resolves the user a call is about: the named one, or the caller
// itself when name is empty (as GetUser and CreateAccessKey do).
func (d *Directory) userOf(tx *store.Tx, c Caller, name string) (*cloud.User, error) {
	if name == "" {
		if c.Principal.Type != cloud.PrincipalUser {
			return nil, nil
		}
		name = c.Principal.Name
	}
	u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(c.Principal.AccountID, name))
	if !ok {
		return nil, noSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

// GetUser returns the named user, or the caller's own user.
func (d *Directory) GetUser(ctx context.Context, c Caller, name string) (*cloud.User, error) {
	var u *cloud.User
	err := d.db.View(func(tx *store.Tx) error {
		var err error
		u, err = d.userOf(tx, c, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if u == nil {
		if c.Principal.IsRoot() {
			// GetUser without a name by the root user describes the root.
			root := &cloud.User{AccountID: c.Principal.AccountID, UserID: c.Principal.AccountID}
			d.db.View(func(tx *store.Tx) error {
				if a, ok := store.Get[cloud.Account](tx, cloud.KindAccount, root.AccountID); ok {
					root.CreatedAt = a.CreatedAt
				}
				return nil
			})
			return root, nil
		}
		return nil, validationError("Must specify userName when calling with non-User credentials")
	}
	if err := d.authorize(ctx, c, u.ARN()); err != nil {
		return nil, err
	}
	return u, nil
}

// ListUsers lists the account's users with the path prefix.
func (d *Directory) ListUsers(ctx context.Context, c Caller, pathPrefix string) ([]*cloud.User, error) {
	if err := d.authorize(ctx, c, "arn:aws:iam::"+c.Principal.AccountID+":user/*"); err != nil {
		return nil, err
	}
	if pathPrefix == "" {
		pathPrefix = "/"
	}
	var out []*cloud.User
	d.db.View(func(tx *store.Tx) error {
		out = store.List[cloud.User](tx, cloud.KindUser, func(u *cloud.User) bool {
			return u.AccountID == c.Principal.AccountID && strings.HasPrefix(u.Path, pathPrefix)
		})
		return nil
	})
	return out, nil
}

// DeleteUser deletes a user that has no access keys and no policies left.
func (d *Directory) DeleteUser(ctx context.Context, c Caller, name string) error {
	if err := checkName("UserName", name); err != nil {
		return err
	}
	return d.db.Update(ctx, func(tx *store.Tx) error {
		u, err := d.userOf(tx, c, name)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, u.ARN()); err != nil {
			return err
		}
		if len(u.Policies) > 0 {
			return conflict("DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		busy := false
		tx.Each(cloud.KindAccessKey, func(_ string, v any) bool {
			k := v.(*cloud.AccessKey)
			if k.AccountID == u.AccountID && k.UserName == u.UserName && !k.Temporary() {
				busy = true
				return false
			}
			return true
		})
		if busy {
			return conflict("DeleteConflict", "Cannot delete entity, must delete access keys first.")
		}
		tx.Delete(cloud.KindUser, cloud.UserKey(u.AccountID, u.UserName))
		return nil
	})
}

// CreateAccessKey issues a key pair for a user (or, for a root caller
// without a user name, for the account root).
func (d *Directory) CreateAccessKey(ctx context.Context, c Caller, userName string) (*cloud.AccessKey, error) {
	var key *cloud.AccessKey
	err := d.db.Update(ctx, func(tx *store.Tx) error {
		u, err := d.userOf(tx, c, userName)
		if err != nil {
			return err
		}
		resource := cloud.AccountRootARN(c.Principal.AccountID)
		owner := ""
		if u != nil {
			resource, owner = u.ARN(), u.UserName
		} else if !c.Principal.IsRoot() {
			return validationError("Must specify userName when calling with non-User credentials")
		}
		if err := d.authz(c.Principal, c.Action, resource); err != nil {
			return err
		}
		n := 0
		tx.Each(cloud.KindAccessKey, func(_ string, v any) bool {
			k := v.(*cloud.AccessKey)
			if k.AccountID == c.Principal.AccountID && k.UserName == owner && !k.Temporary() {
				n++
			}
			return true
		})
		if n >= 2 {
			return conflict("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
		}
		key = &cloud.AccessKey{ID: NewAccessKeyID("AKIA"), Secret: NewSecret(), AccountID: c.Principal.AccountID, Status: "Active", UserName: owner, CreatedAt: d.now().UTC()}
		tx.Put(cloud.KindAccessKey, key.ID, key)
		return nil
	})
	return key, err
}

// ListAccessKeys lists a user's (or the root's) long-term keys.
func (d *Directory) ListAccessKeys(ctx context.Context, c Caller, userName string) (string, []*cloud.AccessKey, error) {
	var keys []*cloud.AccessKey
	owner := ""
	err := d.db.View(func(tx *store.Tx) error {
		u, err := d.userOf(tx, c, userName)
		if err != nil {
			return err
		}
		resource := cloud.AccountRootARN(c.Principal.AccountID)
		if u != nil {
			owner, resource = u.UserName, u.ARN()
		}
		if err := d.authz(c.Principal, c.Action, resource); err != nil {
			return err
		}
		keys = store.List[cloud.AccessKey](tx, cloud.KindAccessKey, func(k *cloud.AccessKey) bool {
			return k.AccountID == c.Principal.AccountID && k.UserName == owner && !k.Temporary()
		})
		return nil
	})
	return owner, keys, err
}

// DeleteAccessKey deletes a key of the named user (or the caller's).
func (d *Directory) DeleteAccessKey(ctx context.Context, c Caller, userName, keyID string) error {
	if keyID == "" {
		return validationError("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	}
	return d.db.Update(ctx, func(tx *store.Tx) error {
		u, err := d.userOf(tx, c, userName)
		if err != nil {
			return err
		}
		owner, resource := "", cloud.AccountRootARN(c.Principal.AccountID)
		if u != nil {
			owner, resource = u.UserName, u.ARN()
		}
		if err := d.authz(c.Principal, c.Action, resource); err != nil {
			return err
		}
		k, ok := store.Get[cloud.AccessKey](tx, cloud.KindAccessKey, keyID)
		if !ok || k.AccountID != c.Principal.AccountID || k.UserName != owner || k.Temporary() {
			return noSuchEntity("The Access Key with id %s cannot be found.", keyID)
		}
		tx.Delete(cloud.KindAccessKey, keyID)
		return nil
	})
}

// PolicyHolder names a user or a role.
type PolicyHolder struct {
	Role bool
	Name string
}

func (h PolicyHolder) key(account string) (string, string) {
	if h.Role {
		return cloud.KindRole, cloud.RoleKey(account, h.Name)
	}
	return cloud.KindUser, cloud.UserKey(account, h.Name)
}

func (d *Directory) holder(tx *store.Tx, c Caller, h PolicyHolder) (map[string]string, string, error) {
	kind, key := h.key(c.Principal.AccountID)
	if h.Role {
		r, ok := store.Get[cloud.Role](tx, kind, key)
		if !ok {
			return nil, "", noSuchEntity("The role with name %s cannot be found.", h.Name)
		}
		return r.Policies, r.ARN(), nil
	}
	u, ok := store.Get[cloud.User](tx, kind, key)
	if !ok {
		return nil, "", noSuchEntity("The user with name %s cannot be found.", h.Name)
	}
	return u.Policies, u.ARN(), nil
}

// PutPolicy adds or replaces an inline policy of a user or role, validated
// as an identity-based policy.
func (d *Directory) PutPolicy(ctx context.Context, c Caller, h PolicyHolder, name, doc string) error {
	if err := checkName("PolicyName", name); err != nil {
		return err
	}
	if doc == "" {
		return validationError("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if _, err := policy.Parse([]byte(doc), policy.Identity); err != nil {
		return cloud.Errorf("MalformedPolicyDocument", "%s", strings.TrimPrefix(err.Error(), "policy: "))
	}
	return d.db.Update(ctx, func(tx *store.Tx) error {
		policies, arn, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		next := map[string]string{}
		for k, v := range policies {
			next[k] = v
		}
		next[name] = doc
		return d.setPolicies(tx, c, h, next)
	})
}

func (d *Directory) setPolicies(tx *store.Tx, c Caller, h PolicyHolder, policies map[string]string) error {
	kind, key := h.key(c.Principal.AccountID)
	if h.Role {
		r, _ := store.Get[cloud.Role](tx, kind, key)
		nr := store.Clone(r)
		nr.Policies = policies
		tx.Put(kind, key, nr)
		return nil
	}
	u, _ := store.Get[cloud.User](tx, kind, key)
	nu := store.Clone(u)
	nu.Policies = policies
	tx.Put(kind, key, nu)
	return nil
}

// GetPolicy returns an inline policy document (URL-encoded, as IAM returns it).
func (d *Directory) GetPolicy(ctx context.Context, c Caller, h PolicyHolder, name string) (string, error) {
	var doc string
	err := d.db.View(func(tx *store.Tx) error {
		policies, arn, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		v, ok := policies[name]
		if !ok {
			what := "user"
			if h.Role {
				what = "role"
			}
			return noSuchEntity("The %s policy with name %s cannot be found.", what, name)
		}
		doc = url.QueryEscape(v)
		return nil
	})
	return doc, err
}

// DeletePolicy removes an inline policy.
func (d *Directory) DeletePolicy(ctx context.Context, c Caller, h PolicyHolder, name string) error {
	return d.db.Update(ctx, func(tx *store.Tx) error {
		policies, arn, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		if _, ok := policies[name]; !ok {
			return noSuchEntity("The %s policy with name %s cannot be found.", map[bool]string{true: "role", false: "user"}[h.Role], name)
		}
		next := map[string]string{}
		for k, v := range policies {
			if k != name {
				next[k] = v
			}
		}
		return d.setPolicies(tx, c, h, next)
	})
}

// ListPolicies lists the inline policy names of a user or role, sorted.
func (d *Directory) ListPolicies(ctx context.Context, c Caller, h PolicyHolder) ([]string, error) {
	var names []string
	err := d.db.View(func(tx *store.Tx) error {
		policies, arn, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		for k := range policies {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil
	})
	return names, err
}

// TagHolder adds tags to (or, with remove, removes keys from) a user or role.
func (d *Directory) TagHolder(ctx context.Context, c Caller, h PolicyHolder, add cloud.Tags, removeKeys []string) error {
	if err := checkTags(add); err != nil {
		return err
	}
	return d.db.Update(ctx, func(tx *store.Tx) error {
		_, arn, err := d.holder(tx, c, h)
		if err != nil {
			return err
		}
		if err := d.authz(c.Principal, c.Action, arn); err != nil {
			return err
		}
		kind, key := h.key(c.Principal.AccountID)
		apply := func(have cloud.Tags) (cloud.Tags, error) {
			m := map[string]string{}
			for _, t := range have {
				m[t.Key] = t.Value
			}
			for _, t := range add {
				m[t.Key] = t.Value
			}
			for _, k := range removeKeys {
				delete(m, k)
			}
			if len(m) > 50 {
				return nil, conflict("LimitExceeded", "Cannot exceed quota for TagsPerUser: 50")
			}
			out := make(cloud.Tags, 0, len(m))
			for k, v := range m {
				out = append(out, cloud.Tag{Key: k, Value: v})
			}
			sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
			return out, nil
		}
		if h.Role {
			r := store.Clone(tx.Get(kind, key).(*cloud.Role))
			if r.Tags, err = apply(r.Tags); err != nil {
				return err
			}
			tx.Put(kind, key, r)
			return nil
		}
		u := store.Clone(tx.Get(kind, key).(*cloud.User))
		if u.Tags, err = apply(u.Tags); err != nil {
			return err
		}
		tx.Put(kind, key, u)
		return nil
	})
}
