package decisionlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// httpSink sends events in batches in OPA's decision-log upload format:
// a JSON array of events, gzip-compressed, POSTed with Content-Encoding:
// gzip. A batch that fails is retried with exponential backoff until it is
// delivered or the logger stops; while it is retried, new records wait in
// the logger's buffer, and are dropped (and counted) when it is full. A
// sink that refuses a batch as a client error (4xx other than 408 and
// 429) will refuse it again: that batch is counted lost.
type httpSink struct {
	url    string
	client *http.Client
	token  string
	max    int
	l      *Logger
	batch  []byte
	n      uint64
	gz     gzipper
	body   []byte // the compressed batch
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
	return &httpSink{url: cfg.Destination, client: client, token: cfg.Token, max: cfg.BatchBytes, l: l, gz: newGzipper(),
		batch: append(make([]byte, 0, cfg.BatchBytes+4096), '[')}
}

func (s *httpSink) write(ctx context.Context, event []byte) error {
	var err error
	if s.n > 0 && len(s.batch)+len(event)+2 > s.max {
		err = s.flush(ctx)
	}
	if s.n > 0 {
		s.batch = append(s.batch, ',')
	}
	s.batch = append(s.batch, event...)
	s.n++
	return err
}

func (s *httpSink) flush(ctx context.Context) error {
	if s.n == 0 {
		return nil
	}
	s.batch = append(s.batch, ']')
	err := s.deliver(ctx)
	s.batch, s.n = append(s.batch[:0], '['), 0
	return err
}

func (s *httpSink) close(context.Context) error { return nil }

// deliver compresses the batch and sends it until it is taken.
func (s *httpSink) deliver(ctx context.Context) error {
	body, err := s.gz.gzip(s.batch)
	if err != nil {
		s.l.lost.Add(s.n)
		return err
	}
	s.body = body
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.body))
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
