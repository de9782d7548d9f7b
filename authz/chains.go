package authz

import (
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// chainMaps is a collection's grant maps, kept per collection beside the
// tables (snapshot.chains) so that a decision finds them with one lookup:
// gathering them from the tables took one lookup of c, one of gs for
// every path of the collection's chain and one of ge, eight on average
// with enterprise-large, each a few cache misses (docs/performance.md).
// It holds the very terms of the tables, and the read log records them
// as if they had been looked up (snapshot.grantMaps).
type chainMaps struct {
	// col is the collection's entry c[path], its chain.
	col *ast.Term
	// subtree[i] is gs of the chain's i-th path (nil when it has none),
	// exact ge of the collection.
	subtree []*ast.Term
	exact   *ast.Term
	// maps are the grant maps of those that have one, nearest first, then
	// the exact one.
	maps []*grantMap
}

// chainOf computes the chainMaps of the collection at path from the
// tables; nil when there is no such collection. parentOf gives the entry
// of a collection above it on the same tables, nil when it has none: the
// collection's chain is its parent's (its chain's second path) with
// itself in front, so with the parent's entry only its own gs and ge are
// looked up.
func chainOf(tables map[string]*table, path string, parentOf func(string) *chainMaps) *chainMaps {
	col, _ := tables[tCollections].Get(path)
	if col == nil {
		return nil
	}
	cm := &chainMaps{col: col}
	if chain, ok := col.Value.(*ast.Array); ok {
		n := chain.Len()
		cm.subtree = make([]*ast.Term, n)
		var parent *chainMaps
		if n > 1 {
			parent = parentOf(stringOf(chain.Elem(1)))
		}
		if parent != nil && len(parent.subtree) == n-1 {
			cm.subtree[0], _ = tables[tSubtree].Get(path)
			copy(cm.subtree[1:], parent.subtree)
		} else {
			for i := range n {
				cm.subtree[i], _ = tables[tSubtree].Get(stringOf(chain.Elem(i)))
			}
		}
	}
	cm.exact, _ = tables[tExact].Get(path)
	cm.maps = make([]*grantMap, 0, len(cm.subtree)+1)
	add := func(v *ast.Term) {
		if v != nil {
			if m, ok := v.Value.(*grantMap); ok {
				cm.maps = append(cm.maps, m)
			}
		}
	}
	for _, v := range cm.subtree {
		add(v)
	}
	add(cm.exact)
	return cm
}

// noParent is chainOf's parentOf when no entry is at hand: every gs of
// the chain is looked up.
func noParent(string) *chainMaps { return nil }

// newChainIndex computes every collection's chainMaps. The table c is
// walked in name order, where a collection comes after its parent (a
// prefix of its path), so each is derived from its parent's.
func newChainIndex(tables map[string]*table) *hashIndex[*chainMaps] {
	cols := tables[tCollections]
	done := make(map[string]*chainMaps, cols.Len())
	parentOf := func(p string) *chainMaps { return done[p] }
	return newHashIndex(cols.Len(), func(add func(string, *chainMaps)) {
		for it := cols.Iterator(); !it.Done(); {
			path, _, _ := it.Next()
			cm := chainOf(tables, path, parentOf)
			done[path] = cm
			add(path, cm)
		}
	})
}

// maxChainRecompute is the most collections below a changed c or gs entry
// whose chainMaps a write recomputes, some 4 µs each with
// enterprise-large: a subtree grant near the root reaches most
// collections (70,000 there, 200 ms and more).
// Past it the changed collection becomes a stale root (snapshot.stale):
// decisions below it gather the grant maps from the tables, as they did
// before the index, until refreshChains has rebuilt the index off the
// write path.
var maxChainRecompute = 512

// chainRefresh turns refreshChains on; tests turn it off to keep stale
// roots.
var chainRefresh = true

// maxStaleRoots is the most stale roots a snapshot lists; past it the
// whole index is stale ("/").
const maxStaleRoots = 16

// chainsAfter is the chain index of tables (the new version) after a
// write that changed changes, from the index of the version before and
// its stale roots: a collection's entry changes with its own c, gs or ge
// entry, and with the gs entry of any collection above it, so a change to
// c or gs recomputes the collection's entry and those of every
// collection below it, in name order (parents first), unless they are
// more than most (maxChainRecompute): then the collection is a stale
// root. Entries below a stale root are not kept up to date.
func chainsAfter(old *hashIndex[*chainMaps], stale []string, tables map[string]*table, changes map[key]*ast.Term, most int) (*hashIndex[*chainMaps], []string) {
	affected := map[string]bool{}
	for k := range changes {
		switch k.table {
		case tExact:
			affected[k.name] = true
		case tCollections, tSubtree:
			if underStale(stale, k.name) {
				continue
			}
			below := collectionsBelow(tables[tCollections], k.name, most+1)
			if len(below) > most {
				stale = append(slices.Clone(stale), k.name)
				continue
			}
			affected[k.name] = true
			for _, p := range below {
				affected[p] = true
			}
		}
	}
	if len(stale) > maxStaleRoots {
		stale = []string{"/"}
	}
	paths := make([]string, 0, len(affected))
	for p := range affected {
		if !underStale(stale, p) {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return old, stale
	}
	slices.Sort(paths)
	next := make(map[string]*chainMaps, len(paths))
	parentOf := func(p string) *chainMaps {
		if cm, recomputed := next[p]; recomputed {
			return cm
		}
		cm, _ := old.Get(p)
		return cm
	}
	for _, path := range paths {
		next[path] = chainOf(tables, path, parentOf)
	}
	return old.with(next), stale
}

// collectionsBelow lists the collections below path in c, at most most of
// them.
func collectionsBelow(cols *table, path string, most int) []string {
	prefix := path + "/"
	if path == "/" {
		prefix = "/"
	}
	var below []string
	it := cols.entries.Iterator()
	for it.Seek(prefix); !it.Done() && len(below) < most; {
		p, _, _ := it.Next()
		if !strings.HasPrefix(p, prefix) {
			break
		}
		if p != path {
			below = append(below, p)
		}
	}
	return below
}

// underStale reports whether path is one of the stale roots or below one.
func underStale(stale []string, path string) bool {
	for _, r := range stale {
		if path == r || r == "/" || strings.HasPrefix(path, r) && len(path) > len(r) && path[len(r)] == '/' {
			return true
		}
	}
	return false
}

// refreshChains rebuilds the chain index of the current snapshot when it
// has stale roots, off the write path (some 200 ms with enterprise-large;
// refreshChainsOf). One runs at a time; a write that leaves stale roots
// while it runs is followed by refreshUntilFresh.
func (e *Engine) refreshChains() {
	if !chainRefresh || !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	most := maxChainRecompute
	go e.refreshUntilFresh(e.opa.cur.Load(), most)
}

// refreshUntilFresh refreshes the chain index from s, then again from the
// current snapshot for as long as one has stale roots: a write made
// during a rebuild can leave some (its change reaches too many
// collections, or the snapshot no longer remembers the writes since s),
// and its own refreshChains found this one running. It clears
// e.refreshing when done; the caller has set it.
func (e *Engine) refreshUntilFresh(s *snapshot, most int) {
	for {
		e.refreshChainsOf(s, most)
		e.refreshing.Store(false)
		s = e.opa.cur.Load()
		if len(s.stale) == 0 || !e.refreshing.CompareAndSwap(false, true) {
			return
		}
	}
}

// refreshChainsOf builds the chain index of s's tables whole and installs
// it in a copy of the snapshot current by then, the same revision and
// tables: the writes that came after s are applied to it as they were to
// the index they found (chainsAfter). It gives up when the current
// snapshot no longer remembers them all (base).
func (e *Engine) refreshChainsOf(s *snapshot, most int) {
	chains := newChainIndex(s.tables)
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	cur := e.opa.cur.Load()
	if cur.base > s.rev {
		return
	}
	since := map[key]*ast.Term{}
	for _, c := range cur.recent {
		if c.rev > s.rev {
			for _, k := range c.chains {
				since[k] = nil
			}
		}
	}
	fresh := *cur
	fresh.chains, fresh.stale = chainsAfter(chains, nil, cur.tables, since, most)
	e.opa.cur.Store(&fresh)
}
