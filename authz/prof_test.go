package authz

import (
	"context"
	"fmt"

	"testing"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// BenchmarkPolicyProfile evaluates the dataset's queries under OPA's
// expression profiler and prints the 25 most expensive lines of the
// policy, per query: where a decision's time goes (docs/performance.md).
//
//	GRANTD_BENCH_SIZE=medium go test -run XXX -bench PolicyProfile -benchtime 2000x ./authz/
func BenchmarkPolicyProfile(b *testing.B) {
	v, d := loadBench(b)
	p := profiler.New()
	ctx := context.Background()
	queries := d.Queries(b.N, 3)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := toRequest(queries[i%len(queries)])
		txn, _ := v.e.opa.NewTransaction(ctx)
		err := topdown.NewQuery(v.e.queries["schedule"]).WithCompiler(v.e.compiler).WithStore(v.e.opa).
			WithTransaction(txn).WithInput(r.Input()).WithQueryTracer(p).
			Iter(ctx, func(topdown.QueryResult) error { return nil })
		v.e.opa.Abort(ctx, txn)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fmt.Printf("%10s %8s %8s  %s\n", "µs/query", "evals", "redos", "policy line")
	for _, s := range p.ReportTopNResults(25, []string{"total_time_ns"}) {
		fmt.Printf("%10.2f %8d %8d  %s:%d\n", float64(s.ExprTimeNs)/float64(b.N)/1000, s.NumEval, s.NumRedo, s.Location.File, s.Location.Row)
	}
}
