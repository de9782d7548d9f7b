package decisionlog

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Logger takes records from the decision path and writes them out on its
// own goroutine. A nil *Logger logs nothing.
type Logger struct {
	records chan Record
	sample  float64
	enc     *encoder
	out     sink
	every   time.Duration
	log     *slog.Logger
	done    chan struct{}
	close   sync.Once
	// ctx ends the sink's work (retries included) when Close runs out of
	// time.
	ctx    context.Context
	cancel context.CancelFunc
	// What happened to the records: kept, dropped for a full buffer,
	// written (or sent), lost to a sink that failed for good.
	kept, dropped, written, lost atomic.Uint64
}

// sink is where encoded events go.
type sink interface {
	// write takes one event (JSON, no newline); the sink may hold it
	// until flush.
	write(ctx context.Context, event []byte) error
	flush(ctx context.Context) error
	close(ctx context.Context) error
}

// New starts a logger; Close stops it. It returns nil (logging off) when
// the configuration names no destination.
func New(cfg Config, log *slog.Logger) (*Logger, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	m, _ := parseMask(cfg.Mask)
	l := &Logger{records: make(chan Record, cfg.Buffer), sample: cfg.Sample, enc: newEncoder(cfg.Labels, m),
		every: cfg.FlushInterval, log: log, done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	var err error
	switch kind, rest := cfg.destination(); kind {
	case "stdout":
		l.out = newStdoutSink(&l.written)
	case "file":
		l.out, err = newFileSink(rest, cfg.MaxFileBytes, cfg.MaxFiles, &l.written)
	case "http":
		l.out = newHTTPSink(cfg, l)
	}
	if err != nil {
		l.cancel()
		return nil, err
	}
	go l.run()
	return l, nil
}

// SampleAllowed draws whether an allowed decision about to be made is
// kept (denials always are). Draw before deciding, so the grants behind
// the decision are looked up only for a decision that is kept.
func (l *Logger) SampleAllowed() bool {
	if l == nil {
		return false
	}
	return l.sample >= 1 || rand.Float64() < l.sample
}

// Log hands a record to the writer without waiting: when the buffer is
// full, the record is dropped and counted.
func (l *Logger) Log(r Record) {
	if l == nil {
		return
	}
	select {
	case l.records <- r:
		l.kept.Add(1)
	default:
		l.dropped.Add(1)
	}
}

// Stats are the logger's counters.
type Stats struct {
	Kept, Dropped, Written, Lost uint64
}

// Stats reads the counters.
func (l *Logger) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return Stats{Kept: l.kept.Load(), Dropped: l.dropped.Load(), Written: l.written.Load(), Lost: l.lost.Load()}
}

// Collectors are the logger's Prometheus series.
func (l *Logger) Collectors() []prometheus.Collector {
	if l == nil {
		return nil
	}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		counter("grantd_decision_log_records_total", "Decisions handed to the decision log (after sampling).", &l.kept),
		counter("grantd_decision_log_dropped_total", "Decisions dropped because the decision log's buffer was full.", &l.dropped),
		counter("grantd_decision_log_written_total", "Decision log events written or delivered.", &l.written),
		counter("grantd_decision_log_lost_total", "Decision log events a sink refused for good or that were still unsent at shutdown.", &l.lost),
	}
}

// Close writes what is buffered and stops. When ctx ends first, what is
// still unwritten is counted lost.
func (l *Logger) Close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.close.Do(func() { close(l.records) })
	var err error
	select {
	case <-l.done:
	case <-ctx.Done():
		err = ctx.Err()
		l.cancel()
		<-l.done
	}
	l.cancel()
	return errors.Join(err, l.out.close(ctx))
}

// batchWindow is how long the writer lets records gather after waking
// for one: under load it wakes once per window, not once per decision
// (each wake-up costs the decision path's cores more than writing the
// record does).
const batchWindow = 5 * time.Millisecond

// run is the writer: it encodes each record and hands it to the sink,
// flushing at least every FlushInterval.
func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	ctx := l.ctx
	var buf []byte
	write := func(r *Record) {
		buf = l.enc.appendEvent(buf[:0], r)
		l.report(l.out.write(ctx, buf))
	}
	for {
		select {
		case r, ok := <-l.records:
			if !ok {
				l.report(l.out.flush(ctx))
				return
			}
			write(&r)
			time.Sleep(min(batchWindow, l.every))
			// What gathered, and no more: the flush tick gets its turn.
			for n := len(l.records); n > 0; n-- {
				r, ok := <-l.records
				if !ok {
					l.report(l.out.flush(ctx))
					return
				}
				write(&r)
			}
		case <-tick.C:
			l.report(l.out.flush(ctx))
		}
	}
}

// report logs a sink's failure (not the events: they may hold what the
// mask erases).
func (l *Logger) report(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		l.log.Error("decision log", "err", err)
	}
}
