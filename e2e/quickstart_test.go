package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuickStart walks the README's first steps against the real binaries:
// start grantd, log in as the recovery admin with grantctl and over REST,
// create data, restart, and find it again.
func TestQuickStart(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	c := newCtl(t)
	ca := filepath.Join(dir, "tls", "ca.crt")
	if out, code := c.run("wrong-password\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "admin", "--password-stdin"); code == 0 {
		t.Fatalf("login with a wrong password succeeded: %s", out)
	}
	if out, code := c.run(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("grantctl login: exit %d\n%s", code, out)
	}
	if out := c.ok("whoami"); !strings.Contains(out, "user:admin (admin: true") {
		t.Fatalf("grantctl whoami:\n%s", out)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if out := c.ok("policy", "export", "-f", bundle); !strings.Contains(out, "data.grantd.authz.decision") {
		t.Fatalf("grantctl policy export:\n%s", out)
	}
	if b, err := os.ReadFile(bundle); err != nil || len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("exported bundle is not a gzip archive: %v", err)
	}

	token := g.login(t)
	g.must(t, 200, "POST", "/v1/users", token, map[string]any{"name": "alice", "password": "alice-password"})
	g.must(t, 200, "POST", "/v1/collections", token, map[string]any{"path": "/production"})
	addr := g.addr
	g.kill()

	g = start(t, dir, "--listen", addr) // the same address, so grantctl's saved login applies
	token = g.login(t)
	g.must(t, 200, "GET", "/v1/users/alice", token, nil)
	g.must(t, 200, "GET", "/v1/collections/production", token, nil)
	alice := g.must(t, 200, "POST", "/auth/login", "", map[string]string{"username": "alice", "password": "alice-password"})["auth_token"].(string)
	g.must(t, 403, "POST", "/v1/collections", alice, map[string]any{"path": "/mine"})
	// The saved session of the first process is still valid: sessions are replicated state.
	if out := c.ok("whoami"); !strings.Contains(out, "user:admin") {
		t.Fatalf("grantctl whoami after restart:\n%s", out)
	}
}
