// Package controlplane enforces AWS's rules for every resource family:
// validation, ownership ("accounts are walls"), authorization, idempotency
// and the bookkeeping AWS does on create and delete. It writes desired state
// to the store and never touches the kernel; controllers realize it.
package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Authorizer decides whether a principal may perform an action on a resource.
// It returns nil to allow, or an error (normally *cloud.Error) to refuse.
type Authorizer interface {
	Authorize(ctx context.Context, p *cloud.Principal, action, resource string) error
}

// RootOnly allows an account's root user everything and everyone else
// nothing; it is the authorizer until identity policies are evaluated.
type RootOnly struct{}

// Authorize implements Authorizer.
func (RootOnly) Authorize(_ context.Context, p *cloud.Principal, action, resource string) error {
	if p != nil && p.IsRoot() {
		return nil
	}
	return &cloud.Error{Code: "UnauthorizedOperation", Message: fmt.Sprintf("You are not authorized to perform this operation. User: %s is not authorized to perform: %s on resource: %s", arnOf(p), action, resource), Status: 403}
}

func arnOf(p *cloud.Principal) string {
	if p == nil {
		return "anonymous"
	}
	return p.ARN
}

// Config configures a ControlPlane.
type Config struct {
	DB         *store.DB
	Regions    []cloud.Region
	Authorizer Authorizer
	Log        *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// ControlPlane is the business-rule layer over the store.
type ControlPlane struct {
	db      *store.DB
	regions map[string]cloud.Region
	order   []string
	authz   Authorizer
	log     *slog.Logger
	now     func() time.Time

	// vpcAttributeChecks are extra rules on VPC attribute changes, added by
	// resource families that depend on them (private DNS endpoints).
	vpcAttributeChecks []func(tx *store.Tx, v *cloud.Vpc) error
}

// New builds a ControlPlane.
func New(cfg Config) (*ControlPlane, error) {
	if cfg.DB == nil || len(cfg.Regions) == 0 {
		return nil, fmt.Errorf("controlplane: a store and at least one region are required")
	}
	cp := &ControlPlane{db: cfg.DB, regions: map[string]cloud.Region{}, authz: cfg.Authorizer, log: cfg.Log, now: cfg.Now}
	if cp.authz == nil {
		cp.authz = RootOnly{}
	}
	if cp.log == nil {
		cp.log = slog.New(slog.DiscardHandler)
	}
	if cp.now == nil {
		cp.now = time.Now
	}
	// PrivateLink: private-DNS endpoints need the VPC's DNS attributes.
	cp.vpcAttributeChecks = append(cp.vpcAttributeChecks, checkEndpointDNSAttributes)
	for _, r := range cfg.Regions {
		cp.regions[r.Name] = r
		cp.order = append(cp.order, r.Name)
	}
	indexTags(cfg.DB)
	return cp, nil
}

// DB exposes the store (controllers and tests read it).
func (cp *ControlPlane) DB() *store.DB { return cp.db }

// Regions returns the modelled regions, the default first.
func (cp *ControlPlane) Regions() []cloud.Region {
	out := make([]cloud.Region, len(cp.order))
	for i, n := range cp.order {
		out[i] = cp.regions[n]
	}
	return out
}

// Call is the context of one API call.
type Call struct {
	Caller *cloud.Principal
	Region string
	// Action is the IAM action name, e.g. "ec2:CreateVpc".
	Action string
	DryRun bool
	// Network is where the request entered a modelled network (a VPC
	// endpoint or the stand-in internet); authorize hands it to the
	// Authorizer in the context, which also carries it from the HTTP layer.
	Network cloud.NetworkContext
}

// Account is the caller's account ID.
func (c *Call) Account() string { return c.Caller.AccountID }

// region returns the call's region model.
func (cp *ControlPlane) region(c *Call) (cloud.Region, error) {
	r, ok := cp.regions[c.Region]
	if !ok {
		return cloud.Region{}, cloud.Errorf("InvalidParameterValue", "The region '%s' is not enabled in privlink.", c.Region)
	}
	return r, nil
}

// authorize checks the caller may perform the call's action on resource, and
// ends a dry run that would have succeeded.
func (cp *ControlPlane) authorize(ctx context.Context, c *Call, resource string) error {
	if _, ok := cloud.NetworkFrom(ctx); !ok {
		ctx = cloud.WithNetwork(ctx, c.Network)
	}
	if err := cp.authz.Authorize(ctx, c.Caller, c.Action, resource); err != nil {
		return err
	}
	if c.DryRun {
		return &cloud.Error{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set.", Status: 412}
	}
	return nil
}

// checkDryRun authorizes describe calls, where there is no single resource.
func (cp *ControlPlane) checkDryRun(ctx context.Context, c *Call) error {
	return cp.authorize(ctx, c, "*")
}

func (cp *ControlPlane) newMeta(c *Call, id string, tags cloud.Tags) cloud.Meta {
	return cloud.Meta{ID: id, OwnerID: c.Account(), Region: c.Region, CreatedAt: cp.now().UTC(), Tags: sortTags(tags)}
}

// visible reports whether the resource belongs to the caller's account and
// region: another account's resources behave as if they did not exist.
func visible(c *Call, m *cloud.Meta) bool {
	return m.OwnerID == c.Account() && m.Region == c.Region
}

// getOwned fetches a resource of the caller's, or nil.
func getOwned[T any, PT interface {
	*T
	cloud.Resource
}](tx *store.Tx, c *Call, kind, id string) *T {
	v, ok := store.Get[T](tx, kind, id)
	if !ok || !visible(c, PT(v).Base()) {
		return nil
	}
	return v
}

// listOwned lists the caller's resources of a kind.
func listOwned[T any, PT interface {
	*T
	cloud.Resource
}](tx *store.Tx, c *Call, kind string, keep func(*T) bool) []*T {
	return store.List[T](tx, kind, func(v *T) bool {
		return visible(c, PT(v).Base()) && (keep == nil || keep(v))
	})
}

// Page is pagination input.
type Page struct {
	MaxResults *int
	NextToken  string
}

// paginate cuts items (sorted by ID) into a page. min/max bound MaxResults.
func paginate[T any](items []*T, id func(*T) string, p Page, min, max int) ([]*T, string, error) {
	start := 0
	if p.NextToken != "" {
		raw, err := hex.DecodeString(p.NextToken)
		if err != nil {
			return nil, "", cloud.Errorf("InvalidNextToken", "The token '%s' is invalid.", p.NextToken)
		}
		after := string(raw)
		start = sort.Search(len(items), func(i int) bool { return id(items[i]) >= after })
	}
	if p.MaxResults == nil {
		return items[start:], "", nil
	}
	n := *p.MaxResults
	if n < min || n > max {
		return nil, "", cloud.Errorf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Parameter must be between %d and %d.", n, min, max)
	}
	end := start + n
	if end >= len(items) {
		return items[start:], "", nil
	}
	return items[start:end], hex.EncodeToString([]byte(id(items[end]))), nil
}

// idempotent returns the resource ID created earlier by the same ClientToken
// for the same action and parameters; a token reused with other parameters
// is IdempotentParameterMismatch.
func idempotent(tx *store.Tx, c *Call, token string, params any) (id string, err error) {
	if token == "" {
		return "", nil
	}
	if len(token) > 64 {
		return "", cloud.InvalidParameterValue("ClientToken", token, "Client tokens are at most 64 characters.")
	}
	rec, ok := store.Get[cloud.ClientTokenRecord](tx, cloud.KindClientToken, tokenKey(c, token))
	if !ok {
		return "", nil
	}
	if rec.ParamsHash != hashParams(params) {
		return "", cloud.Errorf("IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already created with different parameters.")
	}
	return rec.ResourceID, nil
}

// rememberToken records a ClientToken's result in the same transaction as the create.
func (cp *ControlPlane) rememberToken(tx *store.Tx, c *Call, token string, params any, resourceID string) {
	if token == "" {
		return
	}
	tx.Put(cloud.KindClientToken, tokenKey(c, token), &cloud.ClientTokenRecord{
		Meta: cp.newMeta(c, tokenKey(c, token), nil), Action: c.Action, ParamsHash: hashParams(params), ResourceID: resourceID,
	})
}

func tokenKey(c *Call, token string) string {
	return c.Account() + "/" + c.Region + "/" + c.Action + "/" + token
}

func hashParams(v any) string {
	data, _ := json.Marshal(v)
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:16])
}
