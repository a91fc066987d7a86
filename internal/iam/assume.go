package iam

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// STS limits of AssumeRole.
const (
	MinSessionDuration     = 900
	DefaultSessionDuration = 3600
	// ChainedSessionLimit bounds sessions a role session assumes (role chaining).
	ChainedSessionLimit = 3600
	// MaxSessionPolicyChars is the packed size budget of a session policy.
	MaxSessionPolicyChars = 2048
)

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	externalIDPattern  = regexp.MustCompile(`^[\w+=,.@:/-]{2,1000}$`)
)

// AssumeRoleInput holds the parameters of sts:AssumeRole.
type AssumeRoleInput struct {
	RoleARN     string
	SessionName string
	// DurationSeconds is the session length; 0 means the default (3600).
	DurationSeconds int
	// Policy is an optional session policy that further bounds the session.
	Policy     string
	ExternalID string
	// SourceIP is the caller's address (aws:SourceIp).
	SourceIP string
}

// Session is a role session created by AssumeRole.
type Session struct {
	Key  *cloud.AccessKey
	Role *cloud.Role
	// AssumedRoleID is RoleID:SessionName; ARN is the assumed-role ARN.
	AssumedRoleID string
	ARN           string
	// PackedPolicySize is the session policy's share of its budget in
	// percent, or -1 without a session policy.
	PackedPolicySize int
}

// SetClock replaces the directory's clock (tests).
func (d *Directory) SetClock(now func() time.Time) { d.now = now }

func (in *AssumeRoleInput) validate() error {
	if in.RoleARN == "" {
		return validationError("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	if len(in.RoleARN) < 20 || len(in.RoleARN) > 2048 {
		return validationError("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", in.RoleARN)
	}
	switch {
	case in.SessionName == "":
		return validationError("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
	case len(in.SessionName) < 2:
		return validationError("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", in.SessionName)
	case len(in.SessionName) > 64:
		return validationError("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", in.SessionName)
	case !sessionNamePattern.MatchString(in.SessionName):
		return validationError("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", in.SessionName)
	}
	if in.DurationSeconds != 0 {
		if in.DurationSeconds < MinSessionDuration {
			return validationError("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", in.DurationSeconds, MinSessionDuration)
		}
		if in.DurationSeconds > MaxMaxSessionDuration {
			return validationError("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", in.DurationSeconds, MaxMaxSessionDuration)
		}
	}
	if in.ExternalID != "" && !externalIDPattern.MatchString(in.ExternalID) {
		return validationError("1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*", in.ExternalID)
	}
	return nil
}

// packedPolicySize checks a session policy and returns its share of the
// packed-size budget in percent. The size is that of the compacted JSON.
func packedPolicySize(doc string) (int, error) {
	if _, err := policy.Parse([]byte(doc), policy.Session); err != nil {
		return 0, malformed(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(doc)); err != nil {
		return 0, malformed(err)
	}
	pct := (buf.Len()*100 + MaxSessionPolicyChars - 1) / MaxSessionPolicyChars
	if buf.Len() > MaxSessionPolicyChars {
		return pct, cloud.Errorf("PackedPolicyTooLarge", "Packed policy consumes %d%% of allotted space, please use smaller policy.", pct)
	}
	return pct, nil
}

// AssumeRole decides and creates a role session, as sts:AssumeRole does.
//
// The role's trust policy is the resource-based policy of the request
// (action sts:AssumeRole on the role ARN) and must always allow. Within one
// account, a trust policy
// that names the caller's own user or session ARN (or role, or "*") grants on
// its own; one that names only the account delegates to the account, so the
// caller's identity-based policies must allow sts:AssumeRole too. Across
// accounts both the trust policy and the caller's identity-based policies must
// allow. Explicit denies, permissions boundaries and session policies apply as
// in any evaluation. Account roots cannot assume roles. A role that does not
// exist is reported as access denied, so as not to disclose it.
func (d *Directory) AssumeRole(ctx context.Context, caller *cloud.Principal, in AssumeRoleInput) (*Session, error) {
	if caller == nil {
		return nil, &cloud.Error{Code: "AccessDenied", Message: "Anonymous callers may not assume roles.", Status: 403}
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	roleAccount, _, roleName, err := roleARNParts(in.RoleARN)
	if err != nil {
		return nil, err
	}
	packed := -1
	if in.Policy != "" {
		if packed, err = packedPolicySize(in.Policy); err != nil {
			return nil, err
		}
	}
	if caller.IsRoot() {
		return nil, &cloud.Error{Code: "AccessDenied", Message: "Roles may not be assumed by root accounts.", Status: 403}
	}
	denied := &cloud.Error{Code: "AccessDenied", Status: 403,
		Message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.RoleARN)}

	var sess *Session
	err = d.db.Update(ctx, func(tx *store.Tx) error {
		role, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(roleAccount, roleName))
		if !ok || role.ARN() != in.RoleARN {
			return denied
		}
		if allowed, err := d.mayAssumeTx(tx, caller, role, &in); err != nil {
			return err
		} else if !allowed {
			return denied
		}
		duration := in.DurationSeconds
		if duration == 0 {
			duration = DefaultSessionDuration
		}
		if caller.Type == cloud.PrincipalAssumedRole && duration > ChainedSessionLimit {
			return validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
		}
		maxSession := role.MaxSessionDuration
		if maxSession == 0 {
			maxSession = DefaultMaxSessionDuration
		}
		if duration > maxSession {
			return validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		}
		now := d.now().UTC().Truncate(time.Second)
		key := &cloud.AccessKey{
			ID: NewAccessKeyID("ASIA"), Secret: NewSecret(), AccountID: role.AccountID, Status: "Active",
			RoleName: role.RoleName, SessionName: in.SessionName, SessionToken: newSessionToken(),
			Expiration: now.Add(time.Duration(duration) * time.Second), SessionPolicy: in.Policy, CreatedAt: now,
		}
		tx.Put(cloud.KindAccessKey, key.ID, key)
		sess = &Session{
			Key: key, Role: role, PackedPolicySize: packed,
			AssumedRoleID: role.RoleID + ":" + in.SessionName,
			ARN:           "arn:aws:sts::" + role.AccountID + ":assumed-role/" + role.RoleName + "/" + in.SessionName,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sess, nil
}

// mayAssumeTx evaluates sts:AssumeRole on role for caller.
func (d *Directory) mayAssumeTx(tx *store.Tx, caller *cloud.Principal, role *cloud.Role, in *AssumeRoleInput) (bool, error) {
	trust, err := d.compiled(role.AssumeRolePolicy, policy.Trust)
	if err != nil {
		return false, fmt.Errorf("iam: trust policy of %s: %w", role.ARN(), err)
	}
	set, err := d.identityPolicies(caller)
	if err != nil {
		return false, err
	}
	req := d.requestFor(caller, "sts:AssumeRole", role.ARN())
	req.ResourceAccount = role.AccountID
	req.ResourceOrgID = ""
	if acct, ok := store.Get[cloud.Account](tx, cloud.KindAccount, role.AccountID); ok {
		req.ResourceOrgID = acct.OrgID
	}
	req.Context.Set("sts:RoleSessionName", in.SessionName)
	if in.ExternalID != "" {
		req.Context.Set("sts:ExternalId", in.ExternalID)
	}
	if in.SourceIP != "" {
		req.Context.Set("aws:SourceIp", in.SourceIP)
	}
	req.Complete()

	// The trust policy must always allow, whoever the caller is.
	allow, deny := false, false
	for _, m := range policy.Evaluate(&policy.Policies{Resource: trust}, req).Matched {
		allow = allow || m.Effect == policy.Allow
		deny = deny || m.Effect == policy.Deny
	}
	if !allow || deny {
		return false, nil
	}
	full := *set
	full.Resource = trust
	if policy.Evaluate(&full, req).Decision != policy.Allowed {
		return false, nil
	}
	if role.AccountID != caller.AccountID {
		return true, nil // Evaluate required both the identity and the trust policy
	}
	// Same account: the trust policy grants on its own only through a
	// statement naming the caller (user, session, role) or everyone.
	if named := namingTrust(trust.Policy(), caller); named != nil {
		if policy.Evaluate(&policy.Policies{Resource: named}, req).Decision == policy.Allowed {
			return true, nil
		}
	}
	identityOnly := *set
	return policy.Evaluate(&identityOnly, req).Decision == policy.Allowed, nil
}

// namingTrust returns the Allow statements of a trust policy whose Principal
// names the caller itself (its user or session ARN, its role, or "*"), with
// every Deny statement, compiled as a policy; nil when there are none.
func namingTrust(p *policy.Policy, caller *cloud.Principal) *policy.Compiled {
	roleARN := ""
	if caller.Type == cloud.PrincipalAssumedRole {
		roleARN = "arn:aws:iam::" + caller.AccountID + ":role/"
	}
	names := func(ps *policy.Principals) bool {
		if ps == nil {
			return false
		}
		if ps.Wildcard {
			return true
		}
		for _, a := range ps.AWS {
			if a == "*" || a == caller.ARN {
				return true
			}
			// A role ARN (with any path) ending in the session's role name.
			if roleARN != "" && strings.HasPrefix(a, roleARN) && strings.HasSuffix(a, "/"+caller.Name) {
				return true
			}
		}
		return false
	}
	out := &policy.Policy{Version: p.Version, ID: p.ID, Kind: policy.Trust}
	allows := 0
	for _, s := range p.Statements {
		switch {
		case s.Effect == policy.Deny:
			out.Statements = append(out.Statements, s)
		case s.Principal != nil && names(s.Principal):
			out.Statements = append(out.Statements, s)
			allows++
		}
	}
	if allows == 0 {
		return nil
	}
	return policy.Compile(out)
}

func newSessionToken() string {
	b := make([]byte, 144)
	rand.Read(b)
	return "FwoGZXIvYXdzE" + base64.StdEncoding.EncodeToString(b)
}

// PurgeExpiredKeys deletes temporary keys that expired at or before now and
// returns how many it deleted.
func (d *Directory) PurgeExpiredKeys(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := d.db.Update(ctx, func(tx *store.Tx) error {
		var expired []string
		tx.Each(cloud.KindAccessKey, func(id string, v any) bool {
			if k := v.(*cloud.AccessKey); k.Temporary() && !now.Before(k.Expiration) {
				expired = append(expired, id)
			}
			return true
		})
		for _, id := range expired {
			tx.Delete(cloud.KindAccessKey, id)
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// RunPurger purges expired temporary keys every interval until ctx ends.
func (d *Directory) RunPurger(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := d.PurgeExpiredKeys(ctx, d.now())
			switch {
			case err != nil && ctx.Err() == nil:
				d.log.Warn("iam: purge expired session keys", "err", err)
			case n > 0:
				d.log.Debug("iam: purged expired session keys", "count", n)
			}
		}
	}
}
