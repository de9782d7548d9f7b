package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/dataset"
)

// report collects one run's measurements.
type report struct {
	opts              options
	started           time.Time
	size, peerSize    dataset.Size
	snapshotBytes     int64
	generate, compile time.Duration
	restore           time.Duration
	// startups are the start-ups measured on the restored data, in order.
	startups           []time.Duration
	rssIdle, rssLoaded uint64
	rssPeak            uint64
	// rssSettled: rssIdle was read after grantd said it had returned its
	// start-up garbage to the OS.
	rssSettled        bool
	inProcess, server []loadgen.Result
	// kubeModel holds the answers the model gives the Kubernetes questions.
	kubeModel            loadgen.Result
	visible              []time.Duration
	peerQueries          int
	peerRuns             []peerRun
	profileTop           string
	startupProfile       *startupProfile
	warmup, serverWarmup float64
	startupAgain         time.Duration
	// cacheOffSettled: the cache-off steps began after the restarted
	// grantd said it had returned its start-up garbage to the OS.
	cacheOffSettled        bool
	cacheHits, cacheMisses float64
	agreement              []agreement
	// grantdBin is the binary measured; cluster the cluster step's figures.
	grantdBin string
	cluster   *clusterFigures
	// underWrites: the cached in-process step under a background write load.
	underWrites *underWrites
}

// underWrites is the decision cache's step under writes: the decisions,
// the writes made meanwhile and the cache's counts over the step.
type underWrites struct {
	result                    loadgen.Result
	applied, refused          int
	hits, misses, invalidated uint64
}

func (u *underWrites) hitRatio() float64 {
	if u.hits+u.misses == 0 {
		return 0
	}
	return float64(u.hits) / float64(u.hits+u.misses)
}

// agreement compares one system's answers with a reference's.
type agreement struct {
	system, reference string
	compared, differ  int
}

func compare(name, refName string, ref, other []loadgen.Result) agreement {
	a := agreement{system: name, reference: refName}
	answers := func(rs []loadgen.Result) []int8 {
		var out []int8
		for _, r := range rs {
			if out == nil {
				out = slices.Clone(r.Answers)
			}
			for i, v := range r.Answers {
				if v >= 0 && i < len(out) {
					out[i] = v
				}
			}
		}
		return out
	}
	want, got := answers(ref), answers(other)
	for i := range min(len(want), len(got)) {
		if want[i] >= 0 && got[i] >= 0 {
			a.compared++
			if want[i] != got[i] {
				a.differ++
			}
		}
	}
	return a
}

func pick(rs []loadgen.Result, system, iface string) []loadgen.Result {
	var out []loadgen.Result
	for _, r := range rs {
		if r.System == system && (iface == "" || r.Interface == iface) {
			out = append(out, r)
		}
	}
	return out
}

func (r *report) disagreements() int {
	n := 0
	for _, a := range r.agreement {
		n += a.differ
	}
	return n + r.uncompared()
}

// uncompared counts the peer comparisons that compared fewer answers than
// the peer had questions (each counts as a failure of the run).
func (r *report) uncompared() int {
	n := 0
	for _, run := range r.peerRuns {
		for _, a := range run.out.Agreements {
			if a.Compared < run.questions {
				n++
			}
		}
		if len(run.out.Agreements) == 0 {
			n++
		}
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// best is the highest throughput among rs, and the step it came from.
func best(rs []loadgen.Result) loadgen.Result {
	var b loadgen.Result
	for _, r := range rs {
		if r.PerSecond > b.PerSecond {
			b = r
		}
	}
	return b
}

func atCallers(rs []loadgen.Result, c int) (loadgen.Result, bool) {
	for _, r := range rs {
		if r.Callers == c {
			return r, true
		}
	}
	if len(rs) == 0 {
		return loadgen.Result{}, false
	}
	return rs[len(rs)-1], false
}

func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func resultTable(b *strings.Builder, rs []loadgen.Result) {
	b.WriteString("| system | interface | callers | decisions/s | p50 ms | p95 ms | p99 ms | decisions | errors |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %.3f | %.3f | %.3f | %d | %d |\n", r.System, r.Interface, r.Callers, r.PerSecond, r.P50, r.P95, r.P99, r.Decisions, r.Errors)
	}
	for _, r := range rs {
		if r.FirstError != "" {
			fmt.Fprintf(b, "\nFirst error of %s %s with %d callers: `%s`\n", r.System, r.Interface, r.Callers, r.FirstError)
		}
	}
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", a/b)
}

// write renders report.md, latency.png and results.json into dir.
func (r *report) write(dir string) error {
	engine := r.inProcess
	for _, iface := range []string{"gRPC", "gRPC batch of 100", "REST"} {
		r.agreement = append(r.agreement, compare("grantd "+iface, "grantd in-process", engine, pick(r.server, "grantd", iface)))
	}
	if kube := pick(r.server, "grantd", "Kubernetes webhook"); len(kube) > 0 {
		r.agreement = append(r.agreement, compare("grantd Kubernetes webhook", "the model (dataset.KubernetesQueries)",
			[]loadgen.Result{r.kubeModel}, kube))
	}
	for _, run := range r.peerRuns {
		for _, a := range run.out.Agreements {
			r.agreement = append(r.agreement, agreement{system: run.name, reference: "grantd (its process)", compared: a.Compared, differ: a.Differ})
		}
	}

	var b strings.Builder
	o := r.opts
	fmt.Fprintf(&b, "# grantd benchmark report\n\n%s on %d × %s, %s, %s. Produced by `go run ./bench %s` in %v.\n\n",
		r.started.UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH,
		strings.Join(os.Args[1:], " "), time.Since(r.started).Round(time.Second))
	s := r.size
	fmt.Fprintf(&b, "Dataset **%s**: %d users, %d orgs × %d teams, %d collections, %d custom roles, %d grants (plus one private grant per user), %d repositories; snapshot %.0f MiB, generated through raft in %v, compiled by the decision engine in %v. %d questions drawn from it (deep collections and users in many teams over-represented); each load step runs %v.\n\n",
		s.Name, s.Users, s.Orgs, s.TeamsPerOrg, s.Collections, s.CustomRoles, s.Grants, s.Repositories,
		float64(r.snapshotBytes)/(1<<20), r.generate.Round(time.Millisecond), r.compile.Round(time.Millisecond), o.queries, o.duration)

	r.targets(&b)
	if r.cacheHits+r.cacheMisses > 0 {
		fmt.Fprintf(&b, "\nThe server ran with its default decision cache (`--decision-cache`), warmed by one batched pass over the questions (%.1f s) before the load steps: %.0f hits, %.0f misses (%.1f %% hits) over the run. The rows *gRPC, cache off* are the same server restarted with `--decision-cache 0` (it served decisions again %.2f s after start, and was measured %s), every decision evaluated by the policy. In process, the warm cache took %.1f s to fill.\n",
			r.serverWarmup, r.cacheHits, r.cacheMisses, 100*r.cacheHits/(r.cacheHits+r.cacheMisses), r.startupAgain.Seconds(), r.cacheOffWhen(), r.warmup)
	}
	if s.Name != dataset.EnterpriseLarge.Name {
		b.WriteString("\nThe targets are set for enterprise-large; this run used a smaller dataset, so the verdicts are indicative only.\n")
	}

	fmt.Fprintf(&b, "\n## The server under load\n\nA real `grantd` binary (TLS, an admin session as the caller) restored from the snapshot; the load generator runs in this process over loopback, so it shares the 2 cores with the server; while it only sends calls its collector runs at GOGC %d, not to hold up its own callers with a collection every tenth of a second (`loadGeneratorGC`, bench/main.go). After each gRPC step, the same calls from the same callers go to the *transport floor*: a gRPC server in a process of its own, with TLS, the same stream workers and a check of the caller's bearer token, that answers without deciding (`bench/floor.go`). What it takes is what the transport, the load generator and the machine take before grantd does any work.\n\n", loadGeneratorGC)
	resultTable(&b, r.server)
	b.WriteString("\n## In-process decisions (authz package)\n\nThe policy evaluated for every question (*in-process*), then with the decision cache warmed by one pass over the questions (*in-process, cache*).\n\n")
	resultTable(&b, engine)
	if u := r.underWrites; u != nil {
		fmt.Fprintf(&b, "\n**The cache under writes.** The same repeated questions, one caller, while the store took %d writes/s of mixed kinds (grants created and revoked, team memberships added and removed, LDAP-style batches of ten membership changes; %d writes applied, %d refused by the store's rules), the engine following every one. A write invalidates only the cached decisions that read an entry it changed (`authz/cache.go`). Over the step: %d hits, %d misses (%.1f %% hits), %d entries invalidated.\n\n",
			writesPerSecond, u.applied, u.refused, u.hits, u.misses, 100*u.hitRatio(), u.invalidated)
		resultTable(&b, []loadgen.Result{u.result})
	}

	if len(r.peerRuns) > 0 {
		r.peerSection(&b)
	}

	b.WriteString("\n## Agreement\n\nThe interfaces: every answer given in the first pass over the questions, compared with the in-process answer to the same question. The peers: every answer of every pass, warm-up included, compared with the answer of grantd's yardstick in the same process:\n\n| system | reference | answers compared | different |\n|---|---|---|---|\n")
	for _, a := range r.agreement {
		fmt.Fprintf(&b, "| %s | %s | %d | %d |\n", a.system, a.reference, a.compared, a.differ)
	}
	r.cluster.section(&b, o.duration)
	b.WriteString("\n## Latency against concurrency\n\n![p50 and p99 latency against concurrent callers](latency.png)\n")
	b.WriteString("\n## Where the time goes\n\nCPU profile of the in-process decision steps (`engine.cpu.pprof` beside this report; `go tool pprof -top` of it):\n\n```\n")
	b.WriteString(strings.TrimSpace(r.profileTop))
	b.WriteString("\n```\n")
	if sp := r.startupProfile; sp != nil {
		fmt.Fprintf(&b, "\nStart-up, profiled in process on the restored data directory before grantd started on it (the store replayed from its raft snapshot and the policy state compiled, as grantd does): %.2f s, %s of heap in use with the state loaded. CPU (`%s`, `go tool pprof -top -cum`):\n\n```\n%s\n```\n\nHeap in use (`%s`):\n\n```\n%s\n```\n",
			sp.elapsed.Seconds(), mib(sp.heap), filepath.Base(sp.cpuFile), strings.TrimSpace(sp.cpuTop), filepath.Base(sp.heapFile), strings.TrimSpace(sp.heapTop))
	}

	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := r.plot(filepath.Join(dir, "latency.png")); err != nil {
		return err
	}
	all := slices.Concat(r.inProcess, r.server)
	for _, run := range r.peerRuns {
		all = append(all, run.out.Results...)
	}
	for i := range all {
		all[i].Answers = nil
	}
	raw, err := json.MarshalIndent(map[string]any{"results": all, "visibleMs": func() []float64 {
		out := make([]float64, len(r.visible))
		for i, d := range r.visible {
			out[i] = ms(d)
		}
		return out
	}()}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644)
}

// targets is the table of the targets (../shared/spec/targets.md, and
// issue 21's beside them), each measured row with its verdict.
func (r *report) targets(b *strings.Builder) {
	engine := r.inProcess
	b.WriteString("## Targets (`../shared/spec/targets.md`)\n\n| measure | target | measured | |\n|---|---|---|---|\n")
	if one, ok := atCallers(pick(engine, "grantd", "in-process"), 1); ok {
		fmt.Fprintf(b, "| in-process decision, 1 caller, policy evaluated | p50 ≤ 10 µs, p99 ≤ 50 µs | p50 %.1f µs, p99 %.1f µs | %s |\n", one.P50*1000, one.P99*1000, verdict(one.P50 <= 0.010 && one.P99 <= 0.050))
	}
	if u := r.underWrites; u != nil {
		fmt.Fprintf(b, "| in-process decision, 1 caller, repeated questions, %d writes/s in the background | p99 ≤ 50 µs, cache hits ≥ 95 %% | p50 %.1f µs, p99 %.1f µs, %.1f %% hits | %s |\n",
			writesPerSecond, u.result.P50*1000, u.result.P99*1000, 100*u.hitRatio(), verdict(u.result.P99 <= 0.050 && u.hitRatio() >= 0.95))
	}
	if one, ok := atCallers(pick(engine, "grantd", "in-process, cache"), 1); ok {
		fmt.Fprintf(b, "| in-process decision, 1 caller, warm decision cache | p50 ≤ 10 µs, p99 ≤ 50 µs | p50 %.1f µs, p99 %.1f µs | %s |\n", one.P50*1000, one.P99*1000, verdict(one.P50 <= 0.010 && one.P99 <= 0.050))
	}
	grpc := pick(r.server, "grantd", "gRPC")
	if g, ok := atCallers(grpc, 64); len(grpc) > 0 {
		floor := ""
		if f, ok := atCallers(pick(r.server, floorSystem, ""), g.Callers); ok {
			floor = fmt.Sprintf(" (the transport floor, answering without deciding: %.0f/s, p99 %.2f ms)", f.PerSecond, f.P99)
		}
		fmt.Fprintf(b, "| gRPC Authorize, %d callers | ≥ 25,000/s, p99 ≤ 5 ms | %.0f/s, p99 %.2f ms%s | %s |\n", g.Callers, g.PerSecond, g.P99, floor, verdict(ok && g.PerSecond >= 25000 && g.P99 <= 5))
	}
	off := pick(r.server, "grantd", "gRPC, cache off")
	if g, ok := atCallers(off, 64); len(off) > 0 {
		fmt.Fprintf(b, "| gRPC Authorize, %d callers, decision cache off (issue 21) | ≥ 20,000/s | %.0f/s, p99 %.2f ms | %s |\n", g.Callers, g.PerSecond, g.P99, verdict(ok && g.PerSecond >= 20000))
	}
	if bb := best(pick(r.server, "grantd", "gRPC batch of 100")); bb.Calls > 0 {
		fmt.Fprintf(b, "| gRPC AuthorizeBatch (100 per call), best | ≥ 200,000/s | %.0f/s (%d callers) | %s |\n", bb.PerSecond, bb.Callers, verdict(bb.PerSecond >= 200000))
	}
	if rb := best(pick(r.server, "grantd", "REST")); rb.Calls > 0 {
		fmt.Fprintf(b, "| REST authorize, best | ≥ 10,000/s | %.0f/s (%d callers) | %s |\n", rb.PerSecond, rb.Callers, verdict(rb.PerSecond >= 10000))
	}
	kube := pick(r.server, "grantd", "Kubernetes webhook")
	if k, ok := atCallers(kube, 64); len(kube) > 0 {
		fmt.Fprintf(b, "| Kubernetes authorization webhook (SubjectAccessReview over HTTPS), %d callers | ≥ 10,000/s | %.0f/s, p99 %.2f ms | %s |\n", k.Callers, k.PerSecond, k.P99, verdict(ok && k.PerSecond >= 10000))
	}
	for _, run := range r.peerRuns {
		if run.aheadBy == 0 {
			continue
		}
		// The peer's p50 over the yardstick's, at each number of callers;
		// the verdict is the least of them.
		var parts []string
		least := math.Inf(1)
		rs := run.out.Results
		for i := 0; i+1 < len(rs); i += 2 {
			g, p := rs[i], rs[i+1]
			x := 0.0
			if g.P50 > 0 {
				x = p.P50 / g.P50
			}
			least = min(least, x)
			callers := "callers"
			if g.Callers == 1 {
				callers = "caller"
			}
			parts = append(parts, fmt.Sprintf("%.1f× (%d %s)", x, g.Callers, callers))
		}
		if len(parts) == 0 {
			least = 0
		}
		fmt.Fprintf(b, "| policy evaluated, p50 against %s (%s, below; issue 21) | grantd ≥ %g× faster | %s | %s |\n",
			run.name, r.peerSize.Name, run.aheadBy, strings.Join(parts, ", "), verdict(least >= run.aheadBy))
	}
	if len(r.visible) > 0 {
		p99 := percentile(r.visible, 0.99)
		fmt.Fprintf(b, "| grant write until decisions reflect it (fsync included), %d writes | p99 ≤ 50 ms | p50 %.2f ms, p99 %.2f ms | %s |\n", len(r.visible), ms(percentile(r.visible, 0.5)), ms(p99), verdict(p99 <= 50*time.Millisecond))
	}
	if startup := r.startup(); startup > 0 {
		fmt.Fprintf(b, "| start-up: restore the dataset and serve decisions | ≤ 5 s | %.2f s, median of %d starts (%s s; restore of the snapshot into an empty data directory before them: %.2f s) | %s |\n",
			startup.Seconds(), len(r.startups), seconds(r.startups), r.restore.Seconds(), verdict(startup <= 5*time.Second))
		settled := " (start-up garbage returned to the OS)"
		if !r.rssSettled {
			settled = " (grantd did not report returning its start-up garbage within a minute)"
		}
		fmt.Fprintf(b, "| resident memory with the dataset loaded | ≤ 1 GiB | %s after start%s, %s after the load, peak %s | %s |\n", mib(r.rssIdle), settled, mib(r.rssLoaded), mib(r.rssPeak), verdict(r.rssPeak <= 1<<30))
	}
}

// peerSection is the comparison with the peers: per peer, the peer and
// grantd's yardstick from the same process, and their ratio.
func (r *report) peerSection(b *strings.Builder) {
	ps := r.peerSize
	fmt.Fprintf(b, "\n## Side by side with the peers\n\nDataset **%s** (%d users, %d collections, %d grants); the same first %d collection questions of the drawn ones (a third of those whose operation has options ask for one or two; exact-scope grants included), each peer modelled as its own experts model it (the models: [docs/peers.md](../peers.md)). Each peer runs in its own process with grantd's yardstick beside it: the authz package on the same state, its policy evaluated for every question (no decision cache, unless the row says cache). In each process, every system answers every question once to warm up, then %d measured passes each, in an order that alternates from pass to pass; p99 only from %d samples or more. Ratios are the peer's latency over grantd's (above 1×: grantd is ahead).\n\n",
		ps.Name, ps.Users, ps.Collections, ps.Grants, r.peerQueries, r.opts.peerRounds, loadgen.MinP99Samples)
	b.WriteString("| peer | callers | questions | peer p50 ms | peer p99 ms | peer decisions/s | grantd p50 ms | grantd p99 ms | grantd decisions/s | p50 ratio | p99 ratio | throughput ratio |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	p99 := func(x float64) string {
		if x < 0 {
			return "n/a (< 1000 samples)"
		}
		return fmt.Sprintf("%.3f", x)
	}
	for _, run := range r.peerRuns {
		name := "[" + run.name + "](../peers.md#" + run.model + ")"
		if run.floor {
			name += " — a floor, not a fair peer"
		}
		rs := run.out.Results
		for i := 0; i+1 < len(rs); i += 2 {
			g, p := rs[i], rs[i+1]
			p99ratio := "n/a"
			if g.P99 > 0 && p.P99 > 0 {
				p99ratio = ratio(p.P99, g.P99)
			}
			fmt.Fprintf(b, "| %s | %d | %d | %.3f | %s | %.0f | %.3f | %s | %.0f | %s | %s | %s |\n", name, g.Callers, run.questions,
				p.P50, p99(p.P99), p.PerSecond, g.P50, p99(g.P99), g.PerSecond, ratio(p.P50, g.P50), p99ratio, ratio(g.PerSecond, p.PerSecond))
		}
	}
	for _, run := range r.peerRuns {
		if len(run.out.Load) > 0 {
			keys := slices.Sorted(maps.Keys(run.out.Load))
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s %.6g", k, run.out.Load[k]))
			}
			fmt.Fprintf(b, "\n%s: %s.", run.name, strings.Join(parts, ", "))
		}
	}
	b.WriteString("\n")
}

func (r *report) plot(path string) error {
	line := func(name string, c color.RGBA, rs []loadgen.Result, p99 bool) series {
		s := series{name: name, color: c}
		for _, x := range rs {
			v := x.P50
			if p99 {
				v = x.P99
			}
			s.points = append(s.points, [2]float64{float64(x.Callers), v})
		}
		return s
	}
	lines := []series{
		line("grantd gRPC p50", color.RGBA{31, 119, 180, 255}, pick(r.server, "grantd", "gRPC"), false),
		line("grantd gRPC p99", color.RGBA{158, 202, 225, 255}, pick(r.server, "grantd", "gRPC"), true),
		line("grantd REST p50", color.RGBA{44, 160, 44, 255}, pick(r.server, "grantd", "REST"), false),
		line("gRPC transport floor p99", color.RGBA{127, 127, 127, 255}, pick(r.server, floorSystem, ""), true),
		line("gRPC cache off p50", color.RGBA{148, 103, 189, 255}, pick(r.server, "grantd", "gRPC, cache off"), false),
	}
	title := fmt.Sprintf("Decision latency against concurrency: server on %s", r.size.Name)
	return plotLatency(path, title, lines)
}

// startup is the median of the start-ups measured (0 if none was).
func (r *report) startup() time.Duration { return percentile(r.startups, 0.5) }

// seconds lists durations in seconds, in their order.
func seconds(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return strings.Join(parts, ", ")
}

// cacheOffWhen says when the cache-off steps began.
func (r *report) cacheOffWhen() string {
	if r.cacheOffSettled {
		return "once it had collected and returned its start-up garbage to the OS, as the first server had before its steps"
	}
	return "a minute after it served: it did not report returning its start-up garbage to the OS"
}
