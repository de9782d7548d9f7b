package main

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/grantd/grantd/bench/loadgen"
)

// naivePolicy is what a team writing its first OPA policy for this model
// would write: the grants as one array, iterated for every question.
const naivePolicy = `package naive

subjects contains input.subject

subjects contains "authenticated"

subjects contains s if some s in data.members[input.subject]

default allow := false

allow if {
	some g in data.grants
	g.subject in subjects
	covers(g)
	data.roles[g.role][input.operation]
}

covers(g) if g.collection == input.collection

covers(g) if {
	not g.exact
	g.collection == "/"
}

covers(g) if {
	not g.exact
	startswith(input.collection, concat("", [g.collection, "/"]))
}
`

// naiveOPA prepares the naive policy over the peer data with OPA's own
// in-memory store and rego package, as the OPA documentation shows.
func naiveOPA(ctx context.Context, p *peerData) (loadgen.Caller, error) {
	roles := map[string]any{}
	for id, ops := range p.Roles {
		set := map[string]any{}
		for _, op := range ops {
			set[op] = true
		}
		roles[id] = set
	}
	grants := make([]any, len(p.Grants))
	for i, g := range p.Grants {
		grants[i] = map[string]any{"subject": g.Subject, "role": g.Role, "collection": g.Collection, "exact": g.Exact}
	}
	members := map[string]any{}
	for u, subs := range p.Members {
		list := make([]any, len(subs))
		for i, s := range subs {
			list[i] = s
		}
		members[u] = list
	}
	data := map[string]any{"roles": roles, "grants": grants, "members": members}
	pq, err := rego.New(rego.Query("data.naive.allow"), rego.Module("naive.rego", naivePolicy),
		rego.Store(inmem.NewFromObject(data))).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("naive OPA policy: %w", err)
	}
	inputs := make([]map[string]any, len(p.Queries))
	for i, q := range p.Queries {
		inputs[i] = map[string]any{"subject": q.Subject, "operation": q.Operation, "collection": q.Collection}
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		rs, err := pq.Eval(ctx, rego.EvalInput(inputs[i]))
		if err != nil {
			return err
		}
		if len(rs) != 1 {
			return fmt.Errorf("naive policy gave %d results", len(rs))
		}
		a, ok := rs[0].Expressions[0].Value.(bool)
		if !ok {
			return fmt.Errorf("naive policy gave %T", rs[0].Expressions[0].Value)
		}
		allowed[0] = a
		return nil
	}, nil
}
