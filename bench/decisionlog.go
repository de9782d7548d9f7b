package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grantd/grantd/bench/loadgen"
	"github.com/grantd/grantd/dataset"
)

// decisionLogOptions are the flags of `go run ./bench decisionlog`.
type decisionLogOptions struct {
	size     dataset.Size
	out      string
	duration time.Duration
	rounds   int
	callers  int
	queries  int
	cache    string
	// together measures the setups of a round at the same time rather
	// than one after the other.
	together bool
	// grantd is the binary to measure; empty: built from this checkout.
	grantd string
}

// logSetup is one way of running grantd: its decision log's destination
// ("" off) and whether its decision cache is on.
type logSetup struct {
	name  string
	sink  string
	cache bool
}

// logRun is one measured run of a setup.
type logRun struct {
	setup         logSetup
	round         int
	result        loadgen.Result
	kept, dropped float64
	// cpuPerDecision is grantd's CPU time (user and system) over the
	// measured slice, per decision, in microseconds. It moves less than
	// throughput with what else the machine does, but not little: up to
	// ±10 % from slice to slice on a shared 2-core machine.
	cpuPerDecision float64
}

// decisionLogBench measures gRPC decision throughput with the decision log
// off, to a file and to an HTTP sink, with the decision cache on and off,
// every answer compared, and writes the report.
func decisionLogBench(args []string) error {
	o, err := parseDecisionLog(args)
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench decisionlog: "+format+"\n", args...) }
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	runs, compared, gzip, err := measureDecisionLog(context.Background(), o, logf)
	if err != nil {
		return err
	}
	report := decisionLogReport(o, runs, compared, gzip)
	path := filepath.Join(o.out, "decisionlog.md")
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil { //nolint:gosec // a report
		return err
	}
	fmt.Print(report)
	logf("wrote %s", path)
	return nil
}

// The setups of each cache setting. The control is a second grantd with
// the log off, measured like the others: how far it lands from the first
// is what the bench cannot tell from chance on this machine (the two
// processes' heaps, their collections, which slices the machine's
// neighbours took).
const (
	setupOff     = "off"
	setupControl = "control"
	setupFile    = "file"
	setupHTTP    = "http"
)

// measureDecisionLog runs the rounds of every setup, each setup on its own
// grantd, started once; the load moves from one to the next in short
// alternating slices, so that what the machine does meanwhile (its
// neighbours, the disk) falls on every setup alike instead of on whichever
// ran during a slow minute. It returns the runs, how many answers were
// compared, and the compressor of the HTTP sink as grantd logged it.
func measureDecisionLog(ctx context.Context, o decisionLogOptions, logf func(string, ...any)) (_ []logRun, compared int, gzip string, _ error) {
	work, err := os.MkdirTemp("", "grantd-bench-decisionlog")
	if err != nil {
		return nil, 0, "", err
	}
	defer os.RemoveAll(work)
	logf("generating %s", o.size.Name)
	in, err := build(ctx, o.size, work, o.queries, false)
	if err != nil {
		return nil, 0, "", err
	}
	in.close()
	bin := o.grantd
	if bin == "" {
		logf("building grantd")
		bin, err = buildGrantd(work)
	}
	if err != nil {
		return nil, 0, "", err
	}
	sink, err := startDiscardSink()
	if err != nil {
		return nil, 0, "", err
	}
	defer sink.close()
	var setups []logSetup
	for _, cache := range []bool{true, false} {
		if o.cache == "both" || (o.cache == "on") == cache {
			file := filepath.Join(work, fmt.Sprintf("decisions-cache-%v.jsonl", cache))
			setups = append(setups, logSetup{setupOff, "", cache}, logSetup{setupControl, "", cache},
				logSetup{setupFile, "file:" + file, cache}, logSetup{setupHTTP, "http://" + sink.addr + "/logs", cache})
		}
	}
	procs := make([]*process, len(setups))
	defer func() {
		for _, p := range procs {
			if p != nil {
				p.stop()
			}
		}
	}()
	for i, s := range setups {
		logf("starting grantd: cache %v, decision log %s", s.cache, s.name)
		if procs[i], err = startLogSetup(ctx, bin, filepath.Join(work, fmt.Sprintf("grantd-data-%d", i)), in.snapshot, in.password, in.queries, s); err != nil {
			return nil, 0, "", fmt.Errorf("%s: %w", s.name, err)
		}
		if s.name == setupHTTP {
			gzip = procs[i].gzip
		}
	}
	var runs []logRun
	var answers []int8
	add := func(r logRun, err error) error {
		s := r.setup
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if answers == nil {
			answers = slices.Clone(r.result.Answers)
		}
		n, same := mergeAnswers(answers, r.result.Answers)
		if !same {
			return fmt.Errorf("round %d, %s (cache %v): the answers differ from the earlier runs'", r.round, s.name, s.cache)
		}
		compared += n
		if r.result.Errors > 0 {
			return fmt.Errorf("round %d, %s: %d errors, first: %s", r.round, s.name, r.result.Errors, r.result.FirstError)
		}
		runs = append(runs, r)
		return nil
	}
	for round := range o.rounds {
		if o.together {
			// The setups of one cache setting take load at the same time,
			// so that whatever the machine does falls on all of them at
			// once; the settings follow each other.
			for _, group := range groupByCache(setups) {
				logf("round %d: cache %v, every decision log at once", round+1, setups[group[0]].cache)
				rs, errs := make([]logRun, len(group)), make([]error, len(group))
				var wg sync.WaitGroup
				for k, i := range group {
					wg.Go(func() { rs[k], errs[k] = measureLogSetup(ctx, o, procs[i], in.queries, setups[i]) })
				}
				wg.Wait()
				for k := range group {
					rs[k].round = round + 1
					if err := add(rs[k], errs[k]); err != nil {
						return nil, 0, "", err
					}
				}
			}
			continue
		}
		for j := range setups {
			// Each round starts at another setup, so that none always
			// runs first or last.
			i := (j + round) % len(setups)
			s := setups[i]
			logf("round %d: cache %v, decision log %s", round+1, s.cache, s.name)
			r, err := measureLogSetup(ctx, o, procs[i], in.queries, s)
			r.round = round + 1
			if err := add(r, err); err != nil {
				return nil, 0, "", err
			}
		}
	}
	return runs, compared, gzip, nil
}

// groupByCache is the indexes of the setups, one group per decision
// cache setting, in order.
func groupByCache(setups []logSetup) [][]int {
	var groups [][]int
	for i, s := range setups {
		if i == 0 || setups[i-1].cache != s.cache {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], i)
	}
	return groups
}

func parseDecisionLog(args []string) (decisionLogOptions, error) {
	fs := flag.NewFlagSet("bench decisionlog", flag.ContinueOnError)
	size := fs.String("size", "medium", "dataset: small, medium or enterprise-large")
	out := fs.String("out", "bench-report", "directory for decisionlog.md")
	dur := fs.Duration("duration", 2*time.Second, "length of each measured slice")
	rounds := fs.Int("rounds", 10, "slices of each setup, alternating")
	callers := fs.Int("callers", 64, "concurrent gRPC callers")
	queries := fs.Int("queries", 20000, "questions drawn from the dataset")
	cache := fs.String("cache", "both", "the decision cache of the runs: on, off or both")
	together := fs.Bool("together", false, "load every setup of a cache setting at the same time, each with -callers callers, instead of one after the other")
	bin := fs.String("grantd", "", "grantd binary to measure (default: built from this checkout, as make build builds it)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench decisionlog [flags]\n\nMeasures decision throughput with the decision log off, to a file and to an HTTP sink.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return decisionLogOptions{}, err
	}
	s, err := parseSize(*size)
	if err != nil {
		return decisionLogOptions{}, err
	}
	if *rounds < 1 || *callers < 1 || *queries < 100 {
		return decisionLogOptions{}, errors.New("-rounds and -callers must be at least 1, -queries at least 100")
	}
	if *cache != "on" && *cache != "off" && *cache != "both" {
		return decisionLogOptions{}, errors.New("-cache is on, off or both")
	}
	return decisionLogOptions{size: s, out: *out, duration: *dur, rounds: *rounds, callers: *callers, queries: *queries, cache: *cache, together: *together, grantd: *bin}, nil
}

// startLogSetup starts a grantd as the setup says, on its own copy of the
// restored dataset, and warms it with one pass over the questions.
func startLogSetup(ctx context.Context, bin, dataDir, snapshot, password string, qs []dataset.Query, s logSetup) (*process, error) {
	if _, err := restore(bin, dataDir, snapshot); err != nil {
		return nil, err
	}
	var flags []string
	if s.sink != "" {
		flags = append(flags, "--decision-log", s.sink)
	}
	if !s.cache {
		flags = append(flags, "--decision-cache", "0")
	}
	p, err := startGrantd(ctx, bin, dataDir, password, flags...)
	if err != nil {
		return nil, err
	}
	loadgen.Measure(ctx, "grantd", "warm-up", 4, 100, len(qs), time.Hour, batchCaller(p, qs, 100), loadgen.OnePass())
	return p, nil
}

// logCounters are the decision log's series a slice reads: records kept,
// records dropped.
var logCounters = []string{"grantd_decision_log_records_total", "grantd_decision_log_dropped_total"}

// settle is how long a slice waits after its load stops before reading
// grantd's CPU time: the log's writer finishes the last records of the
// slice (its window is 5 ms) and they count in the slice that made them.
const settle = 50 * time.Millisecond

// measureLogSetup measures one slice of gRPC load on a setup's grantd: its
// throughput, its CPU time per decision and what its decision log did.
func measureLogSetup(ctx context.Context, o decisionLogOptions, p *process, qs []dataset.Query, s logSetup) (logRun, error) {
	before := p.counters(ctx, logCounters...)
	time.Sleep(settle)
	cpu0, err := p.cpuTime()
	if err != nil {
		return logRun{setup: s}, err
	}
	r := logRun{setup: s, result: loadgen.Measure(ctx, "grantd", "gRPC "+s.name, o.callers, 1, len(qs), o.duration, grpcCaller(p, qs))}
	time.Sleep(settle)
	cpu1, err := p.cpuTime()
	if err != nil {
		return logRun{setup: s}, err
	}
	r.cpuPerDecision = float64((cpu1 - cpu0).Microseconds()) / float64(r.result.Decisions)
	after := p.counters(ctx, logCounters...)
	r.kept, r.dropped = after[0]-before[0], after[1]-before[1]
	return r, nil
}

// discardSink is an HTTP decision-log sink that reads each batch and
// throws it away: the cost of a remote sink, without a receiver's work on
// grantd's two cores.
type discardSink struct {
	addr string
	srv  *http.Server
}

func startDiscardSink() (*discardSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &discardSink{addr: ln.Addr().String()}
	s.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *discardSink) close() { _ = s.srv.Close() }

// cpuTime is the CPU time grantd has used, user and system, from
// /proc/<pid>/stat.
func (p *process) cpuTime() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses.
	_, rest, ok := strings.Cut(string(raw), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("unreadable /proc stat: %q", raw)
	}
	utime, err1 := strconv.ParseUint(fields[11], 10, 64)
	stime, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// Linux reports in USER_HZ, 100 per second on every platform Go runs on.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// decisionLogReport writes the runs as a table per cache setting, with
// each log setup's median throughput against the median with the log off.
func decisionLogReport(o decisionLogOptions, runs []logRun, compared int, gzip string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Decision log: throughput with logging on and off\n\n")
	together, how := "", fmt.Sprintf("the load moves from one to the next in slices of %s, each round starting at another setup, so that what "+
		"the machine does meanwhile falls on every setup alike", o.duration)
	if o.together {
		together = " -together"
		how = fmt.Sprintf("in each round the setups of one cache setting take their load at the same time, for %s, each from its own callers, "+
			"so that what the machine does meanwhile falls on all of them at once; they share the machine's cores with each other and the "+
			"load generator, so throughput is each one's share, and CPU per decision is the comparison", o.duration)
	}
	fmt.Fprintf(&b, "`go run ./bench decisionlog -size %s -rounds %d -duration %s -callers %d -cache %s%s`, %s. ", o.size.Name, o.rounds, o.duration, o.callers,
		o.cache, together, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "gRPC Authorize from %d callers over %d questions. Each setup has its own grantd on its own copy of the restored dataset, "+
		"started once and warmed by one pass; %s. Every answer equals every other slice's answer to the same question "+
		"(%d answers compared). CPU per decision is grantd's user and system time over a slice (from /proc), %s after its load stops included. "+
		"File: JSON lines on the local disk (rotated at 100 MiB). HTTP: gzip batches to a loopback sink that reads and discards them, "+
		"compressed by %s (as grantd logged it). "+
		"Control: a second grantd with the log off, so that the distance between two grantds that differ in nothing shows what the run can resolve.\n\n",
		o.callers, o.queries, how, compared, settle, gzip)
	for _, cache := range []bool{true, false} {
		if o.cache != "both" && (o.cache == "on") != cache {
			continue
		}
		fmt.Fprintf(&b, "## Decision cache %s\n\n", map[bool]string{true: "on (the default)", false: "off"}[cache])
		fmt.Fprintf(&b, "| decision log | decisions/s per round | median | vs off (medians) | vs off (median of per-round ratios) [95 %% CI] | grantd CPU µs per decision per round | median | vs off (medians) | vs off (median of per-round ratios) [95 %% CI] | p50 ms | p99 ms | logged | dropped | target ≤ 5 %% lower |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		var off, offCPU float64
		offByRound, offCPUByRound := map[int]float64{}, map[int]float64{}
		for _, r := range runs {
			if r.setup.cache == cache && r.setup.name == setupOff {
				offByRound[r.round], offCPUByRound[r.round] = r.result.PerSecond, r.cpuPerDecision
			}
		}
		var control [2]float64 // the control's CPU per decision against off: medians, median of per-round ratios
		for _, name := range []string{setupOff, setupControl, setupFile, setupHTTP} {
			var rates, paired, cpus, pairedCPU, p50s, p99s []float64
			var kept, dropped float64
			for _, r := range runs {
				if r.setup.cache == cache && r.setup.name == name {
					rates = append(rates, r.result.PerSecond)
					paired = append(paired, r.result.PerSecond/offByRound[r.round])
					cpus = append(cpus, r.cpuPerDecision)
					pairedCPU = append(pairedCPU, r.cpuPerDecision/offCPUByRound[r.round])
					p50s, p99s = append(p50s, r.result.P50), append(p99s, r.result.P99)
					kept, dropped = kept+r.kept, dropped+r.dropped
				}
			}
			med, cpu := median(rates), median(cpus)
			if name == setupOff {
				off, offCPU = med, cpu
			}
			ratio, pairedRatio, cpuRatio, pairedCPURatio, verdict := med/off, median(paired), cpu/offCPU, median(pairedCPU), "—"
			label := name
			if name == setupControl {
				label, verdict = "off, a second grantd (control)", "— (resolution)"
				control = [2]float64{cpuRatio, pairedCPURatio}
			}
			if name == setupFile || name == setupHTTP {
				// Throughput on a shared 2-core machine moves by more than
				// 5 % from run to run, and the load generator shares the
				// cores, which hides part of grantd's cost: grantd's CPU per
				// decision is what bounds its throughput where it has the
				// cores to itself. Met when one of the throughput
				// comparisons and both CPU comparisons are within 5 %.
				verdict = map[bool]string{true: "met", false: "**not met**"}[cpuRatio <= 1/0.95 && pairedCPURatio <= 1/0.95 && (ratio >= 0.95 || pairedRatio >= 0.95)]
			}
			perRound, perRoundCPU := make([]string, len(rates)), make([]string, len(cpus))
			for i := range rates {
				perRound[i], perRoundCPU[i] = fmt.Sprintf("%.0f", rates[i]), fmt.Sprintf("%.1f", cpus[i])
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %+.1f %% | %+.1f %% %s | %s | %.1f | %+.1f %% | %+.1f %% %s | %.2f | %.2f | %.0f | %.0f | %s |\n", label, strings.Join(perRound, ", "), med,
				100*(ratio-1), 100*(pairedRatio-1), ratioCI(paired), strings.Join(perRoundCPU, ", "), cpu, 100*(cpuRatio-1), 100*(pairedCPURatio-1), ratioCI(pairedCPU),
				median(p50s), median(p99s), kept, dropped, verdict)
		}
		fmt.Fprintf(&b, "\nThe control, a grantd with the log off like the first, lands %+.1f %% / %+.1f %% from it in CPU per decision: "+
			"a difference of that size between a log setup and off is within what this run cannot tell from chance.\n\n", 100*(control[0]-1), 100*(control[1]-1))
	}
	return b.String()
}

// ratioCI is the 95 % confidence interval of the median of per-round
// ratios, as changes in per cent ("" when there are too few rounds).
func ratioCI(ratios []float64) string {
	lo, hi, ok := medianCI(ratios)
	if !ok {
		return ""
	}
	return fmt.Sprintf("[%+.1f, %+.1f]", 100*(lo-1), 100*(hi-1))
}

// medianCI is a distribution-free confidence interval of at least 95 %
// for the median of the population xs is drawn from: the k-th smallest
// and k-th largest of xs, for the largest k such that fewer than k of n
// draws fall below the median with probability at most 2.5 %
// (binomial, p = 1/2). It needs at least six samples.
func medianCI(xs []float64) (lo, hi float64, ok bool) {
	n := len(xs)
	below, k := 0.0, 0 // P(X < k) for X ~ Binomial(n, 1/2)
	for j := 0; j <= n; j++ {
		p := math.Exp(lgamma(n+1)-lgamma(j+1)-lgamma(n-j+1)) / math.Pow(2, float64(n))
		if below+p > 0.025 {
			k = j // P(X < j) <= 2.5 %, P(X < j+1) > 2.5 %
			break
		}
		below += p
	}
	if k < 1 {
		return 0, 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[k-1], s[n-k], true
}

func lgamma(n int) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// mergeAnswers compares a run's answers (1 allow, 0 deny, -1 not asked)
// with those seen so far, adds the newly asked ones, and counts the
// questions both answered.
func mergeAnswers(seen, run []int8) (compared int, same bool) {
	for i, a := range run {
		switch {
		case a < 0:
		case seen[i] < 0:
			seen[i] = a
		case seen[i] != a:
			return compared, false
		default:
			compared++
		}
	}
	return compared, true
}
