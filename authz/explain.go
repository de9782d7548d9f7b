package authz

import (
	"context"
	"errors"
	"sort"

	"github.com/grantd/grantd/subjects"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Contribution is one grant that applies to a decision.
type Contribution struct {
	GrantID string
	// Subject is the grant's subject; SubjectPath how the principal reaches
	// it, e.g. "user:maria → team:acme/mobile".
	Subject     subjects.Subject
	SubjectPath string
	Role        string
	Object      subjects.Object
	Scope       string
}

// Explanation is a decision with the grants behind it.
type Explanation struct {
	Decision
	// Grants are the grants that hold the operation (with the options they
	// allow), or every applicable grant when none holds it.
	Grants []Contribution
	// MissingOperation is set when no grant holds the operation.
	MissingOperation string
	MissingOptions   []string
}

// Explain decides and names the contributing grants or what is missing.
// The grants, and the roles they name, come from the same compiled
// snapshot as the decision: one version of the state in one answer.
func (e *Engine) Explain(ctx context.Context, r Request) Explanation {
	if e.broken.Load() {
		return Explanation{Decision: failed(errBroken)}
	}
	out, snap, err := e.eval(ctx, "explain", r.Input(), nil, nil, varDecision, varGrants)
	if err != nil {
		e.log.ErrorContext(ctx, "explanation failed", "subject", r.Subject, "operation", r.Operation, "err", err)
		return Explanation{Decision: failed(err)}
	}
	d, err := decisionFrom(out[0])
	if err != nil {
		return Explanation{Decision: failed(err)}
	}
	d.Revision = snap.rev
	d.Reason = reason(r, d)
	x := Explanation{Decision: d}
	all := contributions(r.Subject, out[1])
	for _, c := range all {
		if role, ok := snap.role(c.Role); ok && holds(role, r.Operation) {
			x.Grants = append(x.Grants, c)
		}
	}
	switch d.Code {
	case CodeMissingOperation:
		x.MissingOperation = r.Operation
		x.Grants = all
	case CodeMissingOptions:
		x.MissingOptions = d.Options
	}
	return x
}

func contributions(subject subjects.Subject, t *ast.Term) []Contribution {
	set, ok := t.Value.(ast.Set)
	if !ok {
		return nil
	}
	var out []Contribution
	set.Foreach(func(item *ast.Term) {
		o, ok := item.Value.(ast.Object)
		if !ok {
			return
		}
		// The policy returns the compiled grants' own strings.
		s, serr := subjects.ParseStored(stringOf(o.Get(str("subject"))))
		obj, oerr := subjects.ParseStoredObject(stringOf(o.Get(str("object"))))
		if serr != nil || oerr != nil {
			return
		}
		out = append(out, Contribution{GrantID: stringOf(o.Get(str("grant"))), Subject: s, SubjectPath: pathTo(subject, s),
			Role: stringOf(o.Get(str("role"))), Object: obj, Scope: stringOf(o.Get(str("scope")))})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Object != out[j].Object {
			return len(out[i].Object.Path) > len(out[j].Object.Path) // nearest collection first
		}
		return out[i].GrantID < out[j].GrantID
	})
	return out
}

// Permission is one operation a subject may perform, with its options and
// the grants it comes from.
type Permission struct {
	Operation string
	Options   []string
	Sources   []Contribution
}

// Permissions are the effective permissions of a subject at a collection.
type Permissions struct {
	Decision    Decision
	IsAdmin     bool
	Permissions []Permission
}

// EffectivePermissions lists what subject may do at collection, and why,
// from one compiled snapshot (grants and roles alike).
func (e *Engine) EffectivePermissions(ctx context.Context, subject subjects.Subject, collection string) Permissions {
	if e.broken.Load() {
		return Permissions{Decision: failed(errBroken)}
	}
	// Any Swarm operation resolves the collection and the grants on it;
	// the decision part only says whether the subject and collection exist.
	r := Request{Subject: subject, Operation: "container.view", Collection: collection}
	out, snap, err := e.eval(ctx, "explain", r.Input(), nil, nil, varDecision, varGrants)
	if err != nil {
		e.log.ErrorContext(ctx, "effective permissions failed", "subject", subject, "err", err)
		return Permissions{Decision: failed(err)}
	}
	d, err := decisionFrom(out[0])
	if err != nil {
		return Permissions{Decision: failed(err)}
	}
	d.Revision = snap.rev
	d.Reason = reason(r, d)
	p := Permissions{Decision: d, IsAdmin: d.Code == CodeAdmin}
	switch d.Code {
	case CodeAdmin, CodeGranted, CodeMissingOperation:
	default:
		return p // unknown subject or collection: nothing to list
	}
	byOp := map[string]*Permission{}
	for _, c := range contributions(subject, out[1]) {
		role, ok := snap.role(c.Role)
		if !ok {
			continue
		}
		for _, perm := range role.Permissions {
			ep, ok := byOp[perm.Operation]
			if !ok {
				ep = &Permission{Operation: perm.Operation}
				byOp[perm.Operation] = ep
			}
			ep.Options = union(ep.Options, perm.Options)
			ep.Sources = append(ep.Sources, c)
		}
	}
	for _, ep := range byOp {
		p.Permissions = append(p.Permissions, *ep)
	}
	sort.Slice(p.Permissions, func(i, j int) bool { return p.Permissions[i].Operation < p.Permissions[j].Operation })
	return p
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

var errBroken = errors.New("the compiled policy state is out of date")
