package authz

import (
	"context"
	"testing"
)

// BenchmarkGrantsOfCachedDecisions measures what naming the grants adds
// to a decision the cache answers (the decision log's cost in the engine):
//
//	GRANTD_BENCH_SIZE=medium go test -run XXX -bench GrantsOfCached ./authz
func BenchmarkGrantsOfCachedDecisions(b *testing.B) {
	v, d := loadBench(b)
	queries := d.Queries(20000, 7)
	ctx := context.Background()
	v.e.SetDecisionCache(DefaultDecisionCache)
	defer v.e.SetDecisionCache(0)
	for _, q := range queries {
		v.e.Decide(ctx, toRequest(q))
	}
	for _, withGrants := range []bool{false, true} {
		name := map[bool]string{false: "decision", true: "decision+grants"}[withGrants]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			named := 0
			for i := 0; b.Loop(); i++ {
				_, gs := v.e.DecideWithGrants(ctx, toRequest(queries[i%len(queries)]), withGrants)
				named += len(gs)
			}
			b.ReportMetric(float64(named)/float64(b.N), "grants/op")
		})
	}
}
