package authz

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/subjects"
)

// Decided is a decision with what a decision log keeps beside it.
type Decided struct {
	Decision
	// Grants are the grants behind a granted decision, when they were
	// asked for (a slice the caller must not change: the decision cache
	// shares it).
	Grants []string
	// Took is how long deciding took, from the caller's start.
	Took time.Duration
	// Memo is the decision cache's memo for this question, this decision
	// and these grants; nil when the cache does not hold them.
	Memo *Memo
}

// DecideWithGrants decides like Decide, timed from start (when the
// caller began handling the question, so that the engine's latency
// metric and the caller's record share one reading of the clock), and
// says how long the decision took. When withGrants is set and the
// decision was made by grants (CodeGranted), it also names them: the IDs
// of the grants whose role holds the operation where the decision was
// made, read from the same compiled snapshot the decision came from. They
// are the grants Explain names for the same question, found without a
// second evaluation, so that a decision log can name them for every
// decision it keeps: an evaluation keeps the grants behind the roles it
// found held at the collection (heldGrants), and otherwise a few keyed
// lookups find them.
func (e *Engine) DecideWithGrants(ctx context.Context, r Request, start time.Time, withGrants bool) Decided {
	d, a := e.decide(ctx, r, withGrants)
	took := time.Since(start)
	e.metrics.observe(r, d, took)
	out := Decided{Decision: d, Took: took}
	if d.Code != CodeGranted {
		if a.entry != nil {
			out.Memo = a.entry.memo // no grants to name: the entry says it all
		}
		return out
	}
	if !withGrants || a.snap == nil {
		return out // granted, the grants not asked for: no memo goes with it
	}
	// The cache keeps the grants with the decision, and what naming them
	// read with what deciding read: a write that changes either drops both.
	if a.entry != nil && a.entry.named {
		out.Grants, out.Memo = a.entry.grants, a.entry.memo
		return out
	}
	var reads readLog
	out.Grants = a.snap.grantsFor(r, d, a.held, &reads)
	if a.entry != nil {
		if named := e.cache.name(a.key, a.entry, out.Grants, reads.deps); named != nil {
			out.Memo = named.memo
		}
	}
	return out
}

// grantsFor lists the grants behind the granted decision d of r, sorted:
// the policy's target_grants (policies/authz.rego) whose role holds the
// operation.
func (s *snapshot) grantsFor(r Request, d Decision, held *heldGrants, reads *readLog) []string {
	// entryObject is the snapshot's, with each entry read recorded.
	entryObject := func(table, name string) (ast.Object, bool) {
		o, v := s.entryTerm(table, name)
		reads.record(table, name, v)
		return o, o != nil
	}
	p := s.principal(r.Subject.String(), reads)
	if p == nil {
		return nil
	}
	op := str(r.Operation)
	var ids []string
	addGrant := func(role *ast.Term, id string) {
		ops, _ := entryObject(tRoles, stringOf(role))
		if ops != nil && ops.Get(op) != nil {
			ids = append(ids, id)
		}
	}
	addRoles := func(t *ast.Term) {
		roles, _ := t.Value.(ast.Object)
		if roles == nil {
			return
		}
		roles.Foreach(func(role, id *ast.Term) { addGrant(role, stringOf(id)) })
	}
	// collect adds the grants of an entry {subject: {role: grant ID}} to
	// the subjects of sets, walking whichever side is smaller: a high
	// collection may be granted to thousands of subjects, a principal
	// acts as a few.
	collectFrom := func(bySubject ast.Object, sets ...ast.Object) {
		for _, set := range sets {
			if set.Len() <= bySubject.Len() {
				set.Foreach(func(sub, _ *ast.Term) {
					if t := bySubject.Get(sub); t != nil {
						addRoles(t)
					}
				})
				continue
			}
			bySubject.Foreach(func(sub, t *ast.Term) {
				if set.Get(sub) != nil {
					addRoles(t)
				}
			})
		}
	}
	collect := func(table, name string, sets ...ast.Object) {
		if bySubject, _ := entryObject(table, name); bySubject != nil {
			collectFrom(bySubject, sets...)
		}
	}
	switch {
	case r.Kubernetes:
		sets := []ast.Object{p.set()}
		for _, g := range r.Groups {
			if teams, _ := entryObject(tKubeGroups, g); teams != nil {
				sets = append(sets, teams)
			}
		}
		collect(tRepoGrants, subjects.NamespaceOf(subjects.AllNamespaces).String(), sets...)
		if r.Namespace != "" {
			collect(tRepoGrants, subjects.NamespaceOf(r.Namespace).String(), sets...)
		}
	case r.Repository != "":
		ns, _, _ := strings.Cut(r.Repository, "/")
		set := p.set()
		collect(tRepoGrants, subjects.Object{Kind: subjects.RepositoryObject, Path: r.Repository}.String(), set)
		collect(tRepoGrants, subjects.NamespaceOf(ns).String(), set)
	case held != nil && held.read && held.principal == r.Subject.String() && held.path == d.Collection:
		// The evaluation read the roles held at the collection and kept
		// the grants behind them: the pairs the join below finds.
		for i, role := range held.roles {
			addGrant(role, held.ids[i])
		}
	default:
		// The grant maps the policy's at[path] merges (snapshot.grantMaps).
		maps := s.grantMaps(d.Collection, reads)
		for _, k := range p.keys {
			for _, m := range maps {
				roles, grants := m.grantsOf(k)
				for i, role := range roles {
					addGrant(role, grants[i])
				}
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// entryTerm is one entry of the snapshot (nil when it has none) and its
// value when it is an object.
func (s *snapshot) entryTerm(table, name string) (ast.Object, *ast.Term) {
	t := s.tables[table]
	if t == nil {
		return nil, nil
	}
	v, ok := t.Get(name)
	if !ok || v == nil {
		return nil, nil
	}
	o, _ := v.Value.(ast.Object)
	return o, v
}
