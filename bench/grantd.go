package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	v1 "github.com/grantd/grantd/proto/grantd/v1"

	"github.com/grantd/grantd/internal/buildtags"
)

// process is a real grantd serving the restored dataset.
type process struct {
	cmd     *exec.Cmd
	addr    string
	exited  chan struct{}
	logs    logBuffer
	token   string
	conn    *grpc.ClientConn
	http    *http.Client
	startup time.Duration
	// settled is closed when grantd logs that it returned its start-up
	// garbage to the OS.
	settled chan struct{}
	// gzip is the compressor of its decision log's HTTP sink, as it
	// logged it before serving ("decision log on"); empty without one.
	gzip string
}

// logBuffer keeps the first MiB of the server's log lines, written by the
// reading goroutine and read when the server fails to start.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) add(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(line)
		l.b.WriteByte('\n')
	}
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildGrantd compiles the server into dir.
func buildGrantd(dir string) (string, error) {
	bin := filepath.Join(dir, "grantd")
	// The binary `make build` makes: with ISA-L's gzip where it can.
	cmd := exec.Command("go", append(append([]string{"build"}, buildtags.Args()...), "-o", bin, "./cmd/grantd")...)
	cmd.Dir = moduleRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return bin, cmd.Run()
}

// moduleRoot is the product's module directory (the parent of bench/).
func moduleRoot() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return ".."
	}
	return strings.TrimSpace(string(out))
}

// restore runs `grantd restore` and returns how long it took.
func restore(bin, dataDir, snapshot string) (time.Duration, error) {
	start := time.Now()
	out, err := exec.Command(bin, "restore", "--data-dir", dataDir, snapshot).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("grantd restore: %v: %s", err, out)
	}
	return time.Since(start), nil
}

// startGrantd starts the server on the data directory and waits until it
// answers an Authorize call: start-up is measured to that first decision.
func startGrantd(ctx context.Context, bin, dataDir, password string, flags ...string) (*process, error) {
	p := &process{exited: make(chan struct{}), settled: make(chan struct{})}
	start := time.Now()
	p.cmd = exec.Command(bin, append([]string{"--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "info"}, flags...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var entry struct{ Msg, Addr, Gzip string }
			if json.Unmarshal(sc.Bytes(), &entry) == nil {
				switch entry.Msg {
				case "decision log on": // read once addrc has the address
					p.gzip = entry.Gzip
				case "serving":
					addrc <- entry.Addr
				case "start-up memory returned to the OS": // cmd/grantd's memoryReturned
					close(p.settled)
				}
			}
			p.logs.add(sc.Bytes())
		}
	}()
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		return nil, fmt.Errorf("grantd exited before serving:\n%s", p.logs.String())
	case <-time.After(5 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("grantd did not serve within 5 minutes")
	}
	pem, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt"))
	if err != nil {
		p.stop()
		return nil, err
	}
	tlsCfg, err := trustingCA(pem)
	if err != nil {
		p.stop()
		return nil, err
	}
	p.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg,
		MaxIdleConnsPerHost: 256, ForceAttemptHTTP2: false}}
	if p.conn, err = grpc.NewClient(p.addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg))); err != nil {
		p.stop()
		return nil, err
	}
	for {
		resp, err := v1.NewAuthServiceClient(p.conn).Login(ctx, &v1.LoginRequest{Username: "admin", Password: password})
		if err == nil {
			p.token = resp.GetAuthToken()
			_, err = v1.NewAuthzServiceClient(p.conn).Authorize(p.auth(ctx), &v1.AuthorizeRequest{Subject: "user:admin",
				Operation: "container.view", Resource: &v1.Resource{Collection: "/"}})
			if err == nil {
				break
			}
		}
		if time.Since(start) > 5*time.Minute {
			p.stop()
			return nil, fmt.Errorf("grantd did not decide within 5 minutes: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.startup = time.Since(start)
	return p, nil
}

// trustingCA is a client's TLS configuration that trusts the CA in caPEM
// for a server named localhost, as grantd's own certificate is (pki).
func trustingCA(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in the PEM given")
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}, nil
}

// awaitSettled waits until grantd has returned its start-up garbage to
// the OS, or for wait when it does not say so (false).
func (p *process) awaitSettled(wait time.Duration) bool {
	select {
	case <-p.settled:
		return true
	case <-time.After(wait):
		return false
	}
}

// settledMemory is the resident memory once grantd has returned its
// start-up garbage to the OS, or after wait for a grantd that does not
// say so (settled false).
func (p *process) settledMemory(wait time.Duration) (rss uint64, settled bool) {
	settled = p.awaitSettled(wait)
	rss, _ = p.memory()
	return rss, settled
}

// auth adds the admin session to an outgoing call.
func (p *process) auth(ctx context.Context) context.Context {
	return grpcBearer(ctx, p.token)
}

func (p *process) stop() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// counters reads counters from one scrape of grantd's /metrics, in the
// order named (0 for one that is absent).
func (p *process) counters(ctx context.Context, names ...string) []float64 {
	out := make([]float64, len(names))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.addr+"/metrics", nil)
	if err != nil {
		return out
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.http.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		for i, name := range names {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				out[i], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}

// memory reads the server's resident set size and its peak from /proc.
func (p *process) memory() (rss, peak uint64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		field := func(name string) (uint64, bool) {
			rest, ok := strings.CutPrefix(line, name+":")
			if !ok {
				return 0, false
			}
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
		if v, ok := field("VmRSS"); ok {
			rss = v
		}
		if v, ok := field("VmHWM"); ok {
			peak = v
		}
	}
	return rss, peak
}

// rest posts JSON to the REST gateway with the admin session.
func (p *process) rest(ctx context.Context, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return p.post(ctx, path, p.token, raw, out)
}

// post sends a JSON body with a bearer token and decodes the 200 answer
// into out.
func (p *process) post(ctx context.Context, path, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+p.addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}
