// Package loadgen drives a decision function from concurrent callers for
// a bounded time and reports throughput and the latency distribution. It
// uses the standard library only, so the peers' separate bench modules
// measure with exactly the same loop as grantd's.
package loadgen

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one measured load step.
type Result struct {
	System    string  `json:"system"`
	Interface string  `json:"interface"`
	Callers   int     `json:"callers"`
	Decisions int     `json:"decisions"`
	Calls     int     `json:"calls"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// Call latency in milliseconds.
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	// Errors counts failed calls; FirstError is the first one's message.
	Errors     int    `json:"errors"`
	FirstError string `json:"firstError,omitempty"`
	// Answers holds, per question, 1 allow, 0 deny, -1 not asked in the
	// first pass over the questions.
	Answers []int8 `json:"answers,omitempty"`
}

// Option changes how Measure runs.
type Option func(*settings)

type settings struct{ onePass bool }

// OnePass stops once every question was asked once (or at the deadline).
func OnePass() Option { return func(s *settings) { s.onePass = true } }

// Caller asks about queries[i:i+n] (n is the batch size, 1 without
// batching) and writes each answer to allowed.
type Caller func(ctx context.Context, i int, allowed []bool) error

// Measure runs callers goroutines for about d, each taking the next
// question in turn, and records each call's latency. The first pass over
// the questions also records every answer, for the agreement check. nq
// must be a multiple of batch.
func Measure(ctx context.Context, system, iface string, callers, batch, nq int, d time.Duration, call Caller, opts ...Option) Result {
	var set settings
	for _, o := range opts {
		o(&set)
	}
	res := Result{System: system, Interface: iface, Callers: callers, Answers: make([]int8, nq)}
	for i := range res.Answers {
		res.Answers[i] = -1
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	// Calls get ctx itself, not a deadline: a call in flight when the step
	// ends completes and counts, rather than failing on a cut-off deadline.
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			var mine []time.Duration
			errs, first := 0, ""
			allowed := make([]bool, batch)
			for ctx.Err() == nil && time.Now().Before(end) {
				k := int(next.Add(int64(batch))) - batch
				if set.onePass && k >= nq {
					break
				}
				i := k % nq // nq is a multiple of batch
				t0 := time.Now()
				err := call(ctx, i, allowed)
				mine = append(mine, time.Since(t0))
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				if k < nq { // the first pass: each index once
					for j, a := range allowed {
						res.Answers[i+j] = 0
						if a {
							res.Answers[i+j] = 1
						}
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			res.Errors += errs
			if res.FirstError == "" {
				res.FirstError = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.Calls = len(lat)
	res.Decisions = len(lat) * batch
	res.PerSecond = float64(res.Decisions) / elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1e6 }
		res.P50, res.P95, res.P99 = p(0.50), p(0.95), p(0.99)
	}
	return res
}

// System is one decision function of a comparison.
type System struct {
	Name, Interface string
	Call            Caller
}

// Agreement counts how a system's answers compare with the yardstick's.
type Agreement struct {
	System   string `json:"system"`
	Compared int    `json:"compared"`
	Differ   int    `json:"differ"`
	// FirstDiffer is the first question answered differently (-1: none).
	FirstDiffer int `json:"firstDiffer"`
}

// MinP99Samples is the fewest latency samples a p99 is reported from.
const MinP99Samples = 1000

// Compare measures systems on the same nq questions, one at a time per
// caller: a warm-up pass each, then rounds passes each, in an order that
// alternates from round to round (so that neither side always runs after
// the other), callers goroutines per pass. Every answer of every pass is
// compared with the first system's (the yardstick) warm-up answer to the
// same question. A Result merges a system's passes; its P99 is -1 when
// the passes gave fewer than MinP99Samples calls.
func Compare(ctx context.Context, systems []System, callers, nq, rounds int) ([]Result, []Agreement) {
	type acc struct {
		lat     []time.Duration
		elapsed time.Duration
		errs    int
		first   string
	}
	accs := make([]acc, len(systems))
	want := make([]int8, nq)
	agree := make([]Agreement, len(systems))
	for i, s := range systems {
		agree[i] = Agreement{System: s.Name, FirstDiffer: -1}
	}
	pass := func(si int, record bool) {
		s := systems[si]
		answers := make([]int8, nq)
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for range callers {
			wg.Go(func() {
				var mine []time.Duration
				errs, first := 0, ""
				allowed := make([]bool, 1)
				for ctx.Err() == nil {
					i := int(next.Add(1)) - 1
					if i >= nq {
						break
					}
					t0 := time.Now()
					err := s.Call(ctx, i, allowed)
					mine = append(mine, time.Since(t0))
					answers[i] = -1
					if err != nil {
						errs++
						if first == "" {
							first = err.Error()
						}
						continue
					}
					answers[i] = 0
					if allowed[0] {
						answers[i] = 1
					}
				}
				mu.Lock()
				if record {
					accs[si].lat = append(accs[si].lat, mine...)
				}
				accs[si].errs += errs
				if accs[si].first == "" {
					accs[si].first = first
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if record {
			accs[si].elapsed += time.Since(start)
		}
		if si == 0 && !record {
			copy(want, answers)
		}
		for i, a := range answers {
			if a < 0 || want[i] < 0 {
				continue
			}
			agree[si].Compared++
			if a != want[i] {
				agree[si].Differ++
				if agree[si].FirstDiffer < 0 {
					agree[si].FirstDiffer = i
				}
			}
		}
	}
	for si := range systems {
		pass(si, false)
	}
	for r := range rounds {
		for k := range systems {
			si := k
			if r%2 == 1 {
				si = len(systems) - 1 - k
			}
			pass(si, true)
		}
	}
	out := make([]Result, len(systems))
	for si, s := range systems {
		a := accs[si]
		res := Result{System: s.Name, Interface: s.Interface, Callers: callers, Calls: len(a.lat), Decisions: len(a.lat),
			Seconds: a.elapsed.Seconds(), Errors: a.errs, FirstError: a.first, P99: -1}
		if a.elapsed > 0 {
			res.PerSecond = float64(len(a.lat)) / a.elapsed.Seconds()
		}
		if len(a.lat) > 0 {
			slices.Sort(a.lat)
			p := func(q float64) float64 { return float64(a.lat[int(q*float64(len(a.lat)-1))].Nanoseconds()) / 1e6 }
			res.P50, res.P95 = p(0.50), p(0.95)
			if len(a.lat) >= MinP99Samples {
				res.P99 = p(0.99)
			}
		}
		out[si] = res
	}
	return out, agree
}
