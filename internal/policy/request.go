package policy

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PrincipalType says what kind of caller made a request.
type PrincipalType string

// Principal types.
const (
	PrincipalRoot          PrincipalType = "root"
	PrincipalUser          PrincipalType = "user"
	PrincipalAssumedRole   PrincipalType = "assumed-role"
	PrincipalFederatedUser PrincipalType = "federated-user"
	PrincipalService       PrincipalType = "service"
	PrincipalAnonymous     PrincipalType = "anonymous"
)

// Context holds request context keys with one or many values. Keys are
// case-insensitive and stored lower-cased. A request carries a few dozen keys
// at most, so a slice scanned by exact comparison beats hashing.
type Context struct {
	entries []contextEntry
}

type contextEntry struct {
	key    string
	values []string
}

// Set stores values under key, replacing earlier values.
func (c *Context) Set(key string, values ...string) {
	key = strings.ToLower(key)
	for i := range c.entries {
		if c.entries[i].key == key {
			c.entries[i].values = values
			return
		}
	}
	c.entries = append(c.entries, contextEntry{key: key, values: values})
}

// Delete removes key.
func (c *Context) Delete(key string) {
	key = strings.ToLower(key)
	for i := range c.entries {
		if c.entries[i].key == key {
			c.entries = append(c.entries[:i], c.entries[i+1:]...)
			return
		}
	}
}

// Get returns the values of key and whether it is present.
func (c *Context) Get(key string) ([]string, bool) {
	return c.get(strings.ToLower(key))
}

func (c *Context) get(lowerKey string) ([]string, bool) {
	for i := range c.entries {
		if c.entries[i].key == lowerKey {
			return c.entries[i].values, true
		}
	}
	return nil, false
}

// Keys returns the stored keys, lower-cased and sorted.
func (c *Context) Keys() []string {
	keys := make([]string, 0, len(c.entries))
	for _, e := range c.entries {
		keys = append(keys, e.key)
	}
	sort.Strings(keys)
	return keys
}

// Request is the request context of one authorization decision. Call Complete
// once after filling it (and again after changing Principal or Resource): it
// derives what the structured fields imply so that evaluation never
// allocates. Keys set in Context take precedence over the values derived from
// the structured fields.
type Request struct {
	Principal        string // principal ARN, or service name for service principals
	PrincipalType    PrincipalType
	PrincipalAccount string
	PrincipalOrgID   string
	PrincipalTags    map[string]string
	Username         string
	UserID           string
	CanonicalUser    string

	Action          string
	Resource        string
	ResourceAccount string
	ResourceOrgID   string

	// Time, when set, supplies aws:CurrentTime and aws:EpochTime.
	Time time.Time
	// ViaAWSService is aws:ViaAWSService: an AWS service made the request on
	// the principal's behalf (forward access session). AWS always sets it.
	ViaAWSService bool

	Context Context

	// Derived by Complete, each valid only while its source is unchanged.
	actionLower string // Action lower-cased, valid while actionOf == Action
	actionOf    string
	roleARN     string // role of an assumed-role Principal, valid while roleOf == Principal
	roleOf      string
	currentTime string // formatted Time, valid while timeOf == Time
	epochTime   string
	timeOf      time.Time
}

// Network says where a request entered: through a VPC endpoint (EndpointID
// set) or from a public address.
type Network struct {
	EndpointID string     // vpce-...; empty for requests not through an endpoint
	VpcID      string     // the endpoint's VPC
	SourceIP   netip.Addr // the caller's address (private when via an endpoint)
}

// SetNetwork sets the network context keys the way AWS presents them:
// aws:SourceVpce, aws:SourceVpc and aws:VpcSourceIp only for requests through
// a VPC endpoint, aws:SourceIp only for requests that are not.
func (r *Request) SetNetwork(n Network) {
	for _, k := range [...]string{"aws:SourceVpce", "aws:SourceVpc", "aws:VpcSourceIp", "aws:SourceIp"} {
		r.Context.Delete(k)
	}
	switch {
	case n.EndpointID != "":
		r.Context.Set("aws:SourceVpce", n.EndpointID)
		if n.VpcID != "" {
			r.Context.Set("aws:SourceVpc", n.VpcID)
		}
		if n.SourceIP.IsValid() {
			r.Context.Set("aws:VpcSourceIp", n.SourceIP.Unmap().String())
		}
	case n.SourceIP.IsValid():
		r.Context.Set("aws:SourceIp", n.SourceIP.Unmap().String())
	}
}

// Complete fills the fields that follow from others: principal type, account,
// user name and role ARN from the principal ARN, the resource account from
// the resource ARN, and the formatted time keys. It is idempotent.
func (r *Request) Complete() {
	if r.PrincipalType == "" {
		r.PrincipalType = inferPrincipalType(r.Principal)
	}
	if r.PrincipalAccount == "" {
		if r.PrincipalType == PrincipalRoot && isAccountID(r.Principal) {
			r.PrincipalAccount = r.Principal
		} else if r.PrincipalType != PrincipalService && r.PrincipalType != PrincipalAnonymous {
			r.PrincipalAccount = arnField(r.Principal, 4)
		}
	}
	if r.PrincipalType == PrincipalRoot && isAccountID(r.Principal) {
		r.Principal = "arn:aws:iam::" + r.Principal + ":root"
	}
	if r.Username == "" && r.PrincipalType == PrincipalUser {
		res := arnField(r.Principal, 5)
		r.Username = res[strings.LastIndexByte(res, '/')+1:]
	}
	r.roleARN, r.roleOf = roleARNOf(r.Principal, r.PrincipalType), r.Principal
	r.actionLower, r.actionOf = strings.ToLower(r.Action), r.Action
	if r.ResourceAccount == "" {
		r.ResourceAccount = arnField(r.Resource, 4)
	}
	r.currentTime, r.epochTime, r.timeOf = "", "", r.Time
	if !r.Time.IsZero() {
		r.currentTime = r.Time.UTC().Format(time.RFC3339)
		r.epochTime = strconv.FormatInt(r.Time.Unix(), 10)
	}
}

// role returns the role ARN of an assumed-role caller ("" for others).
func (r *Request) role() string {
	if r.roleOf == r.Principal {
		return r.roleARN
	}
	return roleARNOf(r.Principal, r.PrincipalType)
}

func inferPrincipalType(p string) PrincipalType {
	switch {
	case p == "" || p == "*" || p == "anonymous":
		return PrincipalAnonymous
	case isAccountID(p):
		return PrincipalRoot
	case !strings.HasPrefix(p, "arn:"):
		return PrincipalService
	}
	res := arnField(p, 5)
	switch {
	case res == "root":
		return PrincipalRoot
	case strings.HasPrefix(res, "assumed-role/"):
		return PrincipalAssumedRole
	case strings.HasPrefix(res, "federated-user/"):
		return PrincipalFederatedUser
	case strings.HasPrefix(res, "role/"):
		// A role ARN given as the caller is treated like a session of it.
		return PrincipalAssumedRole
	}
	return PrincipalUser
}

// roleARNOf maps arn:aws:sts::A:assumed-role/R/S to arn:aws:iam::A:role/R.
func roleARNOf(principal string, t PrincipalType) string {
	if t != PrincipalAssumedRole {
		return ""
	}
	res := arnField(principal, 5)
	if strings.HasPrefix(res, "role/") {
		return principal
	}
	name, ok := strings.CutPrefix(res, "assumed-role/")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	return "arn:" + arnField(principal, 1) + ":iam::" + arnField(principal, 4) + ":role/" + name
}

// arnField returns component i (0..5) of an ARN without allocating; the last
// component keeps any further colons.
func arnField(arn string, i int) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	rest := arn
	for n := 0; n < i; n++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return ""
		}
		rest = rest[j+1:]
	}
	if i == 5 {
		return rest
	}
	if j := strings.IndexByte(rest, ':'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// values is a context key's value set without allocation: one inline value
// or a slice.
type values struct {
	one     string
	list    []string
	present bool
	isList  bool
}

func (v values) len() int {
	switch {
	case !v.present:
		return 0
	case v.isList:
		return len(v.list)
	}
	return 1
}

func (v values) at(i int) string {
	if v.isList {
		return v.list[i]
	}
	return v.one
}

func single(s string) values { return values{one: s, present: true} }

func optional(s string) values {
	if s == "" {
		return values{}
	}
	return single(s)
}

const principalTagPrefix = "aws:principaltag/"

// keyID names a context key derived from the structured request fields;
// classifying a key once at compile time keeps string switches off the hot
// path.
type keyID uint8

const (
	keyOther keyID = iota // only in the explicit context
	keyPrincipalArn
	keyPrincipalAccount
	keyPrincipalOrgID
	keyPrincipalType
	keyPrincipalIsAWSService
	keyPrincipalServiceName
	keyUsername
	keyUserID
	keyResourceAccount
	keyResourceOrgID
	keyCurrentTime
	keyEpochTime
	keyPrincipalTag
	keyViaAWSService
)

// contextKey is a lower-cased context key with its classification.
type contextKey struct {
	name string
	id   keyID
	tag  string // tag key of aws:PrincipalTag/<tag>
}

func classifyKey(lower string) contextKey {
	k := contextKey{name: lower}
	switch lower {
	case "aws:principalarn":
		k.id = keyPrincipalArn
	case "aws:principalaccount":
		k.id = keyPrincipalAccount
	case "aws:principalorgid":
		k.id = keyPrincipalOrgID
	case "aws:principaltype":
		k.id = keyPrincipalType
	case "aws:principalisawsservice":
		k.id = keyPrincipalIsAWSService
	case "aws:principalservicename":
		k.id = keyPrincipalServiceName
	case "aws:username":
		k.id = keyUsername
	case "aws:userid":
		k.id = keyUserID
	case "aws:resourceaccount", "s3:resourceaccount":
		k.id = keyResourceAccount
	case "aws:resourceorgid":
		k.id = keyResourceOrgID
	case "aws:currenttime":
		k.id = keyCurrentTime
	case "aws:epochtime":
		k.id = keyEpochTime
	case "aws:viaawsservice":
		k.id = keyViaAWSService
	default:
		if tag, ok := strings.CutPrefix(lower, principalTagPrefix); ok {
			k.id, k.tag = keyPrincipalTag, tag
		}
	}
	return k
}

// lookup returns the values of a lower-cased context key.
func (r *Request) lookup(key string) values {
	return r.lookupKey(classifyKey(key))
}

// lookupKey returns a key's values: explicit context first, then the value
// derived from the structured fields.
func (r *Request) lookupKey(k contextKey) values {
	if v, ok := r.Context.get(k.name); ok {
		return values{list: v, present: true, isList: true}
	}
	svc := r.PrincipalType == PrincipalService
	anon := r.PrincipalType == PrincipalAnonymous
	switch k.id {
	case keyPrincipalArn:
		if svc || anon {
			return values{}
		}
		if r.PrincipalType == PrincipalAssumedRole {
			return optional(r.role())
		}
		return optional(r.Principal)
	case keyPrincipalAccount:
		return optional(r.PrincipalAccount)
	case keyPrincipalOrgID:
		return optional(r.PrincipalOrgID)
	case keyPrincipalType:
		return optional(principalTypeKey(r.PrincipalType))
	case keyPrincipalIsAWSService:
		if svc {
			return single("true")
		}
		return single("false")
	case keyPrincipalServiceName:
		if svc {
			return single(r.Principal)
		}
	case keyUsername:
		if r.PrincipalType == PrincipalUser {
			return optional(r.Username)
		}
	case keyUserID:
		return optional(r.UserID)
	case keyResourceAccount:
		return optional(r.ResourceAccount)
	case keyResourceOrgID:
		return optional(r.ResourceOrgID)
	case keyCurrentTime:
		if !r.timeOf.Equal(r.Time) && !r.Time.IsZero() {
			return single(r.Time.UTC().Format(time.RFC3339))
		}
		return optional(r.currentTime)
	case keyEpochTime:
		if !r.timeOf.Equal(r.Time) && !r.Time.IsZero() {
			return single(strconv.FormatInt(r.Time.Unix(), 10))
		}
		return optional(r.epochTime)
	case keyViaAWSService:
		if r.ViaAWSService {
			return single("true")
		}
		return single("false")
	case keyPrincipalTag:
		if svc || anon {
			return values{}
		}
		if v, ok := r.PrincipalTags[k.tag]; ok {
			return single(v)
		}
		for tk, v := range r.PrincipalTags {
			if strings.EqualFold(tk, k.tag) {
				return single(v)
			}
		}
	}
	return values{}
}

// variable resolves a policy variable: a key with exactly one value.
func (r *Request) variable(key contextKey) (string, bool) {
	v := r.lookupKey(key)
	if v.len() != 1 {
		return "", false
	}
	return v.at(0), true
}

func principalTypeKey(t PrincipalType) string {
	switch t {
	case PrincipalRoot:
		return "Account"
	case PrincipalUser:
		return "User"
	case PrincipalAssumedRole:
		return "AssumedRole"
	case PrincipalFederatedUser:
		return "FederatedUser"
	case PrincipalAnonymous:
		return "Anonymous"
	}
	return ""
}

// globalKeyNames lists the keys GlobalKeys derives from structured fields.
func globalKeyNames() []string {
	return []string{
		"aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalType",
		"aws:PrincipalIsAWSService", "aws:PrincipalServiceName", "aws:username", "aws:userid",
		"aws:ResourceAccount", "s3:ResourceAccount", "aws:ResourceOrgID", "aws:CurrentTime", "aws:EpochTime", "aws:ViaAWSService",
	}
}

// GlobalKeys returns the request's full context as AWS would present it: the
// global keys derived from the structured fields (including
// aws:PrincipalTag/*) merged with the explicit Context. Keys are lower-cased.
func (r *Request) GlobalKeys() map[string][]string {
	out := make(map[string][]string)
	for _, name := range globalKeyNames() {
		k := strings.ToLower(name)
		if v := r.lookup(k); v.present {
			vs := make([]string, v.len())
			for i := range vs {
				vs[i] = v.at(i)
			}
			out[k] = vs
		}
	}
	if r.PrincipalType != PrincipalService && r.PrincipalType != PrincipalAnonymous {
		for k, v := range r.PrincipalTags {
			out[principalTagPrefix+strings.ToLower(k)] = []string{v}
		}
	}
	for _, e := range r.Context.entries {
		out[e.key] = append([]string(nil), e.values...)
	}
	return out
}

// matchAction matches an action pattern (pre-lowered, case-insensitive)
// against the request's action, using the lower-cased copy Complete made when
// it is still current.
func (r *Request) matchAction(p *pattern) bool {
	if r.actionOf == r.Action && r.actionLower != "" {
		return p.matchCase(r.actionLower, r, false)
	}
	return p.match(r.Action, r)
}
