package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

	_, port, _ := net.SplitHostPort(g.addr)
	agent := startOPAAgent(t, opa, bundleAgentConfig(port, token, filepath.Join(dir, "tls", "ca.crt"), ""))
	if !agent.active(60 * time.Second) {
		t.Fatalf("OPA never activated grantd's bundle:\n%s", agent.logs)
	}
	logs := agent.logs

	ask := func(subject, operation, collection string) (opaAllowed, grantdAllowed bool) {
		t.Helper()
		in := map[string]any{"subject": subject, "operation": operation, "resource": map[string]any{"collection": collection}}
		d := g.must(t, 200, "POST", "/v1/authorize", admin, in)
		return agent.allows(t, in), d["allowed"] == true
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

// bundleAgentConfig is an OPA agent's configuration, as OPA's
// documentation writes it, for grantd's bundle on the given port; keys,
// when not empty, is the agent's keys section, and the bundle's
// signature is then checked with the key named "grantd".
func bundleAgentConfig(port, token, ca, keys string) string {
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
`, port, token, ca)
	if keys != "" {
		config += "    signing:\n      keyid: grantd\n" + keys
	}
	return config
}

// opaAgent is a stock OPA agent running as a server on loopback.
type opaAgent struct {
	addr string
	logs *syncBuffer
}

func startOPAAgent(t *testing.T, opa, config string) *opaAgent {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "opa.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &opaAgent{addr: freeLoopbackAddr(t), logs: &syncBuffer{}}
	cmd := exec.Command(opa, "run", "--server", "--addr", a.addr, "--config-file", cfg, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = a.logs, a.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return a
}

// active waits up to d for the agent to have activated its bundles.
func (a *opaAgent) active(d time.Duration) bool {
	plain := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := plain.Get("http://" + a.addr + "/health?bundles")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allows asks the agent grantd's decision rule.
func (a *opaAgent) allows(t *testing.T, in map[string]any) bool {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"input": in})
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+a.addr+"/v1/data/grantd/authz/decision", "application/json", bytes.NewReader(body))
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
	return out.Result.Allowed
}

// TestOPAAgentVerifiesSignedBundle: with --bundle-signing-key, the bundle
// carries OPA's signature file. An agent configured with grantd's public
// key activates it, decides like grantd and follows a grant change; an
// agent configured with another key never activates it.
func TestOPAAgentVerifiesSignedBundle(t *testing.T) {
	opa := opatest.Install(t)
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "bundle-signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := func(pub *ecdsa.PublicKey) string {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		pemText := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		return "keys:\n  grantd:\n    algorithm: ES384\n    key: |\n      " + strings.ReplaceAll(pemText, "\n", "\n      ") + "\n"
	}

	g := start(t, dir, "--bundle-signing-key", keyFile)
	admin := g.login(t)
	g.must(t, 200, "POST", "/v1/users", admin, map[string]any{"name": "maria", "password": "maria-password"})
	g.must(t, 200, "POST", "/v1/collections", admin, map[string]any{"path": "/prod"})
	g.must(t, 200, "POST", "/v1/serviceAccounts", admin, map[string]any{"name": "opa-agent", "capabilities": []string{"authorize"}})
	token := g.must(t, 200, "POST", "/v1/tokens", admin, map[string]any{"name": "bundle", "owner": "serviceaccount:opa-agent"})["secret"].(string)
	_, port, _ := net.SplitHostPort(g.addr)
	ca := filepath.Join(dir, "tls", "ca.crt")
	trusting := startOPAAgent(t, opa, bundleAgentConfig(port, token, ca, keys(&key.PublicKey)))
	wrongKey := startOPAAgent(t, opa, bundleAgentConfig(port, token, ca, keys(&other.PublicKey)))

	if !trusting.active(60 * time.Second) {
		t.Fatalf("OPA never activated grantd's signed bundle:\n%s", trusting.logs)
	}
	in := map[string]any{"subject": "user:maria", "operation": "container.view", "resource": map[string]any{"collection": "/prod"}}
	if trusting.allows(t, in) || g.must(t, 200, "POST", "/v1/authorize", admin, in)["allowed"] == true {
		t.Fatal("maria may view /prod before any grant")
	}
	g.must(t, 200, "POST", "/v1/grants", admin, map[string]any{"subject": "user:maria", "role": "viewonly", "object": "collection:/prod"})
	for start := time.Now(); !trusting.allows(t, in); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("OPA did not follow the grant in a signed bundle within 15s:\n%s", trusting.logs)
		}
	}
	if g.must(t, 200, "POST", "/v1/authorize", admin, in)["allowed"] != true {
		t.Fatal("grantd does not allow what the agent does")
	}

	if wrongKey.active(2 * time.Second) {
		t.Fatalf("an agent with another public key activated the bundle:\n%s", wrongKey.logs)
	}
	if logs := wrongKey.logs.String(); !strings.Contains(logs, "verify") {
		t.Fatalf("the agent with another key does not say it failed to verify the bundle:\n%s", logs)
	}
}
