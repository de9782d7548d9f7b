package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminPasswordIsNeverLost: a first start on a busy port stops before
// it creates the recovery admin (so no printed password is lost), a later
// GRANTD_ADMIN_PASSWORD is reported as ignored, and `grantd admin
// reset-password` on the stopped data directory sets a new password,
// while it refuses a directory a running grantd holds (issue 17, items 5
// and 12).
func TestAdminPasswordIsNeverLost(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cmd := exec.Command(grantdBin, "--data-dir", dir, "--listen", busy.Addr().String())
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("a start on a busy port: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "password") {
		t.Errorf("a start that could not listen printed a password:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "raft")); err == nil {
		t.Errorf("a start that could not listen created the store")
	}

	g := start(t, dir) // creates the admin with adminPassword
	g.login(t)
	g.kill()
	// A later start with another GRANTD_ADMIN_PASSWORD says it is ignored.
	g = startWithEnv(t, dir, "GRANTD_ADMIN_PASSWORD=another-password-1")
	if !strings.Contains(g.logs.String(), "GRANTD_ADMIN_PASSWORD is ignored") {
		t.Errorf("no word that GRANTD_ADMIN_PASSWORD was ignored:\n%s", g.logs)
	}
	token := g.login(t) // the old password still works
	// The reset refuses a directory in use.
	reset := exec.Command(grantdBin, "admin", "reset-password", "--data-dir", dir, "--password-stdin")
	reset.Stdin = strings.NewReader("reset-password-2\n")
	if out, err := reset.CombinedOutput(); err == nil || !strings.Contains(string(out), "stop grantd first") {
		t.Errorf("a reset on a running grantd's directory: %v\n%s", err, out)
	}
	g.kill()
	reset = exec.Command(grantdBin, "admin", "reset-password", "--data-dir", dir, "--password-stdin")
	reset.Stdin = strings.NewReader("reset-password-2\n")
	if out, err := reset.CombinedOutput(); err != nil || !strings.Contains(string(out), "has the new password") {
		t.Fatalf("reset-password: %v\n%s", err, out)
	}
	g = start(t, dir)
	if code, _, _ := g.call(t.Context(), "GET", "/v1/whoami", token, nil); code != 401 {
		t.Errorf("the admin's session outlived the reset: %d", code)
	}
	if code, _, _ := g.call(t.Context(), "POST", "/auth/login", "", map[string]string{"username": "admin", "password": adminPassword}); code != 401 {
		t.Errorf("the old password still works: %d", code)
	}
	out2 := g.must(t, 200, "POST", "/auth/login", "", map[string]string{"username": "admin", "password": "reset-password-2"})
	events := g.must(t, 200, "GET", "/v1/audit?actor=local:grantd%20admin%20reset-password", out2["auth_token"].(string), nil)
	if len(events["events"].([]any)) != 1 {
		t.Errorf("the reset is not in the audit log: %v", events)
	}
	// Without a password, the reset makes one and prints it once.
	g.kill()
	reset = exec.Command(grantdBin, "admin", "reset-password", "--data-dir", dir)
	reset.Env = []string{}
	if out, err := reset.CombinedOutput(); err != nil || !strings.Contains(string(out), "shown only this once") {
		t.Errorf("reset-password with a generated password: %v\n%s", err, out)
	}
}
