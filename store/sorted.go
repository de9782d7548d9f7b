package store

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/benbjohnson/immutable"
	memdb "github.com/hashicorp/go-memdb"
)

// Sorted indexes. The secondary indexes of the large tables (a user's
// org and team memberships, a subject's grants, the grants on an object,
// a collection's children) are not memdb radix trees but sorted maps
// (B+trees) from the key memdb would give a row in that index (the
// index's key, then the row's primary key) to the row. A radix tree costs
// about 480 bytes per entry with enterprise-large, two channels and two
// nodes of them; a B+tree about 100, its key included. The maps are rows
// of a memdb table of their own, so a read transaction sees the version
// of each map that belongs with its rows, and a write replaces the maps
// it changed when its command commits. Queries name the index as before:
// the read and write transactions answer them from the map. See
// docs/decisions.md, "Sorted secondary indexes".

// tableSortedIndexes holds one row per sorted index; it is not in
// snapshots: a restore builds the maps from the rows.
const tableSortedIndexes = "sorted_indexes"

// sortedIndex is one sorted index, as of a revision.
type sortedIndex struct {
	Name string // table "." index
	Keys *immutable.SortedMap[string, any]
}

// sortedDef is a sorted index's definition: its table, its indexer (the
// one rowSchema declares) and the table's primary key.
type sortedDef struct {
	name, table, index string
	keys               keyIndexer
	id                 idIndexer
}

// idIndexer is a primary key of string fields (fieldIndex).
type idIndexer interface {
	memdb.SingleIndexer
	// argsOf are the query arguments that find row, and whether it has
	// every field.
	argsOf(row any) ([]any, bool, error)
}

// keyIndexer makes a row's key and a query's.
type keyIndexer interface {
	memdb.SingleIndexer
	memdb.Indexer
}

// sortedIndexes are the indexes kept sorted, by table "." index.
var sortedIndexes = func() map[string]*sortedDef {
	s := rowSchema()
	defs := map[string]*sortedDef{}
	for _, ti := range [][2]string{
		{tableOrgMembers, indexUser}, {tableTeamMembers, indexUser},
		{tableGrants, indexSubject}, {tableGrants, indexObject},
		{tableCollections, indexParent},
	} {
		t := s.Tables[ti[0]]
		idx := t.Indexes[ti[1]]
		keys, ok := idx.Indexer.(keyIndexer)
		if !ok || idx.Unique {
			panic(fmt.Sprintf("store: %s.%s cannot be sorted: one key per row, not unique", ti[0], ti[1]))
		}
		// The old row of a write is found by its primary key's fields.
		id, ok := t.Indexes[indexID].Indexer.(idIndexer)
		if !ok {
			panic(fmt.Sprintf("store: %s's primary key is not made of string fields", ti[0]))
		}
		name := ti[0] + "." + ti[1]
		defs[name] = &sortedDef{name: name, table: ti[0], index: ti[1], keys: keys, id: id}
	}
	return defs
}()

// sortedTables are the tables with sorted indexes, and those indexes.
var sortedTables = func() map[string][]*sortedDef {
	m := map[string][]*sortedDef{}
	for _, d := range sortedIndexes {
		m[d.table] = append(m[d.table], d)
	}
	for _, ds := range m {
		slices.SortFunc(ds, func(a, b *sortedDef) int { return cmp.Compare(a.name, b.name) })
	}
	return m
}()

// sortedDefOf is the sorted index a query names, or nil for a memdb
// index. Only plain lookups are served: a prefix or range query of a
// sorted index is an error.
func sortedDefOf(table, index string) (*sortedDef, error) {
	if _, ok := sortedTables[table]; !ok {
		return nil, nil
	}
	if d := sortedIndexes[table+"."+index]; d != nil {
		return d, nil
	}
	if d := sortedIndexes[table+"."+strings.TrimSuffix(index, "_prefix")]; d != nil {
		return nil, fmt.Errorf("store: %s.%s is a sorted index: only exact lookups", table, d.index)
	}
	return nil, nil
}

// key is row's key in the index, and whether the row is in it at all.
func (d *sortedDef) key(row any) (string, bool, error) {
	_, id, err := d.id.FromObject(row)
	if err != nil {
		return "", false, err
	}
	return d.keyWith(row, id)
}

// keyWith is key for a row whose primary key is id.
func (d *sortedDef) keyWith(row any, id []byte) (string, bool, error) {
	ok, k, err := d.keys.FromObject(row)
	if err != nil || !ok {
		return "", false, err
	}
	return string(append(k, id...)), true, nil
}

// lookup iterates the rows of m that a query's arguments name: the keys
// that start with the index's key for them, as memdb matches a
// non-unique index.
func (d *sortedDef) lookup(m *immutable.SortedMap[string, any], args []any) (memdb.ResultIterator, error) {
	prefix, err := d.keys.FromArgs(args...)
	if err != nil {
		return nil, err
	}
	it := m.Iterator()
	it.Seek(string(prefix))
	return &sortedIterator{it: it, prefix: string(prefix)}, nil
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
// indexes from their maps.
type sortedReads struct{ rowSource }

func (s sortedReads) Get(table, index string, args ...any) (memdb.ResultIterator, error) {
	return getOf(table, index, args, s.rowSource.Get, func(d *sortedDef) (*immutable.SortedMap[string, any], error) {
		return sortedOf(s.rowSource, d)
	})
}

// getOf is a lookup's rows: memdb's (get) for a memdb index, those in the
// map that sorted gives for a sorted one.
func getOf(table, index string, args []any, get func(string, string, ...any) (memdb.ResultIterator, error),
	sorted func(*sortedDef) (*immutable.SortedMap[string, any], error)) (memdb.ResultIterator, error) {
	d, err := sortedDefOf(table, index)
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
	return d.lookup(m, args)
}

func (s sortedReads) First(table, index string, args ...any) (any, error) {
	return firstOf(table, index, args, s.rowSource.First, s.Get)
}

// firstOf is a lookup's first row: memdb's (first) for a memdb index, the
// first that get finds for a sorted one.
func firstOf(table, index string, args []any, first func(string, string, ...any) (any, error),
	get func(string, string, ...any) (memdb.ResultIterator, error)) (any, error) {
	if d, err := sortedDefOf(table, index); d == nil && err == nil {
		return first(table, index, args...)
	}
	it, err := get(table, index, args...)
	if err != nil {
		return nil, err
	}
	return it.Next(), nil
}

func (s sortedReads) GetReverse(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := notSorted(table, index); err != nil {
		return nil, err
	}
	return s.rowSource.GetReverse(table, index, args...)
}

func (s sortedReads) LowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := notSorted(table, index); err != nil {
		return nil, err
	}
	return s.rowSource.LowerBound(table, index, args...)
}

func (s sortedReads) ReverseLowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := notSorted(table, index); err != nil {
		return nil, err
	}
	return s.rowSource.ReverseLowerBound(table, index, args...)
}

// notSorted refuses a range query of a sorted index.
func notSorted(table, index string) error {
	d, err := sortedDefOf(table, index)
	if d != nil {
		return fmt.Errorf("store: %s is a sorted index: only exact lookups", d.name)
	}
	return err
}

// readTxn is a read of db's current state at revision rev.
func readTxn(db *memdb.MemDB, rev uint64) *ReadTxn {
	return &ReadTxn{txn: sortedReads{db.Txn(false)}, rev: rev}
}

// The write side: writeTxn's Insert, Delete and DeleteAll keep the sorted
// indexes of the rows they change, and its Get and First read them with
// the transaction's own changes; flushSorted stores the changed maps
// before the commit.

// txnSorted is a sorted index as a write transaction has it, and whether
// the transaction changed it.
type txnSorted struct {
	m       *immutable.SortedMap[string, any]
	changed bool
}

// sortedMap is a sorted index as of this transaction.
func (tx *writeTxn) sortedMap(d *sortedDef) (*immutable.SortedMap[string, any], error) {
	if s, ok := tx.sorted[d.name]; ok {
		return s.m, nil
	}
	m, err := sortedOf(tx.Txn, d)
	if err != nil {
		return nil, err
	}
	if tx.sorted == nil {
		tx.sorted = map[string]txnSorted{}
	}
	tx.sorted[d.name] = txnSorted{m: m}
	return m, nil
}

// stored is the row of table with row's primary key, or nil.
func (tx *writeTxn) stored(table string, row any) (any, error) {
	args, ok, err := sortedTables[table][0].id.argsOf(row)
	if err != nil || !ok {
		return nil, err // memdb refuses the row for its missing key
	}
	return tx.Txn.First(table, indexID, args...)
}

// resort moves a row's entries in table's sorted indexes from old to
// new (either may be nil).
func (tx *writeTxn) resort(table string, old, new any) error {
	for _, d := range sortedTables[table] {
		m, err := tx.sortedMap(d)
		if err != nil {
			return err
		}
		if old != nil {
			k, ok, err := d.key(old)
			if err != nil {
				return err
			}
			if ok {
				m = m.Delete(k)
			}
		}
		if new != nil {
			k, ok, err := d.key(new)
			if err != nil {
				return err
			}
			if ok {
				m = m.Set(k, new)
			}
		}
		tx.sorted[d.name] = txnSorted{m: m, changed: true}
	}
	return nil
}

// Insert inserts or replaces a row.
func (tx *writeTxn) Insert(table string, row any) error {
	return tx.write(table, row, row, tx.Txn.Insert)
}

// Delete deletes the row with row's primary key.
func (tx *writeTxn) Delete(table string, row any) error {
	return tx.write(table, row, nil, tx.Txn.Delete)
}

// write applies memdb's Insert or Delete of row (op) and moves the row's
// entries in its table's sorted indexes from the stored row's keys to
// after's (none when after is nil).
func (tx *writeTxn) write(table string, row, after any, op func(string, any) error) error {
	if _, ok := sortedTables[table]; !ok {
		return op(table, row)
	}
	old, err := tx.stored(table, row)
	if err != nil {
		return err
	}
	if err := op(table, row); err != nil {
		return err
	}
	return tx.resort(table, old, after)
}

// DeleteAll deletes the rows a query finds and says how many.
func (tx *writeTxn) DeleteAll(table, index string, args ...any) (int, error) {
	if _, ok := sortedTables[table]; !ok {
		return tx.Txn.DeleteAll(table, index, args...)
	}
	rows, err := tx.all(table, index, args...)
	if err != nil {
		return 0, err
	}
	for _, row := range rows {
		if err := tx.Delete(table, row); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// DeletePrefix deletes the rows whose key in a prefix index starts with
// prefix, and says whether there were any.
func (tx *writeTxn) DeletePrefix(table, prefixIndex, prefix string) (bool, error) {
	if _, ok := sortedTables[table]; !ok {
		return tx.Txn.DeletePrefix(table, prefixIndex, prefix)
	}
	n, err := tx.DeleteAll(table, prefixIndex, prefix)
	return n > 0, err
}

func (tx *writeTxn) Get(table, index string, args ...any) (memdb.ResultIterator, error) {
	return getOf(table, index, args, tx.Txn.Get, tx.sortedMap)
}

func (tx *writeTxn) First(table, index string, args ...any) (any, error) {
	return firstOf(table, index, args, tx.Txn.First, tx.Get)
}

// flushSorted stores the sorted indexes the transaction changed (not
// those it only read).
func (tx *writeTxn) flushSorted() error {
	for name, s := range tx.sorted {
		if !s.changed {
			continue
		}
		if err := tx.Txn.Insert(tableSortedIndexes, &sortedIndex{Name: name, Keys: s.m}); err != nil {
			return err
		}
	}
	tx.sorted = nil
	return nil
}

// sortedBuilder builds the sorted indexes of a restore's rows, given in
// their tables' primary key order (a snapshot's): each map from its keys,
// sorted.
type sortedBuilder struct {
	entries map[string][]sortedEntry // by index
	last    map[string][]byte        // each table's last primary key
	// unordered is set when a table's rows came out of order (or twice):
	// then the maps are built from the memdb instead (sortedFromMemdb).
	unordered bool
}

type sortedEntry struct {
	key string
	row any
}

func newSortedBuilder() *sortedBuilder {
	return &sortedBuilder{entries: map[string][]sortedEntry{}, last: map[string][]byte{}}
}

// add adds a row of table, if table has sorted indexes.
func (b *sortedBuilder) add(table string, row any) error {
	defs := sortedTables[table]
	if defs == nil || b.unordered {
		return nil
	}
	ok, id, err := defs[0].id.FromObject(row)
	if err != nil || !ok {
		return err // memdb refuses the row for its missing key
	}
	if last, seen := b.last[table]; seen && bytes.Compare(id, last) <= 0 {
		b.unordered = true
		return nil
	}
	b.last[table] = id
	for _, d := range defs {
		k, ok, err := d.keyWith(row, id)
		if err != nil {
			return err
		}
		if ok {
			b.entries[d.name] = append(b.entries[d.name], sortedEntry{k, row})
		}
	}
	return nil
}

// insert sorts each index's keys, builds its map (one per core at a time)
// and inserts them into txn.
func (b *sortedBuilder) insert(txn *memdb.Txn) error {
	names := slices.Sorted(maps.Keys(sortedIndexes))
	built := make([]*immutable.SortedMap[string, any], len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			entries := b.entries[name]
			slices.SortFunc(entries, func(a, b sortedEntry) int { return strings.Compare(a.key, b.key) })
			mb := immutable.NewSortedMapBuilder[string, any](keyOrder{})
			for _, e := range entries {
				mb.Set(e.key, e.row)
			}
			built[i] = mb.Map()
		})
	}
	wg.Wait()
	for i, name := range names {
		if err := txn.Insert(tableSortedIndexes, &sortedIndex{Name: name, Keys: built[i]}); err != nil {
			return err
		}
	}
	return nil
}

// sortedFromMemdb builds the sorted indexes of the rows txn holds.
func sortedFromMemdb(txn *memdb.Txn) error {
	b := newSortedBuilder()
	for table := range sortedTables {
		it, err := txn.Get(table, indexID)
		if err != nil {
			return err
		}
		for row := it.Next(); row != nil; row = it.Next() {
			if err := b.add(table, row); err != nil {
				return err
			}
		}
	}
	return b.insert(txn)
}
