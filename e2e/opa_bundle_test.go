package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/opatest"
)

// TestOPAAgentPullsTheBundle runs a stock OPA agent configured, as its
// documentation says, with grantd as a bundle service: it pulls the
// bundle with a service account's token, decides like grantd, follows a
// grant change within its polling interval, and gets 304 while the state
// is unchanged.
func TestOPAAgentPullsTheBundle(t *testing.T) {
	opa := opatest.Install(t)
	dir := t.TempDir()
	g := start(t, dir)
	admin := g.login(t)
	g.must(t, 200, "POST", "/v1/users", admin, map[string]any{"name": "maria", "password": "maria-password"})
	g.must(t, 200, "POST", "/v1/collections", admin, map[string]any{"path": "/prod"})
	g.must(t, 200, "POST", "/v1/serviceAccounts", admin, map[string]any{"name": "opa-agent", "capabilities": []string{"authorize"}})
	token := g.must(t, 200, "POST", "/v1/tokens", admin, map[string]any{"name": "bundle", "owner": "serviceaccount:opa-agent"})["secret"].(string)
	// A plain user may not download the whole state.
	g.must(t, 200, "POST", "/v1/users", admin, map[string]any{"name": "paolo", "password": "paolo-password"})
	paolo := g.must(t, 200, "POST", "/auth/login", "", map[string]string{"username": "paolo", "password": "paolo-password"})["auth_token"].(string)
	if code, _, _ := g.call(context.Background(), "GET", "/v1/policy/bundle.tar.gz", paolo, nil); code != 403 {
		t.Errorf("a plain user's bundle download: %d, want 403", code)
	}

	opaAddr := freeLoopbackAddr(t)
	_, port, _ := net.SplitHostPort(g.addr)
	config := fmt.Sprintf(`services:
  grantd:
    url: https://localhost:%s
    credentials:
      bearer:
        token: %q
    tls:
      ca_cert: %s
bundles:
  grantd:
    service: grantd
    resource: /v1/policy/bundle.tar.gz
    polling:
      min_delay_seconds: 1
      max_delay_seconds: 2
`, port, token, filepath.Join(dir, "tls", "ca.crt"))
	cfg := filepath.Join(t.TempDir(), "opa.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	agent := exec.Command(opa, "run", "--server", "--addr", opaAddr, "--config-file", cfg, "--log-level", "info")
	agent.Stdout, agent.Stderr = logs, logs
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	plain := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := plain.Get("http://" + opaAddr + "/health?bundles")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("OPA never activated grantd's bundle:\n%s", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}

	ask := func(subject, operation, collection string) (opaAllowed, grantdAllowed bool) {
		t.Helper()
		in := map[string]any{"subject": subject, "operation": operation, "resource": map[string]any{"collection": collection}}
		body, _ := json.Marshal(map[string]any{"input": in})
		resp, err := plain.Post("http://"+opaAddr+"/v1/data/grantd/authz/decision", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out struct {
			Result struct{ Allowed bool } `json:"result"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("OPA answered %s", raw)
		}
		d := g.must(t, 200, "POST", "/v1/authorize", admin, in)
		return out.Result.Allowed, d["allowed"] == true
	}
	questions := [][3]string{{"user:maria", "container.view", "/prod"}, {"user:maria", "container.exec", "/prod"},
		{"user:paolo", "container.view", "/prod"}, {"user:admin", "container.exec", "/prod"}}
	agree := func() bool {
		for _, q := range questions {
			if o, g := ask(q[0], q[1], q[2]); o != g {
				return false
			}
		}
		return true
	}
	if !agree() {
		t.Fatal("OPA and grantd disagree on the first bundle")
	}
	if o, _ := ask("user:maria", "container.view", "/prod"); o {
		t.Fatal("maria may view /prod before any grant")
	}

	// The state unchanged (a login is a write, not a change of the
	// compiled state): the agent's ETag still holds, 304.
	req, _ := http.NewRequest("GET", "https://"+g.addr+"/v1/policy/bundle.tar.gz", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Content-Type") != "application/gzip" {
		t.Fatalf("bundle download: %d %q %q", resp.StatusCode, etag, resp.Header.Get("Content-Type"))
	}
	g.login(t)
	req.Header.Set("If-None-Match", etag)
	if resp, err = g.client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag {
		t.Fatalf("unchanged state: %d %q, want 304 %q", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}

	// A grant: the agent follows within its polling interval.
	g.must(t, 200, "POST", "/v1/grants", admin, map[string]any{"subject": "user:maria", "role": "viewonly", "object": "collection:/prod"})
	start := time.Now()
	for {
		if o, gr := ask("user:maria", "container.view", "/prod"); o && gr {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("OPA did not follow the grant within 15s:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("OPA followed the grant in %v (polling every 1-2 s)", time.Since(start).Round(10*time.Millisecond))
	if !agree() {
		t.Fatal("OPA and grantd disagree after the grant")
	}
	if resp, err = g.client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a grant: %d %q, want 200 with a new ETag", resp.StatusCode, resp.Header.Get("ETag"))
	}
}
