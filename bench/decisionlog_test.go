package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/dataset"
	"github.com/grantd/grantd/decisionlog"
	"github.com/grantd/grantd/internal/buildtags"
)

// TestMedianCI checks the order statistics the interval takes, from the
// binomial tables: n = 6 → 1st and 6th, n = 10 → 2nd and 9th, n = 20 →
// 6th and 15th; under six samples there is no 95 % interval.
func TestMedianCI(t *testing.T) {
	for _, c := range []struct{ n, k int }{{5, 0}, {6, 1}, {10, 2}, {16, 4}, {20, 6}} {
		xs := make([]float64, c.n)
		for i := range xs {
			xs[i] = float64((i*7)%c.n + 1) // 1..n, shuffled
		}
		lo, hi, ok := medianCI(xs)
		if c.k == 0 {
			if ok {
				t.Errorf("n=%d: interval [%v, %v], want none", c.n, lo, hi)
			}
			continue
		}
		if !ok || lo != float64(c.k) || hi != float64(c.n+1-c.k) {
			t.Errorf("n=%d: [%v, %v] %v, want [%d, %d]", c.n, lo, hi, ok, c.k, c.n+1-c.k)
		}
	}
}

// TestGroupByCache: -together loads the setups of one cache setting at
// once, and never a setup of the other setting with them.
func TestGroupByCache(t *testing.T) {
	setups := []logSetup{{"off", "", true}, {"file", "f", true}, {"http", "h", true}, {"off", "", false}, {"file", "f", false}, {"http", "h", false}}
	got := groupByCache(setups)
	if len(got) != 2 || len(got[0]) != 3 || len(got[1]) != 3 {
		t.Fatalf("groups %v, want two of three", got)
	}
	for _, g := range got {
		for _, i := range g {
			if setups[i].cache != setups[g[0]].cache {
				t.Errorf("group %v mixes cache settings", g)
			}
		}
	}
	if got := groupByCache(setups[3:]); len(got) != 1 || len(got[0]) != 3 || got[0][0] != 0 {
		t.Errorf("one setting: %v", got)
	}
}

// TestDecisionLogSmoke runs the decision-log bench at the small size with
// short slices, one after the other and at once: every setup's grantd
// answers every question alike, the setups with a log keep every
// decision and the others none, and the report has a row and a verdict
// for each. It asserts no timings.
func TestDecisionLogSmoke(t *testing.T) {
	for _, together := range []bool{false, true} {
		t.Run(map[bool]string{false: "alternating", true: "together"}[together], func(t *testing.T) {
			o := decisionLogOptions{size: dataset.Small, out: t.TempDir(), duration: 300 * time.Millisecond, rounds: 2, callers: 8,
				queries: 2000, cache: "both", together: together}
			runs, compared, gzip, err := measureDecisionLog(context.Background(), o, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != o.rounds*2*4 {
				t.Fatalf("%d runs, want %d rounds of four setups for each cache setting", len(runs), o.rounds)
			}
			decisions := 0
			for _, r := range runs {
				logs := r.setup.name == setupFile || r.setup.name == setupHTTP
				if r.result.Decisions == 0 || r.cpuPerDecision <= 0 {
					t.Errorf("round %d, %s (cache %v): %d decisions, %.1f µs CPU each", r.round, r.setup.name, r.setup.cache, r.result.Decisions, r.cpuPerDecision)
				}
				// The log counts a record when its writer takes it, which may
				// be after the slice's last reading: a logging setup counts
				// some in every slice, the others none.
				if logs != (r.kept+r.dropped > 0) {
					t.Errorf("round %d, %s (cache %v): %d decisions, %.0f kept and %.0f dropped by the log", r.round, r.setup.name, r.setup.cache,
						r.result.Decisions, r.kept, r.dropped)
				}
				decisions += r.result.Decisions
			}
			// Every answer after the first run's is compared with an earlier one.
			if compared == 0 || compared > decisions {
				t.Errorf("%d answers compared of %d", compared, decisions)
			}
			// The HTTP sink's grantd said which gzip it compresses with:
			// the one of the build the bench made.
			want := decisionlog.CompressorGo
			if slices.Contains(buildtags.Args(), "isal") {
				want = decisionlog.CompressorISAL
			}
			if gzip != want {
				t.Errorf("the HTTP sink compresses with %q, want %q", gzip, want)
			}
			report := decisionLogReport(o, runs, compared, gzip)
			for _, want := range []string{"## Decision cache on", "## Decision cache off", "| off |", "| off, a second grantd (control) |", "| file |", "| http |", "The control, a grantd with the log off"} {
				if strings.Count(report, want) != map[bool]int{true: 1, false: 2}[strings.HasPrefix(want, "##")] {
					t.Errorf("the report has %q %d times:\n%s", want, strings.Count(report, want), report)
				}
			}
			if n := strings.Count(report, "| met |") + strings.Count(report, "| **not met** |"); n != 4 {
				t.Errorf("%d verdicts in the report, want one per log setup and cache setting:\n%s", n, report)
			}
		})
	}
}
