package authz

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/dataset"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// benchSize is the dataset of the benchmarks: GRANTD_BENCH_SIZE=small or
// enterprise-large (the default, the targets' reference).
func benchSize() dataset.Size {
	switch os.Getenv("GRANTD_BENCH_SIZE") {
	case "small":
		return dataset.Small
	case "medium":
		return dataset.Medium
	}
	return dataset.EnterpriseLarge
}

var (
	benchOnce sync.Once
	benchEnv  *env
	benchDir  string
	benchData *dataset.Dataset
	benchLoad time.Duration
	benchHeap uint64
)

// loadBench builds the dataset once per test binary run.
func loadBench(b *testing.B) (*env, *dataset.Dataset) {
	benchOnce.Do(func() {
		benchData = dataset.Generate(benchSize(), 1)
		dir, err := os.MkdirTemp("", "grantd-bench")
		if err != nil {
			b.Fatal(err)
		}
		// The dataset outlives each benchmark; TestMain closes it.
		benchDir = dir
		benchEnv = openEnv(b, dir)
		// These benchmarks measure the policy: every decision evaluates it.
		// (go run ./bench measures the decision cache separately.)
		benchEnv.e.SetDecisionCache(0)
		start := time.Now()
		for _, batch := range benchData.Batches {
			if _, err := benchEnv.st.Apply(context.Background(), store.Batch{Commands: batch}); err != nil {
				b.Fatalf("load: %v", err)
			}
		}
		benchLoad = time.Since(start)
		// The chain index as the engine has it once its refresh after
		// the last write is done (a fraction of a second).
		benchEnv.e.refreshChainsOf(benchEnv.e.opa.cur.Load(), maxChainRecompute)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		benchHeap = ms.HeapInuse
	})
	if benchEnv == nil {
		b.Fatal("dataset did not load")
	}
	return benchEnv, benchData
}

// BenchmarkBuild measures a whole compile of the dataset's state, as a
// restore and a start-up make it, and reports its allocations.
//
//	go test -run XXX -bench Build -benchtime 5x ./authz/
func BenchmarkBuild(b *testing.B) {
	v, _ := loadBench(b)
	r := v.st.Read()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (compiler{r: r}).build(r.Revision()); err != nil {
			b.Fatal(err)
		}
	}
}

func toRequest(q dataset.Query) Request {
	return Request{Subject: q.Subject, Operation: q.Operation, Collection: q.Collection, Repository: q.Repository, Options: q.Options}
}

// BenchmarkDecide measures in-process decisions on the reference dataset
// and reports their latency distribution, the share allowed, the heap
// held with the dataset loaded, and how long it took to load.
func BenchmarkDecide(b *testing.B) {
	var lat []time.Duration
	allowed := 0
	b.ReportAllocs()
	d := timeDecisions(b, func(_ Request, dec Decision, took time.Duration) {
		lat = append(lat, took)
		if dec.Allowed {
			allowed++
		}
	})
	slices.Sort(lat)
	p := func(q float64) float64 { return quantileµs(lat, q) }
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	b.ReportMetric(100*float64(allowed)/float64(len(lat)), "allowed-%")
	b.Logf("%s: %d decisions, p50 %.1fµs p90 %.1fµs p99 %.1fµs, %.0f%% allowed; heap %d MiB with the dataset; load %v",
		d.Size.Name, len(lat), p(0.5), p(0.9), p(0.99), 100*float64(allowed)/float64(len(lat)), benchHeap>>20, benchLoad.Round(time.Millisecond))
}

// timeDecisions asks the dataset's mix of questions, after a warm-up of
// every code path and the allocator, for as long as b loops, and passes
// each request, its decision and the time it took to each. A decision
// that failed fails the benchmark. It returns the dataset.
func timeDecisions(b *testing.B, each func(r Request, dec Decision, took time.Duration)) *dataset.Dataset {
	v, d := loadBench(b)
	queries := d.Queries(20000, 7)
	ctx := context.Background()
	for _, q := range queries[:2000] {
		v.e.Decide(ctx, toRequest(q))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r := toRequest(queries[i%len(queries)])
		start := time.Now()
		dec := v.e.Decide(ctx, r)
		took := time.Since(start)
		if dec.Code == CodeInternalError {
			b.Fatal(dec.Reason)
		}
		each(r, dec, took)
	}
	b.StopTimer()
	return d
}

// quantileµs is the q-quantile of sorted latencies, in microseconds.
func quantileµs(sorted []time.Duration, q float64) float64 {
	return float64(sorted[int(q*float64(len(sorted)-1))].Nanoseconds()) / 1000
}

// BenchmarkDecideParallel runs decisions from every core at once.
func BenchmarkDecideParallel(b *testing.B) {
	v, d := loadBench(b)
	queries := d.Queries(20000, 8)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			v.e.Decide(ctx, toRequest(queries[i%len(queries)]))
			i++
		}
	})
}

// BenchmarkGrantWriteVisible measures a grant write, from submitting it to
// decisions reflecting it: raft commit with fsync, the store apply and the
// incremental recompilation all included.
func BenchmarkGrantWriteVisible(b *testing.B) {
	v, d := loadBench(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		user := d.Users[i%len(d.Users)]
		col := fmt.Sprintf("/c0/bench%d", i)
		if _, err := v.st.Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: col}}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := v.st.Apply(ctx, store.CreateGrant{Grant: store.Grant{ID: fmt.Sprintf("bench%d", i),
			Subject: subjects.OfUser(user), Role: "fullcontrol", Object: subjects.CollectionOf(col)}}); err != nil {
			b.Fatal(err)
		}
		if !v.e.Decide(ctx, Request{Subject: subjects.OfUser(user), Operation: "container.exec", Collection: col}).Allowed {
			b.Fatal("the new grant is not visible after its write returned")
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}

// BenchmarkDecideByKind times the dataset's questions as BenchmarkDecide
// does and groups them by kind (a question about a collection, a container
// or service creation, a repository) and answer: what each costs, and
// where the mix's slowest 1 % comes from (docs/performance.md, "Where the
// tail lives").
//
//	go test -run XXX -bench DecideByKind -benchtime 60000x ./authz/
func BenchmarkDecideByKind(b *testing.B) {
	type timed struct {
		group string
		took  time.Duration
	}
	var all []timed
	d := timeDecisions(b, func(r Request, dec Decision, took time.Duration) {
		kind := "collection"
		switch {
		case r.Repository != "":
			kind = "repository"
		case schedulingOps[r.Operation]:
			kind = "creation"
		}
		all = append(all, timed{kind + ", " + string(dec.Code), took})
	})
	slices.SortFunc(all, func(x, y timed) int { return cmp.Compare(x.took, y.took) })
	slowest := all[len(all)*99/100].took
	groups := map[string][]time.Duration{}
	for _, t := range all {
		groups[t.group] = append(groups[t.group], t.took) // sorted: taken from all, in order
	}
	over := func(l []time.Duration) int {
		return len(l) - sort.Search(len(l), func(i int) bool { return l[i] > slowest })
	}
	tail := max(len(all)-sort.Search(len(all), func(i int) bool { return all[i].took > slowest }), 1)
	fmt.Printf("%s, %d decisions: p50 %.1f µs, p99 %.1f µs\n\n", d.Size.Name, len(all), float64(all[len(all)/2].took.Nanoseconds())/1000, float64(slowest.Nanoseconds())/1000)
	fmt.Println("| kind, answer | share | p50 µs | p90 µs | p99 µs | of the slowest 1 % |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		l := groups[name]
		fmt.Printf("| %s | %.1f %% | %.1f | %.1f | %.1f | %.0f %% |\n", name, 100*float64(len(l))/float64(len(all)),
			quantileµs(l, 0.5), quantileµs(l, 0.9), quantileµs(l, 0.99), 100*float64(over(l))/float64(tail))
	}
}
