// Package iam serves the IAM Query API (2010-05-08): users, access keys,
// roles, inline policies, tags and the policy simulator. It only decodes
// parameters and encodes results; the rules live in internal/iam.
package iam

import (
	"context"
	"encoding/base64"
	"sort"
	"time"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/iam"
)

// Xmlns is the IAM response namespace.
const Xmlns = "https://iam.amazonaws.com/doc/2010-05-08/"

type handlers struct{ dir *iam.Directory }

// NewService returns the IAM service over dir.
func NewService(dir *iam.Directory) *awsapi.Service {
	h := &handlers{dir: dir}
	actions := map[string]awsapi.Handler{
		"CreateUser":      h.createUser,
		"GetUser":         h.getUser,
		"ListUsers":       h.listUsers,
		"DeleteUser":      h.deleteUser,
		"CreateAccessKey": h.createAccessKey,
		"ListAccessKeys":  h.listAccessKeys,
		"DeleteAccessKey": h.deleteAccessKey,

		"CreateRole":             h.createRole,
		"GetRole":                h.getRole,
		"ListRoles":              h.listRoles,
		"DeleteRole":             h.deleteRole,
		"UpdateRole":             h.updateRole,
		"UpdateAssumeRolePolicy": h.updateAssumeRolePolicy,

		"PutUserPolicy":    h.putPolicy(false),
		"GetUserPolicy":    h.getPolicy(false),
		"DeleteUserPolicy": h.deletePolicy(false),
		"ListUserPolicies": h.listPolicies(false),
		"PutRolePolicy":    h.putPolicy(true),
		"GetRolePolicy":    h.getPolicy(true),
		"DeleteRolePolicy": h.deletePolicy(true),
		"ListRolePolicies": h.listPolicies(true),

		"TagUser":      h.tag(false),
		"UntagUser":    h.untag(false),
		"ListUserTags": h.listTags(false),
		"TagRole":      h.tag(true),
		"UntagRole":    h.untag(true),
		"ListRoleTags": h.listTags(true),

		"PutUserPermissionsBoundary": h.putBoundary(false),
		"PutRolePermissionsBoundary": h.putBoundary(true),

		"SimulateCustomPolicy":    h.simulateCustom,
		"SimulatePrincipalPolicy": h.simulatePrincipal,
	}
	return &awsapi.Service{Name: "iam", Protocol: awsapi.ProtocolQuery, Xmlns: Xmlns, Global: true, Actions: actions}
}

func caller(r *awsapi.Request) iam.Caller {
	return iam.Caller{Principal: r.Caller, Action: "iam:" + r.Action}
}

// isoTime renders a timestamp as IAM does (ISO 8601, UTC).
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func validation(format string, args ...any) error {
	return cloud.Errorf("ValidationError", format, args...)
}

// tagList is a list of Key/Value members.
type tagList struct {
	Members []xmlTag `xml:"member"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func tagsXML(tags cloud.Tags) *tagList {
	if len(tags) == 0 {
		return nil
	}
	l := &tagList{}
	for _, t := range tags {
		l.Members = append(l.Members, xmlTag{Key: t.Key, Value: t.Value})
	}
	return l
}

type stringList struct {
	Members []string `xml:"member"`
}

// page cuts one page out of items (sorted by key) after the Marker, with
// at most MaxItems (1–1000, default 100) entries, and returns the next marker.
func page[T any](p awsapi.Params, items []T, key func(T) string) ([]T, bool, string, error) {
	maxItems, err := p.Int("MaxItems", 100)
	if err != nil {
		return nil, false, "", validation("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must be a number", p.Get("MaxItems"))
	}
	if maxItems < 1 || maxItems > 1000 {
		return nil, false, "", validation("1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", maxItems)
	}
	sort.SliceStable(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	start := 0
	if m := p.Get("Marker"); m != "" {
		after, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return nil, false, "", validation("Invalid Marker.")
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) >= string(after) })
	}
	rest := items[start:]
	if len(rest) <= maxItems {
		return rest, false, "", nil
	}
	return rest[:maxItems], true, base64.RawURLEncoding.EncodeToString([]byte(key(rest[maxItems]))), nil
}

// ---- users ----

type xmlUser struct {
	Path                string   `xml:"Path,omitempty"`     // absent for the root
	UserName            string   `xml:"UserName,omitempty"` // absent for the root
	UserID              string   `xml:"UserId"`
	Arn                 string   `xml:"Arn"`
	CreateDate          string   `xml:"CreateDate"`
	Tags                *tagList `xml:"Tags,omitempty"`
	PermissionsBoundary *struct {
		PermissionsBoundaryType string `xml:"PermissionsBoundaryType"`
		PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
	} `xml:"PermissionsBoundary,omitempty"`
}

func userXML(u *cloud.User, withTags bool) xmlUser {
	x := xmlUser{Path: u.Path, UserName: u.UserName, UserID: u.UserID, Arn: u.ARN(), CreateDate: isoTime(u.CreatedAt)}
	if u.UserName == "" { // the account root, as GetUser without a name describes it
		x.Arn = cloud.AccountRootARN(u.AccountID)
	}
	if withTags {
		x.Tags = tagsXML(u.Tags)
	}
	return x
}

func (h *handlers) createUser(ctx context.Context, r *awsapi.Request) (any, error) {
	tags, err := r.Params.Tags("Tags")
	if err != nil {
		return nil, err
	}
	p := r.Params
	u, err := h.dir.CreateUser(ctx, caller(r), p.Get("UserName"), p.Get("Path"), p.Get("PermissionsBoundary"), tags)
	if err != nil {
		return nil, err
	}
	return &struct {
		User xmlUser `xml:"User"`
	}{userXML(u, true)}, nil
}

func (h *handlers) getUser(ctx context.Context, r *awsapi.Request) (any, error) {
	u, err := h.dir.GetUser(ctx, caller(r), r.Params.Get("UserName"))
	if err != nil {
		return nil, err
	}
	return &struct {
		User xmlUser `xml:"User"`
	}{userXML(u, true)}, nil
}

func (h *handlers) listUsers(ctx context.Context, r *awsapi.Request) (any, error) {
	users, err := h.dir.ListUsers(ctx, caller(r), r.Params.Get("PathPrefix"))
	if err != nil {
		return nil, err
	}
	users, truncated, marker, err := page(r.Params, users, func(u *cloud.User) string { return u.UserName })
	if err != nil {
		return nil, err
	}
	out := &struct {
		Users struct {
			Members []xmlUser `xml:"member"`
		} `xml:"Users"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: truncated, Marker: marker}
	for _, u := range users {
		out.Users.Members = append(out.Users.Members, userXML(u, false))
	}
	return out, nil
}

func (h *handlers) deleteUser(ctx context.Context, r *awsapi.Request) (any, error) {
	return nil, h.dir.DeleteUser(ctx, caller(r), r.Params.Get("UserName"))
}

func (h *handlers) createAccessKey(ctx context.Context, r *awsapi.Request) (any, error) {
	k, err := h.dir.CreateAccessKey(ctx, caller(r), r.Params.Get("UserName"))
	if err != nil {
		return nil, err
	}
	return &struct {
		AccessKey struct {
			UserName        string `xml:"UserName"`
			AccessKeyID     string `xml:"AccessKeyId"`
			Status          string `xml:"Status"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			CreateDate      string `xml:"CreateDate"`
		} `xml:"AccessKey"`
	}{AccessKey: struct {
		UserName        string `xml:"UserName"`
		AccessKeyID     string `xml:"AccessKeyId"`
		Status          string `xml:"Status"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		CreateDate      string `xml:"CreateDate"`
	}{k.UserName, k.ID, k.Status, k.Secret, isoTime(k.CreatedAt)}}, nil
}

type xmlKeyMetadata struct {
	UserName    string `xml:"UserName,omitempty"`
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string `xml:"Status"`
	CreateDate  string `xml:"CreateDate"`
}

func (h *handlers) listAccessKeys(ctx context.Context, r *awsapi.Request) (any, error) {
	owner, keys, err := h.dir.ListAccessKeys(ctx, caller(r), r.Params.Get("UserName"))
	if err != nil {
		return nil, err
	}
	keys, truncated, marker, err := page(r.Params, keys, func(k *cloud.AccessKey) string { return k.ID })
	if err != nil {
		return nil, err
	}
	out := &struct {
		AccessKeyMetadata struct {
			Members []xmlKeyMetadata `xml:"member"`
		} `xml:"AccessKeyMetadata"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: truncated, Marker: marker}
	for _, k := range keys {
		out.AccessKeyMetadata.Members = append(out.AccessKeyMetadata.Members, xmlKeyMetadata{owner, k.ID, k.Status, isoTime(k.CreatedAt)})
	}
	return out, nil
}

func (h *handlers) deleteAccessKey(ctx context.Context, r *awsapi.Request) (any, error) {
	return nil, h.dir.DeleteAccessKey(ctx, caller(r), r.Params.Get("UserName"), r.Params.Get("AccessKeyId"))
}
