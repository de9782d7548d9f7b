package authz

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

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
	// reads, when set, records every entry the transaction read.
	reads *readLog
	// atPath and atMaps are the collection whose derived at entry was
	// read last, and its grant maps (snapshot.grantMaps).
	atPath string
	atMaps []*grantMap
	// schedPrincipal and sched are the principal whose derived hs or pt
	// entry was read last, and its subjects' sched entries
	// (snapshot.schedEntries); schedRead is whether they are set.
	schedPrincipal string
	sched          []ast.Object
	schedRead      bool
	// seen is the evaluation's cache of what it read (readCache).
	seen readCache
	// rules is the evaluation's cache of the rules it evaluated
	// (ruleCache).
	rules ruleCache
	// held, when set, keeps the grants behind the first held entry the
	// evaluation reads (heldGrants).
	held *heldGrants
}

// readCache is the documents one evaluation read at
// data.grantd.state.<table>.<key> and one level below, for OPA's
// evaluator to read again without asking the store. OPA's own cache keeps
// a trie with a map per level of every path it stores, and a decision
// rarely reads anything twice (5,000 medium decisions: 91,091 reads, 1,215
// of them repeated, all of roles in the scheduling search), so that cost
// a few kilobytes per decision for little; without any cache the
// scheduling search reads the same roles again and again and the p99
// grew by a sixth.
type readCache struct{ m map[readKey]ast.Value }

// readKey is a path below data.grantd.state: the table, the key and, when
// n is 3, a field of the entry.
type readKey struct {
	table, key, field string
	n                 int8
}

// stateRef is ref's key at depth 2 and, when ref is longer, at depth 3.
func stateRef(ref ast.Ref) (entry, field readKey, ok bool) {
	if len(ref) < 5 {
		return entry, field, false
	}
	root, ok1 := ref[1].Value.(ast.String)
	state, ok2 := ref[2].Value.(ast.String)
	table, ok3 := ref[3].Value.(ast.String)
	key, ok4 := ref[4].Value.(ast.String)
	if !ok1 || !ok2 || !ok3 || !ok4 || root != "grantd" || state != "state" {
		return entry, field, false
	}
	entry = readKey{table: string(table), key: string(key), n: 2}
	if len(ref) > 5 {
		if f, ok := ref[5].Value.(ast.String); ok {
			field = readKey{table: string(table), key: string(key), field: string(f), n: 3}
		}
	}
	return entry, field, true
}

func (c *readCache) Get(ref ast.Ref) ast.Value {
	if c.m == nil {
		return nil
	}
	entry, field, ok := stateRef(ref)
	if !ok {
		return nil
	}
	if v, ok := c.m[entry]; ok {
		return find(v, ref[5:])
	}
	if field.n == 3 {
		if v, ok := c.m[field]; ok {
			return find(v, ref[6:])
		}
	}
	return nil
}

func find(v ast.Value, rest ast.Ref) ast.Value {
	if len(rest) == 0 {
		return v
	}
	found, err := v.Find(rest)
	if err != nil {
		return nil
	}
	return found
}

func (c *readCache) Put(ref ast.Ref, v ast.Value) {
	entry, field, ok := stateRef(ref)
	if !ok || len(ref) > 6 {
		return
	}
	if c.m == nil {
		c.m = make(map[readKey]ast.Value, 4)
	}
	if len(ref) == 5 {
		c.m[entry] = v
	} else if field.n == 3 {
		c.m[field] = v
	}
}

// readLog is what one evaluation read of the compiled state: each entry
// (its table, its name and the term it found, nil when missing), or wide
// when it read something larger than an entry. A decision depends on
// nothing else but its input, so it holds on any later snapshot where
// each of these entries is still the same term (decisionCache).
type readLog struct {
	deps []dep
	wide bool
}

type dep struct {
	table, name string
	v           *ast.Term
	hash        uint64
}

// record notes that the entry table[name] was read and found to be v (nil:
// missing). A nil log records nothing.
func (l *readLog) record(table, name string, v *ast.Term) {
	if l != nil {
		l.deps = append(l.deps, dep{table: table, name: name, v: v, hash: keyHash(table, name)})
	}
}

// holdsSince reports whether everything read on snapshot from is the same
// in s (a newer one). When s remembers every write since from and they
// are few, their keys are checked against what was read; otherwise each
// entry read is looked up in s.
func (l *readLog) holdsSince(from, s *snapshot) bool {
	if l.wide {
		return false
	}
	if from.rev < s.base || s.rev-from.rev > 16 {
		return l.holdsOn(s)
	}
	for i := len(s.recent) - 1; i >= 0 && s.recent[i].rev > from.rev; i-- {
		for _, k := range s.recent[i].keys {
			for _, d := range l.deps {
				if d.hash == k {
					return false
				}
			}
		}
	}
	return true
}

// holdsOn reports whether every entry read is the same term in s.
func (l *readLog) holdsOn(s *snapshot) bool {
	if l.wide {
		return false
	}
	for _, d := range l.deps {
		t := s.tables[d.table]
		if t == nil {
			return false
		}
		v, _ := t.Get(d.name)
		if v != d.v {
			return false
		}
	}
	return true
}

func (t *readTxn) ID() uint64 { return t.id }

var errReadOnly = errors.New("the compiled policy state is read-only to OPA")

func (d *dataStore) NewTransaction(_ context.Context, params ...storage.TransactionParams) (storage.Transaction, error) {
	for _, p := range params {
		if p.Write {
			return nil, errReadOnly
		}
	}
	return &readTxn{id: d.ids.Add(1), snap: d.cur.Load()}, nil
}

// txns keeps the read transactions of finished evaluations for the next
// ones: a decision's transaction, its read cache's map and its rule
// cache's list were most of a kilobyte and three allocations per
// decision, and every byte a decision allocates is work for the collector
// over the whole compiled state.
var txns = sync.Pool{New: func() any { return new(readTxn) }}

// begin is NewTransaction for the engine's own evaluations: a transaction
// from txns, to be given back with release once the evaluation is over.
func (d *dataStore) begin() *readTxn {
	t := txns.Get().(*readTxn)
	t.id = d.ids.Add(1)
	t.snap = d.cur.Load()
	return t
}

// pooledEntries is the most entries a transaction's caches keep their
// room for when given back: an evaluation that read or computed more (a
// scheduling search) leaves its larger map and list to the collector.
const pooledEntries = 32

// release gives t back to txns with nothing of its evaluation left in
// it. The caller must not use t afterwards.
func (t *readTxn) release() {
	seen, rules, frames := t.seen.m, t.rules.entries, t.rules.frames
	if len(seen) > pooledEntries {
		seen = nil
	}
	clear(seen)
	if cap(rules) > pooledEntries {
		rules = nil
	}
	clear(rules[:cap(rules)])
	*t = readTxn{seen: readCache{m: seen}, rules: ruleCache{entries: rules[:0], frames: frames[:0]}}
	txns.Put(t)
}

// Read resolves data.grantd.revision, data.grantd.state.<table>.<key>...
// with one tree lookup; shorter paths build the object they name.
func (d *dataStore) Read(_ context.Context, txn storage.Transaction, path storage.Path) (any, error) {
	t, ok := txn.(*readTxn)
	if !ok {
		return nil, errors.New("foreign transaction")
	}
	s := t.snap
	if t.reads != nil && !entryRead(path) {
		t.reads.wide = true
	}
	switch {
	case len(path) == 0:
		return ast.NewObject(ast.Item(str("grantd"), ast.NewTerm(grantdObject(s)))), nil
	case path[0] != "grantd":
		return nil, errNotFound
	case len(path) == 1:
		return grantdObject(s), nil
	case path[1] == "revision" && len(path) == 2:
		return ast.UIntNumberTerm(s.rev).Value, nil
	case path[1] != "state":
		return nil, errNotFound
	case len(path) == 2:
		return s.document(), nil
	}
	var v *ast.Term
	var rest storage.Path
	switch {
	case path[2] == tHeld && len(path) < 5:
		return byPrincipal(s.heldObject, path)
	case path[2] == tHeld:
		v, rest, ok = t.readHeld(path)
	case path[2] == tHolds && len(path) < 5:
		return byPrincipal(s.holdsObject, path)
	case path[2] == tHolds:
		v, rest, ok = t.readHolds(path)
	case path[2] == tApplies:
		if len(path) == 3 {
			return s.appliesObject(), nil
		}
		v, rest, ok = t.readApplies(path)
	case path[2] == tSchedHighest:
		switch len(path) {
		case 3:
			hs, _ := s.schedObjects()
			return hs, nil
		case 4:
			o := s.highestObject(t.schedEntries(path[3]))
			if o.Len() == 0 {
				return nil, errNotFound
			}
			return o, nil
		}
		v, rest, ok = t.readHighest(path)
	case path[2] == tSchedTop:
		if len(path) == 3 {
			_, pt := s.schedObjects()
			return pt, nil
		}
		v = topmostSchedulable(t.schedEntries(path[3]))
		ok, rest = v != nil, path[4:]
	default:
		tree, found := s.tables[path[2]]
		if !found {
			return nil, errNotFound
		}
		if len(path) == 3 {
			return tableObject(tree), nil
		}
		v, ok = tree.Get(path[3])
		rest = path[4:]
		t.reads.record(path[2], path[3], v)
	}
	if !ok {
		return nil, errNotFound
	}
	found, ok := findPath(v.Value, rest)
	if !ok {
		return nil, errNotFound
	}
	return found, nil
}

// findPath is v.Find(rest) without making the ref: a decision reads fields of
// entries (p[subject].active, ops[operation].kind) several times, and the
// terms of their names are made once (fieldTerms).
func findPath(v ast.Value, rest storage.Path) (ast.Value, bool) {
	for i, p := range rest {
		if pe, ok := v.(*principalEntry); ok {
			if v, ok = pe.field(p); !ok {
				return nil, false
			}
			continue
		}
		o, isObject := v.(ast.Object)
		if !isObject {
			ref := make(ast.Ref, len(rest)-i)
			for j, p := range rest[i:] {
				ref[j] = str(p)
			}
			found, err := v.Find(ref)
			return found, err == nil
		}
		k, named := fieldTerms[p]
		if !named {
			k = str(p)
		}
		t := o.Get(k)
		if t == nil {
			return nil, false
		}
		v = t.Value
	}
	if ast.IsScalar(v) {
		return v, true
	}
	found, err := v.Find(nil) // a compactEntry becomes OPA's object
	return found, err == nil
}

// fieldTerms are the names of the fields of the state's entries
// (compile.go's layout) as terms made once: entries are built with them
// (terms.kv), and findPath reads with them.
var fieldTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, f := range []string{"active", "admin", "admins", "create", "default", "kind", "name", "ns", "options", "public", "reserved", principalSubjects} {
		m[f] = str(f)
	}
	return m
}()

// byPrincipal reads a derived table keyed by principal and collection
// whole (path ends at the table) or one principal's entry (path names it),
// with materialize (heldObject, holdsObject): the entry is missing when
// the principal has none.
func byPrincipal(materialize func(principal string) ast.Object, path storage.Path) (any, error) {
	if len(path) == 3 {
		return materialize(""), nil
	}
	o := materialize(path[3])
	if o.Len() == 0 {
		return nil, errNotFound
	}
	return o, nil
}

// entryRead reports whether a read is of one entry of the state or below
// it, which the read log can record entry by entry: a whole table is not,
// and neither is a principal's whole entry of held, holds or hs, which reads
// every collection's.
func entryRead(path storage.Path) bool {
	if len(path) < 4 || path[0] != "grantd" || path[1] != "state" {
		return false
	}
	return path[2] != tHeld && path[2] != tHolds && path[2] != tSchedHighest || len(path) >= 5
}

// compactEntry is an entry that a snapshot keeps in a form of grantd's
// own (grantMap, principalEntry), fewer heap objects than OPA's: it is a
// Value only to sit in a table, and becomes OPA's object when read whole
// (findPath, through its Find) or exported (tableObject).
type compactEntry interface {
	ast.Value
	object() ast.Object
	// same reports whether v is an entry of the same kind holding the
	// same, without making either object.
	same(v ast.Value) bool
}

var _, _ compactEntry = (*grantMap)(nil), (*principalEntry)(nil)

// compareEntry is a compactEntry's Compare: it orders e as its object,
// and finds it equal to the same entry without making either object, so
// that a write that recomputes an entry to what it was keeps the old one
// (Engine.apply).
func compareEntry(e compactEntry, other ast.Value) int {
	if e.same(other) {
		return 0
	}
	if o, ok := other.(compactEntry); ok {
		other = o.object()
	}
	return e.object().Compare(other)
}

// tableObject materializes one table.
func tableObject(t *table) ast.Object {
	o := ast.NewObject()
	for it := t.Iterator(); !it.Done(); {
		k, v, _ := it.Next()
		if x, ok := v.Value.(compactEntry); ok {
			v = ast.NewTerm(x.object())
		}
		o.Insert(str(k), v)
	}
	return o
}

func grantdObject(s *snapshot) ast.Object {
	return ast.NewObject(ast.Item(str("state"), ast.NewTerm(s.document())), ast.Item(str("revision"), ast.UIntNumberTerm(s.rev)))
}

// errNotFound is every missing document: OPA takes it for undefined and
// shows it to nobody, and most of a decision's reads miss (the subjects
// of a principal without a grant at the target), so it names no path
// (formatting one cost 8 % of a decision's allocations).
var errNotFound = &storage.Error{Code: storage.NotFoundErr, Message: "document missing"}

func (d *dataStore) Write(context.Context, storage.Transaction, storage.PatchOp, storage.Path, any) error {
	return errReadOnly
}

func (d *dataStore) Commit(context.Context, storage.Transaction) error { return nil }

func (d *dataStore) Truncate(context.Context, storage.Transaction, storage.TransactionParams, storage.Iterator) error {
	return errReadOnly
}

func (d *dataStore) Abort(context.Context, storage.Transaction) {}
