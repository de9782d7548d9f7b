package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		state, live uint64
		want        int64
	}{
		{0, 0, Margin},                                     // the margin above nothing live
		{100 * mib, 100 * mib, 368 * mib},                  // a small state: the margin above it (356 MiB), rounded up
		{350 * mib, 350 * mib, 880 * mib},                  // enterprise-large's state: 2.5 times it (875 MiB), rounded up
		{350 * mib, 550 * mib, 880 * mib},                  // live above the state under load: 2.5 times the state still
		{350 * mib, 800 * mib, 1056 * mib},                 // far above it (a bulk import): the margin above what is live
		{1 << 30, 1 << 30, 2560 * mib},                     // already a multiple of the step
		{1<<30 + 1, 1<<30 + 1, 2576 * mib},                 // one byte more: the next step
		{(math.MaxInt64 - 16*mib) / 10, 0, 1 << 61},        // the largest state 2.5 times which fits: rounded up, 2^61
		{math.MaxUint64, 0, math.MaxInt64 - 16*mib + 1},    // no overflow
		{0, math.MaxUint64, math.MaxInt64 - 16*mib + 1},    // nor here
		{math.MaxInt64 / 4, 0, math.MaxInt64 - 16*mib + 1}, // nor 2.5 times the most
	} {
		if got := For(c.state, c.live); got != c.want {
			t.Errorf("For(%d, %d) = %d, want %d", c.state, c.live, got, c.want)
		}
	}
}

// TestStateIsTheLeastOfTheWindow: the state is the least live heap of the
// last samples; a low one is forgotten once the window has moved past it.
func TestStateIsTheLeastOfTheWindow(t *testing.T) {
	s := newState(3)
	for i, c := range []struct{ live, want uint64 }{
		{500, 500}, {600, 500}, {450, 450}, {700, 450}, {800, 450}, {900, 700}, {1000, 800}, {100, 100},
	} {
		if got := s.observe(c.live); got != c.want {
			t.Fatalf("sample %d (%d): state %d, want %d", i, c.live, got, c.want)
		}
	}
}

func TestConfigured(t *testing.T) {
	for env, want := range map[string]bool{"": false, "GOGC=50": true, "GOGC=off": true, "GOMEMLIMIT=1GiB": true, "GOMEMLIMIT=off": true, "GODEBUG=gctrace=1": false} {
		got := Configured(func(name string) string {
			if k, v, _ := strings.Cut(env, "="); k == name {
				return v
			}
			return ""
		})
		if got != want {
			t.Errorf("Configured with %q = %v, want %v", env, got, want)
		}
	}
}

// TestFollowSetsTheRuntimeLimit: the limit the runtime holds is the one
// Follow reports, For of the state and the live heap, and it follows the
// heap as it grows.
func TestFollowSetsTheRuntimeLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ctx, cancel := context.WithCancel(context.Background())
	type set struct {
		limit       int64
		state, live uint64
	}
	sets := make(chan set, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Follow(ctx, 10*time.Millisecond, func(limit int64, state, live uint64) { sets <- set{limit, state, live} })
	}()
	first := <-sets
	if first.state != first.live || first.limit != For(first.live, first.live) || debug.SetMemoryLimit(-1) != first.limit {
		t.Fatalf("first limit %d for state %d, live %d; For says %d, the runtime holds %d",
			first.limit, first.state, first.live, For(first.live, first.live), debug.SetMemoryLimit(-1))
	}
	// 512 MiB more live: the window still remembers the smaller state, and
	// the limit rises to the margin above what is live.
	state := make([][]byte, 512)
	for i := range state {
		state[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-sets:
			if s.state > s.live || s.limit != For(s.state, s.live) {
				t.Fatalf("limit %d for state %d, live %d; For says %d", s.limit, s.state, s.live, For(s.state, s.live))
			}
			if s.live >= 512<<20 {
				if s.state != first.state || s.limit < int64(s.live)+Margin {
					t.Fatalf("live %d: state %d (first %d), limit %d", s.live, s.state, first.state, s.limit)
				}
				if got := debug.SetMemoryLimit(-1); got != s.limit {
					t.Fatalf("the runtime holds %d, Follow set %d", got, s.limit)
				}
				cancel()
				<-done
				runtime.KeepAlive(state)
				return
			}
		case <-deadline:
			t.Fatalf("the limit did not follow a live heap of 512 MiB more (first %d)", first.limit)
		}
	}
}
