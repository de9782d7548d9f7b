package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ctl runs grantctl with its own config file against one server.
type ctl struct {
	t      *testing.T
	config string
}

func newCtl(t *testing.T) *ctl {
	return &ctl{t: t, config: filepath.Join(t.TempDir(), "grantctl.json")}
}

// run returns grantctl's combined output and exit status.
func (c *ctl) run(stdin string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(grantctlBin, append([]string{"--config", c.config}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		c.t.Fatalf("grantctl %v: %v", args, err)
	}
	return string(out), 0
}

// ok runs a command that must succeed and returns its output.
func (c *ctl) ok(args ...string) string {
	c.t.Helper()
	out, code := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("grantctl %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// TestGrantctlWalkthrough is the README's "Manage access with grantctl"
// section, command for command, against the real binaries: an admin builds
// an org, teams, a collection tree, a custom role and grants, then asks
// check, explain and who-can; an org admin manages their own team.
func TestGrantctlWalkthrough(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	ca := filepath.Join(dir, "tls", "ca.crt")
	admin := newCtl(t)
	if out, code := admin.run(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}

	// People and structure.
	for _, u := range []string{"maria", "paolo", "lead"} {
		if out, code := admin.run(u+"-password\n", "users", "create", u, "--password-stdin"); code != 0 {
			t.Fatalf("users create %s: %d %s", u, code, out)
		}
	}
	admin.ok("orgs", "create", "acme")
	admin.ok("teams", "create", "acme", "mobile", "--description", "mobile developers")
	admin.ok("teams", "create", "acme", "payments")
	admin.ok("teams", "add-member", "acme", "mobile", "maria")
	admin.ok("teams", "add-member", "acme", "payments", "paolo")
	admin.ok("orgs", "add-member", "acme", "lead", "--admin")
	for _, p := range []string{"/production", "/production/mobile", "/production/payments", "/staging", "/staging/mobile"} {
		admin.ok("collections", "create", p)
	}
	tree := admin.ok("collections", "tree")
	for _, want := range []string{"├── production", "│   ├── mobile", "│   └── payments", "└── staging", "    └── mobile"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %q:\n%s", want, tree)
		}
	}
	admin.ok("roles", "create", "developer", "--permission", "container.logs", "--permission", "container.view",
		"--permission", "container.create:privileged")
	if out := admin.ok("roles", "get", "developer"); !strings.Contains(out, "container.create") || !strings.Contains(out, "privileged") {
		t.Errorf("roles get developer:\n%s", out)
	}
	admin.ok("grants", "create", "team:acme/mobile", "restrictedcontrol", "collection:/production/mobile")
	admin.ok("grants", "create", "team:acme/mobile", "developer", "collection:/staging")
	admin.ok("grants", "create", "team:acme/payments", "viewonly", "collection:/production/payments")

	// Decisions.
	out, code := admin.run("", "check", "user:maria", "service.create", "--collection", "/production/mobile")
	if code != 0 || !strings.HasPrefix(out, "allowed") {
		t.Errorf("check maria service.create: exit %d\n%s", code, out)
	}
	out, code = admin.run("", "check", "user:maria", "container.exec", "--collection", "/production/mobile")
	if code != 3 || !strings.HasPrefix(out, "denied") {
		t.Errorf("check maria container.exec: exit %d, want 3\n%s", code, out)
	}
	out, code = admin.run("", "check", "user:maria", "container.create", "--label", "/staging/mobile", "--option", "privileged")
	if code != 0 {
		t.Errorf("check with a label and an option: exit %d\n%s", code, out)
	}
	out = admin.ok("explain", "user:maria", "container.create", "--collection", "/staging/mobile", "--option", "privileged")
	if !strings.Contains(out, "team:acme/mobile") || !strings.Contains(out, "developer") || !strings.Contains(out, "collection:/staging") {
		t.Errorf("explain lacks the contributing grant:\n%s", out)
	}
	out = admin.ok("explain", "user:paolo", "container.logs", "--collection", "/production/mobile")
	if !strings.Contains(out, "denied") || !strings.Contains(out, "missing operation: container.logs") {
		t.Errorf("explain of a denial:\n%s", out)
	}
	out = admin.ok("who-can", "container.view", "collection:/production/payments")
	if !strings.Contains(out, "paolo") || strings.Contains(out, "maria") {
		t.Errorf("who-can container.view /production/payments:\n%s", out)
	}
	out = admin.ok("permissions", "user:maria", "--collection", "/production/mobile")
	if !strings.Contains(out, "container.create") || strings.Contains(out, "container.exec ") {
		t.Errorf("permissions:\n%s", out)
	}

	// Machine-readable output.
	var grants struct {
		Grants []struct{ Subject, Role, Object, Via string }
	}
	if err := json.Unmarshal([]byte(admin.ok("grants", "list", "--subject", "user:maria", "--expand-user", "-o", "json")), &grants); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, gr := range grants.Grants {
		found = found || gr.Role == "developer" && gr.Via == "user:maria → team:acme/mobile"
	}
	if !found {
		t.Errorf("expanded grants of maria: %+v", grants.Grants)
	}
	if out, code := admin.run("", "users", "list", "-o", "yaml"); code != 1 || !strings.Contains(out, "table or json") {
		t.Errorf("bad -o: exit %d %s", code, out)
	}

	// The org admin manages their own org's teams, and nothing else.
	lead := newCtl(t)
	if out, code := lead.run("lead-password\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "lead", "--password-stdin"); code != 0 {
		t.Fatalf("lead login: %d %s", code, out)
	}
	lead.ok("teams", "add-member", "acme", "payments", "maria", "--admin")
	if out := lead.ok("teams", "members", "acme", "payments"); !strings.Contains(out, "maria") {
		t.Errorf("team members:\n%s", out)
	}
	if out, code := lead.run("", "collections", "create", "/lead-was-here"); code != 1 || !strings.Contains(out, "permission denied") {
		t.Errorf("org admin creating a collection: exit %d\n%s", code, out)
	}

	// Every change above is in the audit log, with who made it.
	out = admin.ok("audit", "list", "--actor", "user:lead")
	if !strings.Contains(out, "team.member.set") || !strings.Contains(out, "team:acme/payments") {
		t.Errorf("audit of lead's change:\n%s", out)
	}
	if !strings.Contains(g.logs.String(), `"msg":"audit"`) {
		t.Error("no audit log lines in grantd's log")
	}
}

// TestGrantctlErrorsReadWell: one clean message per error, without a
// repeated prefix or a gRPC code name; "did you mean" for subcommands,
// roles and operations; a hint for an untrusted server certificate; and
// a non-zero exit for an unknown subcommand (issue 17, item 14).
func TestGrantctlErrorsReadWell(t *testing.T) {
	dir := t.TempDir()
	g := start(t, dir)
	ca := filepath.Join(dir, "tls", "ca.crt")
	// Without --ca-cert the server's certificate is not trusted.
	stranger := newCtl(t)
	out, code := stranger.run(adminPassword+"\n", "login", "--server", g.addr, "-u", "admin", "--password-stdin")
	if code != 1 || !strings.Contains(out, "--ca-cert") {
		t.Errorf("login to an untrusted certificate: exit %d\n%s", code, out)
	}
	admin := newCtl(t)
	if out, code := admin.run(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	admin.ok("orgs", "create", "acme")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"grants", "creat", "x", "y", "z"}, `unknown command "creat" for "grantctl grants"; did you mean "create"?`},
		{[]string{"userz", "list"}, `did you mean "users"?`},
		{[]string{"grants", "create", "user:admin", "viewonlyy", "collection:/"}, `not found: role "viewonlyy" not found; did you mean "viewonly"?`},
		{[]string{"grants", "create", "user:admin", "View Only", "collection:/"}, `"View Only" is the display name of role "viewonly"`},
		{[]string{"roles", "create", "dev", "--permission", "container.lgos"}, `unknown operation "container.lgos" (did you mean "container.logs"?)`},
		{[]string{"orgs", "create", "acme"}, `already exists: org "acme"`},
		{[]string{"collections", "delete", "/Shared"}, "not allowed: "},
	} {
		out, code := admin.run("", c.args...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("grantctl %s: exit %d, want non-zero and %q:\n%s", strings.Join(c.args, " "), code, c.want, out)
		}
		for _, bad := range []string{"not found: not found", "already exists: already exists", "conflict: conflict",
			"failed precondition", "ResourceExhausted", "InvalidArgument", "NotFound"} {
			if strings.Contains(out, bad) {
				t.Errorf("grantctl %s says %q:\n%s", strings.Join(c.args, " "), bad, out)
			}
		}
	}
	// A throttled login reads as what it is.
	for range 8 {
		stranger.run("wrong-password\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "nobody", "--password-stdin")
	}
	out, _ = stranger.run("wrong-password\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "nobody", "--password-stdin")
	if !strings.Contains(out, "grantctl: too many failed logins") {
		t.Errorf("a throttled login:\n%s", out)
	}
}
