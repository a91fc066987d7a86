// Package iam owns identities: accounts, organizations, IAM users and roles,
// and access keys, stored in the store. It authenticates access keys for
// awsapi and turns them into principals; it does not evaluate policies
// (package policy does) and does not speak any wire protocol.
package iam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// Directory resolves and manages identities.
type Directory struct {
	db  *store.DB
	log *slog.Logger
	now func() time.Time

	cacheMu sync.Mutex
	cache   map[string]*policy.Compiled

	ids identities // users and roles for authorization
}

// New returns a Directory over db.
func New(db *store.DB, log *slog.Logger) *Directory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Directory{db: db, log: log, now: time.Now, cache: map[string]*policy.Compiled{}}
	// IAM names are unique per account regardless of case.
	db.AddIndex(cloud.KindUser, foldIndex, func(v any) []string {
		u := v.(*cloud.User)
		return []string{foldKey(u.AccountID, u.UserName)}
	})
	db.AddIndex(cloud.KindRole, foldIndex, func(v any) []string {
		r := v.(*cloud.Role)
		return []string{foldKey(r.AccountID, r.RoleName)}
	})
	d.watchIdentities()
	return d
}

// Credentials is an access key pair handed to a user.
type Credentials struct {
	AccountID       string
	AccessKeyID     string
	SecretAccessKey string
}

// Bootstrap applies cfg's accounts, organizations and keys to the store
// (creating or updating them; nothing is removed). With no accounts in cfg
// and none stored, it creates one account with a random root key pair and
// returns it so the caller can print it; otherwise it returns nil.
func (d *Directory) Bootstrap(ctx context.Context, cfg *config.Config) (*Credentials, error) {
	var created *Credentials
	err := d.db.Update(ctx, func(tx *store.Tx) error {
		now := time.Now().UTC()
		orgOf := map[string]string{}
		for _, o := range cfg.Organizations {
			for _, a := range o.Accounts {
				orgOf[a] = o.ID
			}
			tx.Put(cloud.KindOrganization, o.ID, &cloud.Organization{
				ID: o.ID, ManagementAccount: o.Accounts[0], Accounts: append([]string(nil), o.Accounts...),
				RootID: "r-" + strings.TrimPrefix(o.ID, "o-")[:4],
			})
		}
		for _, a := range cfg.Accounts {
			acct := &cloud.Account{ID: a.ID, Name: a.Name, OrgID: orgOf[a.ID], CreatedAt: now}
			if old, ok := store.Get[cloud.Account](tx, cloud.KindAccount, a.ID); ok {
				acct.CreatedAt = old.CreatedAt
			}
			tx.Put(cloud.KindAccount, a.ID, acct)
			for _, k := range a.AccessKeys {
				if old, ok := store.Get[cloud.AccessKey](tx, cloud.KindAccessKey, k.ID); ok && old.AccountID != a.ID {
					return fmt.Errorf("iam: access key %s already belongs to account %s", k.ID, old.AccountID)
				}
				tx.Put(cloud.KindAccessKey, k.ID, &cloud.AccessKey{ID: k.ID, Secret: k.Secret, AccountID: a.ID, Status: "Active", CreatedAt: now})
			}
		}
		if len(cfg.Accounts) > 0 || tx.Count(cloud.KindAccount) > 0 {
			return nil
		}
		acct := &cloud.Account{ID: randomAccountID(), Name: "default", CreatedAt: now}
		key := &cloud.AccessKey{ID: NewAccessKeyID("AKIA"), Secret: NewSecret(), AccountID: acct.ID, Status: "Active", CreatedAt: now}
		tx.Put(cloud.KindAccount, acct.ID, acct)
		tx.Put(cloud.KindAccessKey, key.ID, key)
		created = &Credentials{AccountID: acct.ID, AccessKeyID: key.ID, SecretAccessKey: key.Secret}
		return nil
	})
	return created, err
}

// RootCredentials returns one active root key of the oldest account, for the
// start-up banner.
func (d *Directory) RootCredentials() (*Credentials, bool) {
	var best *cloud.AccessKey
	d.db.View(func(tx *store.Tx) error {
		for _, k := range store.List[cloud.AccessKey](tx, cloud.KindAccessKey, nil) {
			if k.UserName == "" && !k.Temporary() && k.Status == "Active" && (best == nil || k.CreatedAt.Before(best.CreatedAt)) {
				best = k
			}
		}
		return nil
	})
	if best == nil {
		return nil, false
	}
	return &Credentials{AccountID: best.AccountID, AccessKeyID: best.ID, SecretAccessKey: best.Secret}, true
}

// Authenticate implements awsapi.Authenticator.
func (d *Directory) Authenticate(ctx context.Context, accessKeyID, sessionToken string, now time.Time) (string, *cloud.Principal, error) {
	var (
		secret string
		p      *cloud.Principal
		err    error
	)
	d.db.View(func(tx *store.Tx) error {
		k, ok := store.Get[cloud.AccessKey](tx, cloud.KindAccessKey, accessKeyID)
		if !ok || k.Status != "Active" {
			err = cloud.ErrUnknownAccessKey
			return nil
		}
		if k.Temporary() {
			if sessionToken != k.SessionToken {
				err = cloud.ErrUnknownAccessKey
				return nil
			}
			if !now.Before(k.Expiration) {
				err = cloud.ErrExpiredToken
				return nil
			}
		} else if sessionToken != "" {
			err = cloud.ErrUnknownAccessKey
			return nil
		}
		p, err = principalOf(tx, k)
		secret = k.Secret
		return nil
	})
	return secret, p, err
}

// PrincipalForKey resolves an access key ID to its principal (for tests and tools).
func (d *Directory) PrincipalForKey(accessKeyID string) (*cloud.Principal, error) {
	var p *cloud.Principal
	err := d.db.View(func(tx *store.Tx) error {
		k, ok := store.Get[cloud.AccessKey](tx, cloud.KindAccessKey, accessKeyID)
		if !ok {
			return cloud.ErrUnknownAccessKey
		}
		var err error
		p, err = principalOf(tx, k)
		return err
	})
	return p, err
}

func principalOf(tx *store.Tx, k *cloud.AccessKey) (*cloud.Principal, error) {
	acct, ok := store.Get[cloud.Account](tx, cloud.KindAccount, k.AccountID)
	if !ok {
		return nil, cloud.ErrUnknownAccessKey
	}
	p := &cloud.Principal{AccountID: acct.ID, OrgID: acct.OrgID, AccessKeyID: k.ID}
	switch {
	case k.RoleName != "":
		role, ok := store.Get[cloud.Role](tx, cloud.KindRole, cloud.RoleKey(acct.ID, k.RoleName))
		if !ok {
			return nil, cloud.ErrUnknownAccessKey
		}
		p.Type = cloud.PrincipalAssumedRole
		p.Name = role.RoleName
		p.SessionName = k.SessionName
		p.ARN = "arn:aws:sts::" + acct.ID + ":assumed-role/" + role.RoleName + "/" + k.SessionName
		p.UserID = role.RoleID + ":" + k.SessionName
		p.SessionPolicy = k.SessionPolicy
	case k.UserName != "":
		u, ok := store.Get[cloud.User](tx, cloud.KindUser, cloud.UserKey(acct.ID, k.UserName))
		if !ok {
			return nil, cloud.ErrUnknownAccessKey
		}
		p.Type = cloud.PrincipalUser
		p.Name = u.UserName
		p.ARN = u.ARN()
		p.UserID = u.UserID
	default:
		p.Type = cloud.PrincipalRoot
		p.ARN = cloud.AccountRootARN(acct.ID)
		p.UserID = acct.ID
	}
	return p, nil
}

// NewAccessKeyID returns prefix (AKIA, ASIA) and 16 upper-case base32 characters.
func NewAccessKeyID(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

// NewSecret returns a 40-character secret access key.
func NewSecret() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// NewUniqueID returns an IAM unique ID such as AIDA… or AROA…: the prefix
// and 17 base32 characters (21 in all).
func NewUniqueID(prefix string) string {
	return NewAccessKeyID(prefix) + NewAccessKeyID("")[:1]
}

func randomAccountID() string {
	b := make([]byte, 12)
	rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// Kinds lists the store kinds this package owns.
func Kinds() store.Kinds {
	return store.Kinds{
		cloud.KindAccount:      func() any { return new(cloud.Account) },
		cloud.KindOrganization: func() any { return new(cloud.Organization) },
		cloud.KindAccessKey:    func() any { return new(cloud.AccessKey) },
		cloud.KindUser:         func() any { return new(cloud.User) },
		cloud.KindRole:         func() any { return new(cloud.Role) },
	}
}

// foldIndex names the store index of users and roles by account and
// lower-cased name.
const foldIndex = "name-fold"

func foldKey(account, name string) string { return account + "/" + strings.ToLower(name) }

// nameTaken reports whether account already has a user (kind KindUser) or
// role (KindRole) whose name equals name ignoring case.
func nameTaken(tx *store.Tx, kind, account, name string) bool {
	ids, _ := tx.Lookup(kind, foldIndex, foldKey(account, name))
	return len(ids) > 0
}
