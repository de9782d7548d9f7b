package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/grantd/grantd/internal/jsonlinestest"
)

func testConfig(dest string) Config {
	c := DefaultConfig()
	c.Destination = dest
	c.FlushInterval = 20 * time.Millisecond
	return c
}

func closeLogger(t *testing.T, l *Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFileSinkRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.jsonl")
	cfg := testConfig("file:" + path)
	cfg.MaxFileBytes, cfg.MaxFiles = 8192, 50
	l, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 300
	for range n {
		l.Log(randomRecord(rng))
	}
	closeLogger(t, l)
	seen := map[string]bool{}
	files := 0
	for i := 0; ; i++ {
		p := path
		if i > 0 {
			p = path + "." + strconv.Itoa(i)
		}
		st, err := os.Stat(p)
		if err != nil {
			break
		}
		files++
		if st.Size() > cfg.MaxFileBytes {
			t.Fatalf("%s holds %d bytes, over the %d of rotation", p, st.Size(), cfg.MaxFileBytes)
		}
		for _, ev := range jsonlinestest.Read(t, p) {
			seen[ev["decision_id"].(string)] = true
		}
	}
	if files < 3 || len(seen) != n {
		t.Fatalf("%d files, %d distinct events; want ≥ 3 files and %d events", files, len(seen), n)
	}
	if s := l.Stats(); s.Written != n || s.Kept != n || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// An event longer than a whole file is written alone, in a file of its
// own; the others keep to the size of rotation.
func TestFileSinkWritesAnOversizeEventAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	cfg := testConfig("file:" + path)
	cfg.MaxFileBytes, cfg.MaxFiles = 4096, 50
	l, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 40
	for i := range n {
		r := randomRecord(rng)
		if i == n/2 {
			// A denial's reason is in its event.
			r.Decision.Allowed, r.Decision.Reason = false, strings.Repeat("long ", 1000)
		}
		l.Log(r)
	}
	closeLogger(t, l)
	matches, _ := filepath.Glob(path + "*")
	events, oversize := 0, 0
	for _, p := range matches {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		evs := jsonlinestest.Read(t, p)
		events += len(evs)
		if st.Size() > cfg.MaxFileBytes {
			oversize++
			if len(evs) != 1 {
				t.Fatalf("%s holds %d bytes in %d events: only a single event may exceed the size of rotation", p, st.Size(), len(evs))
			}
		}
	}
	if events != n || oversize != 1 {
		t.Fatalf("%d events in %d files (%d oversize); want %d events, one file oversize", events, len(matches), oversize, n)
	}
	if s := l.Stats(); s.Written != n {
		t.Fatalf("stats %+v", s)
	}
}

// Decisions log concurrently: every event arrives whole, once, with its
// own decision ID and sequence number.
func TestConcurrentDecisionsLogEveryEventOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	l, err := New(testConfig("file:"+path), nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for range each {
				l.Log(randomRecord(rng))
			}
		}()
	}
	wg.Wait()
	closeLogger(t, l)
	ids, seqs := map[string]bool{}, map[float64]bool{}
	for _, ev := range jsonlinestest.Read(t, path) {
		ids[ev["decision_id"].(string)] = true
		seqs[ev["req_id"].(float64)] = true
	}
	if len(ids) != workers*each || len(seqs) != workers*each {
		t.Fatalf("%d distinct decision IDs and %d sequence numbers; want %d of each", len(ids), len(seqs), workers*each)
	}
	for i := 1; i <= workers*each; i++ {
		if !seqs[float64(i)] {
			t.Fatalf("sequence number %d missing", i)
		}
	}
}

func TestFileSinkKeepsOnlyMaxFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	cfg := testConfig("file:" + path)
	cfg.MaxFileBytes, cfg.MaxFiles = 4096, 2
	l, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		l.Log(randomRecord(rng))
	}
	closeLogger(t, l)
	matches, _ := filepath.Glob(path + "*")
	if len(matches) != 3 { // d.jsonl, d.jsonl.1, d.jsonl.2
		t.Fatalf("files %v, want the live file and 2 rotated", matches)
	}
}

// sinkServer is an HTTP decision-log service: it refuses the first fail
// uploads with 503, then takes gzip-compressed JSON arrays of events.
type sinkServer struct {
	mu       sync.Mutex
	fail     int
	attempts int
	batches  int
	events   []logs.EventV1
	bad      []string
	hold     chan struct{} // when set, each upload waits for it
	// largest is the largest batch, uncompressed.
	largest int
}

func (s *sinkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.fail > 0 {
		s.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json" {
		s.bad = append(s.bad, r.Method+" "+r.Header.Get("Content-Encoding")+" "+r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		s.bad = append(s.bad, err.Error())
		http.Error(w, "not gzip", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		s.bad = append(s.bad, err.Error())
		http.Error(w, "not gzip", http.StatusBadRequest)
		return
	}
	var batch []logs.EventV1
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&batch); err != nil || dec.More() {
		s.bad = append(s.bad, fmt.Sprintf("not one JSON array of events: %v", err))
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	s.largest = max(s.largest, len(body))
	s.batches++
	s.events = append(s.events, batch...)
	w.WriteHeader(http.StatusNoContent)
}

func TestHTTPSinkRetriesAndDeliversBatchesOnce(t *testing.T) {
	srv := &sinkServer{fail: 3}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cfg := testConfig(hs.URL + "/logs")
	cfg.BatchBytes = 16 << 10
	l, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 500
	for range n {
		l.Log(randomRecord(rng))
	}
	closeLogger(t, l)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.bad) > 0 {
		t.Fatalf("the sink refused uploads: %v", srv.bad)
	}
	ids := map[string]bool{}
	for _, ev := range srv.events {
		ids[ev.DecisionID] = true
	}
	if len(srv.events) != n || len(ids) != n {
		t.Fatalf("sink got %d events (%d distinct), want %d", len(srv.events), len(ids), n)
	}
	if srv.batches < 2 || srv.attempts != srv.batches+3 {
		t.Fatalf("%d batches in %d attempts: want several batches and 3 retried attempts", srv.batches, srv.attempts)
	}
	if srv.largest > cfg.BatchBytes {
		t.Fatalf("a batch of %d bytes, uncompressed: the limit is %d", srv.largest, cfg.BatchBytes)
	}
	if s := l.Stats(); s.Written != n || s.Lost != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHTTPSinkCountsRefusedBatchesLost(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer hs.Close()
	l, err := New(testConfig(hs.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 20 {
		l.Log(randomRecord(rng))
	}
	closeLogger(t, l)
	if s := l.Stats(); s.Lost != 20 || s.Written != 0 {
		t.Fatalf("stats %+v, want 20 lost", s)
	}
}

// TestFullBufferDropsAndCounts: a sink that does not answer never holds
// up Log; what does not fit the buffer is counted dropped.
func TestFullBufferDropsAndCounts(t *testing.T) {
	srv := &sinkServer{hold: make(chan struct{})}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	cfg := testConfig(hs.URL)
	cfg.Buffer, cfg.BatchBytes = 10, 1024
	l, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	const n = 1000
	start := time.Now()
	for range n {
		l.Log(randomRecord(rng))
	}
	took := time.Since(start)
	close(srv.hold)
	closeLogger(t, l)
	s := l.Stats()
	if s.Dropped == 0 || s.Kept+s.Dropped != n || s.Written+s.Lost != s.Kept {
		t.Fatalf("stats %+v for %d records", s, n)
	}
	t.Logf("%d records logged in %v against a stuck sink: %+v", n, took, s)
}

func TestSampling(t *testing.T) {
	cfg := testConfig("file:" + filepath.Join(t.TempDir(), "d"))
	cfg.Sample = 0
	l, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLogger(t, l)
	for range 1000 {
		if l.SampleAllowed() {
			t.Fatal("sample 0 kept an allowed decision")
		}
	}
	l.sample = 0.25
	var kept atomic.Int64
	for range 20000 {
		if l.SampleAllowed() {
			kept.Add(1)
		}
	}
	if k := kept.Load(); k < 4500 || k > 5500 {
		t.Fatalf("sample 0.25 kept %d of 20000", k)
	}
	var none *Logger
	none.Log(Record{}) // logging off: nothing happens
	if none.SampleAllowed() || none.Stats() != (Stats{}) {
		t.Fatal("a nil logger did something")
	}
}

func TestConfigValidation(t *testing.T) {
	bad := DefaultConfig()
	bad.Destination, bad.Sample, bad.Buffer, bad.Mask = "ftp://x", 2, 0, []string{"/input/password"}
	err := bad.Validate()
	for _, want := range []string{"ftp://x", "sample", "buffer", "/input/password"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("validation %v does not mention %q", err, want)
		}
	}
	if l, err := New(DefaultConfig(), nil); l != nil || err != nil {
		t.Fatalf("no destination: %v, %v; want logging off", l, err)
	}
}

// HTTP is true of the destinations the HTTP sink takes, and of no other.
func TestConfigHTTP(t *testing.T) {
	for dest, want := range map[string]bool{"http://127.0.0.1:9/logs": true, "https://logs.example.com/logs": true,
		"": false, "stdout": false, "file:/tmp/d.jsonl": false, "httpd": false, "file:http://x": false} {
		if got := (Config{Destination: dest}).HTTP(); got != want {
			t.Errorf("%q: HTTP() = %v, want %v", dest, got, want)
		}
	}
}
