package authz

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestDecideWithGrantsNamesExplainsGrants checks the grants a decision log
// names (found by keyed lookups, then kept in the decision cache) against
// Explain's (the policy's target_grants, evaluated), on random states,
// writes and questions: the questions repeat across writes, so cached
// names that a write should have dropped would show.
func TestDecideWithGrantsNamesExplainsGrants(t *testing.T) {
	seed := testSeed(t)
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	ctx := context.Background()
	granted, named := 0, 0
	for round := range rounds {
		v := newEnv(t)
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
				v.e.DecideWithGrants(ctx, req, time.Now(), true) // names them, or answers from the cache
				d, grants, _ := v.e.DecideWithGrants(ctx, req, time.Now(), true)
				if plain, _, _ := v.e.DecideWithGrants(ctx, req, time.Now(), false); plain.Allowed != d.Allowed || plain.Code != d.Code {
					t.Fatalf("%+v: decided %s, then %s", req, d.Code, plain.Code)
				}
				if d.Code != CodeGranted {
					if grants != nil {
						t.Fatalf("%+v: %s decision names grants %v", req, d.Code, grants)
					}
					continue
				}
				granted++
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
	}
	t.Logf("%d granted decisions named the same %d grants as Explain", granted, named)
	if granted < 50 {
		t.Fatalf("only %d granted decisions: the questions test too little", granted)
	}
}
