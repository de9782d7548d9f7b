package server

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runLoad makes b.N calls from callers goroutines at once and reports the
// rate (as unit, e.g. "tokens/s") and the latency distribution. A failed
// call stops its goroutine with an error.
func runLoad(b *testing.B, name, unit string, callers int, call func() error) {
	b.Helper()
	var lat []time.Duration
	var mu sync.Mutex
	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= n {
				t0 := time.Now()
				err := call()
				mine = append(mine, time.Since(t0))
				if err != nil {
					b.Error(err)
					break
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	rate := float64(len(lat)) / elapsed.Seconds()
	b.ReportMetric(rate, unit)
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.Logf("%s: %d calls by %d callers in %v: %.0f %s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms",
		name, len(lat), callers, elapsed.Round(time.Millisecond), rate, unit, p(0.5), p(0.9), p(0.99))
}
