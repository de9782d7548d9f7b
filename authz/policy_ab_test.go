package authz

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/policies"
)

// BenchmarkPolicyAB compares two versions of the policy in one process, on
// one loaded dataset: the same questions, in blocks that alternate between
// them, each answer of the one compared with the other's. Separate test
// binaries differ by as much as a fifth from run to run on this machine;
// here, two copies of one policy come within 2 % of each other.
//
//	GRANTD_POLICY_A=old.rego GRANTD_POLICY_B=policies/authz.rego \
//	    go test -run XXX -bench PolicyAB -benchtime 80000x ./authz/
//
// Each file replaces policies/authz.rego; a side not given is the embedded
// policy. The questions are the dataset's, asked once by collection, once
// by the collection's access label, then its repository questions and its
// container and service creations alone.
// A difference fails the run: a faster policy that answers otherwise is
// not a comparison.
func BenchmarkPolicyAB(b *testing.B) {
	v, d := loadBench(b)
	type side struct {
		name    string
		c       *ast.Compiler
		queries map[string]ast.Body
	}
	sides := make([]side, 2)
	for i, env := range []string{"GRANTD_POLICY_A", "GRANTD_POLICY_B"} {
		sources := policies.Modules()
		name := "embedded"
		if file := os.Getenv(env); file != "" {
			src, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			sources["authz.rego"], name = string(src), file
		}
		c, queries, err := compilePolicy(sources)
		if err != nil {
			b.Fatal(err)
		}
		sides[i] = side{name: name, c: c, queries: queries}
	}
	questions := d.Queries(20000, 7)
	defer func(c *ast.Compiler, q map[string]ast.Body) { v.e.compiler, v.e.queries = c, q }(v.e.compiler, v.e.queries)
	for _, name := range []string{"by-collection", "by-label", "repositories", "creations"} {
		b.Run(name, func(b *testing.B) {
			var reqs []Request
			for _, q := range questions {
				r := toRequest(q)
				switch {
				case name == "repositories" && r.Repository == "":
					continue
				case name == "creations" && !schedulingOps[r.Operation]:
					continue
				case name == "by-label" && r.Collection != "":
					r.Labels, r.HasLabels = map[string]string{collections.AccessLabel: r.Collection}, true
					r.Collection = ""
				}
				reqs = append(reqs, r)
			}
			abCompare(b, v.e, reqs, sides[0].name, sides[1].name, func(i int) {
				v.e.compiler, v.e.queries = sides[i].c, sides[i].queries
			})
		})
	}
}

// abCompare asks reqs in blocks alternating between two sides (use(i)
// switches the engine to side i), prints each side's latencies and fails
// on any answer that differs.
func abCompare(b *testing.B, e *Engine, reqs []Request, nameA, nameB string, use func(int)) {
	ctx := context.Background()
	lat := [2][]time.Duration{}
	answers := [2][]Decision{make([]Decision, len(reqs)), make([]Decision, len(reqs))}
	for i := range 2 {
		use(i)
		for _, r := range reqs[:min(2000, len(reqs))] { // warm-up
			e.Decide(ctx, r)
		}
	}
	const block = 1000
	b.ResetTimer()
	for round := 0; round*block < b.N; round++ {
		for k := range 2 {
			i := (round + k) % 2 // each side goes first every other round
			use(i)
			for j := range block {
				n := (round*block + j) % len(reqs)
				start := time.Now()
				dec := e.Decide(ctx, reqs[n])
				lat[i] = append(lat[i], time.Since(start))
				dec.Revision = 0
				answers[i][n] = dec
			}
		}
	}
	b.StopTimer()
	for n := range reqs {
		if fmt.Sprint(answers[0][n]) != fmt.Sprint(answers[1][n]) {
			b.Fatalf("%+v: A answers %+v, B %+v", reqs[n], answers[0][n], answers[1][n])
		}
	}
	var mean, p50 [2]float64
	for i, name := range []string{nameA, nameB} {
		l := lat[i]
		slices.Sort(l)
		var sum time.Duration
		for _, x := range l {
			sum += x
		}
		p := func(q float64) float64 { return float64(l[int(q*float64(len(l)-1))].Nanoseconds()) / 1000 }
		mean[i], p50[i] = float64(sum.Nanoseconds())/float64(len(l))/1000, p(.5)
		b.Logf("%c (%s): %d decisions, mean %.1f µs, p50 %.1f µs, p90 %.1f µs, p99 %.1f µs",
			'A'+i, name, len(l), mean[i], p50[i], p(.9), p(.99))
	}
	// ns/op counts both sides' decisions: these are each side's own.
	b.ReportMetric(mean[0], "A-mean-µs")
	b.ReportMetric(mean[1], "B-mean-µs")
	b.ReportMetric(mean[1]/mean[0], "B/A-mean")
	b.ReportMetric(p50[1]/p50[0], "B/A-p50")
}
