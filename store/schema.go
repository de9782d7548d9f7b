package store

import (
	"encoding/binary"
	"fmt"
	"reflect"

	memdb "github.com/hashicorp/go-memdb"
)

// Table names.
const (
	tableUsers           = "users"
	tableOrgs            = "orgs"
	tableTeams           = "teams"
	tableOrgMembers      = "org_members"
	tableTeamMembers     = "team_members"
	tableServiceAccounts = "service_accounts"
	tableSessions        = "sessions"
	tableAPITokens       = "api_tokens"
	tableCollections     = "collections"
	tableRoles           = "roles"
	tableGrants          = "grants"
	tableRepositories    = "repositories"
	tableSettings        = "settings"
	tableLDAPConfig      = "ldap_config"
	tableSyncReports     = "sync_reports"
	tableClientCerts     = "client_certs"
	tableKeyMaterial     = "key_material"
	tableJoinTokens      = "join_tokens"
	tableAuditEvents     = "audit_events"
	tableMeta            = "meta"
)

// Index names.
const (
	indexID      = "id"
	indexUser    = "user"
	indexHash    = "hash"
	indexOwner   = "owner"
	indexParent  = "parent"
	indexSubject = "subject"
	indexObject  = "object"
	// indexKubeGroup finds the teams a Kubernetes group maps to.
	indexKubeGroup = "kubegroup"
)

// Rows are indexed only by what a frequent read looks them up by: every
// index is a radix tree that start-up rebuilds and memory holds (with
// enterprise-large, each index entry costs about 400 bytes and a fraction
// of start-up). Grants by role (role deletion, the role filter of
// ListGrants) and users by source (an LDAP sync) are scans of their
// table instead: rare administrative reads, tens of milliseconds with
// enterprise-large. See docs/decisions.md, "State".

// indexIDPrefix queries a compound id index by its leading fields (the
// teams of an org, the members of a team) with the arguments of leading.
// Every index is a radix tree that start-up rebuilds and memory holds, so
// rows are not indexed a second time by what their id already sorts by.
const indexIDPrefix = indexID + "_prefix"

// leading makes the arguments of an indexIDPrefix query matching each
// field exactly: memdb matches the last argument as a string prefix, so an
// empty one ends the list ("acme" must not match "acme2").
func leading(fields ...any) []any { return append(fields, "") }

// Singleton row IDs.
const (
	settingsID   = "settings"
	ldapConfigID = "ldap"
)

// tables lists every table with a constructor of its row type, which the
// snapshot restore uses to decode rows. The order is the snapshot order.
var tables = []struct {
	name   string
	schema func() *memdb.TableSchema
	newRow func() any
}{
	{tableMeta, metaTable, func() any { return new(Meta) }},
	{tableSettings, settingsTable, func() any { return new(Settings) }},
	{tableUsers, usersTable, func() any { return new(User) }},
	{tableOrgs, orgsTable, func() any { return new(Org) }},
	{tableTeams, teamsTable, func() any { return new(Team) }},
	{tableOrgMembers, orgMembersTable, func() any { return new(OrgMember) }},
	{tableTeamMembers, teamMembersTable, func() any { return new(TeamMember) }},
	{tableServiceAccounts, serviceAccountsTable, func() any { return new(ServiceAccount) }},
	{tableSessions, sessionsTable, func() any { return new(Session) }},
	{tableAPITokens, apiTokensTable, func() any { return new(APIToken) }},
	{tableCollections, collectionsTable, func() any { return new(Collection) }},
	{tableRoles, rolesTable, func() any { return new(Role) }},
	{tableGrants, grantsTable, func() any { return new(Grant) }},
	{tableRepositories, repositoriesTable, func() any { return new(Repository) }},
	{tableLDAPConfig, ldapConfigTable, func() any { return new(LDAPConfig) }},
	{tableSyncReports, syncReportsTable, func() any { return new(SyncReport) }},
	{tableClientCerts, clientCertsTable, func() any { return new(ClientCert) }},
	{tableKeyMaterial, keyMaterialTable, func() any { return new(KeyMaterial) }},
	{tableJoinTokens, joinTokensTable, func() any { return new(JoinToken) }},
	{tableAuditEvents, auditEventsTable, func() any { return new(AuditEvent) }},
}

// schema returns the whole database schema.
func schema() *memdb.DBSchema {
	db := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for _, t := range tables {
		s := t.schema()
		if s.Name != t.name {
			panic(fmt.Sprintf("store: table %q declared as %q", s.Name, t.name))
		}
		db.Tables[s.Name] = s
	}
	return db
}

func str(field string) memdb.Indexer { return &memdb.StringFieldIndex{Field: field} }

// text indexes a field by its canonical string (subjects and objects).
func text(field string) memdb.Indexer { return &textIndex{field: field} }

type textIndex struct{ field string }

func (x *textIndex) FromObject(obj any) (bool, []byte, error) {
	v := reflect.Indirect(reflect.ValueOf(obj)).FieldByName(x.field)
	s, ok := v.Interface().(fmt.Stringer)
	if !v.IsValid() || !ok {
		return false, nil, fmt.Errorf("field %q is not a fmt.Stringer", x.field)
	}
	return true, append([]byte(s.String()), 0), nil
}

func (x *textIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index %q takes one argument", x.field)
	}
	s, ok := args[0].(fmt.Stringer)
	if !ok {
		return nil, fmt.Errorf("index %q argument must be a subject or object, not %T", x.field, args[0])
	}
	return append([]byte(s.String()), 0), nil
}

func idIndex(idx memdb.Indexer) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: indexID, Unique: true, Indexer: idx}
}

func index(name string, idx memdb.Indexer) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Indexer: idx}
}

func compound(fields ...string) memdb.Indexer {
	idx := &memdb.CompoundIndex{}
	for _, f := range fields {
		idx.Indexes = append(idx.Indexes, str(f))
	}
	return idx
}

func table(name string, indexes ...*memdb.IndexSchema) *memdb.TableSchema {
	t := &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{}}
	for _, i := range indexes {
		t.Indexes[i.Name] = i
	}
	return t
}

func metaTable() *memdb.TableSchema     { return table(tableMeta, idIndex(str("Key"))) }
func settingsTable() *memdb.TableSchema { return table(tableSettings, idIndex(str("ID"))) }

func usersTable() *memdb.TableSchema {
	return table(tableUsers, idIndex(str("Name")))
}

func orgsTable() *memdb.TableSchema { return table(tableOrgs, idIndex(str("Name"))) }

func teamsTable() *memdb.TableSchema {
	groups := &memdb.IndexSchema{Name: indexKubeGroup, AllowMissing: true,
		Indexer: &memdb.StringSliceFieldIndex{Field: "KubernetesGroups"}}
	return table(tableTeams, idIndex(compound("Org", "Name")), groups)
}

func orgMembersTable() *memdb.TableSchema {
	return table(tableOrgMembers, idIndex(compound("Org", "User")), index(indexUser, str("User")))
}

func teamMembersTable() *memdb.TableSchema {
	return table(tableTeamMembers, idIndex(compound("Org", "Team", "User")), index(indexUser, str("User")))
}

func serviceAccountsTable() *memdb.TableSchema {
	return table(tableServiceAccounts, idIndex(str("Name")))
}

func sessionsTable() *memdb.TableSchema {
	return table(tableSessions, idIndex(str("ID")), index(indexUser, str("User")))
}

func apiTokensTable() *memdb.TableSchema {
	hash := index(indexHash, str("Hash"))
	hash.Unique = true
	return table(tableAPITokens, idIndex(str("ID")), hash, index(indexOwner, text("Owner")))
}

func collectionsTable() *memdb.TableSchema {
	parent := index(indexParent, str("Parent"))
	parent.AllowMissing = true // the root has no parent
	return table(tableCollections, idIndex(str("Path")), parent)
}

func rolesTable() *memdb.TableSchema { return table(tableRoles, idIndex(str("ID"))) }

func grantsTable() *memdb.TableSchema {
	return table(tableGrants, idIndex(str("ID")), index(indexSubject, text("Subject")), index(indexObject, text("Object")))
}

func repositoriesTable() *memdb.TableSchema {
	return table(tableRepositories, idIndex(compound("Namespace", "Name")))
}

func ldapConfigTable() *memdb.TableSchema { return table(tableLDAPConfig, idIndex(str("ID"))) }

func syncReportsTable() *memdb.TableSchema {
	return table(tableSyncReports, idIndex(&sequenceIndex{field: "ID"}))
}

func clientCertsTable() *memdb.TableSchema {
	return table(tableClientCerts, idIndex(str("Serial")), index(indexOwner, text("Owner")))
}

func keyMaterialTable() *memdb.TableSchema { return table(tableKeyMaterial, idIndex(str("ID"))) }

func joinTokensTable() *memdb.TableSchema { return table(tableJoinTokens, idIndex(str("ID"))) }

func auditEventsTable() *memdb.TableSchema {
	return table(tableAuditEvents, idIndex(&sequenceIndex{field: "ID"}))
}

// sequenceIndex indexes a uint64 field in numeric order. (memdb's
// UintFieldIndex writes varints, whose byte order is not numeric order, so
// a range scan over it would not list events oldest to newest.)
type sequenceIndex struct{ field string }

func (x *sequenceIndex) FromObject(obj any) (bool, []byte, error) {
	v := reflect.Indirect(reflect.ValueOf(obj)).FieldByName(x.field)
	if !v.IsValid() || v.Kind() != reflect.Uint64 {
		return false, nil, fmt.Errorf("field %q is not a uint64", x.field)
	}
	return true, binary.BigEndian.AppendUint64(nil, v.Uint()), nil
}

func (x *sequenceIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("sequence index takes one argument")
	}
	v, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("sequence index argument must be a uint64, not %T", args[0])
	}
	return binary.BigEndian.AppendUint64(nil, v), nil
}
