package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	memdb "github.com/hashicorp/go-memdb"
)

// rowSource is the part of a memdb read transaction that ReadTxn uses. A
// memdb transaction is one; rowTables, decoded snapshot rows not yet in a
// memdb, is the other.
type rowSource interface {
	First(table, index string, args ...any) (any, error)
	Get(table, index string, args ...any) (memdb.ResultIterator, error)
	GetReverse(table, index string, args ...any) (memdb.ResultIterator, error)
	LowerBound(table, index string, args ...any) (memdb.ResultIterator, error)
	ReverseLowerBound(table, index string, args ...any) (memdb.ResultIterator, error)
}

var _ rowSource = (*memdb.Txn)(nil)

// rowTables answers memdb's queries over a snapshot's rows as the memdb
// holding those rows answers them, from sorted slices: each index is the
// rows' keys as memdb's indexers make them (with the primary key appended
// in a non-unique index), sorted by bytes as a radix tree iterates them.
// It lets a snapshot restore show its state to the observer while the
// memdb's radix trees are still being built, which takes most of a
// restore (Config.Preview). Every index is sorted the first time a query
// reads it, once; rowTables may be read from any number of goroutines.
// The rows are the memdb's own and must not be changed.
type rowTables struct {
	schema  *memdb.DBSchema
	indexes map[string]*rowIndex // by table "." index
}

type rowIndex struct {
	schema *memdb.IndexSchema
	id     memdb.SingleIndexer // the table's primary key
	rows   []any               // the table's rows, in the order they were inserted
	once   sync.Once
	keys   []indexKey
	err    error
}

type indexKey struct {
	key string
	row any
}

// newRowTables indexes rows, each table's in the order a memdb would have
// inserted them. It refuses rows that the memdb would not hold as they
// are: two with the same primary key, where the memdb keeps the later.
func newRowTables(schema *memdb.DBSchema, rows map[string][]any) (*rowTables, error) {
	t := &rowTables{schema: schema, indexes: map[string]*rowIndex{}}
	for name, ts := range schema.Tables {
		id := ts.Indexes[indexID].Indexer.(memdb.SingleIndexer)
		for iname, is := range ts.Indexes {
			t.indexes[name+"."+iname] = &rowIndex{schema: is, id: id, rows: rows[name]}
		}
	}
	for name := range schema.Tables {
		id := t.indexes[name+"."+indexID]
		keys, err := id.sorted()
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		if len(keys) != len(rows[name]) {
			return nil, fmt.Errorf("table %s: %d rows with the same primary key", name, len(rows[name])-len(keys))
		}
	}
	return t, nil
}

// sorted computes and sorts the index's keys, once.
func (x *rowIndex) sorted() ([]indexKey, error) {
	x.once.Do(func() { x.keys, x.err = x.build() })
	return x.keys, x.err
}

func (x *rowIndex) build() ([]indexKey, error) {
	keys := make([]indexKey, 0, len(x.rows))
	for _, row := range x.rows {
		var vals [][]byte
		var ok bool
		var err error
		switch indexer := x.schema.Indexer.(type) {
		case memdb.SingleIndexer:
			var val []byte
			ok, val, err = indexer.FromObject(row)
			vals = [][]byte{val}
		case memdb.MultiIndexer:
			ok, vals, err = indexer.FromObject(row)
		default:
			return nil, fmt.Errorf("index %s: indexer %T", x.schema.Name, indexer)
		}
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", x.schema.Name, err)
		}
		if !ok {
			if x.schema.AllowMissing {
				continue
			}
			return nil, fmt.Errorf("missing value for index %s", x.schema.Name)
		}
		var id []byte
		if !x.schema.Unique {
			if _, id, err = x.id.FromObject(row); err != nil {
				return nil, err
			}
		}
		for _, v := range vals {
			keys = append(keys, indexKey{string(v) + string(id), row})
		}
	}
	byKey := func(a, b indexKey) int { return strings.Compare(a.key, b.key) }
	if !slices.IsSortedFunc(keys, byKey) {
		slices.SortStableFunc(keys, byKey)
	}
	// A key inserted twice holds the later row.
	out := keys[:0]
	for i, k := range keys {
		if i+1 < len(keys) && keys[i+1].key == k.key {
			continue
		}
		out = append(out, k)
	}
	return out, nil
}

// lookup is memdb's getIndexValue: the index a query names and the key it
// seeks, nil when it has no arguments.
func (t *rowTables) lookup(table, index string, args []any) (*rowIndex, string, bool, error) {
	if _, ok := t.schema.Tables[table]; !ok {
		return nil, "", false, fmt.Errorf("invalid table '%s'", table)
	}
	name, prefixScan := strings.CutSuffix(index, "_prefix")
	x, ok := t.indexes[table+"."+name]
	if !ok {
		return nil, "", false, fmt.Errorf("invalid index '%s'", name)
	}
	if len(args) == 0 {
		return x, "", false, nil
	}
	var val []byte
	var err error
	if prefixScan {
		p, ok := x.schema.Indexer.(memdb.PrefixIndexer)
		if !ok {
			return nil, "", false, fmt.Errorf("index '%s' does not support prefix scanning", name)
		}
		val, err = p.PrefixFromArgs(args...)
	} else {
		val, err = x.schema.Indexer.FromArgs(args...)
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("index error: %v", err)
	}
	return x, string(val), prefixScan, nil
}

// span finds the index's keys and the positions [lo, hi) of those that
// start with val.
func (t *rowTables) span(table, index string, args []any) (keys []indexKey, val string, lo, hi int, exact bool, err error) {
	x, val, prefixScan, err := t.lookup(table, index, args)
	if err != nil {
		return nil, "", 0, 0, false, err
	}
	if keys, err = x.sorted(); err != nil {
		return nil, "", 0, 0, false, err
	}
	lo = lowerBound(keys, val)
	hi = lo
	for hi < len(keys) && strings.HasPrefix(keys[hi].key, val) {
		hi++
	}
	return keys, val, lo, hi, x.schema.Unique && len(args) > 0 && !prefixScan, nil
}

func lowerBound(keys []indexKey, val string) int {
	i, _ := slices.BinarySearchFunc(keys, val, func(k indexKey, v string) int { return cmp.Compare(k.key, v) })
	return i
}

// First is the first row whose key starts with the query's, or, for an
// exact query on a unique index, the row whose key is the query's.
func (t *rowTables) First(table, index string, args ...any) (any, error) {
	keys, val, lo, hi, exact, err := t.span(table, index, args)
	if err != nil || lo == hi {
		return nil, err
	}
	if exact && keys[lo].key != val {
		return nil, nil
	}
	return keys[lo].row, nil
}

// Get lists the rows whose keys start with the query's, in key order.
func (t *rowTables) Get(table, index string, args ...any) (memdb.ResultIterator, error) {
	keys, _, lo, hi, _, err := t.span(table, index, args)
	if err != nil {
		return nil, err
	}
	return &rowIterator{keys: keys[lo:hi]}, nil
}

// GetReverse lists them in reverse key order.
func (t *rowTables) GetReverse(table, index string, args ...any) (memdb.ResultIterator, error) {
	keys, _, lo, hi, _, err := t.span(table, index, args)
	if err != nil {
		return nil, err
	}
	return &rowIterator{keys: keys[lo:hi], reverse: true}, nil
}

// LowerBound lists the rows from the first whose key is not below the
// query's, in key order.
func (t *rowTables) LowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	keys, _, lo, _, _, err := t.span(table, index, args)
	if err != nil {
		return nil, err
	}
	return &rowIterator{keys: keys[lo:]}, nil
}

// ReverseLowerBound lists the rows from the last whose key is not above
// the query's, in reverse key order.
func (t *rowTables) ReverseLowerBound(table, index string, args ...any) (memdb.ResultIterator, error) {
	keys, val, lo, _, _, err := t.span(table, index, args)
	if err != nil {
		return nil, err
	}
	if lo < len(keys) && keys[lo].key == val {
		lo++
	}
	return &rowIterator{keys: keys[:lo], reverse: true}, nil
}

type rowIterator struct {
	keys    []indexKey
	reverse bool
}

func (it *rowIterator) WatchCh() <-chan struct{} { return nil }

func (it *rowIterator) Next() any {
	if len(it.keys) == 0 {
		return nil
	}
	if it.reverse {
		k := it.keys[len(it.keys)-1]
		it.keys = it.keys[:len(it.keys)-1]
		return k.row
	}
	k := it.keys[0]
	it.keys = it.keys[1:]
	return k.row
}
