package authz

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// TestWhoCanMatchesTheReference checks the audit query "who can do this"
// against the reference evaluator asked about every principal.
func TestWhoCanMatchesTheReference(t *testing.T) {
	seed := testSeed(t)
	for round := range 4 {
		v := newEnv(t)
		g := &gen{rng: rand.New(rand.NewPCG(seed, uint64(round)+1000)), v: v}
		g.populate()
		g.mutate(20)
		r := v.st.Read()
		principals := []string{"anonymous"}
		for _, u := range g.users {
			principals = append(principals, "user:"+u)
		}
		for _, a := range g.sas {
			principals = append(principals, "serviceaccount:"+a)
		}
		catalog := roles.Catalog()
		for range 60 {
			op := catalog[g.rng.IntN(len(catalog))]
			if op.Object == roles.Kubernetes {
				continue // WhoCan answers for collections and repositories
			}
			var object string
			req := Request{Operation: op.ID}
			if op.Object == roles.Repository {
				if len(g.repos) == 0 {
					continue
				}
				req.Repository = g.pick(g.repos)
				object = "repository:" + req.Repository
			} else {
				req.Collection = g.pick(g.paths)
				if c, _ := r.Collection(req.Collection); c == nil {
					continue
				}
				object = "collection:" + req.Collection
				if len(op.Options) > 0 && g.chance(0.3) {
					req.Options = []string{g.pick(op.Options)}
				}
			}
			entries, err := WhoCan(r, subjects.MustParseObject(object), op.ID, req.Options)
			if err != nil {
				t.Fatalf("WhoCan(%s, %s): %v", object, op.ID, err)
			}
			var got, want []string
			for _, e := range entries {
				got = append(got, e.Subject.String())
			}
			for _, p := range principals {
				req.Subject = subjects.MustParse(p)
				if referenceDecide(r, req) {
					want = append(want, p)
				}
			}
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("who can %s on %s %v:\n got  %v\n want %v", op.ID, object, req.Options, got, want)
			}
		}
	}
}
