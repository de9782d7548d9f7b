package manifest

// APIVersion and Kind identify a manifest.
const (
	APIVersion = "grantd.io/v1"
	Kind       = "Access"
)

// Document is a manifest, as YAML or JSON:
//
//	apiVersion: grantd.io/v1
//	kind: Access
//	owns: {orgs: [acme], collections: [/prod], roles: true}
//	orgs:
//	  - name: acme
//	    teams:
//	      - name: web
//	        members: [{user: maria}, {user: paolo, admin: true}]
//	collections: [{path: /prod}, {path: /prod/api}]
//	grants:
//	  - {subject: "team:acme/web", role: viewonly, object: "collection:/prod"}
//
// Every list is sorted by its key in an export; a document may list them
// in any order.
type Document struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Owns bounds what apply --prune removes.
	Owns            *Ownership       `json:"owns,omitempty"`
	Settings        *Settings        `json:"settings,omitempty"`
	Users           []User           `json:"users,omitempty"`
	ServiceAccounts []ServiceAccount `json:"serviceAccounts,omitempty"`
	Orgs            []Org            `json:"orgs,omitempty"`
	Collections     []Collection     `json:"collections,omitempty"`
	Roles           []Role           `json:"roles,omitempty"`
	Grants          []Grant          `json:"grants,omitempty"`
	Repositories    []Repository     `json:"repositories,omitempty"`
}

// Ownership is what a document manages: with --prune, what it owns and
// does not list is removed; nothing else ever is.
type Ownership struct {
	// Orgs: these orgs, their teams, memberships (but those a directory
	// sync manages) and repositories, and grants to their teams and the
	// orgs or on their repositories and namespaces.
	Orgs []string `json:"orgs,omitempty"`
	// Collections: the collections in these subtrees (built-in ones
	// never), and the grants on them.
	Collections []string `json:"collections,omitempty"`
	// Namespaces: the grants on these registry or Kubernetes namespaces
	// and their repositories; "*" is every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// Roles: every custom role.
	Roles bool `json:"roles,omitempty"`
	// Users and ServiceAccounts: every local user (never the recovery
	// admin, never a directory user) and every service account.
	Users           bool `json:"users,omitempty"`
	ServiceAccounts bool `json:"serviceAccounts,omitempty"`
}

// Settings are the server settings; a document that has them sets them
// whole.
type Settings struct {
	DefaultPrivateRole string   `json:"defaultPrivateRole"`
	Sessions           Sessions `json:"sessions"`
	NodeIsolation      bool     `json:"nodeIsolation,omitempty"`
	AuditRetention     int      `json:"auditRetention,omitempty"`
}

// Sessions are the session lifetime rules.
type Sessions struct {
	LifetimeMinutes         int `json:"lifetimeMinutes"`
	RenewalThresholdMinutes int `json:"renewalThresholdMinutes"`
	PerUserLimit            int `json:"perUserLimit"`
}

// User is a local user. A user a manifest creates has no password: they
// sign in once an admin sets one (or through the directory).
type User struct {
	Name     string `json:"name"`
	FullName string `json:"fullName,omitempty"`
	Admin    bool   `json:"admin,omitempty"`
	// Inactive users exist but may not sign in or act.
	Inactive bool `json:"inactive,omitempty"`
}

// ServiceAccount is a non-human client.
type ServiceAccount struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	Inactive     bool     `json:"inactive,omitempty"`
}

// Org is an organization with its teams. Members are the org's members
// besides those its teams bring in; Admin makes one an org admin.
type Org struct {
	Name    string   `json:"name"`
	Members []Member `json:"members,omitempty"`
	Teams   []Team   `json:"teams,omitempty"`
}

// Member is a user's membership; Admin is the org or team admin flag.
type Member struct {
	User  string `json:"user"`
	Admin bool   `json:"admin,omitempty"`
}

// Team is a team of an org. The members of a team whose directory sync
// is on are the directory's: a manifest neither lists nor changes them.
type Team struct {
	Name             string   `json:"name"`
	Description      string   `json:"description,omitempty"`
	KubernetesGroups []string `json:"kubernetesGroups,omitempty"`
	Members          []Member `json:"members,omitempty"`
}

// Collection is a (non built-in) collection.
type Collection struct {
	Path string `json:"path"`
}

// Role is a custom role.
type Role struct {
	ID          string       `json:"id"`
	Name        string       `json:"name,omitempty"`
	Permissions []Permission `json:"permissions"`
}

// Permission is an operation of a role, with the options it allows.
type Permission struct {
	Operation string   `json:"operation"`
	Options   []string `json:"options,omitempty"`
}

// Grant gives a subject a role's operations on an object. A grant is
// known by its subject, role, object and scope, never by its ID.
type Grant struct {
	Subject string `json:"subject"`
	Role    string `json:"role"`
	Object  string `json:"object"`
	// Scope is subtree (the default) or exact.
	Scope string `json:"scope,omitempty"`
}

// Repository is a registry repository.
type Repository struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Visibility  string `json:"visibility,omitempty"`
	Description string `json:"description,omitempty"`
}
