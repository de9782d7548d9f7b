package authz

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestRuleCacheAnswersAsOPAs applies random sequences of puts, gets,
// frames and key listings to the rule cache and to OPA's own virtual
// cache, and wants the same answers from both.
func TestRuleCacheAnswersAsOPAs(t *testing.T) {
	refs := []ast.Ref{
		ast.MustParseRef("data.grantd.authz.principal"),
		ast.MustParseRef("data.grantd.authz.op"),
		ast.MustParseRef("data.grantd.authz.target"),
		ast.MustParseRef("data.grantd.authz"),
		ast.MustParseRef("data.grantd.authz.target.x"),
		append(ast.MustParseRef("data.grantd.authz.can_use_secret"), ast.StringTerm("/a")),
		append(ast.MustParseRef("data.grantd.authz.can_use_secret"), ast.StringTerm("/b")),
		append(ast.MustParseRef("data.grantd.authz.f"), ast.NumberTerm("1"), ast.ObjectTerm(ast.Item(ast.StringTerm("k"), ast.BooleanTerm(true)))),
		// Longer than an entry holds in place.
		ast.MustParseRef("data.grantd.authz.a.b.c.d.e"),
		ast.MustParseRef("data.grantd.authz.a.b.c.d.f"),
	}
	values := []*ast.Term{nil, ast.BooleanTerm(true), ast.StringTerm("/prod"), ast.ObjectTerm(ast.Item(ast.StringTerm("allowed"), ast.BooleanTerm(false)))}
	for seed := range uint64(500) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		opa, ours := topdown.NewVirtualCache(), &ruleCache{}
		depth := 0
		for step := range 60 {
			ref := refs[rnd.IntN(len(refs))]
			// The evaluator may reuse the slice it passes: each cache
			// gets its own copy, overwritten after the call.
			arg := func() ast.Ref { return slices.Clone(ref) }
			switch op := rnd.IntN(10); {
			case op < 4:
				v := values[rnd.IntN(len(values))]
				a, b := arg(), arg()
				opa.Put(a, v)
				ours.Put(b, v)
				for i := range b {
					a[i], b[i] = ast.StringTerm("overwritten"), ast.StringTerm("overwritten")
				}
			case op < 8:
				v1, u1 := opa.Get(arg())
				v2, u2 := ours.Get(arg())
				if u1 != u2 || !v1.Equal(v2) {
					t.Fatalf("seed %d step %d: Get(%v) = %v, %v; OPA's cache: %v, %v", seed, step, ref, v2, u2, v1, u1)
				}
			case op == 8:
				if depth > 0 && rnd.IntN(2) == 0 {
					opa.Pop()
					ours.Pop()
					depth--
				} else {
					opa.Push()
					ours.Push()
					depth++
				}
			default:
				k1, k2 := refStrings(opa.Keys()), refStrings(ours.Keys())
				if !slices.Equal(k1, k2) {
					t.Fatalf("seed %d step %d: Keys() = %v; OPA's cache: %v", seed, step, k2, k1)
				}
			}
		}
	}
}

func refStrings(refs []ast.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	slices.Sort(out)
	return out
}

// TestRuleCacheFrames: a pushed frame sees nothing of the one below, and
// popping it brings that back.
func TestRuleCacheFrames(t *testing.T) {
	ref := ast.MustParseRef("data.grantd.authz.principal")
	c := &ruleCache{}
	c.Put(ref, ast.StringTerm("below"))
	c.Push()
	if v, undefined := c.Get(ref); v != nil || undefined {
		t.Fatalf("a new frame sees %v, %v", v, undefined)
	}
	c.Put(ref, nil)
	if v, undefined := c.Get(ref); v != nil || !undefined {
		t.Fatalf("undefined in the frame: got %v, %v", v, undefined)
	}
	c.Pop()
	if v, _ := c.Get(ref); !v.Equal(ast.StringTerm("below")) {
		t.Fatalf("after the pop: %v", v)
	}
	// The keys are copies: changing one changes nothing in the cache.
	keys := c.Keys()
	if len(keys) != 1 || !keys[0].Equal(ref) {
		t.Fatalf("Keys() = %v, want [%v]", keys, ref)
	}
	keys[0][3] = ast.StringTerm("overwritten")
	if v, _ := c.Get(ref); !v.Equal(ast.StringTerm("below")) {
		t.Fatalf("after changing a key: %v", v)
	}
}
