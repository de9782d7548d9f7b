package loadgc

import (
	"runtime/debug"
	"testing"
)

// While the state loads, the collector runs at most a quarter as often as
// by default, never more often than GOGC asks, and as GOGC asks afterwards.
func TestStartCollectsLessUntilLoaded(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	for _, gogc := range []int{100, 50, 400, 800, -1} {
		debug.SetGCPercent(gogc)
		loaded := Start()
		want := max(gogc, Percent)
		if gogc < 0 {
			want = gogc
		}
		if during := debug.SetGCPercent(0); during != want {
			t.Errorf("GOGC %d: %d while loading, want %d", gogc, during, want)
		}
		debug.SetGCPercent(want)
		loaded()
		if after := debug.SetGCPercent(gogc); after != gogc {
			t.Errorf("GOGC %d: %d once loaded", gogc, after)
		}
	}
}
