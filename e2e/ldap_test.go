package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grantd/grantd/ldapsync/ldaptest"
)

// TestLDAPWithGrantctl runs the README's LDAP section against the real
// binaries and a real slapd: configure the directory, test a login, let a
// directory user log in (JIT), fill a team from a group with the cron
// command, and see that command fail when the directory is gone.
func TestLDAPWithGrantctl(t *testing.T) {
	const people = "ou=people,dc=example,dc=com"
	d := ldaptest.Start(t, ldaptest.Options{
		LDIF: ldaptest.OU("dc=example,dc=com", "people") + ldaptest.OU("dc=example,dc=com", "groups") +
			ldaptest.Person(people, "alice", "Alice Liddell", "alice-pw") +
			ldaptest.Person(people, "bob", "Bob Builder", "bob-pw"),
		OnlineLDIF: ldaptest.Group("ou=groups,dc=example,dc=com", "web", "member", "uid=alice,"+people, "uid=bob,"+people),
	})
	dir := t.TempDir()
	g := start(t, dir)
	ca := filepath.Join(dir, "tls", "ca.crt")
	admin := newCtl(t)
	if out, code := admin.run(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	// The schedule is off (0): a scheduled run starts at the top of the hour,
	// and one that fell inside this test would take the changes and the run
	// count that the manual runs below are checked for. server/ldap_test.go
	// tests the schedule.
	cfg, _ := json.Marshal(map[string]any{"enabled": true, "jitUserProvisioning": true, "syncIntervalHours": 0,
		"servers":           []any{map[string]any{"url": d.URL, "readerDN": d.ReaderDN, "readerPassword": d.ReaderPassword}},
		"userSearchConfigs": []any{map[string]any{"baseDN": people, "usernameAttr": "uid", "fullNameAttr": "cn"}}})
	file := filepath.Join(t.TempDir(), "ldap.json")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := admin.run("alice-pw\n", "ldap", "test-login", "alice", "-f", file, "--password-stdin")
	if code != 0 || !strings.Contains(out, "uid=alice,"+people) || !strings.Contains(out, "Alice Liddell") {
		t.Fatalf("test-login: %d %s", code, out)
	}
	if out, code := admin.run("wrong\n", "ldap", "test-login", "alice", "-f", file, "--password-stdin"); code != 1 ||
		!strings.Contains(out, "invalid username or password") {
		t.Errorf("test-login with a wrong password: %d %s", code, out)
	}
	admin.ok("ldap", "config", "set", "-f", file)
	if got := admin.ok("ldap", "config", "get"); strings.Contains(got, d.ReaderPassword) || !strings.Contains(got, `"readerPasswordSet": true`) {
		t.Errorf("config get shows the password or not that it is set:\n%s", got)
	}

	// A directory user logs in with directory credentials (JIT).
	alice := newCtl(t)
	if out, code := alice.run("alice-pw\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("alice login: %d %s", code, out)
	}
	if out := alice.ok("whoami"); !strings.Contains(out, "user:alice") {
		t.Errorf("whoami: %s", out)
	}
	// bob logs in too, then a team follows the web group from cron.
	bob := newCtl(t)
	if out, code := bob.run("bob-pw\n", "login", "--server", g.addr, "--ca-cert", ca, "-u", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("bob login: %d %s", code, out)
	}
	admin.ok("orgs", "create", "acme")
	admin.ok("teams", "create", "acme", "web")
	admin.ok("ldap", "team-sync", "set", "acme/web", "--group-dn", "cn=web,ou=groups,dc=example,dc=com")
	out = admin.ok("ldap", "sync", "--wait")
	if !strings.Contains(out, "succeeded") || !regexp.MustCompile(`team memberships added\s+2\n`).MatchString(out) {
		t.Errorf("sync --wait:\n%s", out)
	}
	if members := admin.ok("teams", "members", "acme", "web"); !strings.Contains(members, "alice") || !strings.Contains(members, "bob") {
		t.Errorf("web members after the sync:\n%s", members)
	}
	// A second run over the same directory changes nothing.
	if out := admin.ok("ldap", "sync", "--wait"); !strings.Contains(out, "0 changes written") {
		t.Errorf("second sync:\n%s", out)
	}
	if out := admin.ok("ldap", "runs", "list"); strings.Count(out, "succeeded") != 2 {
		t.Errorf("runs list:\n%s", out)
	}
	// With the directory gone, the cron command fails.
	d.Stop()
	if out, code := admin.run("", "ldap", "sync", "--wait"); code != 1 || !strings.Contains(out, "failed") {
		t.Errorf("sync with the directory down: %d\n%s", code, out)
	}
}
