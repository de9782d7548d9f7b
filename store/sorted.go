package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/benbjohnson/immutable"
	memdb "github.com/hashicorp/go-memdb"
)

// Sorted tables. The large tables (users, a user's org and team
// memberships, grants, collections) keep their rows not in memdb's radix
// trees but in sorted maps (B+trees), one per index: the primary key's
// map goes from the key memdb would give a row in that index to the row,
// and each secondary index's from the key memdb would give the row there
// (the index's key, then the primary key). A radix tree costs about 480
// bytes per entry with enterprise-large, two channels and two nodes of
// them; a B+tree about 100, its key included. The maps are rows of a
// memdb table of their own, so a read transaction sees the version of
// each map that belongs with its other rows, and a write replaces the
// maps it changed when its command commits; the memdb has the tables
// (with their primary index, which memdb requires) but no rows in them.
// Queries name the index as before: the read and write transactions
// answer them from the maps. See docs/decisions.md, "Sorted tables".

// tableSortedIndexes holds one row per sorted index; it is not in
// snapshots: a restore builds the maps from the rows.
const tableSortedIndexes = "sorted_indexes"

// sortedIndex is one sorted index, as of a revision.
type sortedIndex struct {
	Name string // table "." index
	Keys *immutable.SortedMap[string, any]
}

// sortedDef is a sorted index's definition: its table, its indexer (the
// one rowSchema declares) and the table's primary key. The primary key's
// own map is unique: its keys are the primary keys alone.
type sortedDef struct {
	name, table, index string
	unique             bool
	keys               keyIndexer
	id                 idIndexer
}

// idIndexer is a primary key of string fields (fieldIndex).
type idIndexer interface {
	keyIndexer
	memdb.PrefixIndexer
	// argsOf are the query arguments that find row, and whether it has
	// every field.
	argsOf(row any) ([]any, bool, error)
}

// keyIndexer makes a row's key and a query's.
type keyIndexer interface {
	memdb.SingleIndexer
	memdb.Indexer
	// appendKey appends the row's key to b (FromObject's, without a
	// slice of its own), and says whether the row has one.
	appendKey(b []byte, row any) ([]byte, bool, error)
}

// sortedIndexes are the sorted indexes, by table "." index.
var sortedIndexes = func() map[string]*sortedDef {
	s := rowSchema()
	defs := map[string]*sortedDef{}
	for table, secondary := range map[string][]string{
		tableUsers:       nil,
		tableOrgMembers:  {indexUser},
		tableTeamMembers: {indexUser},
		tableGrants:      {indexSubject, indexObject},
		tableCollections: {indexParent},
	} {
		t := s.Tables[table]
		if len(t.Indexes) != len(secondary)+1 {
			panic(fmt.Sprintf("store: %s is sorted, and every index of a sorted table must be", table))
		}
		// The old row of a write is found by its primary key's fields.
		id, ok := t.Indexes[indexID].Indexer.(idIndexer)
		if !ok {
			panic(fmt.Sprintf("store: %s's primary key is not made of string fields", table))
		}
		name := table + "." + indexID
		defs[name] = &sortedDef{name: name, table: table, index: indexID, unique: true, keys: id, id: id}
		for _, index := range secondary {
			idx := t.Indexes[index]
			keys, ok := idx.Indexer.(keyIndexer)
			if !ok || idx.Unique {
				panic(fmt.Sprintf("store: %s.%s cannot be sorted: one key per row, not unique", table, index))
			}
			name := table + "." + index
			defs[name] = &sortedDef{name: name, table: table, index: index, keys: keys, id: id}
		}
	}
	return defs
}()

// sortedTables are the tables kept sorted, and their indexes, the primary
// key's first.
var sortedTables = func() map[string][]*sortedDef {
	m := map[string][]*sortedDef{}
	for _, d := range sortedIndexes {
		m[d.table] = append(m[d.table], d)
	}
	for _, ds := range m {
		slices.SortFunc(ds, func(a, b *sortedDef) int {
			switch {
			case a.unique:
				return -1
			case b.unique:
				return 1
			}
			return cmp.Compare(a.name, b.name)
		})
	}
	return m
}()

// sortedQuery is the sorted index a query names (nil for a memdb table)
// and whether it asks for a prefix of the primary key (indexIDPrefix).
// Only the primary key is searched by prefix: a prefix query of a
// secondary sorted index is an error.
func sortedQuery(table, index string) (*sortedDef, bool, error) {
	if _, ok := sortedTables[table]; !ok {
		return nil, false, nil
	}
	if d := sortedIndexes[table+"."+index]; d != nil {
		return d, false, nil
	}
	if d := sortedIndexes[table+"."+strings.TrimSuffix(index, "_prefix")]; d != nil {
		if d.unique {
			return d, true, nil
		}
		return nil, false, fmt.Errorf("store: %s.%s is a sorted index: only exact lookups", table, d.index)
	}
	return nil, false, fmt.Errorf("store: table %s has no index %q", table, index)
}

// keyWith is a row's key in the index, given its primary key (id), and
// whether the row is in the index at all.
func (d *sortedDef) keyWith(row any, id string) (string, bool, error) {
	if d.unique {
		return id, true, nil
	}
	ok, k, err := d.keys.FromObject(row)
	if err != nil || !ok {
		return "", false, err
	}
	return string(append(k, id...)), true, nil
}

// lookup iterates the rows of m that a query's arguments name, as memdb
// matches them: the keys that start with the index's key for them (or,
// for a prefix query, with the prefix its indexer makes of them); every
// row when there are none.
func (d *sortedDef) lookup(m *immutable.SortedMap[string, any], args []any, prefix bool) (memdb.ResultIterator, error) {
	var k []byte
	var err error
	switch {
	case len(args) == 0:
	case prefix:
		k, err = d.id.PrefixFromArgs(args...)
	default:
		k, err = d.keys.FromArgs(args...)
	}
	if err != nil {
		return nil, err
	}
	it := m.Iterator()
	it.Seek(string(k))
	return &sortedIterator{it: it, prefix: string(k)}, nil
}

// lowerBound iterates the rows of m from the first whose key is not below
// the index's key for args, to the end, as memdb's LowerBound.
func (d *sortedDef) lowerBound(m *immutable.SortedMap[string, any], args []any) (memdb.ResultIterator, error) {
	var k []byte
	var err error
	if len(args) > 0 {
		k, err = d.keys.FromArgs(args...)
	}
	if err != nil {
		return nil, err
	}
	it := m.Iterator()
	it.Seek(string(k))
	return &sortedIterator{it: it}, nil
}

type sortedIterator struct {
	it     *immutable.SortedMapIterator[string, any]
	prefix string
}

func (s *sortedIterator) WatchCh() <-chan struct{} { return nil }

func (s *sortedIterator) Next() any {
	if s.it == nil {
		return nil
	}
	k, row, ok := s.it.Next()
	if !ok || !strings.HasPrefix(k, s.prefix) {
		s.it = nil
		return nil
	}
	return row
}

// keyOrder sorts keys by their bytes, as a radix tree iterates them.
type keyOrder struct{}

func (keyOrder) Compare(a, b string) int { return strings.Compare(a, b) }

func emptySorted() *immutable.SortedMap[string, any] {
	return immutable.NewSortedMap[string, any](keyOrder{})
}

// sortedOf reads a sorted index's map from src; a state that never held
// a row of its table has none.
func sortedOf(src rowSource, d *sortedDef) (*immutable.SortedMap[string, any], error) {
	row, err := src.First(tableSortedIndexes, indexID, d.name)
	if err != nil || row == nil {
		return emptySorted(), err
	}
	return row.(*sortedIndex).Keys, nil
}

// sortedReads answers a memdb read transaction's queries of the sorted
// tables from their maps.
type sortedReads struct{ rowSource }

func (s sortedReads) sortedMap(d *sortedDef) (*immutable.SortedMap[string, any], error) {
	return sortedOf(s.rowSource, d)
}

func (s sortedReads) Get(table, index string, args ...any) (memdb.ResultIterator, error) {
	return getOf(table, index, args, s.rowSource.Get, s.sortedMap)
}

// getOf is a lookup's rows: memdb's (get) for a memdb table, those in the
// map that sorted gives for a sorted one.
func getOf(table, index string, args []any, get func(string, string, ...any) (memdb.ResultIterator, error),
	sorted func(*sortedDef) (*immutable.SortedMap[string, any], error)) (memdb.ResultIterator, error) {
	d, prefix, err := sortedQuery(table, index)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return get(table, index, args...)
	}
	m, err := sorted(d)
	if err != nil {
		return nil, err
	}
	return d.lookup(m, args, prefix)
}

func (s sortedReads) First(table, index string, args ...any) (any, error) {
	return firstOf(table, index, args, s.rowSource.First, s.Get, s.sortedMap)
}

// firstOf is a lookup's first row: memdb's (first) for a memdb table; for
// a sorted one, as memdb finds it, the row with the key of a primary key
// lookup, or the first that get finds for any other.
func firstOf(table, index string, args []any, first func(string, string, ...any) (any, error),
	get func(string, string, ...any) (memdb.ResultIterator, error),
	sorted func(*sortedDef) (*immutable.SortedMap[string, any], error)) (any, error) {
	d, prefix, err := sortedQuery(table, index)
	switch {
	case err != nil:
		return nil, err
	case d == nil:
		return first(table, index, args...)
	case !d.unique || prefix || len(args) == 0:
		it, err := get(table, index, args...)
		if err != nil {
			return nil, err
		}
		return it.Next(), nil
	}
	k, err := d.keys.FromArgs(args...)
	if err != nil {
		return nil, err
	}
	m, err := sorted(d)
	if err != nil {
		return nil, err
	}
	row, _ := m.Get(string(k))
	return row, nil
}

func (s sortedReads) LowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	return lowerBoundOf(table, index, args, s.rowSource.LowerBound, s.sortedMap)
}

// lowerBoundOf is memdb's LowerBound (lower) for a memdb table, and serves
// the primary key of a sorted one; a sorted secondary index has no ranges.
func lowerBoundOf(table, index string, args []any, lower func(string, string, ...any) (memdb.ResultIterator, error),
	sorted func(*sortedDef) (*immutable.SortedMap[string, any], error)) (memdb.ResultIterator, error) {
	d, prefix, err := sortedQuery(table, index)
	switch {
	case err != nil:
		return nil, err
	case d == nil:
		return lower(table, index, args...)
	case prefix || !d.unique:
		return nil, fmt.Errorf("store: %s is a sorted index: only exact lookups", d.name)
	}
	m, err := sorted(d)
	if err != nil {
		return nil, err
	}
	return d.lowerBound(m, args)
}

func (s sortedReads) GetReverse(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := forwardOnly(table); err != nil {
		return nil, err
	}
	return s.rowSource.GetReverse(table, index, args...)
}

func (s sortedReads) ReverseLowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := forwardOnly(table); err != nil {
		return nil, err
	}
	return s.rowSource.ReverseLowerBound(table, index, args...)
}

// forwardOnly refuses a reverse query of a sorted table (none is made).
func forwardOnly(table string) error {
	if _, ok := sortedTables[table]; ok {
		return fmt.Errorf("store: %s is a sorted table: only forward queries", table)
	}
	return nil
}

// readTxn is a read of db's current state at revision rev.
func readTxn(db *memdb.MemDB, rev uint64) *ReadTxn {
	return &ReadTxn{txn: rowsOf(db), rev: rev}
}

// rowsOf reads db's current state, the sorted tables' rows included.
func rowsOf(db *memdb.MemDB) rowSource { return sortedReads{db.Txn(false)} }
