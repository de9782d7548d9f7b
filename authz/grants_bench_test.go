package authz

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGrantsOfDecisions measures what naming the grants adds to a
// decision (the decision log's cost in the engine), answered by the cache
// and evaluated:
//
//	GRANTD_BENCH_SIZE=medium go test -run XXX -bench GrantsOfDecisions ./authz
func BenchmarkGrantsOfDecisions(b *testing.B) {
	v, d := loadBench(b)
	queries := d.Queries(20000, 7)
	ctx := context.Background()
	defer v.e.SetDecisionCache(0)
	for _, c := range []struct {
		cache      int
		withGrants bool
	}{{DefaultDecisionCache, false}, {DefaultDecisionCache, true}, {0, false}, {0, true}} {
		v.e.SetDecisionCache(c.cache)
		for _, q := range queries {
			v.e.Decide(ctx, toRequest(q))
		}
		name := map[bool]string{false: "decision", true: "decision+grants"}[c.withGrants] + map[bool]string{true: "/cached", false: "/evaluated"}[c.cache > 0]
		withGrants := c.withGrants
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			named := 0
			for i := 0; b.Loop(); i++ {
				named += len(v.e.DecideWithGrants(ctx, toRequest(queries[i%len(queries)]), time.Now(), withGrants).Grants)
			}
			b.ReportMetric(float64(named)/float64(b.N), "grants/op")
		})
	}
}
