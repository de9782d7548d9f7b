package authz

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// principalEntry is an entry of the table p, {kind, name, active, admin,
// default, s}, as a snapshot keeps it: a struct and two slices, where the
// OPA object of an object and its set spent about twenty heap objects on
// a principal (with enterprise-large a fifth of the heap's objects, and
// the collector marks them all at every cycle: docs/performance.md, "The
// principals as a struct").
//
// Like grantMap it is a compactEntry: nothing hands it to OPA. The
// storage gives the policy a field of it (findPath: the common path reads
// active and admin) or its object (Find), an export its object
// (tableObject), and the derived tables read its subjects' keys directly
// (subjectKeysOf).
type principalEntry struct {
	// kind is the compiler's shared term; name and def (the field default)
	// are strings, made terms when read: they are the principal's own,
	// or rarely shared.
	kind      *ast.Term
	name, def string
	active    bool
	admin     bool
	// keys are the set s, sorted: each subject and its hash (keyOf),
	// computed once when the entry is compiled rather than by every
	// decision that probes the grant maps with them (walking a set's terms
	// and hashing their names took about 4 µs of such a decision).
	// subjects are their terms, the compiler's shared ones, but for the
	// principal's own subject, which no other entry shares: nil, made
	// when read.
	keys     []subjectKey
	subjects []*ast.Term
}

var _ ast.Value = (*principalEntry)(nil)

// principal is the entry (a principalEntry) of a principal whose own
// subject is own and which acts as the subjects others too (which may
// repeat or name own again; t's shared terms).
func (t terms) principal(kind, name string, active, admin bool, def, own string, others []string) *ast.Term {
	held := append([]string{own}, others...)
	slices.Sort(held) // the set's order, as an OPA object walks its keys
	held = slices.Compact(held)
	p := &principalEntry{kind: t.str(kind), name: name, def: def, active: active, admin: admin,
		keys: make([]subjectKey, len(held)), subjects: make([]*ast.Term, len(held))}
	for i, s := range held {
		p.keys[i] = keyOf(s)
		if s != own {
			p.subjects[i] = t.str(s)
			p.keys[i].name = stringOf(p.subjects[i]) // the shared string
		}
	}
	return ast.NewTerm(p)
}

// principalOf is the principal of an entry of p, nil for none.
func principalOf(entry *ast.Term) *principalEntry {
	if entry == nil {
		return nil
	}
	p, _ := entry.Value.(*principalEntry)
	return p
}

// field is the value of one of the entry's fields, and whether it has it.
// A decision's common path reads active and admin, which make nothing;
// name and default box their strings, and s is made whole.
func (p *principalEntry) field(name string) (ast.Value, bool) {
	switch name {
	case "active":
		return ast.InternedTerm(p.active).Value, true
	case "admin":
		return ast.InternedTerm(p.admin).Value, true
	case "kind":
		return p.kind.Value, true
	case "name":
		return ast.String(p.name), true
	case "default":
		return ast.String(p.def), true
	case principalSubjects:
		return p.set(), true
	}
	return nil, false
}

// set is the set s as the policy reads it, {subject: true}.
func (p *principalEntry) set() ast.Object {
	kvs := make([][2]*ast.Term, len(p.keys))
	for i, k := range p.keys {
		s := p.subjects[i]
		if s == nil {
			s = str(k.name)
		}
		kvs[i] = [2]*ast.Term{s, ast.InternedTerm(true)}
	}
	return ast.NewObject(kvs...)
}

// object is the entry as the policy reads it.
func (p *principalEntry) object() ast.Object {
	var t terms // nil: the field names' own terms (fieldTerms)
	return ast.NewObject(t.kv("kind", p.kind), t.kv("name", str(p.name)), t.kv("active", ast.InternedTerm(p.active)),
		t.kv("admin", ast.InternedTerm(p.admin)), t.kv("default", str(p.def)), t.kv(principalSubjects, ast.NewTerm(p.set())))
}

func (p *principalEntry) same(v ast.Value) bool {
	o, ok := v.(*principalEntry)
	return ok && p.equal(o)
}

// equal reports whether p and o are the same entry.
func (p *principalEntry) equal(o *principalEntry) bool {
	return p.active == o.active && p.admin == o.admin && stringOf(p.kind) == stringOf(o.kind) &&
		p.name == o.name && p.def == o.def &&
		slices.EqualFunc(p.keys, o.keys, func(a, b subjectKey) bool { return a.name == b.name })
}

// Compare orders p as its object (compareEntry).
func (p *principalEntry) Compare(other ast.Value) int { return compareEntry(p, other) }

// Find is the value at path in p's object.
func (p *principalEntry) Find(path ast.Ref) (ast.Value, error) { return p.object().Find(path) }

func (p *principalEntry) Hash() int         { return p.object().Hash() }
func (p *principalEntry) IsGround() bool    { return true }
func (p *principalEntry) String() string    { return p.object().String() }
func (p *principalEntry) StringLength() int { return p.object().StringLength() }
