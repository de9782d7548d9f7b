package decisionlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/klauspost/compress/gzip"
)

// httpSink sends events in batches in OPA's decision-log upload format:
// a JSON array of events, gzip-compressed, POSTed with Content-Encoding:
// gzip. Events are compressed as they come, while the writer has just
// encoded them and they are still in the processor's cache, and only the
// compressed batch is kept. A batch that fails is retried with exponential
// backoff until it is delivered or the logger stops; while it is retried,
// new records wait in the logger's buffer, and are dropped (and counted)
// when it is full. A sink that refuses a batch as a client error (4xx
// other than 408 and 429) will refuse it again: that batch is counted
// lost.
type httpSink struct {
	url    string
	client *http.Client
	token  string
	// max bounds a batch's uncompressed size; size is the current
	// batch's, n its events.
	max, size int
	n         uint64
	l         *Logger
	gz        *gzip.Writer
	body      bytes.Buffer
}

// Backoff between attempts: from retryMin, doubling, at most retryMax.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
)

func newHTTPSink(cfg Config, l *Logger) *httpSink {
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	gz, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return &httpSink{url: cfg.Destination, client: client, token: cfg.Token, max: cfg.BatchBytes, l: l, gz: gz}
}

var (
	batchOpen = []byte{'['}
	batchSep  = []byte{','}
)

func (s *httpSink) write(ctx context.Context, event []byte) error {
	var err error
	if s.n > 0 && s.size+len(event)+2 > s.max {
		err = s.flush(ctx)
	}
	sep := batchSep
	if s.n == 0 {
		s.body.Reset()
		s.gz.Reset(&s.body)
		sep, s.size = batchOpen, 0
	}
	// Writes to a bytes.Buffer do not fail.
	_, _ = s.gz.Write(sep)
	_, _ = s.gz.Write(event)
	s.size += len(event) + 1
	s.n++
	return err
}

func (s *httpSink) flush(ctx context.Context) error {
	if s.n == 0 {
		return nil
	}
	_, _ = s.gz.Write([]byte{']'})
	err := s.gz.Close()
	if err == nil {
		err = s.deliver(ctx)
	} else {
		s.l.lost.Add(s.n)
	}
	s.n = 0
	return err
}

func (s *httpSink) close(context.Context) error { return nil }

// deliver sends the compressed batch until it is taken.
func (s *httpSink) deliver(ctx context.Context) error {
	wait := retryMin
	for attempt := 1; ; attempt++ {
		retry, err := s.post(ctx)
		if err == nil {
			s.l.written.Add(s.n)
			return nil
		}
		if !retry {
			s.l.lost.Add(s.n)
			return fmt.Errorf("sink refused a batch of %d events: %w", s.n, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			s.l.report(fmt.Errorf("sink unavailable (attempt %d, retrying): %w", attempt, err))
		}
		jittered := wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(jittered):
		case <-ctx.Done():
			s.l.lost.Add(s.n)
			return fmt.Errorf("stopped with a batch of %d events unsent: %w", s.n, err)
		}
		wait = min(2*wait, retryMax)
	}
}

// post sends the compressed batch once; retry says whether another try
// may succeed.
func (s *httpSink) post(ctx context.Context) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.body.Bytes()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("HTTP %d", c)
	default:
		return false, fmt.Errorf("HTTP %d", c)
	}
}
