package authz

import (
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// The derived tables of the compiled state, at, held, holds, hs and pt:
// computed from the stored tables where the policy reads them
// (dataStore.Read), entry by entry, with what they read recorded for the
// decision cache. An exported bundle carries their definitions in Rego
// instead (policies/derived).

// grantMaps lists the grant maps that apply at a collection: gs of every
// path of its chain, nearest first, then ge of the collection itself
// (nil when the collection does not exist), from the snapshot's chain
// index (chainMaps), or computed from the tables where that is stale.
// What they come from is recorded in reads, entry by entry (c, then gs
// and ge), so that a cached decision that read at[path] is dropped by a
// write to any of them, as if the policy had read them itself.
func (s *snapshot) grantMaps(path string, reads *readLog) []*grantMap {
	var cm *chainMaps
	if len(s.stale) > 0 && underStale(s.stale, path) {
		cm = chainOf(s.tables, path, noParent)
	} else {
		cm, _ = s.chains.Get(path)
	}
	if cm == nil {
		reads.record(tCollections, path, nil)
		return nil
	}
	if reads != nil {
		reads.record(tCollections, path, cm.col)
		if chain, ok := cm.col.Value.(*ast.Array); ok {
			for i, v := range cm.subtree {
				reads.record(tSubtree, stringOf(chain.Elem(i)), v)
			}
		}
		reads.record(tExact, path, cm.exact)
	}
	return cm.maps
}

// applies computes the entry at[path] of the derived table from the
// collection's grant maps (grantMaps), merged by subject: {subject: {role:
// grant ID}}. When several grants give a subject the same role, the one
// nearest the collection names it.
func applies(maps []*grantMap) (*ast.Term, bool) {
	if len(maps) == 0 {
		return nil, false
	}
	merged := ast.NewObject()
	for _, m := range maps {
		for _, s := range m.subjects {
			if sub := str(s); merged.Get(sub) == nil {
				merged.Insert(sub, appliesTo(maps, s))
			}
		}
	}
	return ast.NewTerm(merged), true
}

// appliesTo computes at[path][subject]: the subject's roles in the
// collection's grant maps, merged in their order; nil when it has none.
func appliesTo(maps []*grantMap, subject string) *ast.Term {
	var merged ast.Object
	k := keyOf(subject)
	for _, m := range maps {
		roles, ids := m.grantsOf(k)
		for i, role := range roles {
			if merged == nil {
				merged = ast.NewObject()
			}
			if merged.Get(role) == nil {
				merged.Insert(role, str(ids[i]))
			}
		}
	}
	if merged == nil {
		return nil
	}
	return ast.NewTerm(merged)
}

// readApplies reads at[path] (whole, or one subject's roles, and below):
// the policy asks for one subject's roles at a time, so only the entries
// it looks at are merged, and the collection's grant maps are gathered
// once per transaction and collection.
func (t *readTxn) readApplies(path storage.Path) (*ast.Term, storage.Path, bool) {
	maps := t.grantMaps(path[3])
	if len(path) == 4 {
		v, ok := applies(maps)
		return v, path[4:], ok
	}
	v := appliesTo(maps, path[4])
	return v, path[5:], v != nil
}

// grantMaps is the collection's grant maps (snapshot.grantMaps), gathered
// once per transaction and collection: the policy reads at[path][s] for
// one subject after another, and held[principal][path] after them.
func (t *readTxn) grantMaps(path string) []*grantMap {
	if t.atPath != path || t.atMaps == nil {
		t.atPath, t.atMaps = path, t.snap.grantMaps(path, t.reads)
	}
	return t.atMaps
}

// readHeld reads held[principal][path] and below (the policy's roles at a
// collection): one read where the policy would read at[path][s] for each
// of the principal's subjects.
func (t *readTxn) readHeld(path storage.Path) (*ast.Term, storage.Path, bool) {
	var buf [16]*ast.Term
	v := heldSet(t.rolesAt(path[3], path[4], buf[:0]))
	return v, path[5:], v != nil
}

// rolesAt appends to into the roles of held[principal][path], each once
// (heldRoles), and keeps the grants behind them in t.held when that is
// set and was not filled yet.
func (t *readTxn) rolesAt(principal, path string, into []*ast.Term) []*ast.Term {
	var each func(role *ast.Term, id string)
	if h := t.held; h != nil && !h.read {
		h.read, h.principal, h.path = true, principal, path
		each = func(role *ast.Term, id string) { h.roles, h.ids = append(h.roles, role), append(h.ids, id) }
	}
	return heldRoles(t.snap.subjectKeysOf(principal, t.reads), t.grantMaps(path), each, into)
}

// heldGrants are the grants behind the first held[principal][path] entry
// an evaluation read: each role a subject of the principal holds there,
// and the grant that gives it. The decision log names the grants behind
// a decision (snapshot.grantsFor); when the decision was made at that
// entry, these are the pairs it would find again.
type heldGrants struct {
	read            bool
	principal, path string
	roles           []*ast.Term
	ids             []string
}

// principal is a principal's entry in p, nil when it is no principal.
// The entry is recorded in reads, as the policy reading it would.
func (s *snapshot) principal(name string, reads *readLog) *principalEntry {
	entry, _ := s.tables[tPrincipals].Get(name)
	reads.record(tPrincipals, name, entry)
	return principalOf(entry)
}

// subjectKeysOf is the keys of the subjects a principal acts as (its set
// s), nil when it is no principal. Its entry in p is recorded in reads,
// as the policy reading it would.
func (s *snapshot) subjectKeysOf(principal string, reads *readLog) []subjectKey {
	if p := s.principal(principal, reads); p != nil {
		return p.keys
	}
	return nil
}

// heldRoles appends to into the roles that the principal's subjects (their
// keys) hold in the collection's grant maps (grantMaps), each once, in
// the order found: an entry held[principal][path] of the derived table
// held is the set of them (heldSet), and holds reads them without
// making that set. each, when set, is called with every role held and
// the grant giving it.
func heldRoles(subjects []subjectKey, maps []*grantMap, each func(role *ast.Term, id string), into []*ast.Term) []*ast.Term {
	for _, k := range subjects {
		for _, m := range maps {
			held, ids := m.grantsOf(k)
			for i, role := range held {
				if each != nil {
					each(role, ids[i])
				}
				if !hasRole(into, role) {
					into = append(into, role)
				}
			}
		}
	}
	return into
}

// hasRole reports whether roles has role. Within a snapshot the maps share
// one term per role name, but an entry recompiled after a write has terms
// of its own, so the names are compared when the terms differ.
func hasRole(roles []*ast.Term, role *ast.Term) bool {
	for _, r := range roles {
		if r == role || stringOf(r) == stringOf(role) {
			return true
		}
	}
	return false
}

// heldSet is roles as a set {role: true}; nil when there are none.
func heldSet(roles []*ast.Term) *ast.Term {
	if len(roles) == 0 {
		return nil
	}
	items := make([][2]*ast.Term, len(roles))
	for i, r := range roles {
		items[i] = [2]*ast.Term{r, ast.InternedTerm(true)}
	}
	return ast.NewTerm(ast.NewObject(items...))
}

// heldObject materializes the derived table held, or with one principal
// (principal != ""), that principal's entry. Every principal against
// every collection: never on a decision's path (the policy reads one
// entry).
func (s *snapshot) heldObject(principal string) ast.Object {
	var paths []string
	var maps [][]*grantMap
	for it := s.tables[tCollections].Iterator(); !it.Done(); {
		path, _, _ := it.Next()
		paths = append(paths, path)
		maps = append(maps, s.grantMaps(path, nil))
	}
	entry := func(p string) ast.Object {
		subjects := s.subjectKeysOf(p, nil)
		o := ast.NewObject()
		for i, path := range paths {
			if v := heldSet(heldRoles(subjects, maps[i], nil, nil)); v != nil {
				o.Insert(str(path), v)
			}
		}
		return o
	}
	if principal != "" {
		return entry(principal)
	}
	whole := ast.NewObject()
	for it := s.tables[tPrincipals].Iterator(); !it.Done(); {
		p, _, _ := it.Next()
		if o := entry(p); o.Len() > 0 {
			whole.Insert(str(p), ast.NewTerm(o))
		}
	}
	return whole
}

// appliesObject materializes the derived table at: an entry for every
// collection some grant applies at.
func (s *snapshot) appliesObject() ast.Object {
	o := ast.NewObject()
	for it := s.tables[tCollections].Iterator(); !it.Done(); {
		path, _, _ := it.Next()
		if v, ok := applies(s.grantMaps(path, nil)); ok {
			o.Insert(str(path), v)
		}
	}
	return o
}

// schedEntries is the sched entries of the principal's subjects, those it
// has: what hs[principal] and pt[principal] derive from. The principal's
// entry and each subject's are recorded in reads, as the policy reading
// them would.
func (s *snapshot) schedEntries(principal string, reads *readLog) []ast.Object {
	p := s.principal(principal, reads)
	if p == nil {
		return nil
	}
	var entries []ast.Object
	for _, k := range p.keys {
		v, _ := s.tables[tSchedule].Get(k.name)
		reads.record(tSchedule, k.name, v)
		if v != nil {
			if o, ok := v.Value.(ast.Object); ok {
				entries = append(entries, o)
			}
		}
	}
	return entries
}

// schedEntries is snapshot.schedEntries, read once per transaction and
// principal: a creation's decision may read both hs[principal][path] and
// pt[principal].
func (t *readTxn) schedEntries(principal string) []ast.Object {
	if !t.schedRead || t.schedPrincipal != principal {
		t.schedPrincipal, t.schedRead = principal, true
		t.sched = t.snap.schedEntries(principal, t.reads)
	}
	return t.sched
}

// schedulesSubtree reports whether one of a principal's sched entries
// (schedEntries) has the path as "subtree" or "both", the topmost
// collections where a subtree grant of its subject holds node.schedule.
func schedulesSubtree(entries []ast.Object, path *ast.Term) bool {
	for _, o := range entries {
		if k := o.Get(path); k != nil && stringOf(k) != "all" {
			return true
		}
	}
	return false
}

// highestSchedulable computes an entry hs[principal][path] of the derived
// table hs from the principal's sched entries (schedEntries) and the
// collection's chain c[path] (itself first): the highest collection of
// the chain where schedulesSubtree holds, as the chain's own term; nil
// when there is none.
func highestSchedulable(entries []ast.Object, chain *ast.Term) *ast.Term {
	if len(entries) == 0 || chain == nil {
		return nil
	}
	a, ok := chain.Value.(*ast.Array)
	if !ok {
		return nil
	}
	for i := a.Len() - 1; i >= 0; i-- {
		if p := a.Elem(i); schedulesSubtree(entries, p) {
			return p
		}
	}
	return nil
}

// readHighest reads hs[principal][path]: the chain and the principal's
// sched entries are recorded in reads, as the policy reading them would.
// A principal without sched entries has no entry, whatever the chain.
func (t *readTxn) readHighest(path storage.Path) (*ast.Term, storage.Path, bool) {
	entries := t.schedEntries(path[3])
	if len(entries) == 0 {
		return nil, nil, false
	}
	chain, _ := t.snap.tables[tCollections].Get(path[4])
	t.reads.record(tCollections, path[4], chain)
	v := highestSchedulable(entries, chain)
	return v, path[5:], v != nil
}

// topmostSchedulable computes an entry pt[principal] of the derived table
// pt from the principal's sched entries (schedEntries): of the paths they
// have as "all" or "both", those with none of them above, sorted (["/"]
// when "/" is one); nil when there are none. The entries' own path terms
// make the array.
func topmostSchedulable(entries []ast.Object) *ast.Term {
	n := 0
	for _, o := range entries {
		n += o.Len()
	}
	anywhere := make(map[string]*ast.Term, n)
	for _, o := range entries {
		o.Foreach(func(path, kind *ast.Term) {
			if stringOf(kind) != "subtree" {
				anywhere[stringOf(path)] = path
			}
		})
	}
	if len(anywhere) == 0 {
		return nil
	}
	if root, ok := anywhere["/"]; ok {
		return ast.ArrayTerm(root)
	}
	top := make([]*ast.Term, 0, len(anywhere))
	for path, t := range anywhere {
		if !heldAbove(anywhere, path) {
			top = append(top, t)
		}
	}
	slices.SortFunc(top, func(a, b *ast.Term) int { return strings.Compare(stringOf(a), stringOf(b)) })
	return ast.ArrayTerm(top...)
}

// highestObject is hs[principal] whole: the highest schedulable
// collection (highestSchedulable) of every collection's chain that has
// one, {path: highest}.
func (s *snapshot) highestObject(entries []ast.Object) ast.Object {
	o := ast.NewObject()
	if len(entries) == 0 {
		return o
	}
	for it := s.tables[tCollections].Iterator(); !it.Done(); {
		path, chain, _ := it.Next()
		if h := highestSchedulable(entries, chain); h != nil {
			o.Insert(str(path), h)
		}
	}
	return o
}

// schedObjects materializes the derived tables hs and pt: an entry for
// every principal that has one. Never on a decision's path (the policy
// reads one entry).
func (s *snapshot) schedObjects() (hs, pt ast.Object) {
	hs, pt = ast.NewObject(), ast.NewObject()
	for it := s.tables[tPrincipals].Iterator(); !it.Done(); {
		p, _, _ := it.Next()
		entries := s.schedEntries(p, nil)
		if o := s.highestObject(entries); o.Len() > 0 {
			hs.Insert(str(p), ast.NewTerm(o))
		}
		if top := topmostSchedulable(entries); top != nil {
			pt.Insert(str(p), top)
		}
	}
	return hs, pt
}

// readHolds reads holds[principal][path] and below: the operations the
// principal holds at the collection through the roles it holds there
// (held), each with the options those roles grant with it. The policy
// asks for one operation (holds[principal][path][operation]), and only
// that one is gathered.
func (t *readTxn) readHolds(path storage.Path) (*ast.Term, storage.Path, bool) {
	var buf [16]*ast.Term
	held := t.rolesAt(path[3], path[4], buf[:0])
	if len(held) == 0 {
		return nil, nil, false
	}
	if len(path) == 5 {
		v := opsHeld(held, t.snap.tables[tRoles], t.reads)
		return v, path[5:], v != nil
	}
	v := optionsHeld(held, t.snap.tables[tRoles], operationTerm(path[5]), t.reads)
	return v, path[6:], v != nil
}

// optionsHeld computes an entry holds[principal][path][operation] of the
// derived table holds from held[principal][path]: the union of the option
// sets that the roles held grant with the operation ({option: true},
// empty when none of them grants an option); nil when no role held has
// the operation. The roles read are recorded in reads.
func optionsHeld(held []*ast.Term, roles *table, op *ast.Term, reads *readLog) *ast.Term {
	var found *ast.Term
	var merged ast.Object
	for _, r := range held {
		opts := roleOperation(roles, stringOf(r), op, reads)
		if opts == nil {
			continue
		}
		if found == nil {
			found = opts // most often the only one: the role's own set
			continue
		}
		if merged == nil {
			if opts.Equal(found) {
				continue
			}
			merged = ast.NewObject()
			addKeys(merged, found)
		}
		addKeys(merged, opts)
	}
	if merged != nil {
		return ast.NewTerm(merged)
	}
	return found
}

// opsHeld computes holds[principal][path]: {operation: options} for every
// operation of the roles held (optionsHeld); nil when they have none.
func opsHeld(held []*ast.Term, roles *table, reads *readLog) *ast.Term {
	ops := ast.NewObject()
	for _, r := range held {
		role, _ := roles.Get(stringOf(r))
		reads.record(tRoles, stringOf(r), role)
		ro, ok := valueOf(role).(ast.Object)
		if !ok {
			continue
		}
		// A loop, not Foreach: a closure would take held, which
		// readHolds keeps on its stack, to the heap.
		for _, op := range ro.Keys() {
			if ops.Get(op) == nil {
				ops.Insert(op, optionsHeld(held, roles, op, reads))
			}
		}
	}
	if ops.Len() == 0 {
		return nil
	}
	return ast.NewTerm(ops)
}

// roleOperation is roles[role][op], the options the role grants with the
// operation, recording the role read; nil when it has no such operation.
func roleOperation(roles *table, role string, op *ast.Term, reads *readLog) *ast.Term {
	v, _ := roles.Get(role)
	reads.record(tRoles, role, v)
	if ro, ok := valueOf(v).(ast.Object); ok {
		return ro.Get(op)
	}
	return nil
}

// valueOf is t's value, nil for no term.
func valueOf(t *ast.Term) ast.Value {
	if t == nil {
		return nil
	}
	return t.Value
}

// addKeys inserts the keys of set, an object {item: true}, into o.
func addKeys(o ast.Object, set *ast.Term) {
	if so, ok := set.Value.(ast.Object); ok {
		so.Foreach(func(k, v *ast.Term) { o.Insert(k, v) })
	}
}

// holdsObject materializes the derived table holds, or with one principal
// (principal != ""), that principal's entry, from held (heldObject).
// Never on a decision's path.
func (s *snapshot) holdsObject(principal string) ast.Object {
	roles := s.tables[tRoles]
	entry := func(held ast.Object) ast.Object {
		o := ast.NewObject()
		held.Foreach(func(path, roleSet *ast.Term) {
			if v := opsHeld(roleSet.Value.(ast.Object).Keys(), roles, nil); v != nil {
				o.Insert(path, v)
			}
		})
		return o
	}
	if principal != "" {
		return entry(s.heldObject(principal))
	}
	whole := ast.NewObject()
	s.heldObject("").Foreach(func(p, held *ast.Term) {
		if o := entry(held.Value.(ast.Object)); o.Len() > 0 {
			whole.Insert(p, ast.NewTerm(o))
		}
	})
	return whole
}
