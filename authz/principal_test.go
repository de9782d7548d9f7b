package authz

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// principalObject is the entry of p as an OPA object, written out here
// rather than by principalEntry.object: what the policy and an export
// read.
func principalObject(kind, name string, active, admin bool, def string, subjects []string) ast.Value {
	set := ast.NewObject()
	for _, s := range subjects {
		set.Insert(ast.StringTerm(s), ast.BooleanTerm(true))
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("kind"), ast.StringTerm(kind)),
		ast.Item(ast.StringTerm("name"), ast.StringTerm(name)),
		ast.Item(ast.StringTerm("active"), ast.BooleanTerm(active)),
		ast.Item(ast.StringTerm("admin"), ast.BooleanTerm(admin)),
		ast.Item(ast.StringTerm("default"), ast.StringTerm(def)),
		ast.Item(ast.StringTerm("s"), ast.NewTerm(set)))
}

// TestPrincipalEntryReadsAsItsObject checks that a principal's entry, kept
// as a principalEntry, reads as the object it stands for: whole, field by
// field as the storage serves the policy (findPath), and through its set;
// that it compares equal to the same principal compiled again, whatever
// the order of its subjects, and unequal to one that differs in anything;
// and that its subjects' keys are their names', in the set's order.
func TestPrincipalEntryReadsAsItsObject(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 5))
	pool := []string{"user:u1", "authenticated", "team:o1/t1", "team:o1/t2", "team:o2/t1", "org:o1", "org:o2", "team:o3/a b", "k8s-serviceaccount:ns/ci"}
	for round := range 300 {
		kind := []string{"user", "service-account", "anonymous"}[rnd.IntN(3)]
		name := fmt.Sprintf("n%d", rnd.IntN(5))
		active, admin := rnd.IntN(4) > 0, rnd.IntN(4) == 0
		def := []string{"", "/Shared", "/Shared/Private/u1"}[rnd.IntN(3)]
		own := pool[rnd.IntN(len(pool))]
		var subs []string
		for range rnd.IntN(8) {
			subs = append(subs, pool[rnd.IntN(len(pool))]) // repeats, own too
		}
		entry := terms{}.principal(kind, name, active, admin, def, own, subs)
		p := principalOf(entry)
		if p == nil {
			t.Fatalf("round %d: the entry is %T, not a principalEntry", round, entry.Value)
		}
		want := principalObject(kind, name, active, admin, def, append([]string{own}, subs...))
		if got := p.object(); got.Compare(want) != 0 {
			t.Fatalf("round %d: the entry's object is %v, want %v", round, got, want)
		}
		whole, ok := findPath(p, nil)
		if !ok || whole.Compare(want) != 0 {
			t.Fatalf("round %d: read whole, the entry is %v (%v), want %v", round, whole, ok, want)
		}
		wantObj := want.(ast.Object)
		for _, f := range []string{"kind", "name", "active", "admin", "default", "s", "missing"} {
			got, ok := findPath(p, storage.Path{f})
			w, wok := wantObj.Get(ast.StringTerm(f)), wantObj.Get(ast.StringTerm(f)) != nil
			if ok != wok || ok && got.Compare(w.Value) != 0 {
				t.Fatalf("round %d: the field %s reads %v (%v), want %v (%v)", round, f, got, ok, w, wok)
			}
		}
		for _, s := range pool {
			got, ok := findPath(p, storage.Path{"s", s})
			if w := wantObj.Get(ast.StringTerm("s")).Value.(ast.Object).Get(ast.StringTerm(s)); ok != (w != nil) {
				t.Fatalf("round %d: s[%s] reads %v (%v), want %v", round, s, got, ok, w)
			}
		}
		// The keys are the set's subjects, in its order; only the own
		// subject has no term of its own.
		for i, k := range p.keys {
			if (p.subjects[i] == nil) != (k.name == own) {
				t.Fatalf("round %d: the subject %s has the term %v, own %s", round, k.name, p.subjects[i], own)
			}
		}
		// The keys are the set's subjects, in its order.
		var names []string
		wantObj.Get(ast.StringTerm("s")).Value.(ast.Object).Foreach(func(k, _ *ast.Term) { names = append(names, stringOf(k)) })
		keys := make([]string, len(p.keys))
		for i, k := range p.keys {
			if k != keyOf(k.name) {
				t.Fatalf("round %d: the key of %s is %v", round, k.name, k)
			}
			keys[i] = k.name
		}
		if !slices.Equal(keys, names) {
			t.Fatalf("round %d: the keys are %v, the set's subjects %v", round, keys, names)
		}
		// The same principal compiled again, its subjects in another
		// order, is equal; one that differs in anything is not.
		shuffled := slices.Clone(subs)
		rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := (terms{}).principal(kind, name, active, admin, def, own, shuffled); !again.Equal(entry) || again.Value.Compare(want) != 0 {
			t.Fatalf("round %d: the same principal compiled again is %v, want %v", round, again, entry)
		}
		for i, other := range []*ast.Term{
			terms{}.principal(kind+"x", name, active, admin, def, own, subs),
			terms{}.principal(kind, name+"x", active, admin, def, own, subs),
			terms{}.principal(kind, name, !active, admin, def, own, subs),
			terms{}.principal(kind, name, active, !admin, def, own, subs),
			terms{}.principal(kind, name, active, admin, def+"x", own, subs),
			terms{}.principal(kind, name, active, admin, def, own, append(slices.Clone(subs), "team:o9/new")),
			terms{}.principal(kind, name, active, admin, def, "user:other", subs),
		} {
			if other.Equal(entry) || entry.Equal(other) {
				t.Fatalf("round %d: the entry equals a principal differing in its field %d: %v", round, i, other)
			}
			if c := entry.Value.Compare(other.Value); c == 0 || c != principalOf(entry).object().Compare(principalOf(other).object()) {
				t.Fatalf("round %d: the entry compares %d with a principal differing in its field %d, its object otherwise", round, c, i)
			}
		}
	}
}
