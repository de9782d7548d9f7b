package store

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
)

// slogWriter receives hclog's JSON lines (raft's logger) and re-emits them
// through slog, so that grantd has one log format.
type slogWriter struct {
	log *slog.Logger
	pw  *io.PipeWriter
	// done is closed when every line written has been logged.
	done chan struct{}
	// singleNode: raft's election warnings are the normal start of a
	// one-node cluster, not a problem, and are logged as information.
	singleNode bool
}

// singleNodeRoutine are raft warnings that every start of a single node
// logs: it waits one heartbeat timeout for a leader that cannot exist,
// then elects itself.
var singleNodeRoutine = map[string]bool{
	"heartbeat timeout reached, starting election": true,
}

func newSlogWriter(log *slog.Logger, singleNode bool) *slogWriter {
	pr, pw := io.Pipe()
	w := &slogWriter{log: log, pw: pw, singleNode: singleNode, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.pump(pr)
	}()
	return w
}

func (w *slogWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close ends the writer once every line written has been logged.
func (w *slogWriter) Close() error {
	err := w.pw.Close()
	<-w.done
	return err
}

func (w *slogWriter) pump(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			w.log.Warn(sc.Text(), "component", "raft")
			continue
		}
		msg, _ := entry["@message"].(string)
		level := slogLevel(entry["@level"])
		if w.singleNode && singleNodeRoutine[msg] {
			level = slog.LevelInfo
		}
		attrs := []any{"component", "raft"}
		for k, v := range entry {
			if !strings.HasPrefix(k, "@") {
				attrs = append(attrs, k, v)
			}
		}
		w.log.Log(context.Background(), level, msg, attrs...)
	}
}

func slogLevel(v any) slog.Level {
	switch v {
	case "error":
		return slog.LevelError
	case "warn":
		return slog.LevelWarn
	case "debug", "trace":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
