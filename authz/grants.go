package authz

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// DecideWithGrants decides like Decide and, when withGrants is set and the
// decision was made by grants (CodeGranted), also names them: the IDs of
// the grants whose role holds the operation where the decision was made,
// read from the same compiled snapshot the decision came from. They are
// the grants Explain names for the same question, found with a few keyed
// lookups instead of a second evaluation, so that a decision log can name
// them for every decision it keeps.
func (e *Engine) DecideWithGrants(ctx context.Context, r Request, withGrants bool) (Decision, []string) {
	start := time.Now()
	d, snap := e.decide(ctx, r)
	e.metrics.observe(r, d, time.Since(start))
	if !withGrants || d.Code != CodeGranted || snap == nil {
		return d, nil
	}
	return d, snap.grantsFor(r, d)
}

// grantsFor lists the grants behind the granted decision d of r, sorted:
// the policy's target_grants (policies/authz.rego) whose role holds the
// operation.
func (s *snapshot) grantsFor(r Request, d Decision) []string {
	p, _ := s.entryObject(tPrincipals, r.Subject.String())
	if p == nil {
		return nil
	}
	subjectSet, _ := field(p, "s").(ast.Object)
	if subjectSet == nil {
		return nil
	}
	held := subjectSet.Keys()
	var ids []string
	collect := func(table, name string, subs []*ast.Term) {
		bySubject, _ := s.entryObject(table, name)
		if bySubject == nil {
			return
		}
		for _, sub := range subs {
			t := bySubject.Get(sub)
			if t == nil {
				continue
			}
			roles, _ := t.Value.(ast.Object)
			if roles == nil {
				continue
			}
			roles.Foreach(func(role, id *ast.Term) {
				ops, _ := s.entryObject(tRoles, stringOf(role))
				if ops != nil && ops.Get(str(r.Operation)) != nil {
					ids = append(ids, stringOf(id))
				}
			})
		}
	}
	switch {
	case r.Kubernetes:
		subs := held
		for _, g := range r.Groups {
			if teams, _ := s.entryObject(tKubeGroups, g); teams != nil {
				subs = append(subs, teams.Keys()...)
			}
		}
		collect(tRepoGrants, "namespace:*", subs)
		if r.Namespace != "" {
			collect(tRepoGrants, "namespace:"+r.Namespace, subs)
		}
	case r.Repository != "":
		ns, _, _ := strings.Cut(r.Repository, "/")
		collect(tRepoGrants, "repository:"+r.Repository, held)
		collect(tRepoGrants, "namespace:"+ns, held)
	default:
		if c, _ := s.entryObject(tCollections, d.Collection); c != nil {
			if chain, ok := field(c, "chain").(*ast.Array); ok {
				chain.Foreach(func(a *ast.Term) { collect(tSubtree, stringOf(a), held) })
			}
		}
		collect(tExact, d.Collection, held)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// entryObject is one entry of the snapshot, when it is an object.
func (s *snapshot) entryObject(table, name string) (ast.Object, bool) {
	t := s.tables[table]
	if t == nil {
		return nil, false
	}
	v, ok := t.Get(name)
	if !ok || v == nil {
		return nil, false
	}
	o, ok := v.Value.(ast.Object)
	return o, ok
}

// field is an object's value at a string key, nil when it has none.
func field(o ast.Object, k string) ast.Value {
	if t := o.Get(str(k)); t != nil {
		return t.Value
	}
	return nil
}
