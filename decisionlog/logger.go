package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Logger takes records from the decision path and encodes and writes them
// out on its own goroutine. A nil *Logger logs nothing.
type Logger struct {
	queue  queue
	sample float64
	enc    *encoder
	out    sink
	every  time.Duration
	log    *slog.Logger
	done   chan struct{}
	// ctx ends the sink's work (retries included) when Close runs out of
	// time.
	ctx    context.Context
	cancel context.CancelFunc
	// What happened to the records: kept (counted by the writer as it
	// takes them, not by 64 deciding goroutines on one cache line),
	// dropped for a full buffer, written (or sent), lost to a sink that
	// failed for good.
	kept, dropped, written, lost atomic.Uint64
	// preloaded keeps the encoder's preload from being optimized away.
	preloaded byte
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
	l := &Logger{queue: newQueue(cfg.Buffer), sample: cfg.Sample, enc: newEncoder(cfg.Labels, m),
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
// full, the record is dropped and counted. The writer encodes it: nothing
// but a copy into the queue is added to the decision's path.
func (l *Logger) Log(r Record) {
	if l == nil {
		return
	}
	if !l.queue.put(&r) {
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
	l.queue.close()
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

// run is the writer: it takes the records that gathered in the queue,
// encodes them and hands them to the sink (a sink of lines takes them all
// in one write), flushing at least every FlushInterval.
func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(l.every)
	defer tick.Stop()
	ctx := l.ctx
	var buf []byte
	var batch []Record
	for {
		select {
		case <-l.queue.wake:
			time.Sleep(min(batchWindow, l.every))
			var closed bool
			batch, closed = l.queue.take(batch)
			l.kept.Add(uint64(len(batch)))
			l.preloaded += l.enc.preload(batch)
			buf = buf[:0]
			if sink, ok := l.out.(lineWriter); ok {
				for i := range batch {
					buf = append(l.enc.appendEvent(buf, &batch[i]), '\n')
				}
				l.report(sink.writeLines(ctx, buf, len(batch)))
			} else {
				for i := range batch {
					buf = l.enc.appendEvent(buf[:0], &batch[i])
					l.report(l.out.write(ctx, buf))
				}
			}
			if closed {
				l.report(l.out.flush(ctx))
				return
			}
		case <-tick.C:
			l.report(l.out.flush(ctx))
		}
	}
}

// eachEvent calls write with each event of lines (events each followed by
// a newline, which an encoded event holds nowhere else: JSON escapes it in
// strings), until one fails.
func eachEvent(lines []byte, write func(event []byte) error) error {
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if err := write(lines[:i]); err != nil {
			return err
		}
		lines = lines[i+1:]
	}
	return nil
}

// report logs a sink's failure (not the events: they may hold what the
// mask erases).
func (l *Logger) report(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		l.log.Error("decision log", "err", err)
	}
}

// queue holds records between the decision path and the writer, at most
// max of them. The writer swaps the whole queue for an empty slice, so
// the records it holds stay few and in cache, and each wake-up takes all
// that gathered.
type queue struct {
	mu      sync.Mutex
	pending []Record
	max     int
	closed  bool
	// wake is signalled when the queue stops being empty, or closes.
	wake chan struct{}
}

func newQueue(max int) queue {
	return queue{max: max, wake: make(chan struct{}, 1)}
}

// put adds r unless the queue is full or closed.
func (q *queue) put(r *Record) bool {
	q.mu.Lock()
	if q.closed || len(q.pending) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.pending = append(q.pending, *r)
	first := len(q.pending) == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
	return true
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns what gathered, and whether the queue is closed, and keeps
// spare (emptied) for what comes next.
func (q *queue) take(spare []Record) (batch []Record, closed bool) {
	clear(spare) // the records' strings are not kept alive by a spare slice
	q.mu.Lock()
	batch, q.pending = q.pending, spare[:0]
	closed = q.closed
	q.mu.Unlock()
	return batch, closed
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}
