package store

import (
	"encoding/binary"
	"fmt"

	"github.com/grantd/grantd/subjects"
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
// index is a tree that start-up rebuilds and memory holds (a memdb radix
// tree costs about 400 bytes per entry with enterprise-large; the large
// tables' secondary indexes are sorted maps instead, about 100: sorted.go).
// Grants by role (role deletion, the role filter of ListGrants) and users
// by source (an LDAP sync) are scans of their table instead: rare
// administrative reads, tens of milliseconds with enterprise-large. See
// docs/decisions.md, "State".

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

// tableIndex is each table's place in tables, by name.
var tableIndex = func() map[string]int {
	m := make(map[string]int, len(tables))
	for i, t := range tables {
		m[t.name] = i
	}
	return m
}()

// rowSchema is the tables and indexes as the store's queries see them.
func rowSchema() *memdb.DBSchema {
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

// memdbSchema is the memdb's schema: rowSchema without the sorted
// tables' secondary indexes, and with a table for their maps (sorted.go).
// The sorted tables keep their primary index, which memdb requires, and
// no rows.
func memdbSchema() *memdb.DBSchema {
	db := rowSchema()
	for _, def := range sortedIndexes {
		if !def.unique {
			delete(db.Tables[def.table].Indexes, def.index)
		}
	}
	db.Tables[tableSortedIndexes] = table(tableSortedIndexes, idIndex(str(func(s *sortedIndex) string { return s.Name })))
	return db
}

// The indexers read a row's fields directly, not by reflection as memdb's
// own indexers do: restoring a large state computes millions of keys.
// The keys are memdb's: str's is memdb.StringFieldIndex's, compound's
// memdb.CompoundIndex's, and queries build them with those indexers
// (TestIndexersKeyLikeMemdbs).

// str indexes rows by one string field: the string and a NUL; a row whose
// field is empty is not indexed.
func str[T any](get func(*T) string) memdb.Indexer {
	return &fieldIndex[T]{args: &memdb.StringFieldIndex{}, parts: []func(*T) string{get}}
}

// compound indexes rows by several string fields, each with its NUL; a row
// with one of them empty is not indexed.
func compound[T any](gets ...func(*T) string) memdb.Indexer {
	args := &memdb.CompoundIndex{}
	for range gets {
		args.Indexes = append(args.Indexes, &memdb.StringFieldIndex{})
	}
	return &fieldIndex[T]{args: args, parts: gets}
}

// text indexes rows by the canonical string of a subject or object field
// (every row is indexed).
func text[T any](add func(b []byte, row *T) []byte) memdb.Indexer {
	return &textIndex[T]{add: add}
}

type fieldIndex[T any] struct {
	args  memdb.Indexer // memdb's indexer of the same key: it makes the queries' keys
	parts []func(*T) string
}

func (x *fieldIndex[T]) FromObject(obj any) (bool, []byte, error) {
	row, err := rowOf[T](obj)
	if err != nil {
		return false, nil, err
	}
	n := 0
	for _, get := range x.parts {
		s := get(row)
		if s == "" {
			return false, nil, nil
		}
		n += len(s) + 1
	}
	return true, x.add(make([]byte, 0, n), row), nil
}

func (x *fieldIndex[T]) appendKey(b []byte, obj any) ([]byte, bool, error) {
	row, err := rowOf[T](obj)
	if err != nil {
		return b, false, err
	}
	for _, get := range x.parts {
		if get(row) == "" {
			return b, false, nil
		}
	}
	return x.add(b, row), true, nil
}

// add appends the key of a row that has every field.
func (x *fieldIndex[T]) add(b []byte, row *T) []byte {
	for _, get := range x.parts {
		b = append(append(b, get(row)...), 0)
	}
	return b
}

func (x *fieldIndex[T]) FromArgs(args ...any) ([]byte, error) { return x.args.FromArgs(args...) }

// argsOf are the arguments of a query for row's key, and whether row has
// one.
func (x *fieldIndex[T]) argsOf(obj any) ([]any, bool, error) {
	row, err := rowOf[T](obj)
	if err != nil {
		return nil, false, err
	}
	args := make([]any, len(x.parts))
	for i, get := range x.parts {
		if args[i] = get(row); args[i] == "" {
			return nil, false, nil
		}
	}
	return args, true, nil
}

// PrefixFromArgs serves the indexIDPrefix queries.
func (x *fieldIndex[T]) PrefixFromArgs(args ...any) ([]byte, error) {
	p, ok := x.args.(memdb.PrefixIndexer)
	if !ok {
		return nil, fmt.Errorf("index takes no prefix")
	}
	return p.PrefixFromArgs(args...)
}

type textIndex[T any] struct {
	// add appends the field's canonical string.
	add func(b []byte, row *T) []byte
}

func (x *textIndex[T]) FromObject(obj any) (bool, []byte, error) {
	key, ok, err := x.appendKey(make([]byte, 0, 48), obj)
	return ok, key, err
}

func (x *textIndex[T]) appendKey(b []byte, obj any) ([]byte, bool, error) {
	row, err := rowOf[T](obj)
	if err != nil {
		return b, false, err
	}
	return append(x.add(b, row), 0), true, nil
}

func (x *textIndex[T]) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index takes one argument")
	}
	s, ok := args[0].(fmt.Stringer)
	if !ok {
		return nil, fmt.Errorf("index argument must be a subject or object, not %T", args[0])
	}
	return append([]byte(s.String()), 0), nil
}

func appendSubject(b []byte, s subjects.Subject) []byte { b, _ = s.AppendText(b); return b }

func appendObject(b []byte, o subjects.Object) []byte { b, _ = o.AppendText(b); return b }

// rowOf is obj as a row of type T.
func rowOf[T any](obj any) (*T, error) {
	switch v := obj.(type) {
	case *T:
		if v != nil {
			return v, nil
		}
	case T:
		return &v, nil
	}
	return nil, fmt.Errorf("an index of %T rows was given a %T", new(T), obj)
}

func idIndex(idx memdb.Indexer) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: indexID, Unique: true, Indexer: idx}
}

func index(name string, idx memdb.Indexer) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Indexer: idx}
}

func table(name string, indexes ...*memdb.IndexSchema) *memdb.TableSchema {
	t := &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{}}
	for _, i := range indexes {
		t.Indexes[i.Name] = i
	}
	return t
}

func metaTable() *memdb.TableSchema {
	return table(tableMeta, idIndex(str(func(m *Meta) string { return m.Key })))
}
func settingsTable() *memdb.TableSchema {
	return table(tableSettings, idIndex(str(func(s *Settings) string { return s.ID })))
}

func usersTable() *memdb.TableSchema {
	return table(tableUsers, idIndex(str(func(u *User) string { return u.Name })))
}

func orgsTable() *memdb.TableSchema {
	return table(tableOrgs, idIndex(str(func(o *Org) string { return o.Name })))
}

func teamsTable() *memdb.TableSchema {
	groups := &memdb.IndexSchema{Name: indexKubeGroup, AllowMissing: true,
		Indexer: &memdb.StringSliceFieldIndex{Field: "KubernetesGroups"}}
	return table(tableTeams, idIndex(compound(func(t *Team) string { return t.Org }, func(t *Team) string { return t.Name })), groups)
}

func orgMembersTable() *memdb.TableSchema {
	return table(tableOrgMembers, idIndex(compound(func(m *OrgMember) string { return m.Org }, func(m *OrgMember) string { return m.User })),
		index(indexUser, str(func(m *OrgMember) string { return m.User })))
}

func teamMembersTable() *memdb.TableSchema {
	return table(tableTeamMembers, idIndex(compound(func(m *TeamMember) string { return m.Org },
		func(m *TeamMember) string { return m.Team }, func(m *TeamMember) string { return m.User })),
		index(indexUser, str(func(m *TeamMember) string { return m.User })))
}

func serviceAccountsTable() *memdb.TableSchema {
	return table(tableServiceAccounts, idIndex(str(func(a *ServiceAccount) string { return a.Name })))
}

func sessionsTable() *memdb.TableSchema {
	return table(tableSessions, idIndex(str(func(s *Session) string { return s.ID })), index(indexUser, str(func(s *Session) string { return s.User })))
}

func apiTokensTable() *memdb.TableSchema {
	hash := index(indexHash, str(func(t *APIToken) string { return t.Hash }))
	hash.Unique = true
	return table(tableAPITokens, idIndex(str(func(t *APIToken) string { return t.ID })), hash,
		index(indexOwner, text(func(b []byte, t *APIToken) []byte { return appendSubject(b, t.Owner) })))
}

func collectionsTable() *memdb.TableSchema {
	parent := index(indexParent, str(func(c *Collection) string { return c.Parent }))
	parent.AllowMissing = true // the root has no parent
	return table(tableCollections, idIndex(str(func(c *Collection) string { return c.Path })), parent)
}

func rolesTable() *memdb.TableSchema {
	return table(tableRoles, idIndex(str(func(r *Role) string { return r.ID })))
}

func grantsTable() *memdb.TableSchema {
	return table(tableGrants, idIndex(str(func(g *Grant) string { return g.ID })),
		index(indexSubject, text(func(b []byte, g *Grant) []byte { return appendSubject(b, g.Subject) })),
		index(indexObject, text(func(b []byte, g *Grant) []byte { return appendObject(b, g.Object) })))
}

func repositoriesTable() *memdb.TableSchema {
	return table(tableRepositories, idIndex(compound(func(r *Repository) string { return r.Namespace }, func(r *Repository) string { return r.Name })))
}

func ldapConfigTable() *memdb.TableSchema {
	return table(tableLDAPConfig, idIndex(str(func(c *LDAPConfig) string { return c.ID })))
}

func syncReportsTable() *memdb.TableSchema {
	return table(tableSyncReports, idIndex(&sequenceIndex[SyncReport]{get: func(r *SyncReport) uint64 { return r.ID }}))
}

func clientCertsTable() *memdb.TableSchema {
	return table(tableClientCerts, idIndex(str(func(c *ClientCert) string { return c.Serial })),
		index(indexOwner, text(func(b []byte, c *ClientCert) []byte { return appendSubject(b, c.Owner) })))
}

func keyMaterialTable() *memdb.TableSchema {
	return table(tableKeyMaterial, idIndex(str(func(k *KeyMaterial) string { return k.ID })))
}

func joinTokensTable() *memdb.TableSchema {
	return table(tableJoinTokens, idIndex(str(func(t *JoinToken) string { return t.ID })))
}

func auditEventsTable() *memdb.TableSchema {
	return table(tableAuditEvents, idIndex(&sequenceIndex[AuditEvent]{get: func(e *AuditEvent) uint64 { return e.ID }}))
}

// sequenceIndex indexes a uint64 field in numeric order. (memdb's
// UintFieldIndex writes varints, whose byte order is not numeric order, so
// a range scan over it would not list events oldest to newest.)
type sequenceIndex[T any] struct{ get func(*T) uint64 }

func (x *sequenceIndex[T]) FromObject(obj any) (bool, []byte, error) {
	row, err := rowOf[T](obj)
	if err != nil {
		return false, nil, err
	}
	return true, binary.BigEndian.AppendUint64(make([]byte, 0, 8), x.get(row)), nil
}

func (x *sequenceIndex[T]) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("sequence index takes one argument")
	}
	v, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("sequence index argument must be a uint64, not %T", args[0])
	}
	return binary.BigEndian.AppendUint64(nil, v), nil
}
