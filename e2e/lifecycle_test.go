package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMShutsDownCleanly checks the graceful path: SIGTERM drains and
// exits 0, and the data written before it is there on the next start.
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	token := g.login(t)
	g.must(t, 200, "POST", "/v1/orgs", token, map[string]any{"name": "acme"})
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("grantd did not stop on SIGTERM:\n%s", g.logs)
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, g.logs)
	}
	if !strings.Contains(g.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no stop log line:\n%s", g.logs)
	}
	g = start(t, dir)
	g.must(t, 200, "GET", "/v1/orgs/acme", g.login(t), nil)
}

// TestInsecureIsLoudAndTLSIsDefault starts grantd once with --insecure and
// checks it warns and serves plain HTTP, and that by default it refuses
// plain HTTP.
func TestInsecureIsLoudAndTLSIsDefault(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(grantdBin, "--data-dir", dir, "--listen", "127.0.0.1:0", "--insecure")
	cmd.Env = append(os.Environ(), "GRANTD_ADMIN_PASSWORD="+adminPassword)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	warned, addr := false, ""
	sc := bufio.NewScanner(stderr)
	for addr == "" && sc.Scan() {
		var e struct{ Level, Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		warned = warned || e.Level == "WARN" && strings.Contains(e.Msg, "TLS IS OFF")
		if e.Msg == "serving" {
			addr = e.Addr
		}
	}
	if !warned {
		t.Error("--insecure was not logged as a warning")
	}
	if _, err := os.Stat(filepath.Join(dir, "tls")); !os.IsNotExist(err) {
		t.Error("--insecure still created TLS material")
	}
	resp, err := newPlainClient().Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain HTTP with --insecure: %v", err)
	}
	resp.Body.Close()

	g := start(t, t.TempDir())
	if resp, err := newPlainClient().Get("http://" + g.addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP accepted without --insecure")
	}
}

// TestStartupMemoryReturnedAfterFirstRequests checks that grantd returns
// its start-up garbage to the OS, and not before it has served for two
// seconds: the collection this forces takes up to a second with a large
// state, and the first requests (here a login and a decision, made at
// once) must not wait for it. The log says when serving began, and when
// the collection ended and how long it took.
func TestStartupMemoryReturnedAfterFirstRequests(t *testing.T) {
	g := start(t, t.TempDir())
	token := g.login(t)
	g.must(t, 200, "POST", "/v1/authorize", token, map[string]any{"subject": "user:admin",
		"operation": "container.view", "resource": map[string]any{"collection": "/"}})
	type entry struct {
		Time    time.Time
		Elapsed string
	}
	var serving, returned entry
	for line, e := range map[string]*entry{
		g.waitLog(t, `"msg":"start-up memory returned to the OS"`, 30*time.Second): &returned,
		g.waitLog(t, `"msg":"serving"`, 0):                                         &serving,
	} {
		if err := json.Unmarshal([]byte(line), e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	took, err := time.ParseDuration(returned.Elapsed)
	if err != nil {
		t.Fatalf("memory returned, elapsed %q: %v", returned.Elapsed, err)
	}
	if began := returned.Time.Add(-took); serving.Time.IsZero() || began.Sub(serving.Time) < 2*time.Second {
		t.Fatalf("the start-up collection began %v after serving did (%v, %v), want 2 s at least:\n%s",
			began.Sub(serving.Time), serving.Time, began, g.logs)
	}
}

// TestMemoryLimitFollowsTheState: once the start-up garbage is returned,
// grantd sets the runtime's soft memory limit from its live heap
// (internal/memlimit), which the Go collector's metric shows; with
// GOMEMLIMIT set, the operator's limit holds and grantd sets none.
func TestMemoryLimitFollowsTheState(t *testing.T) {
	g := start(t, t.TempDir())
	var e struct{ LimitMiB, LiveMiB int64 }
	line := g.waitLog(t, `"msg":"memory limit"`, 30*time.Second)
	if err := json.Unmarshal([]byte(line), &struct {
		LimitMiB *int64 `json:"limit_mib"`
		LiveMiB  *int64 `json:"live_mib"`
	}{&e.LimitMiB, &e.LiveMiB}); err != nil {
		t.Fatal(err)
	}
	// At first the state is what is live: 2.25 times it, or 256 MiB above
	// it, rounded up to 16 MiB; the log rounds the live heap down to MiB.
	if want := max(e.LiveMiB*9/4, e.LiveMiB+256); e.LimitMiB < want || e.LimitMiB > want+18 {
		t.Errorf("limit %d MiB for a live heap of %d MiB, want about %d:\n%s", e.LimitMiB, e.LiveMiB, want, g.logs)
	}
	token := g.login(t)
	if got := metric(t, g, token, "go_gc_gomemlimit_bytes"); got != float64(e.LimitMiB<<20) {
		t.Errorf("go_gc_gomemlimit_bytes %v, grantd logged a limit of %d MiB", got, e.LimitMiB)
	}

	t.Setenv("GOMEMLIMIT", "3GiB")
	g = start(t, t.TempDir())
	g.waitLog(t, `"msg":"start-up memory returned to the OS"`, 30*time.Second)
	token = g.login(t) // after the line: the limit, had it been set, is logged before
	if strings.Contains(g.logs.String(), `"msg":"memory limit"`) {
		t.Errorf("grantd set a memory limit although GOMEMLIMIT was set:\n%s", g.logs)
	}
	if got := metric(t, g, token, "go_gc_gomemlimit_bytes"); got != 3<<30 {
		t.Errorf("go_gc_gomemlimit_bytes %v with GOMEMLIMIT=3GiB", got)
	}
}

// waitLog is the first line of g's log that holds substr, once there is one.
func (g *grantd) waitLog(t *testing.T, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for line := range strings.Lines(g.logs.String()) {
			if strings.Contains(line, substr) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in grantd's log within %v:\n%s", substr, timeout, g.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
