package authz

// The compiled state's versions: one snapshot per write, tables shared
// with the version before. dataStore (datastore.go) serves them to OPA.

import (
	"hash/maphash"
	"maps"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/benbjohnson/immutable"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/roles"
)

// snapshot is one immutable version of the compiled state: its tables,
// each keyed by entry name and holding *ast.Term values (table). A new
// version shares every unchanged node with the previous one, so an
// update costs O(changed keys × log n) and a copy of each changed
// table's list of index pages (hashIndex), not a copy of a table.
type snapshot struct {
	rev uint64
	// changed is the revision of the last write that changed an entry (or
	// of the full build): the state is the same at every revision from
	// changed to rev.
	changed uint64
	tables  map[string]*table
	// recent lists the entries each of the last writes changed, oldest
	// first; it covers every write after base (a full build starts it
	// afresh). The decision cache checks an entry against it.
	base   uint64
	recent []change
	// chains is an index beside the tables c, gs and ge, never read by
	// OPA: each collection's grant maps (chainMaps), found with one
	// lookup where the tables take one per path of its chain.
	chains *hashIndex[*chainMaps]
	// stale are the collections whose chains' entries in chains, their
	// own and those below them, are not kept up to date (chainsAfter):
	// decisions there read the tables.
	stale []string
}

// change is the keys (keyHash) of the entries one write changed, and
// those of them in c, gs and ge (what the chain index follows).
type change struct {
	rev    uint64
	keys   []uint64
	chains []key
}

// recentWrites is how many writes a snapshot remembers the keys of.
const recentWrites = 256

var keySeed = maphash.MakeSeed()

// keyHash identifies an entry of the state in a snapshot's recent
// changes. Two entries sharing a hash only make the cache drop more than
// it must.
func keyHash(table, name string) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(table)
	h.WriteByte(0)
	h.WriteString(name)
	return h.Sum64()
}

// table is one table of a snapshot, held twice: its entries in name
// order, a persistent B+tree, for reading the table whole, and the same
// entries in a persistent hash index (hashIndex) for the lookups of one
// entry that decisions make.
//
// (A B+tree rather than a radix tree: its leaves hold 32 entries side by
// side, where go-immutable-radix spends two nodes and two channels on each
// entry; with enterprise-large that was 122 MiB of the heap. See
// docs/performance.md.)
type table struct {
	entries *immutable.SortedMap[string, *ast.Term]
	byName  *hashIndex[*ast.Term]
}

func newTable(entries *immutable.SortedMap[string, *ast.Term]) *table {
	return &table{entries: entries, byName: newHashIndex(entries.Len(), func(add func(string, *ast.Term)) {
		for it := entries.Iterator(); !it.Done(); {
			name, v, _ := it.Next()
			add(name, v)
		}
	})}
}

// Get is the entry named, and whether there is one.
func (t *table) Get(name string) (*ast.Term, bool) { return t.byName.Get(name) }

// Len is the number of entries.
func (t *table) Len() int { return t.entries.Len() }

// Iterator walks the entries in name order.
func (t *table) Iterator() *immutable.SortedMapIterator[string, *ast.Term] {
	return t.entries.Iterator()
}

// with is the table with the entries set (nil removes one).
func (t *table) with(changes map[string]*ast.Term) *table {
	entries := t.entries
	for name, v := range changes {
		if v == nil {
			entries = entries.Delete(name)
		} else {
			entries = entries.Set(name, v)
		}
	}
	return &table{entries: entries, byName: t.byName.with(changes)}
}

// byteOrder orders a table's keys. (The library's default comparer boxes
// both keys into interfaces on every comparison: an allocation per step
// of every lookup.)
type byteOrder struct{}

func (byteOrder) Compare(a, b string) int { return strings.Compare(a, b) }

// snapshotBuilder collects a whole version of the state, table by table.
type snapshotBuilder map[string]*immutable.SortedMapBuilder[string, *ast.Term]

func newSnapshotBuilder() snapshotBuilder {
	b := snapshotBuilder{}
	for _, t := range allTables {
		b[t] = immutable.NewSortedMapBuilder[string, *ast.Term](byteOrder{})
	}
	return b
}

func (b snapshotBuilder) set(k key, v *ast.Term) { b[k.table].Set(k.name, v) }

// setAll sets keys[i] to values[i] for every value that is not nil, the
// tables on every core: with enterprise-large a whole compile ends with
// 300,000 entries, some 0.2 s on one core.
func (b snapshotBuilder) setAll(keys []key, values []*ast.Term) {
	count := map[string]int{}
	for i, k := range keys {
		if values[i] != nil {
			count[k.table]++
		}
	}
	byTable := make(map[string][]int32, len(count))
	for table, n := range count {
		byTable[table] = make([]int32, 0, n)
	}
	for i, k := range keys {
		if values[i] != nil {
			byTable[k.table] = append(byTable[k.table], int32(i))
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for table, at := range byTable {
		tb := b[table]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, i := range at {
				tb.Set(keys[i].name, values[i])
			}
		})
	}
	wg.Wait()
}

// setObject sets every entry of an object of entries.
func (b snapshotBuilder) setObject(table string, o ast.Object) {
	o.Foreach(func(k, v *ast.Term) { b.set(key{table, string(k.Value.(ast.String))}, v) })
}

func (b snapshotBuilder) snapshot(rev uint64) *snapshot {
	s := &snapshot{rev: rev, changed: rev, base: rev, tables: make(map[string]*table, len(b))}
	// Each table's tree and index, on every core as setAll filled them.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for name, tb := range b {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t := newTable(tb.Map())
			mu.Lock()
			s.tables[name] = t
			mu.Unlock()
		})
	}
	wg.Wait()
	// The chain index is built off the compile's path (refreshChains,
	// some 200 ms with enterprise-large): until it is, every collection
	// is below a stale root and read from the tables.
	s.chains, s.stale = newHashIndex(0, func(func(string, *chainMaps)) {}), []string{"/"}
	return s
}

// with returns a new snapshot with the given entries set (nil removes).
func (s *snapshot) with(values map[key]*ast.Term, rev uint64) *snapshot {
	next := &snapshot{rev: rev, changed: s.changed, tables: maps.Clone(s.tables), base: s.base, chains: s.chains, stale: s.stale}
	if len(values) > 0 {
		next.changed = rev
	}
	keep := s.recent
	if len(keep) >= recentWrites {
		next.base = keep[len(keep)-recentWrites].rev
		keep = keep[len(keep)-recentWrites+1:]
	}
	c := change{rev: rev, keys: make([]uint64, 0, len(values))}
	for k := range values {
		c.keys = append(c.keys, keyHash(k.table, k.name))
		if k.table == tCollections || k.table == tSubtree || k.table == tExact {
			c.chains = append(c.chains, k)
		}
	}
	next.recent = append(append(make([]change, 0, len(keep)+1), keep...), c)
	byTable := map[string]map[string]*ast.Term{}
	for k, v := range values {
		if byTable[k.table] == nil {
			byTable[k.table] = map[string]*ast.Term{}
		}
		byTable[k.table][k.name] = v
	}
	for name, changes := range byTable {
		next.tables[name] = next.tables[name].with(changes)
	}
	next.chains, next.stale = chainsAfter(s.chains, s.stale, next.tables, values, maxChainRecompute)
	return next
}

// object materializes the whole stored state (for export and tests, never
// for a decision: the policy only reads single entries). The derived
// tables are not in it: an export carries their definitions in Rego
// instead (policies.DerivedModules), which for at alone is a 50 MB
// difference in enterprise-large's bundle.
func (s *snapshot) object() ast.Object {
	state := ast.NewObject()
	for _, t := range allTables {
		state.Insert(str(t), ast.NewTerm(tableObject(s.tables[t])))
	}
	return state
}

// document is data.grantd.state as a rule reading it whole sees it: the
// stored tables and the derived ones (at, held, holds, hs, pt), as their
// entries read one by one
// (and as stock OPA sees the exported tables with the derived modules).
// Nothing on a decision's path reads it.
func (s *snapshot) document() ast.Object {
	state := s.object()
	state.Insert(str(tApplies), ast.NewTerm(s.appliesObject()))
	state.Insert(str(tHeld), ast.NewTerm(s.heldObject("")))
	state.Insert(str(tHolds), ast.NewTerm(s.holdsObject("")))
	hs, pt := s.schedObjects()
	state.Insert(str(tSchedHighest), ast.NewTerm(hs))
	state.Insert(str(tSchedTop), ast.NewTerm(pt))
	return state
}

// role reads a role back from the snapshot's compiled roles table
// (operation → set of options).
func (s *snapshot) role(id string) (roles.Role, bool) {
	t := s.tables[tRoles]
	if t == nil {
		return roles.Role{}, false
	}
	v, ok := t.Get(id)
	if !ok {
		return roles.Role{}, false
	}
	obj, ok := v.Value.(ast.Object)
	if !ok {
		return roles.Role{}, false
	}
	r := roles.Role{ID: id}
	obj.Foreach(func(op, opts *ast.Term) {
		name, _ := op.Value.(ast.String)
		perm := roles.Permission{Operation: string(name)}
		add := func(o *ast.Term) {
			if s, ok := o.Value.(ast.String); ok {
				perm.Options = append(perm.Options, string(s))
			}
		}
		switch set := opts.Value.(type) { // sets are compiled as objects of keys
		case ast.Object:
			set.Foreach(func(k, _ *ast.Term) { add(k) })
		case ast.Set:
			set.Foreach(add)
		}
		sort.Strings(perm.Options)
		r.Permissions = append(r.Permissions, perm)
	})
	sort.Slice(r.Permissions, func(i, j int) bool { return r.Permissions[i].Operation < r.Permissions[j].Operation })
	return r, true
}
