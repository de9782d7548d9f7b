package store

// Observer sees the state after every committed write, with the rows the
// write changed, before the write's revision becomes visible to readers
// waiting for it. After a snapshot restore, changes is nil: everything may
// have changed; after a refused command it is empty (not nil): the
// revision advanced and nothing else did.
type Observer func(state *ReadTxn, changes []Change)

// Previewer sees the state a snapshot restore is about to install as soon
// as the snapshot's rows are decoded: a ReadTxn that answers from the rows
// themselves while the store is still building its indexes, which takes
// most of a restore. An observer can start deriving its own state from it
// then. What it returns, if not nil, is called in place of the Observer
// once the state is installed (with the installed state and nil changes);
// it is never called if the restore fails.
type Previewer func(state *ReadTxn) Observer

// Change is one row a write inserted, updated or deleted. Before is nil
// for an insert, After for a delete. Rows must not be modified.
type Change struct {
	Table  string
	Before any
	After  any
}

// Table names an observer may see in a Change.
const (
	TableUsers           = tableUsers
	TableServiceAccounts = tableServiceAccounts
	TableOrgs            = tableOrgs
	TableOrgMembers      = tableOrgMembers
	TableTeamMembers     = tableTeamMembers
	TableCollections     = tableCollections
	TableRoles           = tableRoles
	TableGrants          = tableGrants
	TableRepositories    = tableRepositories
)
