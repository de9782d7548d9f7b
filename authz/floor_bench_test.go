package authz

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// BenchmarkOPAFloor measures what evaluating Rego with OPA costs at the
// least, whatever the policy and the data: a query whose rule is a
// constant, one lookup, and the least a collection question needs (the
// roles a principal holds on six ancestors, precomputed per principal,
// and the operation in one of them), on OPA's AST store. These are the
// floors under grantd's per-decision figures (docs/performance.md):
//
//	go test -run XXX -bench OPAFloor ./authz/
func BenchmarkOPAFloor(b *testing.B) {
	for _, c := range []struct{ name, src string }{
		{"constant", "package x\ndecision := {\"allowed\": true, \"code\": \"granted\"}\n"},
		{"one-lookup", "package x\ndecision := {\"allowed\": true, \"code\": \"granted\"} if { data.s.p[input.subject].admin }\n"},
		{"six-ancestors", "package x\nroles contains r if { some a in data.s.c[input.c]; some r, _ in data.s.pr[input.subject][a] }\n" +
			"decision := {\"allowed\": true, \"code\": \"granted\"} if { some r in roles; data.s.roles[r][input.op] }\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := ast.MustParseModuleWithOpts(c.src, ast.ParserOptions{RegoVersion: ast.RegoV1})
			comp := ast.NewCompiler()
			comp.Compile(map[string]*ast.Module{"x": m})
			if comp.Failed() {
				b.Fatal(comp.Errors)
			}
			q, err := comp.QueryCompiler().Compile(ast.MustParseBody("decision = data.x.decision"))
			if err != nil {
				b.Fatal(err)
			}
			st := inmem.NewFromObjectWithOpts(map[string]any{"s": map[string]any{
				"p":     map[string]any{"user:a": map[string]any{"admin": true}},
				"c":     map[string]any{"/a/b/c/d/e": []any{"/a/b/c/d/e", "/a/b/c/d", "/a/b/c", "/a/b", "/a", "/"}},
				"pr":    map[string]any{"user:a": map[string]any{"/a/b": map[string]any{"r1": true}, "/": map[string]any{"r2": true}}},
				"roles": map[string]any{"r1": map[string]any{"container.view": map[string]any{}}, "r2": map[string]any{}},
			}}, inmem.OptReturnASTValuesOnRead(true))
			input := ast.MustParseTerm(`{"subject": "user:a", "c": "/a/b/c/d/e", "op": "container.view"}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				txn, _ := st.NewTransaction(ctx)
				n := 0
				err := topdown.NewQuery(q).WithCompiler(comp).WithStore(st).WithTransaction(txn).WithInput(input).
					Iter(ctx, func(topdown.QueryResult) error { n++; return nil })
				st.Abort(ctx, txn)
				if err != nil || n != 1 {
					b.Fatal(err, n)
				}
			}
		})
	}
}
