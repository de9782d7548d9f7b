package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEWalkthrough runs the README's walkthrough as written, top to
// bottom, on one fresh server: the shell blocks of "First steps" and
// "Manage access with grantctl", then the first of "Asking for decisions",
// in one bash, from a folder that looks like the repository after `make
// run` (bin/ and grantd-data/). Only what a person types at a prompt is
// supplied: the printed admin password, and the passwords grantctl asks
// for. Every command must succeed, but for the one the README says is
// denied (exit 3).
func TestREADMEWalkthrough(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	var blocks []string
	blocks = append(blocks, shellBlocks(t, section(t, readme, "### First steps", "## What is built"))...)
	blocks = append(blocks, shellBlocks(t, section(t, readme, "## Asking for decisions", "### The policy is Rego"))[0])

	dir := t.TempDir()
	g := start(t, dir)
	_, port, _ := net.SplitHostPort(g.addr)
	work := t.TempDir()
	for link, target := range map[string]string{"bin": filepath.Dir(grantctlBin), "grantd-data": dir} {
		if err := os.Symlink(target, filepath.Join(work, link)); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.Join(blocks, "\n")
	script = strings.ReplaceAll(script, "localhost:8443", "localhost:"+port)
	script = strings.ReplaceAll(script, "<the printed password>", adminPassword)
	script = strings.ReplaceAll(script, "bin/grantctl ", "grantctl_typed ")
	results := filepath.Join(work, "results")
	prelude := `set -u
# What a person types at grantctl's prompts; each command's exit status is recorded.
grantctl_typed() {
  local rc
  case "$1 $2" in
    "users create") printf '%s\n' "$3-password-1" | bin/grantctl "$@" --password-stdin; rc=$? ;;
    "login "*) printf '%s\n' "$ADMIN_PASSWORD" | bin/grantctl "$@" --password-stdin; rc=$? ;;
    *) bin/grantctl "$@" </dev/null; rc=$? ;;
  esac
  echo "$rc grantctl $*" >> "$RESULTS"
}
curl() {
  local rc url
  command curl --fail-with-body "$@"; rc=$?
  for a in "$@"; do case "$a" in https://*) url=$a ;; esac; done
  echo "$rc curl $url" >> "$RESULTS"
}
`
	cmd := exec.Command("bash", "-c", prelude+script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, "config"),
		"ADMIN_PASSWORD="+adminPassword, "RESULTS="+results)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough script failed: %v\n%s", err, out)
	}
	f, err := os.Open(results)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ran := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ran++
		code, command, _ := strings.Cut(sc.Text(), " ")
		want := "0"
		if strings.HasPrefix(command, "grantctl check user:maria container.exec") {
			want = "3" // the README's own "denied (exit 3)"
		}
		if code != want {
			t.Errorf("exit %s, want %s: %s", code, want, command)
		}
	}
	if ran < 30 {
		t.Errorf("only %d commands ran; the README's walkthrough has more", ran)
	}
	for _, bad := range []string{"already exists", "grantctl: ", `"code":`} {
		if strings.Contains(string(out), bad) {
			t.Errorf("the walkthrough printed %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(string(out), `"allowed":false`) || !strings.Contains(string(out), "allowed") {
		t.Errorf("the walkthrough's decisions are missing:\n%s", out)
	}
}

// section is the README's text from one heading to another.
func section(t *testing.T, readme, from, to string) string {
	t.Helper()
	i, j := strings.Index(readme, "\n"+from+"\n"), strings.Index(readme, "\n"+to)
	if i < 0 || j < i {
		t.Fatalf("README has no section %q before %q", from, to)
	}
	return readme[i:j]
}

var shellBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

func shellBlocks(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for _, m := range shellBlock.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatal("no shell blocks")
	}
	return out
}
