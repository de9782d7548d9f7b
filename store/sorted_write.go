package store

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/benbjohnson/immutable"
	memdb "github.com/hashicorp/go-memdb"
)

// The write side of the sorted tables (sorted.go): writeTxn's Insert,
// Delete and DeleteAll keep the rows of a sorted table in its maps and
// note the changes as memdb notes its own; its queries read the maps with
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

// Insert inserts or replaces a row.
func (tx *writeTxn) Insert(table string, row any) error {
	return tx.write(table, row, row, tx.Txn.Insert)
}

// Delete deletes the row with row's primary key.
func (tx *writeTxn) Delete(table string, row any) error {
	return tx.write(table, row, nil, tx.Txn.Delete)
}

// write applies an Insert (after is the row) or a Delete (after is nil):
// memdb's (op) for a memdb table; for a sorted one, it moves the row's
// entries in every map of the table from the stored row's keys to
// after's, and refuses what memdb would.
func (tx *writeTxn) write(table string, row, after any, op func(string, any) error) error {
	defs := sortedTables[table]
	if defs == nil {
		return op(table, row)
	}
	ok, id, err := defs[0].id.FromObject(row)
	switch {
	case err != nil:
		return fmt.Errorf("failed to build primary index: %v", err)
	case !ok:
		return fmt.Errorf("object missing primary index")
	}
	primary, err := tx.sortedMap(defs[0])
	if err != nil {
		return err
	}
	// key is the primary key; keys are after's in each map.
	var key string
	var keys []string
	if after != nil {
		if keys, err = rowKeys(defs, after, id, nil); err != nil {
			return err
		}
		key = keys[0]
	} else {
		key = string(id)
	}
	old, _ := primary.Get(key)
	if old == nil && after == nil {
		return memdb.ErrNotFound
	}
	for i, d := range defs {
		m, err := tx.sortedMap(d)
		if err != nil {
			return err
		}
		if old != nil {
			k, ok, err := d.keyWith(old, key)
			if err != nil {
				return err
			}
			if ok {
				m = m.Delete(k)
			}
		}
		if keys != nil && keys[i] != "" {
			m = m.Set(keys[i], after)
		}
		tx.sorted[d.name] = txnSorted{m: m, changed: true}
	}
	tx.changes = append(tx.changes, sortedChange{Change{Table: table, Before: old, After: after}, key})
	return nil
}

// sortedChange is a change to a sorted table's row, with its primary key.
type sortedChange struct {
	Change
	id string
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
	return firstOf(table, index, args, tx.Txn.First, tx.Get, tx.sortedMap)
}

func (tx *writeTxn) LowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	return lowerBoundOf(table, index, args, tx.Txn.LowerBound, tx.sortedMap)
}

func (tx *writeTxn) GetReverse(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := forwardOnly(table); err != nil {
		return nil, err
	}
	return tx.Txn.GetReverse(table, index, args...)
}

func (tx *writeTxn) ReverseLowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	if err := forwardOnly(table); err != nil {
		return nil, err
	}
	return tx.Txn.ReverseLowerBound(table, index, args...)
}

func (tx *writeTxn) Last(table, index string, args ...any) (any, error) {
	if err := forwardOnly(table); err != nil {
		return nil, err
	}
	return tx.Txn.Last(table, index, args...)
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

// rowChanges are the rows the transaction changed, memdb's (its Changes,
// when it tracks them) and the sorted tables' alike, each row once (from
// its state before the transaction to its state after it) as memdb
// reports them, and none that the transaction inserted and deleted again.
// The sorted indexes' own table is left out: its changes follow from the
// rows'.
func (tx *writeTxn) rowChanges() []Change {
	memdbs := tx.Txn.Changes()
	out := make([]Change, 0, len(memdbs)+len(tx.changes))
	for _, c := range memdbs {
		if c.Table != tableSortedIndexes {
			out = append(out, Change{Table: c.Table, Before: c.Before, After: c.After})
		}
	}
	type rowID struct{ table, id string }
	first := map[rowID]int{} // the first change of each row, in out
	for _, c := range tx.changes {
		k := rowID{c.Table, c.id}
		i, seen := first[k]
		if !seen {
			first[k] = len(out)
			out = append(out, c.Change)
			continue
		}
		out[i].After = c.After
	}
	return slices.DeleteFunc(out, func(c Change) bool { return c.Before == nil && c.After == nil })
}

// sortedBuilder builds the maps of a restore's sorted tables from their
// rows, which usually come in primary key order and table by table (a
// snapshot's). A table's maps are built as soon as its rows end (add is
// given another table's row), on the goroutine that adds the rows: while
// the snapshot is decoded, that goroutine has half a core to spare, and
// after it the compile of the policy state wants both cores. Only the
// last table's maps are left for insert.
type sortedBuilder struct {
	rows map[string]*chunks[sortedEntry] // by table, keyed by primary key
	// current is the table of the last row added; built holds the maps
	// of the tables whose rows ended, by index name (a table whose rows
	// resume later loses them).
	current string
	built   map[string]*immutable.SortedMap[string, any]
	// id and keys are add's scratch buffers for a row's keys.
	id, keys []byte
}

type sortedEntry struct {
	key string
	row any
	// keys are the row's keys in each map of its table (rowKeys), when
	// the builder collected them.
	keys []string
}

func newSortedBuilder() *sortedBuilder {
	return &sortedBuilder{rows: map[string]*chunks[sortedEntry]{}, built: map[string]*immutable.SortedMap[string, any]{}}
}

// add takes a row of a table, and says whether the table is sorted.
func (b *sortedBuilder) add(table string, row any) (bool, error) {
	if table != b.current {
		b.ended(b.current)
		b.current = table
		for _, d := range sortedTables[table] {
			delete(b.built, d.name) // its rows resume
		}
	}
	defs := sortedTables[table]
	if defs == nil {
		return false, nil
	}
	id, ok, err := defs[0].id.appendKey(b.id[:0], row)
	b.id = id
	switch {
	case err != nil:
		return true, fmt.Errorf("failed to build primary index: %v", err)
	case !ok:
		return true, errors.New("object missing primary index")
	}
	keys, err := rowKeys(defs, row, id, &b.keys)
	if err != nil {
		return true, err
	}
	rows := b.rows[table]
	if rows == nil {
		rows = &chunks[sortedEntry]{}
		b.rows[table] = rows
	}
	rows.add(sortedEntry{keys[0], row, keys})
	return true, nil
}

// ended builds the maps of a table whose rows have ended, if it is a
// sorted table and they are in order (a table out of order is sorted by
// insert, which builds its maps then).
func (b *sortedBuilder) ended(table string) {
	rows := b.rows[table]
	if rows == nil || !strictlySorted(rows) {
		return
	}
	for _, d := range sortedTables[table] {
		b.built[d.name] = b.build(d)
	}
}

// insert builds every sorted index not built yet (one per core at a
// time) and inserts the maps into txn. Of two rows with the same primary
// key, the later stays, as memdb keeps it.
func (b *sortedBuilder) insert(txn *memdb.Txn) error {
	for table, rows := range b.rows {
		if _, ok := b.built[sortedTables[table][0].name]; ok {
			continue // in order: ended checked its rows
		}
		if !strictlySorted(rows) {
			s := rows.slice()
			slices.SortStableFunc(s, byKey)
			b.rows[table] = new(chunksOf(latest(s)))
		}
	}
	names := slices.Sorted(maps.Keys(sortedIndexes))
	built := make([]*immutable.SortedMap[string, any], len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, name := range names {
		if m, ok := b.built[name]; ok {
			built[i] = m
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			built[i] = b.build(sortedIndexes[name])
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

// build is one sorted index's map of the rows.
func (b *sortedBuilder) build(d *sortedDef) *immutable.SortedMap[string, any] {
	rows := b.rows[d.table]
	if rows == nil {
		rows = &chunks[sortedEntry]{}
	}
	if d.unique {
		return mapOf(rows.all())
	}
	at := slices.Index(sortedTables[d.table], d)
	entries := make([]sortedEntry, 0, rows.len())
	for _, r := range rows.all() {
		if k := r.keys[at]; k != "" {
			entries = append(entries, sortedEntry{key: k, row: r.row})
		}
	}
	slices.SortFunc(entries, byKey)
	return mapOf(slices.All(entries))
}

// mapOf is the map of entries whose keys increase, set every other one
// first and then the ones between. Set in key order, the B+tree's leaves
// end half full: a leaf splits in two at 33 entries and the left half
// takes no more, in an array twice its size, about 70 bytes an entry
// where 39 do. Every second key set afterwards lands in a half-full leaf
// and fills it, and each leaf grows into an array of its own size once.
// With enterprise-large the sorted maps hold 1.26 million entries: some
// 40 MB less heap, which the collector marks at every cycle.
func mapOf(entries iter.Seq2[int, sortedEntry]) *immutable.SortedMap[string, any] {
	mb := immutable.NewSortedMapBuilder[string, any](keyOrder{})
	for parity := range 2 {
		for i, e := range entries {
			if i%2 == parity {
				mb.Set(e.key, e.row)
			}
		}
	}
	return mb.Map()
}

func byKey(a, b sortedEntry) int { return strings.Compare(a.key, b.key) }

// rowKeys are a row's keys in each map of its table (defs, the primary
// key's first; id is its primary key), "" for an index the row is not in.
// They are substrings of one string: a secondary key is the index's key
// followed by the primary key, and the primary key is the one that ends
// the first secondary key. With enterprise-large that is one heap object
// a row where each key was one, some 600,000 fewer for the collector to
// mark at every cycle. The keys are made in *scratch, which rowKeys
// grows and the next call reuses (nil: a buffer of its own).
func rowKeys(defs []*sortedDef, row any, id []byte, scratch *[]byte) ([]string, error) {
	keys := make([]string, len(defs))
	var at [4][2]int // the bounds of each secondary key in buf; no table has more
	bounds := at[:]
	if len(defs) > len(at) {
		bounds = make([][2]int, len(defs))
	}
	var buf []byte
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	for i, d := range defs[1:] {
		start := len(buf)
		var ok bool
		var err error
		if buf, ok, err = d.keys.appendKey(buf, row); err != nil {
			return nil, err
		}
		if ok {
			buf = append(buf, id...)
			bounds[i+1] = [2]int{start, len(buf)}
		}
	}
	if scratch != nil {
		*scratch = buf
	}
	if len(buf) == 0 {
		keys[0] = string(id)
		return keys, nil
	}
	all := string(buf)
	for i, b := range bounds[1:len(defs)] {
		if b[1] > 0 {
			keys[i+1] = all[b[0]:b[1]]
			if keys[0] == "" {
				keys[0] = all[b[1]-len(id) : b[1]]
			}
		}
	}
	return keys, nil
}

// strictlySorted reports whether the rows' keys increase, with no two
// alike: as a snapshot lists them.
func strictlySorted(rows *chunks[sortedEntry]) bool {
	prev := ""
	for i, r := range rows.all() {
		if i > 0 && r.key <= prev {
			return false
		}
		prev = r.key
	}
	return true
}

// latest keeps, of each run of rows with one key (stably sorted), the last.
func latest(rows []sortedEntry) []sortedEntry {
	out := rows[:0]
	for i, r := range rows {
		if i+1 < len(rows) && rows[i+1].key == r.key {
			continue
		}
		out = append(out, r)
	}
	return out
}
