// Package memlimit keeps the memory grantd holds in proportion to its
// state, by the Go runtime's soft memory limit.
//
// grantd's heap is mostly its state (the store's rows and the compiled
// policy state), long-lived and made of many small objects; requests add
// short-lived garbage. GOGC's default lets the heap grow to twice what is
// live before collecting, but that goal counts neither the state's
// fragmentation (a third of it again with enterprise-large) nor the free
// pages the runtime keeps, and under load what is live grows too: a
// collection's mark takes a second with enterprise-large, and what is
// allocated meanwhile counts as live. Resident memory after the
// benchmark's load reached 2.7 times the state. Follow caps the whole at
// 2.5 times the state instead. See docs/decisions.md, "Memory in proportion
// to the state".
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Quarters is the limit as a multiple of the state, in quarters: 10
	// is 2.5 times. Under load a collection marks the whole state again,
	// so the room left above what is live sets how often it does: at
	// twice the state, the collector took 35–42 % of grantd's CPU under
	// REST and webhook load with enterprise-large. 2.5 times, since the
	// compiled state's grant maps shrank (docs/decisions.md), leaves
	// resident memory after the benchmark's load at 820–840 MiB, under
	// what 2.25 times left before (about 895 MiB), with more room above
	// what is live than either.
	Quarters = 10
	// Margin is the least room the limit leaves above what is live now:
	// with a small state, requests' garbage is most of the heap, and
	// while the state grows (a bulk import), what is live is ahead of
	// the state the window remembers.
	Margin = 256 << 20
	// Window is how long a low live heap is remembered as the state:
	// the state is what stays live, and the least live heap over a few
	// minutes leaves out what requests held when a collection ended.
	Window = 5 * time.Minute
	// step rounds the limit up, so that it moves with the state, not
	// with every collection's few bytes.
	step = 16 << 20
)

// For is the limit for a state of state bytes with live bytes live now:
// Quarters/4 times the state, Margin above what is live at least, rounded
// up to a step.
func For(state, live uint64) int64 {
	const most = math.MaxInt64 - step
	limit := uint64(most)
	if state <= most/Quarters {
		limit = state * Quarters / 4
	}
	if live > most-Margin {
		limit = most
	} else {
		limit = max(limit, live+Margin)
	}
	return int64((limit + step - 1) / step * step)
}

// Configured reports whether the operator set the collector's pace
// (GOGC or GOMEMLIMIT in the environment, "off" included): then Follow
// leaves it alone.
func Configured(getenv func(string) string) bool {
	return getenv("GOGC") != "" || getenv("GOMEMLIMIT") != ""
}

// liveHeap is the heap the last collection found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// state estimates the state's size as the least live heap of the last
// samples.
type state struct {
	samples []uint64
	next    int
}

func newState(n int) *state { return &state{samples: make([]uint64, 0, max(1, n))} }

// observe records a live heap and returns the least of the samples kept.
func (s *state) observe(live uint64) uint64 {
	if len(s.samples) < cap(s.samples) {
		s.samples = append(s.samples, live)
	} else {
		s.samples[s.next] = live
		s.next = (s.next + 1) % len(s.samples)
	}
	least := s.samples[0]
	for _, x := range s.samples[1:] {
		least = min(least, x)
	}
	return least
}

// Follow sets the soft memory limit to For(state, live heap) now and every
// interval until ctx ends, the state being the least live heap over the
// last Window; it calls set with each limit it sets that differs from the
// last, and the state and live heap it follows. Call it once the state is
// loaded and collected: while loading, the heap is mostly garbage.
func Follow(ctx context.Context, interval time.Duration, set func(limit int64, state, live uint64)) {
	st := newState(int(Window / interval))
	last := int64(-1)
	apply := func() {
		live := liveHeap()
		s := st.observe(live)
		limit := For(s, live)
		if limit == last {
			return
		}
		debug.SetMemoryLimit(limit)
		last = limit
		set(limit, s, live)
	}
	apply()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			apply()
		}
	}
}
