package main

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/dataset"
)

// TestSmoke runs the whole benchmark at the small size with short steps:
// a real grantd restored from the snapshot, every load step, both peers
// (OpenFGA from its own module), and the report. It asserts what must
// hold whatever the machine's speed: every step decided without errors,
// every system agrees with grantd on every answer compared, and the
// report and plot are written. It asserts no timings.
func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	o := options{size: dataset.Small, peerSize: dataset.Small, out: dir, duration: 300 * time.Millisecond,
		callers: []int{1, 8}, peerCallers: []int{1, 2}, peerQuestions: 200, peerRounds: 1, queries: 2000, peers: true, cluster: true, log: t.Logf}
	rep, err := run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	systems := map[string]bool{}
	all := append(rep.inProcess, rep.server...)
	for _, run := range rep.peerRuns {
		all = append(all, run.out.Results...)
	}
	for _, r := range all {
		systems[r.System+" "+r.Interface] = true
		if r.Errors > 0 || r.Decisions == 0 {
			t.Errorf("%s %s with %d callers: %d decisions, %d errors (%s)", r.System, r.Interface, r.Callers, r.Decisions, r.Errors, r.FirstError)
		}
	}
	for _, want := range []string{"grantd in-process", "grantd in-process, cache", "grantd gRPC", "grantd gRPC batch of 100",
		"grantd REST", "grantd Kubernetes webhook", "grantd gRPC, cache off", floorSystem + " gRPC, no decision", "OPA, idiomatic policy in-process", "OPA, naive policy (floor) in-process",
		"OpenFGA, parent-child model, SQLite in-process", "OpenFGA, flat-ancestor model, SQLite in-process",
		"OpenFGA, flat-ancestor model, SQLite, check cache in-process",
		"OpenFGA, parent-child model, PostgreSQL in-process", "OpenFGA, flat-ancestor model, PostgreSQL in-process", "SpiceDB, parent-child schema, in-memory datastore in-process gRPC",
		"SpiceDB, parent-child schema, in-memory datastore, dispatch cache in-process gRPC", "SpiceDB, parent-child schema, PostgreSQL in-process gRPC"} {
		if !systems[want] {
			t.Errorf("no measurement of %s", want)
		}
	}
	// Three interfaces and the Kubernetes webhook; nine peers at 1 and 2
	// callers, the naive floor at 1.
	if len(rep.agreement) != 4+9*2+1 || rep.uncompared() != 0 {
		t.Fatalf("%d agreement rows, want %d; %d peer comparisons compared too few answers", len(rep.agreement), 4+9*2+1, rep.uncompared())
	}
	for _, a := range rep.agreement {
		if a.compared == 0 || a.differ != 0 {
			t.Errorf("%s against %s: %d answers compared, %d different", a.system, a.reference, a.compared, a.differ)
		}
	}
	if len(rep.visible) != 200 || len(rep.startups) != startups || rep.startup() <= 0 || rep.rssPeak == 0 || !rep.rssSettled || !rep.cacheOffSettled {
		t.Errorf("write-to-visible samples %d, start-ups %v, peak RSS %d, start-up memory returned %v (and after the restart %v)",
			len(rep.visible), rep.startups, rep.rssPeak, rep.rssSettled, rep.cacheOffSettled)
	}
	// The profiles saw the store load. They are samples: at the small
	// size a start-up is some 25 CPU samples, a fifth of them in the
	// store, whose snapshot is decoded and sorted tables built on
	// goroutines of their own, so no store function need reach the
	// report's top nodes. Every sampled stack is searched instead, in
	// the CPU profile and in the heap profile of the loaded tables.
	sp := rep.startupProfile
	if sp == nil || sp.heap == 0 || !strings.Contains(sp.cpuTop, "Type: cpu") || !strings.Contains(sp.heapTop, "inuse_space") {
		t.Fatalf("start-up profile: %+v", sp)
	}
	if !strings.Contains(pprofRun("-traces", sp.cpuFile)+pprofRun("-traces", sp.heapFile), "grantd/grantd/store.") {
		t.Errorf("no store function in any sampled stack of the start-up profiles: %+v", sp)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.cluster; c == nil || len(c.leaderWrite) != clusterWrites || len(c.followerWrite) != clusterWrites ||
		c.failover <= 0 || c.singleRate <= 0 || c.nodeRates[0] <= 0 || c.nodeRates[1] <= 0 || c.nodeRates[2] <= 0 {
		t.Errorf("cluster figures: %+v", c)
	}
	for _, want := range []string{"## Targets", "the transport floor, answering without deciding", "decision cache off (issue 21) | ≥ 20,000/s", "p50 against OPA, idiomatic policy", "p50 against OpenFGA, flat-ancestor model, SQLite", "p50 against OpenFGA, parent-child model, PostgreSQL", "## Side by side with the peers", "OPA, idiomatic policy", "a floor, not a fair peer", "OpenFGA, parent-child", "![", "## Where the time goes", "Start-up, profiled",
		"## A three-node cluster"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	f, err := os.Open(filepath.Join(dir, "latency.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 400 {
		t.Fatalf("latency.png: %v", err)
	}
}
