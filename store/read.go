package store

import (
	"slices"
	"strings"

	"github.com/grantd/grantd/subjects"
	memdb "github.com/hashicorp/go-memdb"
)

// ReadTxn is a consistent read-only view of the state at one revision.
// Getters return nil, nil when an object does not exist, and copies that
// callers may change freely (SharedRows' view returns the rows themselves).
type ReadTxn struct {
	txn rowSource
	rev uint64
	// shared: getters return the store's own rows (SharedRows).
	shared bool
}

// Revision is the revision this view reflects.
func (r *ReadTxn) Revision() uint64 { return r.rev }

// SharedRows is the same view, whose getters return the store's own rows
// instead of copies: for a reader that only reads what it gets, such as
// the policy compiler, which reads every row of the state when grantd
// starts (enterprise-large: 80 MB of copies, and start-up's page faults
// for them). A row from this view must never be changed: other readers
// of this and later revisions share it.
func (r *ReadTxn) SharedRows() *ReadTxn {
	v := *r
	v.shared = true
	return &v
}

// deepCopier is implemented by row types that hold slices, maps or pointers.
type deepCopier interface{ deepCopy() }

// viewRow is a row as r's getters return it: a copy, or in SharedRows'
// view the row itself.
func viewRow[T any](r *ReadTxn, row any) *T {
	if r.shared {
		return row.(*T)
	}
	return copyRow[T](row)
}

func copyRow[T any](row any) *T {
	v := *row.(*T)
	if c, ok := any(&v).(deepCopier); ok {
		c.deepCopy()
	}
	return &v
}

func (r *Role) deepCopy()           { r.Role = r.Role.Clone() }
func (a *ServiceAccount) deepCopy() { a.Capabilities = slices.Clone(a.Capabilities) }
func (o *Org) deepCopy()            { o.AdminSync = clonePtr(o.AdminSync) }
func (t *Team) deepCopy()           { t.LDAPSync = clonePtr(t.LDAPSync) }
func (c *LDAPConfig) deepCopy()     { c.Config = slices.Clone(c.Config) }
func (s *SyncReport) deepCopy()     { s.Report = slices.Clone(s.Report) }
func (e *AuditEvent) deepCopy()     { e.Before, e.After = slices.Clone(e.Before), slices.Clone(e.After) }

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func first[T any](r *ReadTxn, table string, args ...any) (*T, error) {
	row, err := r.txn.First(table, indexID, args...)
	if err != nil || row == nil {
		return nil, err
	}
	return viewRow[T](r, row), nil
}

// list returns the rows of an index lookup, at most limit (0 = all).
func list[T any](r *ReadTxn, table, index string, limit int, args ...any) ([]*T, error) {
	it, err := r.txn.Get(table, index, args...)
	if err != nil {
		return nil, err
	}
	return collect[T](r, it, limit), nil
}

// page returns up to limit rows (0 = all) of the id index whose key starts
// with prefix and sorts strictly after the key after, in key order.
func page[T any](r *ReadTxn, table, prefix, after string, limit int) ([]*T, error) {
	it, err := r.txn.LowerBound(table, indexID, max(prefix, after))
	if err != nil {
		return nil, err
	}
	var out []*T
	for row := it.Next(); row != nil && (limit <= 0 || len(out) < limit); row = it.Next() {
		v := viewRow[T](r, row)
		key := rowKey(v)
		if !strings.HasPrefix(key, prefix) {
			break
		}
		if after != "" && key == after {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

func rowKey(v any) string {
	switch x := v.(type) {
	case *User:
		return x.Name
	case *Org:
		return x.Name
	case *ServiceAccount:
		return x.Name
	case *Collection:
		return x.Path
	case *Grant:
		return x.ID
	case *Role:
		return x.ID
	}
	return ""
}

// scan returns up to limit rows (0 = all) of a table that keep accepts,
// in id order after the key after, copying only those.
func scan[T any](r *ReadTxn, table, after string, limit int, keep func(*T) bool) ([]*T, error) {
	it, err := r.txn.LowerBound(table, indexID, after)
	if err != nil {
		return nil, err
	}
	var out []*T
	for row := it.Next(); row != nil && (limit <= 0 || len(out) < limit); row = it.Next() {
		if v := row.(*T); keep(v) && (after == "" || rowKey(v) != after) {
			out = append(out, viewRow[T](r, row))
		}
	}
	return out, nil
}

func collect[T any](r *ReadTxn, it memdb.ResultIterator, limit int) []*T {
	var out []*T
	for row := it.Next(); row != nil && (limit <= 0 || len(out) < limit); row = it.Next() {
		out = append(out, viewRow[T](r, row))
	}
	return out
}

// Bootstrapped reports whether the store holds a bootstrapped installation.
func (r *ReadTxn) Bootstrapped() (bool, error) {
	m, err := first[Meta](r, tableMeta, metaBootstrapped)
	return m != nil, err
}

// Settings returns the server settings (nil before bootstrap).
func (r *ReadTxn) Settings() (*Settings, error) { return first[Settings](r, tableSettings, settingsID) }

// User returns the user with the given name.
func (r *ReadTxn) User(name string) (*User, error) { return first[User](r, tableUsers, name) }

// Users lists users whose name starts with prefix, in name order after
// the given name.
func (r *ReadTxn) Users(prefix, after string, limit int) ([]*User, error) {
	return page[User](r, tableUsers, prefix, after, limit)
}

// UsersBySource lists every user of one source (local or ldap), in name
// order. It scans the users (no index: an LDAP sync is its only reader).
func (r *ReadTxn) UsersBySource(source string) ([]*User, error) {
	return scan(r, tableUsers, "", 0, func(u *User) bool { return u.Source == source })
}

// Org returns the org with the given name.
func (r *ReadTxn) Org(name string) (*Org, error) { return first[Org](r, tableOrgs, name) }

// Orgs lists orgs in name order after the given name.
func (r *ReadTxn) Orgs(after string, limit int) ([]*Org, error) {
	return page[Org](r, tableOrgs, "", after, limit)
}

// Team returns one team.
func (r *ReadTxn) Team(org, name string) (*Team, error) { return first[Team](r, tableTeams, org, name) }

// Teams lists the teams of an org.
func (r *ReadTxn) Teams(org string) ([]*Team, error) {
	return list[Team](r, tableTeams, indexIDPrefix, 0, leading(org)...)
}

// KubernetesGroups lists every Kubernetes group some team maps, sorted,
// from the index (teams without groups are not in it).
func (r *ReadTxn) KubernetesGroups() ([]string, error) {
	teams, err := list[Team](r, tableTeams, indexKubeGroup+"_prefix", 0, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range teams {
		out = append(out, t.KubernetesGroups...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// TeamsOfKubernetesGroup lists the teams a Kubernetes group maps to.
func (r *ReadTxn) TeamsOfKubernetesGroup(group string) ([]*Team, error) {
	return list[Team](r, tableTeams, indexKubeGroup, 0, group)
}

// OrgMember returns one org membership.
func (r *ReadTxn) OrgMember(org, user string) (*OrgMember, error) {
	return first[OrgMember](r, tableOrgMembers, org, user)
}

// OrgMembers lists the members of an org.
func (r *ReadTxn) OrgMembers(org string) ([]*OrgMember, error) {
	return list[OrgMember](r, tableOrgMembers, indexIDPrefix, 0, leading(org)...)
}

// OrgsOfUser lists a user's org memberships.
func (r *ReadTxn) OrgsOfUser(user string) ([]*OrgMember, error) {
	return list[OrgMember](r, tableOrgMembers, indexUser, 0, user)
}

// TeamMember returns one team membership.
func (r *ReadTxn) TeamMember(org, team, user string) (*TeamMember, error) {
	return first[TeamMember](r, tableTeamMembers, org, team, user)
}

// TeamMembers lists the members of a team.
func (r *ReadTxn) TeamMembers(org, team string) ([]*TeamMember, error) {
	return list[TeamMember](r, tableTeamMembers, indexIDPrefix, 0, leading(org, team)...)
}

// TeamsOfUser lists a user's team memberships.
func (r *ReadTxn) TeamsOfUser(user string) ([]*TeamMember, error) {
	return list[TeamMember](r, tableTeamMembers, indexUser, 0, user)
}

// ServiceAccount returns one service account.
func (r *ReadTxn) ServiceAccount(name string) (*ServiceAccount, error) {
	return first[ServiceAccount](r, tableServiceAccounts, name)
}

// ServiceAccounts lists service accounts in name order after the given name.
func (r *ReadTxn) ServiceAccounts(after string, limit int) ([]*ServiceAccount, error) {
	return page[ServiceAccount](r, tableServiceAccounts, "", after, limit)
}

// Session returns the session with the given token hash.
func (r *ReadTxn) Session(id string) (*Session, error) { return first[Session](r, tableSessions, id) }

// SessionsOfUser lists a user's sessions.
func (r *ReadTxn) SessionsOfUser(user string) ([]*Session, error) {
	return list[Session](r, tableSessions, indexUser, 0, user)
}

// APITokenByHash finds a token by the hash of its secret.
func (r *ReadTxn) APITokenByHash(hash string) (*APIToken, error) {
	row, err := r.txn.First(tableAPITokens, indexHash, hash)
	if err != nil || row == nil {
		return nil, err
	}
	return viewRow[APIToken](r, row), nil
}

// APITokens lists the tokens of an owner.
func (r *ReadTxn) APITokens(owner subjects.Subject) ([]*APIToken, error) {
	return list[APIToken](r, tableAPITokens, indexOwner, 0, owner)
}

// Collection returns the collection at a path.
func (r *ReadTxn) Collection(path string) (*Collection, error) {
	return first[Collection](r, tableCollections, path)
}

// Children lists the direct children of a collection.
func (r *ReadTxn) Children(path string) ([]*Collection, error) {
	return list[Collection](r, tableCollections, indexParent, 0, path)
}

// Collections lists collections in path order after the given path.
func (r *ReadTxn) Collections(after string, limit int) ([]*Collection, error) {
	return page[Collection](r, tableCollections, "", after, limit)
}

// Role returns one role.
func (r *ReadTxn) Role(id string) (*Role, error) { return first[Role](r, tableRoles, id) }

// Roles lists every role.
func (r *ReadTxn) Roles() ([]*Role, error) { return list[Role](r, tableRoles, indexID, 0) }

// Grant returns one grant.
func (r *ReadTxn) Grant(id string) (*Grant, error) { return first[Grant](r, tableGrants, id) }

// Grants lists grants in ID order after the given ID.
func (r *ReadTxn) Grants(after string, limit int) ([]*Grant, error) {
	return page[Grant](r, tableGrants, "", after, limit)
}

// GrantsOfSubject lists the grants held by a subject.
func (r *ReadTxn) GrantsOfSubject(subject subjects.Subject) ([]*Grant, error) {
	return list[Grant](r, tableGrants, indexSubject, 0, subject)
}

// GrantsOnObject lists the grants on an object.
func (r *ReadTxn) GrantsOnObject(object subjects.Object) ([]*Grant, error) {
	return list[Grant](r, tableGrants, indexObject, 0, object)
}

// GrantsOfRole lists up to limit (0: all) grants that use a role, in ID
// order after the ID after. It scans the grants (no index: role deletion
// and the role filter of ListGrants are its only readers).
func (r *ReadTxn) GrantsOfRole(role, after string, limit int) ([]*Grant, error) {
	return scan(r, tableGrants, after, limit, func(g *Grant) bool { return g.Role == role })
}

// Repository returns one repository.
func (r *ReadTxn) Repository(namespace, name string) (*Repository, error) {
	return first[Repository](r, tableRepositories, namespace, name)
}

// Repositories lists the repositories of a namespace.
func (r *ReadTxn) Repositories(namespace string) ([]*Repository, error) {
	return list[Repository](r, tableRepositories, indexIDPrefix, 0, leading(namespace)...)
}

// AllRepositories lists every repository.
func (r *ReadTxn) AllRepositories() ([]*Repository, error) {
	return list[Repository](r, tableRepositories, indexID, 0)
}

// LDAPConfig returns the stored directory configuration (nil when none).
func (r *ReadTxn) LDAPConfig() (*LDAPConfig, error) {
	return first[LDAPConfig](r, tableLDAPConfig, ldapConfigID)
}

// AuditEvents lists audit events newest first, starting below the event
// ID before (0: from the newest), keeping those whose actor equals actor
// (when set) and whose object starts with objectPrefix (when set).
func (r *ReadTxn) AuditEvents(actor, objectPrefix string, before uint64, limit int) ([]*AuditEvent, error) {
	var it memdb.ResultIterator
	var err error
	if before == 0 {
		it, err = r.txn.GetReverse(tableAuditEvents, indexID)
	} else {
		it, err = r.txn.ReverseLowerBound(tableAuditEvents, indexID, before-1)
	}
	if err != nil {
		return nil, err
	}
	var out []*AuditEvent
	for row := it.Next(); row != nil && (limit <= 0 || len(out) < limit); row = it.Next() {
		e := row.(*AuditEvent)
		if before != 0 && e.ID >= before {
			continue
		}
		if actor != "" && e.Actor != actor || !strings.HasPrefix(e.Object, objectPrefix) {
			continue
		}
		out = append(out, viewRow[AuditEvent](r, row))
	}
	return out, nil
}

// SyncReports lists the stored sync reports, newest first.
func (r *ReadTxn) SyncReports() ([]*SyncReport, error) {
	it, err := r.txn.GetReverse(tableSyncReports, indexID)
	if err != nil {
		return nil, err
	}
	return collect[SyncReport](r, it, 0), nil
}

// SyncReport returns one stored sync report, or nil.
func (r *ReadTxn) SyncReport(id uint64) (*SyncReport, error) {
	return first[SyncReport](r, tableSyncReports, id)
}

// SyncedTeams lists the teams whose LDAP sync is on.
func (r *ReadTxn) SyncedTeams() ([]*Team, error) {
	all, err := list[Team](r, tableTeams, indexID, 0)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(t *Team) bool { return t.LDAPSync == nil || !t.LDAPSync.Enabled }), nil
}

// SyncedOrgs lists the orgs whose admin sync is on.
func (r *ReadTxn) SyncedOrgs() ([]*Org, error) {
	all, err := list[Org](r, tableOrgs, indexID, 0)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(o *Org) bool { return o.AdminSync == nil || !o.AdminSync.Enabled }), nil
}

// KeyMaterial returns a stored key pair, or nil.
func (r *ReadTxn) KeyMaterial(id string) (*KeyMaterial, error) {
	return first[KeyMaterial](r, tableKeyMaterial, id)
}

// JoinToken returns a cluster join token by ID, or nil.
func (r *ReadTxn) JoinToken(id string) (*JoinToken, error) {
	return first[JoinToken](r, tableJoinTokens, id)
}

// ClientCert returns an issued client certificate by serial, or nil.
func (r *ReadTxn) ClientCert(serial string) (*ClientCert, error) {
	return first[ClientCert](r, tableClientCerts, serial)
}

// ClientCerts lists the client certificates of an owner, or every one
// when owner is the zero Subject.
func (r *ReadTxn) ClientCerts(owner subjects.Subject) ([]*ClientCert, error) {
	if owner.IsZero() {
		return list[ClientCert](r, tableClientCerts, indexID, 0)
	}
	return list[ClientCert](r, tableClientCerts, indexOwner, 0, owner)
}
