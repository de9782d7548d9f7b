package authz

import (
	"context"
	"errors"
	"sync/atomic"

	iradix "github.com/hashicorp/go-immutable-radix"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// snapshot is one immutable version of the compiled state: a persistent
// radix tree per table, keyed by entry name, holding *ast.Term values.
// A new version shares every unchanged node with the previous one, so an
// update costs O(changed keys × log n), not a copy of a table.
type snapshot struct {
	rev    uint64
	tables map[string]*iradix.Tree
}

// dataStore serves the compiled state to OPA as a read-only storage.Store.
// Each transaction pins the snapshot current when it began, so a decision
// sees one whole version and readers never wait for writers.
type dataStore struct {
	storage.PolicyNotSupported
	storage.TriggersNotSupported
	cur atomic.Pointer[snapshot]
	ids atomic.Uint64
}

var _ storage.Store = (*dataStore)(nil)

type readTxn struct {
	id   uint64
	snap *snapshot
}

func (t *readTxn) ID() uint64 { return t.id }

var errReadOnly = errors.New("the compiled policy state is read-only to OPA")

func newSnapshot(state ast.Object, rev uint64) *snapshot {
	s := &snapshot{rev: rev, tables: map[string]*iradix.Tree{}}
	for _, t := range allTables {
		txn := iradix.New().Txn()
		if v := state.Get(str(t)); v != nil {
			v.Value.(ast.Object).Foreach(func(k, val *ast.Term) {
				txn.Insert([]byte(k.Value.(ast.String)), val)
			})
		}
		s.tables[t] = txn.Commit()
	}
	return s
}

// with returns a new snapshot with the given entries set (nil removes).
func (s *snapshot) with(values map[key]*ast.Term, rev uint64) *snapshot {
	next := &snapshot{rev: rev, tables: make(map[string]*iradix.Tree, len(s.tables))}
	txns := map[string]*iradix.Txn{}
	for k, v := range values {
		txn, ok := txns[k.table]
		if !ok {
			txn = s.tables[k.table].Txn()
			txns[k.table] = txn
		}
		if v == nil {
			txn.Delete([]byte(k.name))
		} else {
			txn.Insert([]byte(k.name), v)
		}
	}
	for t, tree := range s.tables {
		if txn, ok := txns[t]; ok {
			tree = txn.Commit()
		}
		next.tables[t] = tree
	}
	return next
}

// object materializes the whole state (for export and tests, never for a
// decision: the policy only reads single entries).
func (s *snapshot) object() ast.Object {
	state := ast.NewObject()
	for _, t := range allTables {
		table := ast.NewObject()
		s.tables[t].Root().Walk(func(k []byte, v any) bool {
			table.Insert(str(string(k)), v.(*ast.Term))
			return false
		})
		state.Insert(str(t), ast.NewTerm(table))
	}
	return state
}

func (d *dataStore) NewTransaction(_ context.Context, params ...storage.TransactionParams) (storage.Transaction, error) {
	for _, p := range params {
		if p.Write {
			return nil, errReadOnly
		}
	}
	return &readTxn{id: d.ids.Add(1), snap: d.cur.Load()}, nil
}

// Read resolves data.grantd.revision, data.grantd.state.<table>.<key>...
// with one tree lookup; shorter paths build the object they name.
func (d *dataStore) Read(_ context.Context, txn storage.Transaction, path storage.Path) (any, error) {
	t, ok := txn.(*readTxn)
	if !ok {
		return nil, errors.New("foreign transaction")
	}
	s := t.snap
	switch {
	case len(path) == 0:
		return ast.NewObject(ast.Item(str("grantd"), ast.NewTerm(grantdObject(s)))), nil
	case path[0] != "grantd":
		return nil, notFound(path)
	case len(path) == 1:
		return grantdObject(s), nil
	case path[1] == "revision" && len(path) == 2:
		return ast.UIntNumberTerm(s.rev).Value, nil
	case path[1] != "state":
		return nil, notFound(path)
	case len(path) == 2:
		return s.object(), nil
	}
	tree, ok := s.tables[path[2]]
	if !ok {
		return nil, notFound(path)
	}
	if len(path) == 3 {
		table := ast.NewObject()
		tree.Root().Walk(func(k []byte, v any) bool {
			table.Insert(str(string(k)), v.(*ast.Term))
			return false
		})
		return table, nil
	}
	v, ok := tree.Get([]byte(path[3]))
	if !ok {
		return nil, notFound(path)
	}
	rest := make(ast.Ref, len(path)-4)
	for i, p := range path[4:] {
		rest[i] = str(p)
	}
	found, err := v.(*ast.Term).Value.Find(rest)
	if err != nil {
		return nil, notFound(path)
	}
	return found, nil
}

func grantdObject(s *snapshot) ast.Object {
	return ast.NewObject(ast.Item(str("state"), ast.NewTerm(s.object())), ast.Item(str("revision"), ast.UIntNumberTerm(s.rev)))
}

func notFound(path storage.Path) error {
	return &storage.Error{Code: storage.NotFoundErr, Message: path.String() + ": document missing"}
}

func (d *dataStore) Write(context.Context, storage.Transaction, storage.PatchOp, storage.Path, any) error {
	return errReadOnly
}

func (d *dataStore) Commit(context.Context, storage.Transaction) error { return nil }

func (d *dataStore) Truncate(context.Context, storage.Transaction, storage.TransactionParams, storage.Iterator) error {
	return errReadOnly
}

func (d *dataStore) Abort(context.Context, storage.Transaction) {}
