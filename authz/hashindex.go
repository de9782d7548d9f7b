package authz

import (
	"hash/maphash"
	"slices"
)

// hashIndex is a persistent hash table of a snapshot's entries by name,
// for the lookups decisions make. A lookup hashes the name once and
// reads one bucket of a few entries, where a lookup in the B+tree beside
// it (table) compares the name with a dozen others, mostly paths sharing a
// long prefix, on four levels of nodes that are rarely in the cache:
// random lookups among 50,000 collection paths on a large heap took
// 250 ns against 630 (docs/performance.md).
//
// An index is never changed once built: with copies the pages and
// buckets a write touches and shares the rest, so a version costs
// O(changed keys × bucket size) plus the page list (8 bytes a page).
// It grows with its entries and does not shrink: a table that lost most
// of them keeps its width until the next whole compile.
type hashIndex[V comparable] struct {
	pages []*hashPage[V]
	n     int
}

// hashPage is pageBuckets buckets, the unit a write copies.
type hashPage[V comparable] [pageBuckets][]hashSlot[V]

type hashSlot[V comparable] struct {
	hash uint64
	name string
	v    V
}

const (
	pageBuckets = 64
	// An index is built with about minLoad entries a bucket and rebuilt
	// twice as wide when a write takes it past maxLoad.
	minLoad = 4
	maxLoad = 8
)

var indexSeed = maphash.MakeSeed()

// newHashIndex builds an index of the given entries (names unique).
func newHashIndex[V comparable](n int, each func(add func(name string, v V))) *hashIndex[V] {
	pages := 1
	for pages*pageBuckets*minLoad < n {
		pages *= 2
	}
	x := &hashIndex[V]{pages: make([]*hashPage[V], pages)}
	for i := range x.pages {
		x.pages[i] = new(hashPage[V])
	}
	each(func(name string, v V) {
		h := maphash.String(indexSeed, name)
		b := x.bucket(h)
		*b = append(*b, hashSlot[V]{hash: h, name: name, v: v})
		x.n++
	})
	return x
}

func (x *hashIndex[V]) bucket(h uint64) *[]hashSlot[V] {
	i := h & uint64(len(x.pages)*pageBuckets-1)
	return &x.pages[i/pageBuckets][i%pageBuckets]
}

// Get is the entry named, and whether there is one.
func (x *hashIndex[V]) Get(name string) (V, bool) {
	h := maphash.String(indexSeed, name)
	for _, s := range *x.bucket(h) {
		if s.hash == h && s.name == name {
			return s.v, true
		}
	}
	var none V
	return none, false
}

// Len is the number of entries.
func (x *hashIndex[V]) Len() int { return x.n }

// with returns a new index with the entries set (the zero value
// removes one) and shares everything else with x.
func (x *hashIndex[V]) with(changes map[string]V) *hashIndex[V] {
	var none V
	next := &hashIndex[V]{pages: append([]*hashPage[V](nil), x.pages...), n: x.n}
	ownPage := make(map[uint64]bool, len(changes))
	ownBucket := make(map[uint64]bool, len(changes))
	for name, v := range changes {
		h := maphash.String(indexSeed, name)
		i := h & uint64(len(next.pages)*pageBuckets-1)
		if p := i / pageBuckets; !ownPage[p] {
			cp := *next.pages[p]
			next.pages[p], ownPage[p] = &cp, true
		}
		b := next.bucket(h)
		if !ownBucket[i] {
			// The bucket's array is shared with x: a new one, with room.
			*b, ownBucket[i] = append(make([]hashSlot[V], 0, len(*b)+1), *b...), true
		}
		at := -1
		for j, s := range *b {
			if s.hash == h && s.name == name {
				at = j
				break
			}
		}
		switch {
		case v == none && at >= 0:
			*b = slices.Delete(*b, at, at+1) // which zeroes the slot left over
			next.n--
		case v == none:
		case at >= 0:
			(*b)[at].v = v
		default:
			*b = append(*b, hashSlot[V]{hash: h, name: name, v: v})
			next.n++
		}
	}
	if next.n > len(next.pages)*pageBuckets*maxLoad {
		return next.rebuilt()
	}
	return next
}

// rebuilt is the same entries in an index sized for them.
func (x *hashIndex[V]) rebuilt() *hashIndex[V] {
	return newHashIndex(x.n, func(add func(string, V)) {
		for _, p := range x.pages {
			for _, b := range p {
				for _, s := range b {
					add(s.name, s.v)
				}
			}
		}
	})
}
