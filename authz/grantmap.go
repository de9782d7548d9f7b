package authz

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/store"
)

// grantMap is an entry of the tables gs and ge, {subject: {role: grant
// ID}}, as a snapshot keeps it: flat slices of strings shared with the
// store's rows, where an OPA object of objects spends a dozen heap objects
// on a subject with one role. These maps are most of the compiled state
// (with enterprise-large 77,000 entries, a fifth of the heap's objects),
// and the collector marks the whole state at every cycle, so their
// objects are paid for under every load (docs/performance.md, "What a
// collection marks").
//
// It is a compactEntry (it satisfies ast.Value only so that it can sit in
// a table beside the other entries): nothing hands it to OPA. The storage
// gives the policy its object (Find, dataStore.Read), an export its
// object (tableObject), and the derived tables read it directly
// (grantMaps).
type grantMap struct {
	// subjects are sorted; subject i's roles and their grants are
	// roles[ends[i-1]:ends[i]] and ids[ends[i-1]:ends[i]] (from 0 for the
	// first), each subject's sorted by role.
	subjects []string
	ends     []uint32
	// roles are the compiler's shared terms, so that the roles a
	// principal holds (heldRoles) are made of terms the state already has.
	roles []*ast.Term
	ids   []string
	// filter has two bits set for each subject (subjectKey's hash). A
	// principal acts as a dozen subjects and a collection's decision
	// reads half a dozen maps, most of a few subjects each; 97 % of the
	// pairs find nothing, and the filter answers most of those without a
	// binary search's string comparisons. A map of more than filterMost
	// subjects (a collection near the root, granted to many) keeps a
	// filter of its own size in big instead, about a byte a subject.
	filter [filterWords]uint64
	big    []uint64
}

var _ ast.Value = (*grantMap)(nil)

const (
	// filterWords is the size of a grantMap's filter in 64-bit words.
	filterWords = 4
	// filterMost is the most subjects the filter stands for; a map with
	// more has a big one. With two bits a subject, a filter of 256 bits
	// tells a missing subject at 32 subjects 95 times out of 100.
	filterMost = 48
	// bigBits is how many bits of a big filter stand for a subject, at
	// least: 8 tells a missing subject 95 times out of 100.
	bigBits = 8
)

// subjectSeed seeds the filters' hash. Filters live in memory only, so
// the seed is the process's.
var subjectSeed = maphash.MakeSeed()

// subjectKey is a subject and the hash that the filters use, computed
// once for all the maps a subject is looked up in.
type subjectKey struct {
	name string
	hash uint64
}

func keyOf(subject string) subjectKey {
	return subjectKey{subject, maphash.String(subjectSeed, subject)}
}

// filterBits are a hash's two bits in a filter of words 64-bit words (a
// power of two): word and bit, twice.
func filterBits(h uint64, words int) (w1, b1, w2, b2 uint64) {
	mask := uint64(words)*64 - 1
	x, y := h&mask, (h>>32)&mask
	return x / 64, 1 << (x % 64), y / 64, 1 << (y % 64)
}

// mayHold reports whether m may have grants for the subject of hash h:
// false means it has none.
func (m *grantMap) mayHold(h uint64) bool {
	f := m.filter[:]
	if m.big != nil {
		f = m.big
	}
	w1, b1, w2, b2 := filterBits(h, len(f))
	return f[w1]&b1 != 0 && f[w2]&b2 != 0
}

// fill sets the filter from the subjects.
func (m *grantMap) fill() {
	f := m.filter[:]
	if n := len(m.subjects); n > filterMost {
		words := 1
		for words*64 < n*bigBits {
			words *= 2
		}
		m.big = make([]uint64, words)
		f = m.big
	}
	for _, s := range m.subjects {
		w1, b1, w2, b2 := filterBits(keyOf(s).hash, len(f))
		f[w1] |= b1
		f[w2] |= b2
	}
}

// grantsOf is the roles of subject k in m and their grant IDs, nil when
// it has none.
func (m *grantMap) grantsOf(k subjectKey) ([]*ast.Term, []string) {
	if !m.mayHold(k.hash) {
		return nil, nil
	}
	i, ok := slices.BinarySearch(m.subjects, k.name)
	if !ok {
		return nil, nil
	}
	from := m.from(i)
	return m.roles[from:m.ends[i]], m.ids[from:m.ends[i]]
}

// from is where subject i's roles start.
func (m *grantMap) from(i int) uint32 {
	if i == 0 {
		return 0
	}
	return m.ends[i-1]
}

// object is m as the policy reads it.
func (m *grantMap) object() ast.Object {
	kvs := make([][2]*ast.Term, len(m.subjects))
	for i, s := range m.subjects {
		from := m.from(i)
		roles := make([][2]*ast.Term, 0, m.ends[i]-from)
		for j := from; j < m.ends[i]; j++ {
			roles = append(roles, [2]*ast.Term{m.roles[j], str(m.ids[j])})
		}
		kvs[i] = [2]*ast.Term{str(s), obj(roles...)}
	}
	return ast.NewObject(kvs...)
}

func (m *grantMap) same(v ast.Value) bool {
	o, ok := v.(*grantMap)
	return ok && m.equal(o)
}

// equal reports whether m and o hold the same grants: their slices are in
// one order (sorted subjects, each one's roles sorted).
func (m *grantMap) equal(o *grantMap) bool {
	return slices.Equal(m.subjects, o.subjects) && slices.Equal(m.ends, o.ends) && slices.Equal(m.ids, o.ids) &&
		slices.EqualFunc(m.roles, o.roles, func(a, b *ast.Term) bool { return stringOf(a) == stringOf(b) })
}

// Compare orders m as its object (compareEntry).
func (m *grantMap) Compare(other ast.Value) int { return compareEntry(m, other) }

// Find is the value at path in m's object.
func (m *grantMap) Find(path ast.Ref) (ast.Value, error) { return m.object().Find(path) }

func (m *grantMap) Hash() int         { return m.object().Hash() }
func (m *grantMap) IsGround() bool    { return true }
func (m *grantMap) String() string    { return m.object().String() }
func (m *grantMap) StringLength() int { return m.object().StringLength() }

// grantMap is {subject: {role: grant ID}} for the grants of gs that keep
// keeps, as a grantMap; nil when none is kept. A subject that holds a
// role by several grants holds it by the last of them in gs's order, as
// groupGrants has it.
//
// A whole compile makes one for every collection (with enterprise-large
// 77,000 of them), and grouping their grants in a map of maps was two
// fifths of its CPU: they are grouped by sorting one slice instead.
func (t terms) grantMap(gs []*store.Grant, keep func(*store.Grant) bool) *ast.Term {
	type held struct {
		subject string // the subject's shared string
		role    string
		id      string
		at      int // the grant's place in gs
	}
	list := make([]held, 0, len(gs))
	for i, g := range gs {
		if keep(g) {
			list = append(list, held{stringOf(t.subject(g.Subject)), g.Role, g.ID, i})
		}
	}
	if len(list) == 0 {
		return nil
	}
	// By subject, then role; of one subject's grants of one role, the
	// last in gs first, and that one is kept.
	slices.SortFunc(list, func(a, b held) int {
		return cmp.Or(strings.Compare(a.subject, b.subject), strings.Compare(a.role, b.role), cmp.Compare(b.at, a.at))
	})
	list = slices.CompactFunc(list, func(a, b held) bool { return a.subject == b.subject && a.role == b.role })
	subjectsN := 0
	for i, h := range list {
		if i == 0 || h.subject != list[i-1].subject {
			subjectsN++
		}
	}
	m := &grantMap{subjects: make([]string, 0, subjectsN), ends: make([]uint32, 0, subjectsN),
		roles: make([]*ast.Term, 0, len(list)), ids: make([]string, 0, len(list))}
	for i, h := range list {
		if i == 0 || h.subject != list[i-1].subject {
			m.subjects = append(m.subjects, h.subject)
		}
		m.roles = append(m.roles, t.str(h.role))
		m.ids = append(m.ids, h.id)
		if i+1 == len(list) || list[i+1].subject != h.subject {
			m.ends = append(m.ends, uint32(len(m.roles)))
		}
	}
	m.fill()
	return ast.NewTerm(m)
}
