package authz

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// BenchmarkOPAFloor measures what evaluating Rego with OPA costs at the
// least, whatever the policy and the data, on OPA's AST store: a query
// whose rule is a constant, one lookup, the roles a principal holds on
// six ancestors (precomputed per principal) with the operation in one of
// them, and the least a collection question with grantd's answers needs
// (five-outcomes: one read for each outcome it tells apart, all
// precomputed). These are the floors under grantd's per-decision figures
// (docs/performance.md):
//
//	go test -run XXX -bench OPAFloor ./authz/
func BenchmarkOPAFloor(b *testing.B) {
	for _, c := range []struct{ name, src, subject, want string }{
		{"constant", "package x\ndecision := {\"allowed\": true, \"code\": \"granted\"}\n", "user:a", "granted"},
		{"one-lookup", "package x\ndecision := {\"allowed\": true, \"code\": \"granted\"} if { data.s.p[input.subject].admin }\n", "user:a", "granted"},
		{"six-ancestors", "package x\nroles contains r if { some a in data.s.c[input.c]; some r, _ in data.s.pr[input.subject][a] }\n" +
			"decision := {\"allowed\": true, \"code\": \"granted\"} if { some r in roles; data.s.roles[r][input.op] }\n", "user:a", "granted"},
		// The outcomes a collection question must tell apart, one read
		// each, as grantd's policy orders them: an inactive principal, an
		// operation that is not Swarm's, an unknown collection, an admin,
		// the operation not held; the question is denied at the last.
		{"five-outcomes", "package x\n" +
			"decision := {\"allowed\": false, \"code\": \"inactive_subject\"} if { not data.s.p[input.subject].active }\n" +
			"else := {\"allowed\": false, \"code\": \"unknown_operation\"} if { not data.s.ops[input.op].kind == \"swarm\" }\n" +
			"else := {\"allowed\": false, \"code\": \"unknown_collection\"} if { not data.s.c[input.c] }\n" +
			"else := {\"allowed\": true, \"code\": \"admin\"} if { data.s.p[input.subject].admin }\n" +
			"else := {\"allowed\": false, \"code\": \"missing_operation\", \"collection\": input.c} if { not data.s.holds[input.subject][input.c][input.op] }\n" +
			"else := {\"allowed\": true, \"code\": \"granted\", \"collection\": input.c}\n", "user:b", "missing_operation"},
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
				"p":     map[string]any{"user:a": map[string]any{"admin": true}, "user:b": map[string]any{"active": true}},
				"ops":   map[string]any{"container.view": map[string]any{"kind": "swarm"}},
				"holds": map[string]any{"user:b": map[string]any{"/a/b/c/d/e": map[string]any{"container.logs": map[string]any{}}}},
				"c":     map[string]any{"/a/b/c/d/e": []any{"/a/b/c/d/e", "/a/b/c/d", "/a/b/c", "/a/b", "/a", "/"}},
				"pr":    map[string]any{"user:a": map[string]any{"/a/b": map[string]any{"r1": true}, "/": map[string]any{"r2": true}}},
				"roles": map[string]any{"r1": map[string]any{"container.view": map[string]any{}}, "r2": map[string]any{}},
			}}, inmem.OptReturnASTValuesOnRead(true))
			input := ast.MustParseTerm(`{"subject": "` + c.subject + `", "c": "/a/b/c/d/e", "op": "container.view"}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				txn, _ := st.NewTransaction(ctx)
				var code *ast.Term
				err := topdown.NewQuery(q).WithCompiler(comp).WithStore(st).WithTransaction(txn).WithInput(input).
					Iter(ctx, func(qr topdown.QueryResult) error {
						code = qr[ast.Var("decision")].Get(ast.InternedTerm("code"))
						return nil
					})
				st.Abort(ctx, txn)
				if err != nil || code == nil || !code.Equal(ast.InternedTerm(c.want)) {
					b.Fatal(err, code)
				}
			}
		})
	}
}
