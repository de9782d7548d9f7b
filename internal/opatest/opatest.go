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

// Module is OPA's module path.
const Module = "github.com/open-policy-agent/opa"

// Version is the OPA release grantd's go.mod names.
func Version(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", Module).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// Install builds the opa command into a temporary directory and returns
// its path.
func Install(t testing.TB) string {
	t.Helper()
	version := Version(t)
	bin := t.TempDir()
	install := exec.Command("go", "install", Module+"@"+version)
	install.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=false")
	if b, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install opa: %v\n%s", err, b)
	}
	return filepath.Join(bin, "opa")
}
