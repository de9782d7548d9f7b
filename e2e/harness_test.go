package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/buildtags"
)

const adminPassword = "e2e-admin-password"

var grantdBin, grantctlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grantd-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	grantdBin, grantctlBin = filepath.Join(dir, "grantd"), filepath.Join(dir, "grantctl")
	// The binaries `make build` makes (with ISA-L's gzip where it can).
	build := exec.Command("go", append(append([]string{"build"}, buildtags.Args()...), "-o", dir+"/", "../cmd/grantd", "../cmd/grantctl")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building grantd:", err)
		os.Exit(1)
	}
	code := m.Run()
	if dockerdInst != nil {
		dockerdInst.stop()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// grantd is one running grantd process.
type grantd struct {
	// dataDir is the --data-dir it runs on.
	dataDir string
	cmd     *exec.Cmd
	addr    string
	client  *http.Client
	logs    *syncBuffer
	exited  chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs grantd on dataDir and waits until it serves and is ready.
func start(t testing.TB, dataDir string, extraArgs ...string) *grantd {
	t.Helper()
	return startWithEnv(t, dataDir, "GRANTD_ADMIN_PASSWORD="+adminPassword, extraArgs...)
}

// startWithEnv is start with one more environment variable (NAME=value).
func startWithEnv(t testing.TB, dataDir, env string, extraArgs ...string) *grantd {
	t.Helper()
	return startIn(t, nil, dataDir, env, extraArgs...)
}

// startIn is startWithEnv run through a command prefix (nsenter into a
// network namespace); later flags win over the default --listen.
func startIn(t testing.TB, prefix []string, dataDir, env string, extraArgs ...string) *grantd {
	t.Helper()
	g, err := launch(t, prefix, dataDir, env, extraArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// launch is startIn without t.Fatal, for starting several at once from
// other goroutines; the process is killed when the test ends.
func launch(t testing.TB, prefix []string, dataDir, env string, extraArgs ...string) (*grantd, error) {
	args := append([]string{"--data-dir", dataDir, "--listen", "127.0.0.1:0"}, extraArgs...)
	argv := append(append(append([]string(nil), prefix...), grantdBin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &grantd{cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{}), dataDir: dataDir}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(g.logs, line)
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "serving" {
				addrc <- entry.Addr
			}
		}
		// Wait closes the pipe: only once everything in it was read.
		_ = cmd.Wait()
		close(g.exited)
	}()
	t.Cleanup(func() { g.kill() })
	select {
	case g.addr = <-addrc:
	case <-g.exited:
		return nil, fmt.Errorf("grantd exited before serving:\n%s", g.logs)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("grantd did not serve within 60s:\n%s", g.logs)
	}
	caPEM, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt"))
	if err != nil {
		return nil, err
	}
	g.client = clientTrusting(caPEM)
	if err := g.awaitReady(); err != nil {
		return nil, err
	}
	return g, nil
}

func clientTrusting(caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
}

func (g *grantd) awaitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if code, _, _ := g.call(context.Background(), "GET", "/readyz", "", nil); code == 200 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("grantd never became ready:\n%s", g.logs)
}

// kill sends SIGKILL and waits for the process to be gone.
func (g *grantd) kill() {
	_ = g.cmd.Process.Kill()
	<-g.exited
	if g.client != nil { // nil when grantd never served
		g.client.CloseIdleConnections()
	}
}

// call sends one REST request; a transport error is returned, not fatal,
// because the durability test expects calls to fail when it kills grantd.
func (g *grantd) call(ctx context.Context, method, path, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+g.addr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, out, nil
}

// must is call for requests that have to succeed with the given status.
func (g *grantd) must(t testing.TB, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	code, out, err := g.call(context.Background(), method, path, token, body)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %v %v, want %d", method, path, code, out, err, want)
	}
	return out
}

func (g *grantd) login(t testing.TB) string {
	t.Helper()
	out := g.must(t, 200, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword})
	return out["auth_token"].(string)
}

func newPlainClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

// freeLoopbackAddr is a loopback address no one listens on, for a
// program the test starts.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
