package decisionlog

import (
	"bufio"
	"context"
	"os"
	"sync/atomic"
)

// lineSink writes one event per line through a buffer.
type lineSink struct {
	w       *bufio.Writer
	written *atomic.Uint64
	pending uint64
}

func (s *lineSink) write(_ context.Context, event []byte) error {
	_, _ = s.w.Write(event)
	s.pending++
	return s.w.WriteByte('\n')
}

// lineWriter is a sink that takes a whole batch of events at once, each
// followed by a newline: the lines it writes, n of them.
type lineWriter interface {
	writeLines(ctx context.Context, lines []byte, n int) error
}

func (s *lineSink) writeLines(_ context.Context, lines []byte, n int) error {
	s.pending += uint64(n)
	_, err := s.w.Write(lines)
	return err
}

func (s *lineSink) flush(context.Context) error {
	err := s.w.Flush()
	if err == nil && s.written != nil {
		s.written.Add(s.pending)
	}
	s.pending = 0
	return err
}

// stdoutSink writes JSON lines to standard output.
type stdoutSink struct{ lineSink }

func newStdoutSink(written *atomic.Uint64) *stdoutSink {
	return &stdoutSink{lineSink{w: bufio.NewWriterSize(os.Stdout, 64<<10), written: written}}
}

func (s *stdoutSink) close(ctx context.Context) error { return s.flush(ctx) }
