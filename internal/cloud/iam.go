package cloud

import "time"

// Store kinds of identities.
const (
	KindAccount      = "account"
	KindOrganization = "organization"
	KindAccessKey    = "access-key"
	KindUser         = "iam-user"
	KindRole         = "iam-role"
)

// Account is an AWS account.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	OrgID     string    `json:"org,omitempty"`
	CreatedAt time.Time `json:"created"`
}

// OrgNode is an organizational unit in the organization tree.
type OrgNode struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	ParentID string `json:"parent,omitempty"`
}

// Organization groups accounts under one management account.
type Organization struct {
	ID                string   `json:"id"`
	ManagementAccount string   `json:"management"`
	Accounts          []string `json:"accounts"`
	RootID            string   `json:"root"`
}

// Principal types.
const (
	PrincipalRoot        = "root"
	PrincipalUser        = "user"
	PrincipalAssumedRole = "assumed-role"
)

// AccessKey is a stored access key and the principal it authenticates.
type AccessKey struct {
	ID           string    `json:"id"`
	Secret       string    `json:"secret"`
	AccountID    string    `json:"account"`
	Status       string    `json:"status"`         // Active, Inactive
	UserName     string    `json:"user,omitempty"` // empty: the account root
	RoleName     string    `json:"role,omitempty"` // temporary role-session keys
	SessionName  string    `json:"session,omitempty"`
	SessionToken string    `json:"token,omitempty"`
	Expiration   time.Time `json:"expiration,omitempty"`
	// SessionPolicy is the optional policy passed to AssumeRole.
	SessionPolicy string    `json:"sessionPolicy,omitempty"`
	CreatedAt     time.Time `json:"created"`
}

// Temporary reports whether the key is a session credential.
func (k *AccessKey) Temporary() bool { return k.SessionToken != "" }

// User is an IAM user.
type User struct {
	AccountID string            `json:"account"`
	UserID    string            `json:"id"`
	UserName  string            `json:"name"`
	Path      string            `json:"path"`
	Policies  map[string]string `json:"policies,omitempty"` // inline policies by name
	Boundary  string            `json:"boundary,omitempty"`
	Tags      Tags              `json:"tags,omitempty"`
	CreatedAt time.Time         `json:"created"`
}

// ARN is the user's ARN.
func (u *User) ARN() string { return "arn:aws:iam::" + u.AccountID + ":user" + u.Path + u.UserName }

// Role is an IAM role.
type Role struct {
	AccountID          string            `json:"account"`
	RoleID             string            `json:"id"`
	RoleName           string            `json:"name"`
	Path               string            `json:"path"`
	Description        string            `json:"desc,omitempty"`
	AssumeRolePolicy   string            `json:"trust"`
	MaxSessionDuration int               `json:"maxSession"`
	Policies           map[string]string `json:"policies,omitempty"`
	Boundary           string            `json:"boundary,omitempty"`
	Tags               Tags              `json:"tags,omitempty"`
	CreatedAt          time.Time         `json:"created"`
}

// ARN is the role's ARN.
func (r *Role) ARN() string { return "arn:aws:iam::" + r.AccountID + ":role" + r.Path + r.RoleName }

// Principal is the authenticated caller of a request.
type Principal struct {
	AccountID   string
	OrgID       string
	Type        string // root, user, assumed-role
	ARN         string
	UserID      string // AIDA… for users, AROA…:session for role sessions, account ID for root
	Name        string // user name, or role name for sessions
	SessionName string
	AccessKeyID string
	// SessionPolicy is the AssumeRole session policy, if any.
	SessionPolicy string
}

// IsRoot reports whether the caller is an account's root user.
func (p *Principal) IsRoot() bool { return p.Type == PrincipalRoot }

// UserKey is the store ID of a user: account/name.
func UserKey(account, name string) string { return account + "/" + name }

// RoleKey is the store ID of a role: account/name.
func RoleKey(account, name string) string { return account + "/" + name }
