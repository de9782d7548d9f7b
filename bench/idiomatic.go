package main

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/bench/peerkit"
)

// idiomaticPolicy is the model an OPA expert writes for these questions:
// data indexed by what a question names (grants keyed by collection, then
// subject), ancestor chains and subject sets precomputed, OPA's AST store.
// docs/peers.md publishes it.
const idiomaticPolicy = `package idiomatic

default allow := false

allow if data.admins[input.subject]

allow if {
	some _ in held
	every o in input.options { granted_options[o] }
}

# Roles the subject holds at the collection: subtree grants on it or an
# ancestor, exact grants on it, to any subject it acts as.
roles contains role if {
	some a in data.anc[input.collection]
	some s, _ in data.subjects[input.subject]
	some role, _ in data.subtree[a][s]
}

roles contains role if {
	some s, _ in data.subjects[input.subject]
	some role, _ in data.exact[input.collection][s]
}

held contains role if {
	some role in roles
	data.roles[role][input.operation]
}

granted_options contains o if {
	some role in held
	some o, _ in data.roles[role][input.operation]
}
`

// idiomaticData indexes the peer data for idiomaticPolicy.
func idiomaticData(d *peerkit.Data) map[string]any {
	roles := map[string]any{}
	for id, ops := range d.Roles {
		m := map[string]any{}
		for op, opts := range ops {
			set := map[string]any{}
			for _, o := range opts {
				set[o] = true
			}
			m[op] = set
		}
		roles[id] = m
	}
	anc := map[string]any{}
	for c := range d.Parents {
		var chain []any
		for p := c; p != ""; p = d.Parents[p] {
			chain = append(chain, p)
		}
		anc[c] = chain
	}
	index := func(exact bool) map[string]any {
		out := map[string]any{}
		for _, g := range d.Grants {
			if g.Exact != exact {
				continue
			}
			bySubject, ok := out[g.Collection].(map[string]any)
			if !ok {
				bySubject = map[string]any{}
				out[g.Collection] = bySubject
			}
			set, ok := bySubject[g.Subject].(map[string]any)
			if !ok {
				set = map[string]any{}
				bySubject[g.Subject] = set
			}
			set[g.Role] = true
		}
		return out
	}
	subjectSets := map[string]any{}
	for u, subs := range d.Members {
		set := map[string]any{u: true, "authenticated": true}
		for _, s := range subs {
			set[s] = true
		}
		subjectSets[u] = set
	}
	admins := map[string]any{}
	for _, a := range d.Admins {
		admins[a] = true
	}
	return map[string]any{"roles": roles, "anc": anc, "subtree": index(false), "exact": index(true),
		"subjects": subjectSets, "admins": admins}
}

// opaPeer prepares a policy's query over data in OPA's AST store, as OPA's
// documentation shows for embedding it.
func opaPeer(ctx context.Context, module, query string, data map[string]any, qs []peerkit.Query) (loadgen.Caller, error) {
	pq, err := rego.New(rego.Query(query), rego.Module("peer.rego", module),
		rego.Store(inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))),
		rego.SetRegoVersion(ast.RegoV1)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("OPA policy: %w", err)
	}
	inputs := make([]ast.Value, len(qs))
	for i, q := range qs {
		opts := make([]*ast.Term, len(q.Options))
		for j, o := range q.Options {
			opts[j] = ast.StringTerm(o)
		}
		inputs[i] = ast.NewObject(
			ast.Item(ast.StringTerm("subject"), ast.StringTerm(q.Subject)),
			ast.Item(ast.StringTerm("operation"), ast.StringTerm(q.Operation)),
			ast.Item(ast.StringTerm("collection"), ast.StringTerm(q.Collection)),
			ast.Item(ast.StringTerm("options"), ast.ArrayTerm(opts...)))
	}
	return func(ctx context.Context, i int, allowed []bool) error {
		rs, err := pq.Eval(ctx, rego.EvalParsedInput(inputs[i]))
		if err != nil {
			return err
		}
		if len(rs) != 1 {
			return fmt.Errorf("the policy gave %d results", len(rs))
		}
		a, ok := rs[0].Expressions[0].Value.(bool)
		if !ok {
			return fmt.Errorf("the policy gave %T", rs[0].Expressions[0].Value)
		}
		allowed[0] = a
		return nil
	}, nil
}

// runOPAPeer is `bench peer-opa|peer-naive -in F -out F`: the peer in its
// own process, grantd's yardstick beside it.
func runOPAPeer(kind, inPath, outPath string) error {
	ctx := context.Background()
	in, err := peerkit.ReadInput(inPath)
	if err != nil {
		return err
	}
	var name, module, query string
	var data map[string]any
	switch kind {
	case "opa":
		name, module, query, data = "OPA, idiomatic policy", idiomaticPolicy, "data.idiomatic.allow", idiomaticData(&in.Data)
	case "naive":
		name, module, query, data = "OPA, naive policy (floor)", naivePolicy, "data.naive.allow", naiveData(&in.Data)
	default:
		return fmt.Errorf("unknown OPA peer %q", kind)
	}
	peer, err := opaPeer(ctx, module, query, data, in.Data.Queries)
	if err != nil {
		return err
	}
	out, err := peerkit.CompareWithYardstick(ctx, in, 0, loadgen.System{Name: name, Interface: "in-process", Call: peer})
	if err != nil {
		return err
	}
	return out.Write(outPath)
}
