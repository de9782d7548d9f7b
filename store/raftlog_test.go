package store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// On a single node, raft's "starting election" warning is the normal
// start and is logged as information; other warnings stay warnings.
func TestRaftElectionWarningIsInfoOnASingleNode(t *testing.T) {
	for _, single := range []bool{true, false} {
		var buf bytes.Buffer
		w := newSlogWriter(slog.New(slog.NewTextHandler(&buf, nil)), single)
		_, _ = w.Write([]byte(`{"@level":"warn","@message":"heartbeat timeout reached, starting election","last-leader-id":""}` + "\n"))
		_, _ = w.Write([]byte(`{"@level":"warn","@message":"failed to contact quorum"}` + "\n"))
		_ = w.Close() // every line is logged when Close returns
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("single=%v: %q", single, buf.String())
		}
		wantElection := "level=WARN"
		if single {
			wantElection = "level=INFO"
		}
		if !strings.Contains(lines[0], wantElection) || !strings.Contains(lines[1], "level=WARN") {
			t.Errorf("single=%v: %q", single, lines)
		}
	}
}
