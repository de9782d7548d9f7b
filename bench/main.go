// Command bench measures grantd the way a buyer would: the reference
// dataset restored into a real grantd, a load of Authorize calls over
// gRPC, batched gRPC and REST, and of kube-apiserver's SubjectAccessReviews,
// from concurrent callers, write-to-visible latency, start-up time and
// resident memory; and, side by side on one dataset with the same
// questions, grantd's decision engine against the peers as their experts
// model them (docs/peers.md). It writes a Markdown report with a PNG plot
// of latency against concurrency.
//
//	go run ./bench                      # enterprise-large, the report in bench-report/
//	go run ./bench -size small -peer-size small -duration 1s   # the CI smoke size
//	go run ./bench gen -size medium -o medium.jsonl             # just the snapshot
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/bench/peerkit"
	"github.com/grantd/grantd/dataset"
)

var sizes = map[string]dataset.Size{"small": dataset.Small, "medium": dataset.Medium, "enterprise-large": dataset.EnterpriseLarge}

type options struct {
	size, peerSize dataset.Size
	out            string
	duration       time.Duration
	callers        []int
	peerCallers    []int
	peerQuestions  int
	peerRounds     int
	queries        int
	peers          bool
	cluster        bool
	grantd         string
	log            func(format string, args ...any)
}

// peerCommand runs `bench peer-opa|peer-naive -in F -out F` (the OPA
// peers' own processes) and exits; it returns when the arguments are not
// a peer command. The test binary calls it too (TestMain), since the
// benchmark starts the peers as its own executable.
func peerCommand() {
	if len(os.Args) < 2 || !strings.HasPrefix(os.Args[1], "peer-") {
		return
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	in := fs.String("in", "", "peer input (JSON)")
	out := fs.String("out", "", "where to write the results (JSON)")
	_ = fs.Parse(os.Args[2:])
	if err := runOPAPeer(strings.TrimPrefix(os.Args[1], "peer-"), *in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench", os.Args[1]+":", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func main() {
	peerCommand()
	floorCommand()
	if len(os.Args) > 1 && os.Args[1] == "decisionlog" {
		err := decisionLogBench(os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench decisionlog:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "gen" {
		err := gen(os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench gen:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return // the usage is printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	rep, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Printf("report: %s\n", filepath.Join(o.out, "report.md"))
	if rep.disagreements() > 0 {
		fmt.Fprintln(os.Stderr, "bench: the systems disagree on some answers; see the report")
		os.Exit(1)
	}
}

func parseSize(name string) (dataset.Size, error) {
	s, ok := sizes[name]
	if !ok {
		return s, fmt.Errorf("unknown size %q (small, medium, enterprise-large)", name)
	}
	return s, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad caller count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parse(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	size := fs.String("size", "enterprise-large", "dataset restored into grantd: small, medium or enterprise-large")
	peerSize := fs.String("peer-size", "medium", "dataset of the side-by-side comparison with the peers")
	out := fs.String("out", "bench-report", "directory for report.md, latency.png, results.json and the profile")
	dur := fs.Duration("duration", 4*time.Second, "length of each load step")
	callers := fs.String("callers", "1,4,16,64", "concurrent callers of the load steps against the server")
	peerCallers := fs.String("peer-callers", "1,2", "concurrent callers of the comparison with the peers")
	peerQuestions := fs.Int("peer-questions", 1000, "questions every peer answers (at least 200)")
	peerRounds := fs.Int("peer-rounds", 2, "measured passes over the questions per system and caller count, after a warm-up pass")
	queries := fs.Int("queries", 20000, "questions drawn from the dataset (a multiple of 100)")
	peers := fs.Bool("peers", true, "run the side-by-side comparison with naive OPA and OpenFGA")
	cluster := fs.Bool("cluster", true, "also measure a three-node cluster on loopback beside a single node")
	bin := fs.String("grantd", "", "grantd binary to measure (default: built from this checkout)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: go run ./bench [flags]
       go run ./bench gen -size SIZE -o FILE

The first form restores a reference dataset into a real grantd, measures it
(gRPC, batched gRPC, REST and the Kubernetes webhook from many callers,
write-to-visible, start-up,
memory) and the peers side by side, and writes a report. The second writes
a dataset's snapshot for `+"`grantd restore`"+` (go run ./bench gen -h).

Flags of the first form:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{out: *out, duration: *dur, queries: *queries - *queries%100, peers: *peers, cluster: *cluster, grantd: *bin,
		log: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }}
	var err error
	if o.size, err = parseSize(*size); err != nil {
		return o, err
	}
	if o.peerSize, err = parseSize(*peerSize); err != nil {
		return o, err
	}
	if o.callers, err = parseInts(*callers); err != nil {
		return o, err
	}
	o.peerQuestions, o.peerRounds = *peerQuestions, *peerRounds
	if o.peerQuestions < 200 || o.peerRounds < 1 {
		return o, errors.New("-peer-questions must be at least 200 and -peer-rounds at least 1")
	}
	if o.peerCallers, err = parseInts(*peerCallers); err != nil {
		return o, err
	}
	if o.queries < 100 {
		return o, fmt.Errorf("-queries must be at least 100")
	}
	return o, nil
}

// gen writes the snapshot of a dataset, for `grantd restore`.
func gen(args []string) error {
	fs := flag.NewFlagSet("bench gen", flag.ContinueOnError)
	size := fs.String("size", "enterprise-large", "small, medium or enterprise-large")
	out := fs.String("o", "", "snapshot file to write")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench gen -size SIZE -o FILE\n\nWrites the snapshot of a reference dataset, for `grantd restore`.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := parseSize(*size)
	if err != nil || *out == "" {
		return fmt.Errorf("usage: bench gen -size SIZE -o FILE (%v)", err)
	}
	dir, err := os.MkdirTemp("", "grantd-bench-gen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in, err := build(context.Background(), s, dir, 0, false)
	if err != nil {
		return err
	}
	if err := os.Rename(in.snapshot, *out); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s); the admin password is %s\n", *out, s.Name, in.password)
	return nil
}

// run measures everything and writes the report.
func run(ctx context.Context, o options) (*report, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "grantd-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	rep := &report{opts: o, started: time.Now()}

	o.log("generating %s", o.size.Name)
	main, err := build(ctx, o.size, filepath.Join(work, "main"), o.queries, false)
	if err != nil {
		return nil, err
	}
	qs := main.queries
	rep.size, rep.generate, rep.compile = o.size, main.generate, main.compile
	if st, err := os.Stat(main.snapshot); err == nil {
		rep.snapshotBytes = st.Size()
	}

	// In-process decisions: the authz package alone, one caller (the
	// latency target) and one per core, under a CPU profile: first the
	// policy evaluated for every question, then the decision cache the
	// server runs with, warmed by one pass over the questions.
	o.log("in-process decisions")
	prof, err := os.Create(filepath.Join(o.out, "engine.cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(prof); err != nil {
		return nil, err
	}
	for _, c := range []int{1, runtime.NumCPU()} {
		rep.inProcess = append(rep.inProcess, loadgen.Measure(ctx, "grantd", "in-process", c, 1, len(qs), o.duration, engineCaller(main.engine, qs)))
	}
	pprof.StopCPUProfile()
	prof.Close()
	rep.profileTop = pprofTop(filepath.Join(o.out, "engine.cpu.pprof"))
	main.engine.SetDecisionCache(authz.DefaultDecisionCache)
	warm := loadgen.Measure(ctx, "grantd", "warm-up", runtime.NumCPU(), 1, len(qs), time.Hour, engineCaller(main.engine, qs), loadgen.OnePass())
	rep.warmup = warm.Seconds
	for _, c := range []int{1, runtime.NumCPU()} {
		rep.inProcess = append(rep.inProcess, loadgen.Measure(ctx, "grantd", "in-process, cache", c, 1, len(qs), o.duration, engineCaller(main.engine, qs)))
	}
	// The same repeated questions while the store takes 50 writes/s of
	// mixed kinds, the engine following each: what the cache keeps.
	o.log("in-process decisions under %d writes/s", writesPerSecond)
	wl := newWriteLoad(main.st, o.size, main.data.Users, qs)
	wctx, stopWrites := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go func() { wl.run(wctx, writesPerSecond); close(wdone) }()
	before := main.engine.CacheStats()
	res := loadgen.Measure(ctx, "grantd", fmt.Sprintf("in-process, cache, %d writes/s", writesPerSecond), 1, 1, len(qs), o.duration, engineCaller(main.engine, qs))
	after := main.engine.CacheStats()
	stopWrites()
	<-wdone
	// Not among the in-process results: its answers follow a changing
	// state, so they are no reference for the other interfaces.
	rep.underWrites = &underWrites{result: res, applied: wl.applied, refused: wl.refused,
		hits: after.Hits - before.Hits, misses: after.Misses - before.Misses, invalidated: after.Invalidated - before.Invalidated}
	main.engine = nil
	main.close()
	runtime.GC()

	if err := asLoadGenerator(func() error { return serverSteps(ctx, o, work, main, qs, rep) }); err != nil {
		return nil, err
	}

	if o.peers {
		if err := peerSteps(ctx, o, work, rep); err != nil {
			return nil, err
		}
	}
	if o.cluster {
		o.log("a three-node cluster beside a single node")
		err := asLoadGenerator(func() (err error) {
			rep.cluster, err = clusterStep(ctx, o, rep.grantdBin, work)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	return rep, rep.write(o.out)
}

// writesPerSecond is the background write load of the cache-under-writes
// step (issue 21).
const writesPerSecond = 50

// loadGeneratorGC is this process's collector target (GOGC) in the steps
// where it only sends calls to servers in other processes. Its live heap
// is then small (15–25 MB) and it allocates about 5 KB per gRPC call
// (grpc-go's client stream), so with GOGC's default it collected 68–74
// times in an 8-s step of 64 callers, each collection taking a share of
// the two cores the server shares with it and holding up its callers:
// part of the servers' measured tail was the load generator's own
// collector. At 800 it collects one to four times in such a step, in a
// heap of some tens of MB more. The servers measured (grantd, the
// transport floor, the cluster's nodes) keep their own settings, and the
// steps that decide in this process (the in-process engine, the peers'
// data) keep GOGC's default.
const loadGeneratorGC = 800

// asLoadGenerator runs step with this process's collector at
// loadGeneratorGC, and restores it after.
func asLoadGenerator(step func() error) error {
	defer debug.SetGCPercent(debug.SetGCPercent(loadGeneratorGC))
	return step()
}

// startups is how many times the benchmark starts grantd on the restored
// data to measure its start-up.
const startups = 5

// serverSteps restores the dataset into a real grantd and loads it.
func serverSteps(ctx context.Context, o options, work string, in *installation, qs []dataset.Query, rep *report) error {
	bin := o.grantd
	if bin == "" {
		o.log("building grantd")
		var err error
		if bin, err = buildGrantd(work); err != nil {
			return fmt.Errorf("build grantd: %w", err)
		}
	}
	rep.grantdBin = bin
	dataDir := filepath.Join(work, "grantd-data")
	var err error
	o.log("restoring the snapshot")
	if rep.restore, err = restore(bin, dataDir, in.snapshot); err != nil {
		return err
	}
	o.log("profiling a start-up on the restored data in process")
	if rep.startupProfile, err = profileStartup(ctx, dataDir, o.out); err != nil {
		return fmt.Errorf("start-up profile: %w", err)
	}
	// Start-up is one figure of a noisy machine: the target row takes the
	// median of several starts on the same data directory, each stopped
	// once it has answered its first decision, and lists them all. The
	// last start stays up for the load steps.
	var p *process
	for i := range startups {
		o.log("starting grantd (start-up %d of %d)", i+1, startups)
		if p, err = startGrantd(ctx, bin, dataDir, in.password); err != nil {
			return err
		}
		rep.startups = append(rep.startups, p.startup)
		if i < startups-1 {
			p.stop()
		}
	}
	defer func() { p.stop() }()
	rep.rssIdle, rep.rssSettled = p.settledMemory(time.Minute)
	o.log("warming the decision cache: one batched pass over the questions")
	rep.serverWarmup = loadgen.Measure(ctx, "grantd", "warm-up", 4, 100, len(qs), time.Hour, batchCaller(p, qs, 100), loadgen.OnePass()).Seconds

	// Each gRPC step, then the same calls to the transport floor, which
	// answers them without deciding (bench/floor.go).
	floor, err := startFloor(filepath.Join(work, "transport-floor"))
	if err != nil {
		return err
	}
	defer floor.stop()
	for _, c := range o.callers {
		o.log("gRPC Authorize, %d callers, and the transport floor", c)
		rep.server = append(rep.server, loadgen.Measure(ctx, "grantd", "gRPC", c, 1, len(qs), o.duration, grpcCaller(p, qs)),
			loadgen.Measure(ctx, floorSystem, "gRPC, no decision", c, 1, len(qs), o.duration, grpcCaller(floor, qs)))
	}
	floor.stop()
	for _, c := range []int{4, 16} {
		o.log("gRPC AuthorizeBatch, %d callers", c)
		rep.server = append(rep.server, loadgen.Measure(ctx, "grantd", "gRPC batch of 100", c, 100, len(qs), o.duration, batchCaller(p, qs, 100)))
	}
	for _, c := range o.callers {
		o.log("REST authorize, %d callers", c)
		rep.server = append(rep.server, loadgen.Measure(ctx, "grantd", "REST", c, 1, len(qs), o.duration, restCaller(p, qs)))
	}
	if err := kubeSteps(ctx, o, p, in, rep); err != nil {
		return err
	}
	o.log("write-to-visible")
	if rep.visible, err = writeToVisible(ctx, p, in.data.Users, 200); err != nil {
		return err
	}
	rep.rssLoaded, rep.rssPeak = p.memory()
	cache := p.counters(ctx, "grantd_decision_cache_hits_total", "grantd_decision_cache_misses_total")
	rep.cacheHits, rep.cacheMisses = cache[0], cache[1]
	p.stop()

	o.log("restarting grantd with --decision-cache 0")
	p, err = startGrantd(ctx, bin, dataDir, in.password, "--decision-cache", "0")
	if err != nil {
		return err
	}
	defer p.stop()
	rep.startupAgain = p.startup
	// The same steady state as the steps above: once grantd has collected
	// and returned its start-up garbage (a forced collection of the whole
	// state, seconds long, that would otherwise fall inside the first step).
	rep.cacheOffSettled = p.awaitSettled(time.Minute)
	for _, c := range o.callers {
		o.log("gRPC Authorize without the decision cache, %d callers", c)
		rep.server = append(rep.server, loadgen.Measure(ctx, "grantd", "gRPC, cache off", c, 1, len(qs), o.duration, grpcCaller(p, qs)))
	}
	return nil
}

// peerSteps answers the same collection questions with grantd's engine,
// naive OPA and OpenFGA on the peer dataset, in process, one after the
// other.
// A peer run is one peer in its own process, grantd's yardstick beside it.
type peerRun struct {
	// name is the peer as the report names it; model the anchor of its
	// model in docs/peers.md; floor marks a naive model kept only as a
	// labelled floor.
	name, model string
	floor       bool
	// argv starts its process.
	argv []string
	// aheadBy is how many times faster than this peer issue 21 asks
	// grantd's evaluated policy to be, by p50 (0: no target).
	aheadBy float64
	// questions is how many questions it answers (the naive floor: the
	// first 200 only, at about 0.1 s a question).
	questions int
	out       *peerkit.Output
}

// peerSteps runs each peer in its own process on the same questions, with
// grantd's yardstick in that process, rounds alternating between them.
func peerSteps(ctx context.Context, o options, work string, rep *report) error {
	o.log("generating %s for the peers", o.peerSize.Name)
	in, err := build(ctx, o.peerSize, filepath.Join(work, "peers"), o.queries, true)
	if err != nil {
		return err
	}
	// Each peer's process loads grantd's yardstick from the snapshot.
	in.engine = nil
	in.close()
	runtime.GC()
	pd := in.peer
	if len(pd.Queries) < o.peerQuestions {
		return fmt.Errorf("only %d collection questions for the peers, want %d", len(pd.Queries), o.peerQuestions)
	}
	pd.Queries = pd.Queries[:o.peerQuestions]
	rep.peerSize, rep.peerQueries = o.peerSize, len(pd.Queries)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The OpenFGA and SpiceDB peers are modules of their own (grantd's
	// go.mod does not depend on them).
	peerBin := func(module string) (string, error) {
		o.log("peers: building the %s peer", module)
		bin := filepath.Join(work, module+"-peer")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
		build.Dir, build.Stdout, build.Stderr = filepath.Join(moduleRoot(), "bench", module), os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return "", fmt.Errorf("%s peer: %w", module, err)
		}
		return bin, nil
	}
	fgaBin, err := peerBin("openfga")
	if err != nil {
		return err
	}
	spiceBin, err := peerBin("spicedb")
	if err != nil {
		return err
	}
	all := len(pd.Queries)
	runs := []peerRun{
		{name: "OPA, idiomatic policy", model: "opa-idiomatic", aheadBy: 3, argv: []string{self, "peer-opa"}, questions: all},
		{name: "OpenFGA, parent-child model, SQLite", model: "openfga-parent-child", aheadBy: 20, argv: []string{fgaBin, "-model", "direct", "-datastore", "sqlite"}, questions: all},
		{name: "OpenFGA, flat-ancestor model, SQLite", model: "openfga-flat-ancestors", aheadBy: 20, argv: []string{fgaBin, "-model", "anc", "-datastore", "sqlite"}, questions: all},
		{name: "OpenFGA, flat-ancestor model, SQLite, check cache", model: "openfga-flat-ancestors", argv: []string{fgaBin, "-model", "anc", "-datastore", "sqlite", "-cache"}, questions: all},
		{name: "OpenFGA, parent-child model, PostgreSQL", model: "openfga-parent-child", aheadBy: 20, argv: []string{fgaBin, "-model", "direct", "-datastore", "postgres"}, questions: all},
		{name: "OpenFGA, flat-ancestor model, PostgreSQL", model: "openfga-flat-ancestors", aheadBy: 20, argv: []string{fgaBin, "-model", "anc", "-datastore", "postgres"}, questions: all},
		{name: "SpiceDB, parent-child schema, in-memory datastore", model: "spicedb", argv: []string{spiceBin}, questions: all},
		{name: "SpiceDB, parent-child schema, in-memory datastore, dispatch cache", model: "spicedb", argv: []string{spiceBin, "-cache"}, questions: all},
		{name: "SpiceDB, parent-child schema, PostgreSQL", model: "spicedb", argv: []string{spiceBin, "-datastore", "postgres"}, questions: all},
		{name: "OPA, naive policy", model: "opa-naive-a-floor", floor: true, argv: []string{self, "peer-naive"}, questions: 200},
	}
	for _, run := range runs {
		o.log("peers: %s", run.name)
		input := peerkit.Input{Data: *pd, Snapshot: in.snapshot, Callers: o.peerCallers, Rounds: o.peerRounds}
		input.Data.Queries = pd.Queries[:run.questions]
		if run.floor {
			input.Callers, input.Rounds = []int{1}, 1
		}
		if run.out, err = runPeer(ctx, work, run.argv, &input); err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		rep.peerRuns = append(rep.peerRuns, run)
	}
	return nil
}

// runPeer runs one peer process on input and reads what it wrote.
func runPeer(ctx context.Context, work string, argv []string, input *peerkit.Input) (*peerkit.Output, error) {
	inPath, outPath := filepath.Join(work, "peer-in.json"), filepath.Join(work, "peer-out.json")
	body, err := json.Marshal(input)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(inPath, body, 0o644); err != nil {
		return nil, err
	}
	_ = os.Remove(outPath)
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "-in", inPath, "-out", outPath)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(outPath)
	if err != nil {
		return nil, err
	}
	var out peerkit.Output
	return &out, json.Unmarshal(raw, &out)
}

func pprofTop(path string) string {
	return pprofRun("-top", "-nodecount=25", path)
}
