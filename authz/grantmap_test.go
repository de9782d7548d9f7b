package authz

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// randomGrants is n grants on one object, from few subjects and roles, so
// that subjects hold several roles and roles repeat.
func randomGrants(rnd *rand.Rand, n int) []*store.Grant {
	gs := make([]*store.Grant, n)
	for i := range gs {
		sub := subjects.OfUser(fmt.Sprintf("u%d", rnd.IntN(6)))
		if rnd.IntN(3) == 0 {
			sub = subjects.MustParse(fmt.Sprintf("team:o/t%d", rnd.IntN(4)))
		}
		gs[i] = &store.Grant{ID: fmt.Sprintf("g%04d", i), Subject: sub, Role: fmt.Sprintf("r%d", rnd.IntN(5)),
			Scope: []string{store.ScopeSubtree, store.ScopeExact}[rnd.IntN(2)]}
	}
	return gs
}

// A grant map holds what the object it replaces held: the same object
// when the policy reads it, the same roles and grant IDs for each
// subject, and it equals another map of the same grants in another order.
func TestGrantMapHoldsWhatItsObjectHolds(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	keep := func(g *store.Grant) bool { return g.Scope == store.ScopeSubtree }
	for round := range 300 {
		gs := randomGrants(rnd, rnd.IntN(30))
		want := terms{}.grantObject(gs, keep)
		got := terms{}.grantMap(gs, keep)
		if want == nil || got == nil {
			if want != got {
				t.Fatalf("round %d: object %v, map %v", round, want, got)
			}
			continue
		}
		m := got.Value.(*grantMap)
		if obj := m.object(); obj.Compare(want.Value) != 0 {
			t.Fatalf("round %d: the map's object is %v, want %v", round, obj, want)
		}
		for _, s := range []string{"user:u0", "user:u3", "team:o/t1", "user:nobody"} {
			roles, ids := m.grantsOf(keyOf(s))
			byRole := want.Value.(ast.Object).Get(str(s))
			n := 0
			if byRole != nil {
				n = byRole.Value.(ast.Object).Len()
			}
			if len(roles) != n || len(ids) != n {
				t.Fatalf("round %d: %s holds %d roles, want %d", round, s, len(roles), n)
			}
			for i, r := range roles {
				if id := byRole.Value.(ast.Object).Get(r); id == nil || stringOf(id) != ids[i] {
					t.Fatalf("round %d: %s holds %v by %s, want %v", round, s, r, ids[i], id)
				}
			}
		}
		// The same grants in another order make an equal map, a grant
		// more a different one.
		shuffled := append([]*store.Grant(nil), gs...)
		rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// The last grant of a role names it: keep each (subject, role)'s
		// last grant kept last.
		last := map[string]*store.Grant{}
		for _, g := range gs {
			if keep(g) {
				last[g.Subject.String()+" "+g.Role] = g
			}
		}
		var reordered []*store.Grant
		for _, g := range shuffled {
			if last[g.Subject.String()+" "+g.Role] != g {
				reordered = append(reordered, g)
			}
		}
		for _, g := range shuffled {
			if last[g.Subject.String()+" "+g.Role] == g {
				reordered = append(reordered, g)
			}
		}
		if again := (terms{}).grantMap(reordered, keep); !again.Equal(got) {
			t.Fatalf("round %d: the same grants in another order make %v, want %v", round, again, got)
		}
		more := append(append([]*store.Grant(nil), gs...), &store.Grant{ID: "g9999", Subject: subjects.OfUser("u0"), Role: "r0", Scope: store.ScopeSubtree})
		if again := (terms{}).grantMap(more, keep); again.Equal(got) || again.Value.Compare(got.Value) == 0 {
			t.Fatalf("round %d: a grant more makes an equal map", round)
		}
	}
}

// A grant map's filter never hides a subject it holds, and rules out
// most of the subjects it does not hold without a search, in a map of a
// few subjects (its own filter) and of many (a big one).
func TestGrantMapFilter(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 5))
	keep := func(*store.Grant) bool { return true }
	for round := range 200 {
		n := 1 + rnd.IntN(4*filterMost)
		gs := make([]*store.Grant, n)
		held := map[string]bool{}
		for i := range gs {
			sub := subjects.OfUser(fmt.Sprintf("u%d", rnd.IntN(4*filterMost)))
			gs[i] = &store.Grant{ID: fmt.Sprintf("g%d", i), Subject: sub, Role: "r", Scope: store.ScopeSubtree}
			held[sub.String()] = true
		}
		m := terms{}.grantMap(gs, keep).Value.(*grantMap)
		ruledOut, absent := 0, 0
		for u := range 8 * filterMost {
			s := fmt.Sprintf("user:u%d", u)
			k := keyOf(s)
			roles, _ := m.grantsOf(k)
			if (roles != nil) != held[s] {
				t.Fatalf("round %d (%d subjects): %s found %v, held %v", round, len(m.subjects), s, roles != nil, held[s])
			}
			if !held[s] {
				absent++
				if !m.mayHold(k.hash) {
					ruledOut++
				}
			}
		}
		share := float64(ruledOut) / float64(absent)
		if subs := len(m.subjects); (subs <= 16 || subs > filterMost) && share < 0.8 {
			t.Fatalf("round %d: a filter of %d subjects ruled out %.0f %% of the others", round, subs, 100*share)
		}
		if (len(m.subjects) > filterMost) != (m.big != nil) {
			t.Fatalf("round %d: %d subjects, a big filter: %v", round, len(m.subjects), m.big != nil)
		}
	}
}
