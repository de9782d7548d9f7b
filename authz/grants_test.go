package authz

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDecideWithGrantsNamesExplainsGrants checks the grants a decision log
// names (found by keyed lookups, then kept in the decision cache) against
// Explain's (the policy's target_grants, evaluated), on random states,
// writes and questions: the questions repeat across writes, so cached
// names that a write should have dropped would show. It also checks the
// memo that comes with an answer: one memo always comes with the same
// question, the same decision (less its revision) and the same grants.
// Every other round runs without the decision cache, where every decision
// is evaluated and names its grants from what the evaluation kept
// (heldGrants); the test checks that it did keep them.
func TestDecideWithGrantsNamesExplainsGrants(t *testing.T) {
	seed := testSeed(t)
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	ctx := context.Background()
	granted, named, memoed := 0, 0, 0
	uncached, kept := 0, 0
	// checkKept counts a granted collection decision made without the
	// cache, and whether its evaluation kept the grants behind the roles
	// it found held.
	checkKept := func(v *env, req Request, d Decision) {
		uncached++
		if _, a := v.e.decide(ctx, req, true); a.held != nil && a.held.read && a.held.path == d.Collection {
			kept++
		}
	}
	for round := range rounds {
		memos := map[*Memo]string{}
		// memoOf checks that a memo always goes with one answer.
		memoOf := func(req Request, a Decided) {
			if a.Memo == nil {
				return
			}
			memoed++
			d := a.Decision
			d.Revision = 0
			said := fmt.Sprintf("%s %+v %v", cacheKey(req), d, a.Grants)
			if was, ok := memos[a.Memo]; ok && was != said {
				t.Fatalf("one memo came with two answers:\n%s\n%s", was, said)
			}
			memos[a.Memo] = said
		}
		v := newEnv(t)
		cacheOff := round%2 == 1
		roundStart := uncached
		if cacheOff {
			v.e.SetDecisionCache(0)
		}
		g := &gen{rng: rand.New(rand.NewPCG(seed, uint64(100+round))), v: v}
		g.populate()
		var asked []Request
		for range 4 {
			for i := range 400 {
				req := g.query()
				if i%2 == 1 && len(asked) > 0 {
					req = asked[g.rng.IntN(len(asked))]
				}
				asked = append(asked, req)
				memoOf(req, v.e.DecideWithGrants(ctx, req, time.Now(), true)) // names them, or answers from the cache
				a := v.e.DecideWithGrants(ctx, req, time.Now(), true)
				memoOf(req, a)
				d, grants := a.Decision, a.Grants
				plain := v.e.DecideWithGrants(ctx, req, time.Now(), false)
				memoOf(req, plain)
				if plain.Allowed != d.Allowed || plain.Code != d.Code {
					t.Fatalf("%+v: decided %s, then %s", req, d.Code, plain.Code)
				}
				if d.Code == CodeGranted && a.Memo == nil && !cacheOff {
					t.Fatalf("%+v: a granted, cached answer with its grants came without a memo", req)
				}
				if d.Code != CodeGranted {
					if grants != nil {
						t.Fatalf("%+v: %s decision names grants %v", req, d.Code, grants)
					}
					continue
				}
				granted++
				if cacheOff && req.Repository == "" && !req.Kubernetes {
					checkKept(v, req, d)
				}
				x := v.e.Explain(ctx, req)
				var want []string
				for _, c := range x.Grants {
					want = append(want, c.GrantID)
				}
				slices.Sort(want)
				want = slices.Compact(want)
				if len(grants) == 0 || !slices.Equal(grants, want) {
					t.Fatalf("%+v: granted; the log names %v, Explain %v", req, grants, want)
				}
				named += len(grants)
			}
			g.mutate(25)
		}
		// How many of the random questions are granted collection
		// questions depends on the seed's state; a cache-off round asks
		// more of them, up to a bound, until it has checked enough.
		for tries := 0; cacheOff && uncached-roundStart < 20 && tries < 100000; tries++ {
			req := g.query()
			if req.Repository != "" || req.Kubernetes {
				continue
			}
			if d := v.e.Decide(ctx, req); d.Code == CodeGranted {
				checkKept(v, req, d)
			}
		}
	}
	t.Logf("%d granted decisions named the same %d grants as Explain; %d answers came with a memo", granted, named, memoed)
	if granted < 50 {
		t.Fatalf("only %d granted decisions: the questions test too little", granted)
	}
	t.Logf("without the cache, %d of %d granted collection decisions kept the grants behind the roles held", kept, uncached)
	if uncached < 20 || kept < uncached*9/10 {
		t.Fatalf("without the cache, %d of %d granted collection decisions kept the grants behind the roles held", kept, uncached)
	}
}
