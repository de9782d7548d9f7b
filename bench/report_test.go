package main

import (
	"strings"
	"testing"

	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/bench/peerkit"
	"github.com/grantd/grantd/dataset"
)

// TestTargetsOfIssue21 checks the rows that issue 21 adds to the report's
// targets: gRPC with the cache off, and grantd's lead over the fair peers,
// judged by the least of its ratios over the numbers of callers.
func TestTargetsOfIssue21(t *testing.T) {
	pair := func(peer string, callers int, grantdP50, peerP50 float64) []loadgen.Result {
		return []loadgen.Result{
			{System: "grantd", Interface: "in-process", Callers: callers, P50: grantdP50, Calls: 1},
			{System: peer, Interface: "in-process", Callers: callers, P50: peerP50, Calls: 1},
		}
	}
	r := &report{peerSize: dataset.Small, server: []loadgen.Result{
		{System: "grantd", Interface: "gRPC, cache off", Callers: 16, PerSecond: 21000, P99: 4, Calls: 1},
		{System: "grantd", Interface: "gRPC, cache off", Callers: 64, PerSecond: 19999, P99: 9, Calls: 1},
	}}
	r.peerRuns = []peerRun{
		{name: "OPA, idiomatic policy", aheadBy: 3, out: &peerkit.Output{Results: append(pair("OPA", 1, 0.05, 0.2), pair("OPA", 2, 0.05, 0.145)...)}},
		{name: "OpenFGA, parent-child model, SQLite", aheadBy: 20, out: &peerkit.Output{Results: append(pair("OpenFGA", 1, 0.05, 8), pair("OpenFGA", 2, 0.06, 12)...)}},
		{name: "SpiceDB, parent-child schema", out: &peerkit.Output{Results: pair("SpiceDB", 1, 0.05, 0.06)}},
	}
	var b strings.Builder
	r.targets(&b)
	rows := map[string]string{}
	for line := range strings.SplitSeq(b.String(), "\n") {
		if cells := strings.Split(line, " | "); len(cells) == 4 {
			rows[strings.TrimPrefix(cells[0], "| ")] = cells[2] + " → " + strings.TrimSuffix(cells[3], " |")
		}
	}
	for measure, want := range map[string]string{
		"gRPC Authorize, 64 callers, decision cache off (issue 21)":                                  "19999/s, p99 9.00 ms → **not met**",
		"policy evaluated, p50 against OPA, idiomatic policy (small, below; issue 21)":               "4.0× (1 caller), 2.9× (2 callers) → **not met**",
		"policy evaluated, p50 against OpenFGA, parent-child model, SQLite (small, below; issue 21)": "160.0× (1 caller), 200.0× (2 callers) → met",
	} {
		if got := rows[measure]; got != want {
			t.Errorf("%s: %q, want %q\n%s", measure, got, want, b.String())
		}
	}
	if strings.Contains(b.String(), "SpiceDB") {
		t.Errorf("a peer without a target has a row:\n%s", b.String())
	}
}

// TestCacheOffWhen checks that the report says whether the cache-off
// steps waited for the restarted grantd's start-up collection.
func TestCacheOffWhen(t *testing.T) {
	for settled, want := range map[bool]string{
		true:  "once it had collected and returned its start-up garbage",
		false: "it did not report returning its start-up garbage",
	} {
		r := &report{cacheOffSettled: settled}
		if got := r.cacheOffWhen(); !strings.Contains(got, want) {
			t.Errorf("settled %v: %q, want it to say %q", settled, got, want)
		}
	}
}
