package authz

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestProfilePolicy prints OPA's expression profile of the policy over
// dataset queries. It only runs when GRANTD_PROFILE_POLICY is set.
func TestProfilePolicy(t *testing.T) {
	if os.Getenv("GRANTD_PROFILE_POLICY") == "" {
		return
	}
	b := &testing.B{}
	_ = b
	v, d := loadBenchT(t)
	p := profiler.New()
	ctx := context.Background()
	for _, q := range d.Queries(2000, 3) {
		r := toRequest(q)
		txn, _ := v.e.opa.NewTransaction(ctx)
		_ = topdown.NewQuery(v.e.queries["schedule"]).WithCompiler(v.e.compiler).WithStore(v.e.opa).WithTransaction(txn).
			WithInput(r.Input()).WithQueryTracer(p).Iter(ctx, func(topdown.QueryResult) error { return nil })
		v.e.opa.Abort(ctx, txn)
	}
	for _, s := range p.ReportTopNResults(25, []string{"total_time_ns"}) {
		fmt.Printf("%8.1fµs %6d evals %6d redo  %s:%d\n", float64(s.ExprTimeNs)/2000/1000, s.NumEval, s.NumRedo, s.Location.File, s.Location.Row)
	}
}
