// Package opatest installs stock OPA for the tests that run it beside
// grantd: the release grantd is built with, through go install outside
// grantd's module, as an operator would install it.
package opatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Install builds the opa command into a temporary directory and returns
// its path.
func Install(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/open-policy-agent/opa").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	bin := t.TempDir()
	install := exec.Command("go", "install", "github.com/open-policy-agent/opa@"+strings.TrimSpace(string(out)))
	install.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=false")
	if b, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install opa: %v\n%s", err, b)
	}
	return filepath.Join(bin, "opa")
}
