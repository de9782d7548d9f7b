package store

import (
	"encoding/json"
	"time"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// Account sources.
const (
	SourceLocal = "local"
	SourceLDAP  = "ldap"
)

// User is a person or system account.
type User struct {
	Name     string `json:"name"`
	FullName string `json:"fullName,omitempty"`
	// PasswordHash is a PHC-format argon2id hash; empty for LDAP users.
	PasswordHash string `json:"passwordHash,omitempty"`
	IsAdmin      bool   `json:"isAdmin"`
	Active       bool   `json:"active"`
	// Recovery marks the bootstrap admin, who always stays a system admin.
	Recovery bool   `json:"recovery,omitempty"`
	Source   string `json:"source"`
	LDAPDN   string `json:"ldapDN,omitempty"`
	// GoneFromDirectory marks an LDAP user a sync deactivated because the
	// directory no longer has them; only such users are reactivated by a
	// later sync that finds them again (an admin's deactivation sticks).
	GoneFromDirectory bool `json:"goneFromDirectory,omitempty"`
	// DefaultCollection is where this user's unlabelled creations go.
	DefaultCollection string    `json:"defaultCollection"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// Org is an organization; it groups teams and owns a registry namespace.
type Org struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	// AdminSync, when set, keeps the org's admins in step with the directory.
	AdminSync *LDAPGroupSync `json:"adminSync,omitempty"`
}

// Team lives inside exactly one org.
type Team struct {
	Org         string    `json:"org"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	// LDAPSync, when set, keeps the team's LDAP members in step with the directory.
	LDAPSync *LDAPGroupSync `json:"ldapSync,omitempty"`
	// KubernetesGroups are the Kubernetes groups whose members grantd knows
	// act as this team in Kubernetes requests.
	KubernetesGroups []string `json:"kubernetesGroups,omitempty"`
}

// LDAPGroupSync selects directory users by group or by search.
type LDAPGroupSync struct {
	Enabled            bool   `json:"enabled"`
	GroupDN            string `json:"groupDN,omitempty"`
	GroupMemberAttr    string `json:"groupMemberAttr,omitempty"`
	SearchBaseDN       string `json:"searchBaseDN,omitempty"`
	SearchScopeSubtree bool   `json:"searchScopeSubtree,omitempty"`
	SearchFilter       string `json:"searchFilter,omitempty"`
	// OrgMembersOnly marks a team sync saved by a team admin who
	// administers neither the org nor grantd: it adds only users who are
	// already members of the org, so it cannot bring anyone into the org.
	OrgMembersOnly bool `json:"orgMembersOnly,omitempty"`
}

// OrgMember is a user's membership of an org.
type OrgMember struct {
	Org     string `json:"org"`
	User    string `json:"user"`
	IsAdmin bool   `json:"isAdmin"`
}

// TeamMember is a user's membership of a team.
type TeamMember struct {
	Org     string `json:"org"`
	Team    string `json:"team"`
	User    string `json:"user"`
	IsAdmin bool   `json:"isAdmin"`
}

// Capabilities a service account may hold.
const CapabilityAuthorize = "authorize"

// ServiceAccount is a non-human client.
type ServiceAccount struct {
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	Capabilities []string  `json:"capabilities,omitempty"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Session is a login session. ID is the SHA-256 of the bearer token; the
// token itself is never stored.
type Session struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// LastUsedAt is when the session was last seen in use (to the minute);
	// the least recently used session goes first when a user has too many.
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// APIToken is a named, revocable credential of a user or service account.
type APIToken struct {
	ID    string           `json:"id"`
	Name  string           `json:"name"`
	Owner subjects.Subject `json:"owner"` // a user or a service account
	// Hash is the SHA-256 of the token secret; the secret is shown once.
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Collection is a node of the collection tree.
type Collection struct {
	Path      string    `json:"path"`
	Parent    string    `json:"parent,omitempty"` // "" for the root
	Builtin   bool      `json:"builtin,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Role is a stored role: a built-in one or a custom one.
type Role struct {
	roles.Role
	CreatedAt time.Time `json:"createdAt"`
}

// Grant scopes.
const (
	ScopeSubtree = "subtree"
	ScopeExact   = "exact"
)

// Grant gives Subject the operations of Role on Object.
type Grant struct {
	ID      string           `json:"id"`
	Subject subjects.Subject `json:"subject"`
	Role    string           `json:"role"`
	Object  subjects.Object  `json:"object"`
	// Scope is subtree or exact; it only matters for collection objects.
	Scope     string    `json:"scope"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// Repository visibilities.
const (
	VisibilityPrivate = "private"
	VisibilityPublic  = "public"
)

// Repository is a registry repository <namespace>/<name>.
type Repository struct {
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Visibility  string    `json:"visibility"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// SessionSettings are the session lifetime rules.
type SessionSettings struct {
	LifetimeMinutes         int `json:"lifetimeMinutes"`
	RenewalThresholdMinutes int `json:"renewalThresholdMinutes"`
	PerUserLimit            int `json:"perUserLimit"`
}

// Settings are the server-wide settings; there is exactly one row.
type Settings struct {
	ID                 string          `json:"id"`
	DefaultPrivateRole string          `json:"defaultPrivateRole"`
	Sessions           SessionSettings `json:"sessions"`
	NodeIsolation      bool            `json:"nodeIsolation"`
	// AuditRetention is how many audit events are kept (0: the default).
	AuditRetention int `json:"auditRetention,omitempty"`
}

// DefaultSettings are the settings of a new installation.
func DefaultSettings() Settings {
	return Settings{
		ID:                 settingsID,
		DefaultPrivateRole: roles.RestrictedControl,
		Sessions:           SessionSettings{LifetimeMinutes: 60, RenewalThresholdMinutes: 20, PerUserLimit: 10},
		AuditRetention:     DefaultAuditRetention,
	}
}

// LDAPConfig is the directory configuration. Its content is owned by the
// ldapsync package, which validates it; the store keeps it as one document.
type LDAPConfig struct {
	ID     string          `json:"id"`
	Config json.RawMessage `json:"config"`
}

// SyncReportsKept is how many sync reports are kept.
const SyncReportsKept = 50

// SyncReport is the record of one LDAP sync run. Report is owned by the
// ldapsync package.
type SyncReport struct {
	ID        uint64    `json:"id"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt"`
	// Revision is the revision the run's write created (set on apply).
	Revision uint64          `json:"revision"`
	Report   json.RawMessage `json:"report"`
}

// ClientCert is a certificate grantd's client CA issued in a client bundle.
type ClientCert struct {
	Serial    string           `json:"serial"`
	Owner     subjects.Subject `json:"owner"` // a user or a service account
	Label     string           `json:"label,omitempty"`
	PublicKey string           `json:"publicKey"` // SHA-256 fingerprint of the public key
	NotBefore time.Time        `json:"notBefore"`
	NotAfter  time.Time        `json:"notAfter"`
	Revoked   bool             `json:"revoked"`
}

// KeyMaterial is a CA or signing key pair kept in the replicated state.
type KeyMaterial struct {
	ID      string `json:"id"`
	CertPEM string `json:"certPEM"`
	KeyPEM  string `json:"keyPEM"`
}

// JoinToken admits new cluster members until it expires or is revoked.
// The secret never leaves the cluster after it is handed out: a joining
// node proves it holds it by a MAC over its request, and the node that
// admits it answers with a MAC over the answer (pki/join.go).
type JoinToken struct {
	ID        string           `json:"id"`
	Secret    []byte           `json:"secret"`
	Voter     bool             `json:"voter"`
	Created   time.Time        `json:"created"`
	Expires   time.Time        `json:"expires"`
	CreatedBy subjects.Subject `json:"createdBy"`
}

// AuditEvent records one change.
type AuditEvent struct {
	ID         uint64          `json:"id"`
	Time       time.Time       `json:"time"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Object     string          `json:"object"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	ClientAddr string          `json:"clientAddr,omitempty"`
	// Revision is the write's: the events of one batch share it.
	Revision uint64 `json:"revision,omitempty"`
}

// Meta is a key/value row for store-level facts (bootstrap done, ...).
type Meta struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
