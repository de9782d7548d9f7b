package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/grantd/grantd/ldapsync/ldaptest"
)

func TestLDAPConfigReaderPasswordIsWriteOnly(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	cfg := map[string]any{"enabled": true, "jitUserProvisioning": true, "syncIntervalHours": 1,
		"servers": []any{map[string]any{"url": "ldap://127.0.0.1:3899", "readerDN": "cn=reader,dc=example,dc=com",
			"readerPassword": "reader-secret"}},
		"userSearchConfigs": []any{map[string]any{"baseDN": "ou=people,dc=example,dc=com", "usernameAttr": "uid"}}}
	code, out := ts.do(t, "PUT", "/v1/ldap/config", admin, cfg)
	if code != 200 {
		t.Fatalf("update: %d %v", code, out)
	}
	raw, _ := json.Marshal(out)
	if strings.Contains(string(raw), "reader-secret") {
		t.Errorf("the answer carries the reader password: %s", raw)
	}
	// Saved again without the password, the stored one is kept.
	delete(cfg["servers"].([]any)[0].(map[string]any), "readerPassword")
	cfg["syncIntervalHours"] = 2
	if code, out := ts.do(t, "PUT", "/v1/ldap/config", admin, cfg); code != 200 {
		t.Fatalf("second update: %d %v", code, out)
	}
	code, out = ts.do(t, "GET", "/v1/ldap/config", admin, nil)
	raw, _ = json.Marshal(out)
	if code != 200 || strings.Contains(string(raw), "reader-secret") || !strings.Contains(string(raw), `"readerPasswordSet":true`) ||
		out["syncIntervalHours"] != float64(2) {
		t.Errorf("get: %d %s", code, raw)
	}
	row, _ := ts.st.Read().LDAPConfig()
	if row == nil || !strings.Contains(string(row.Config), "reader-secret") {
		t.Errorf("the stored password was lost: %v", row)
	}
	// Every problem of an invalid configuration is reported at once.
	bad := map[string]any{"enabled": true, "servers": []any{map[string]any{"url": "http://x"}},
		"userSearchConfigs": []any{map[string]any{"baseDN": "nonsense", "usernameAttr": ""}}}
	code, out = ts.do(t, "PUT", "/v1/ldap/config", admin, bad)
	msg, _ := out["message"].(string)
	if code != 400 || !strings.Contains(msg, "servers[0].url") || !strings.Contains(msg, "baseDN") || !strings.Contains(msg, "usernameAttr") {
		t.Errorf("invalid config: %d %v", code, out)
	}
	// The audit log records the change, not the document.
	code, out = ts.do(t, "GET", "/v1/audit?object=ldap", admin, nil)
	raw, _ = json.Marshal(out)
	if code != 200 || !strings.Contains(string(raw), "ldap.config.update") || strings.Contains(string(raw), "reader-secret") {
		t.Errorf("audit: %d %s", code, raw)
	}
}

const ldapPeople = "ou=people,dc=example,dc=com"

// ldapDirectory starts a real slapd with alice, bob and carol, and the
// group devs (alice, bob).
func ldapDirectory(t *testing.T) *ldaptest.Server {
	t.Helper()
	return ldaptest.Start(t, ldaptest.Options{
		LDIF: ldaptest.OU("dc=example,dc=com", "people") + ldaptest.OU("dc=example,dc=com", "groups") +
			ldaptest.Person(ldapPeople, "alice", "Alice Liddell", "alice-pw") +
			ldaptest.Person(ldapPeople, "bob", "Bob Builder", "bob-pw") +
			ldaptest.Person(ldapPeople, "carol", "Carol Danvers", "carol-pw"),
		OnlineLDIF: ldaptest.Group("ou=groups,dc=example,dc=com", "devs", "member",
			"uid=alice,"+ldapPeople, "uid=bob,"+ldapPeople),
	})
}

// ldapConfigFor is a configuration for d with the schedule off: the server's
// scheduler starts a run at the top of the hour, and one that fell inside a
// test would take the changes and the run counts it checks.
// TestScheduledSync turns the schedule on.
func ldapConfigFor(d *ldaptest.Server, jit bool) map[string]any {
	return map[string]any{"enabled": true, "jitUserProvisioning": jit, "syncIntervalHours": 0, "maxDeactivationPercent": 50,
		"servers":           []any{map[string]any{"url": d.URL, "readerDN": d.ReaderDN, "readerPassword": d.ReaderPassword}},
		"userSearchConfigs": []any{map[string]any{"baseDN": ldapPeople, "usernameAttr": "uid", "fullNameAttr": "cn"}}}
}

// configureLDAP stores a configuration as the admin.
func (ts *testServer) configureLDAP(t *testing.T, admin string, cfg map[string]any) {
	t.Helper()
	if code, out := ts.do(t, "PUT", "/v1/ldap/config", admin, cfg); code != 200 {
		t.Fatalf("ldap config: %d %v", code, out)
	}
}

// syncNow runs a sync over REST and waits for its report.
func (ts *testServer) syncNow(t *testing.T, admin string, force bool) map[string]any {
	t.Helper()
	code, out := ts.do(t, "POST", "/v1/ldap/syncs", admin, map[string]any{"wait": true, "force": force})
	if code != 200 {
		t.Fatalf("sync: %d %v", code, out)
	}
	return out
}

func removeEntry(t *testing.T, d *ldaptest.Server, dn string) {
	t.Helper()
	d.Modify(t, func(c *ldap.Conn) error { return c.Del(ldap.NewDelRequest(dn, nil)) })
}

func counts(run map[string]any) map[string]any { return run["counts"].(map[string]any) }

func TestDirectoryLoginWithJIT(t *testing.T) {
	d := ldapDirectory(t)
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.configureLDAP(t, admin, ldapConfigFor(d, true))

	alice := ts.login(t, "alice", "alice-pw")
	code, out := ts.do(t, "GET", "/v1/whoami", alice, nil)
	if code != 200 || out["subject"] != "user:alice" {
		t.Fatalf("whoami as alice: %d %v", code, out)
	}
	code, out = ts.do(t, "GET", "/v1/users/alice", admin, nil)
	if code != 200 || out["source"] != "ldap" || out["fullName"] != "Alice Liddell" || out["active"] != true {
		t.Errorf("alice provisioned: %d %v", code, out)
	}
	// Provisioned at first login, so created then (issue 17, item 8).
	if created, err := time.Parse(time.RFC3339Nano, fmt.Sprint(out["createdAt"])); err != nil || time.Since(created) > time.Minute {
		t.Errorf("alice's createdAt: %v (%v)", out["createdAt"], err)
	}
	code, out = ts.do(t, "GET", "/v1/grants?subject=user:alice", admin, nil)
	if raw, _ := json.Marshal(out); code != 200 || !strings.Contains(string(raw), "collection:/Shared/Private/alice") {
		t.Errorf("alice's private grant: %d %s", code, raw)
	}
	// A second login finds the account; no second one is made.
	ts.login(t, "alice", "alice-pw")
	for _, c := range []struct{ user, password string }{
		{"alice", "wrong"}, {"*", "alice-pw"}, {"alice)(uid=*", "alice-pw"}, {`alice\`, "alice-pw"}, {"nobody", "x"},
	} {
		if code, out := ts.do(t, "POST", "/auth/login", "", map[string]any{"username": c.user, "password": c.password}); code != 401 {
			t.Errorf("login %q: %d %v, want 401", c.user, code, out)
		}
	}
	// alice leaves the directory: she can no longer log in, and her account
	// stays active (JIT on: sync does not deactivate).
	removeEntry(t, d, "uid=alice,"+ldapPeople)
	if code, out := ts.do(t, "POST", "/auth/login", "", map[string]any{"username": "alice", "password": "alice-pw"}); code != 401 {
		t.Errorf("login after leaving the directory: %d %v", code, out)
	}
	ts.syncNow(t, admin, false)
	if code, out := ts.do(t, "GET", "/v1/users/alice", admin, nil); code != 200 || out["active"] != true {
		t.Errorf("alice after a JIT sync: %d %v", code, out)
	}
}

func TestDirectoryLoginWithoutJIT(t *testing.T) {
	d := ldapDirectory(t)
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.configureLDAP(t, admin, ldapConfigFor(d, false))
	if code, _ := ts.do(t, "POST", "/auth/login", "", map[string]any{"username": "carol", "password": "carol-pw"}); code != 401 {
		t.Fatalf("login without an account and JIT off: %d, want 401", code)
	}
	run := ts.syncNow(t, admin, false)
	if run["state"] != "succeeded" || counts(run)["created"] != float64(3) || run["trigger"] != "user:admin" {
		t.Fatalf("sync: %v", run)
	}
	carol := ts.login(t, "carol", "carol-pw")
	removeEntry(t, d, "uid=carol,"+ldapPeople)
	run = ts.syncNow(t, admin, false)
	if counts(run)["deactivated"] != float64(1) {
		t.Fatalf("sync after carol left: %v", run)
	}
	if code, _ := ts.do(t, "GET", "/v1/whoami", carol, nil); code != 401 {
		t.Errorf("carol's session after deactivation: %d, want 401", code)
	}
	// The reports are listed newest first and readable one by one.
	code, out := ts.do(t, "GET", "/v1/ldap/syncs", admin, nil)
	runs, _ := out["runs"].([]any)
	if code != 200 || len(runs) != 2 || runs[0].(map[string]any)["id"] != run["id"] {
		t.Fatalf("list: %d %v", code, out)
	}
	code, out = ts.do(t, "GET", fmt.Sprintf("/v1/ldap/syncs/%v", run["id"]), admin, nil)
	if code != 200 || counts(out)["deactivated"] != float64(1) || out["revision"] == "0" {
		t.Errorf("get: %d %v", code, out)
	}
	// And exported as metrics.
	req, _ := http.NewRequest("GET", "https://"+ts.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`grantd_ldap_sync_runs_total{state="succeeded"} 2`, `grantd_ldap_sync_changes_total{kind="deactivated"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestDirectoryDownFailsClosed(t *testing.T) {
	d := ldapDirectory(t)
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.configureLDAP(t, admin, ldapConfigFor(d, true))
	ts.login(t, "bob", "bob-pw")
	d.Stop()
	code, out := ts.do(t, "POST", "/auth/login", "", map[string]any{"username": "bob", "password": "bob-pw"})
	if code != 503 || !strings.Contains(fmt.Sprint(out["message"]), "directory") || strings.Contains(fmt.Sprint(out), d.URL) {
		t.Errorf("login with the directory down: %d %v", code, out)
	}
	ts.login(t, "admin", adminPassword) // local users do not need the directory
	run := ts.syncNow(t, admin, true)
	if run["state"] != "failed" || len(run["errors"].([]any)) == 0 {
		t.Errorf("sync with the directory down: %v", run)
	}
}

func TestTestLDAPLogin(t *testing.T) {
	d := ldapDirectory(t)
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	// A candidate configuration, not stored.
	code, out := ts.do(t, "POST", "/v1/ldap/testLogin", admin, map[string]any{"config": ldapConfigFor(d, true),
		"username": "bob", "password": "bob-pw"})
	if code != 200 || out["ok"] != true || out["dn"] != "uid=bob,"+ldapPeople || out["fullName"] != "Bob Builder" ||
		out["server"] != d.URL || out["searchConfigIndex"] != float64(0) {
		t.Fatalf("test login: %d %v", code, out)
	}
	code, out = ts.do(t, "POST", "/v1/ldap/testLogin", admin, map[string]any{"config": ldapConfigFor(d, true),
		"username": "bob", "password": "nope"})
	if code != 200 || out["ok"] != false || !strings.Contains(fmt.Sprint(out["error"]), "invalid") {
		t.Errorf("test login with a wrong password: %d %v", code, out)
	}
	if code, _ := ts.do(t, "GET", "/v1/users/bob", admin, nil); code != 404 {
		t.Errorf("a test login created bob: %d", code)
	}
}

func TestTeamSyncSettingsAndManualChanges(t *testing.T) {
	d := ldapDirectory(t)
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.configureLDAP(t, admin, ldapConfigFor(d, false))
	ts.syncNow(t, admin, false)
	for _, c := range []struct{ method, path string }{{"POST", "/v1/orgs"}, {"POST", "/v1/users"}} {
		body := map[string]any{"name": "eng"}
		if c.path == "/v1/users" {
			body = map[string]any{"name": "lead", "password": "lead-password"}
		}
		if code, out := ts.do(t, c.method, c.path, admin, body); code != 200 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, code, out)
		}
	}
	ts.do(t, "POST", "/v1/orgs/eng/teams", admin, map[string]any{"name": "devs"})
	ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/members/lead", admin, map[string]any{"isAdmin": true})
	lead := ts.login(t, "lead", "lead-password")
	// alice is in the org already; bob is not.
	if code, out := ts.do(t, "PUT", "/v1/orgs/eng/members/alice", admin, map[string]any{"isAdmin": false}); code != 200 {
		t.Fatalf("alice into eng: %d %v", code, out)
	}
	members := func() string {
		t.Helper()
		_, out := ts.do(t, "GET", "/v1/orgs/eng/teams/devs/members", admin, nil)
		raw, _ := json.Marshal(out)
		return string(raw)
	}
	// The team admin turns sync on and runs it at once: the group's members
	// who are in the org join the team; bob, who is not, stays out.
	syncSetting := map[string]any{"syncNow": true,
		"sync": map[string]any{"enabled": true, "groupDN": "cn=devs,ou=groups,dc=example,dc=com"}}
	code, out := ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/ldapSync", lead, syncSetting)
	if code != 200 || out["sync"].(map[string]any)["groupMemberAttr"] != "member" || out["sync"].(map[string]any)["orgMembersOnly"] != true {
		t.Fatalf("team sync setting: %d %v", code, out)
	}
	if got := members(); !strings.Contains(got, `"alice"`) || strings.Contains(got, `"bob"`) {
		t.Errorf("a team admin's sync: devs members %s, want alice and not bob", got)
	}
	if _, out := ts.do(t, "GET", "/v1/orgs/eng/members", admin, nil); strings.Contains(fmt.Sprint(out), "bob") {
		t.Errorf("a team admin's sync brought bob into the org: %v", out)
	}
	// The same setting saved by a system admin may bring people into the org.
	code, out = ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/ldapSync", admin, syncSetting)
	if code != 200 || out["sync"].(map[string]any)["orgMembersOnly"] != false {
		t.Fatalf("admin's team sync setting: %d %v", code, out)
	}
	for _, want := range []string{`"alice"`, `"bob"`, `"lead"`} {
		if got := members(); !strings.Contains(got, want) {
			t.Errorf("devs members lack %s: %s", want, got)
		}
	}
	// An LDAP user cannot be added or removed by hand while sync is on.
	code, out = ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/members/carol", admin, map[string]any{"isAdmin": false})
	if code != 409 || !strings.Contains(fmt.Sprint(out["message"]), "sync") {
		t.Errorf("adding an LDAP user by hand: %d %v", code, out)
	}
	if code, out := ts.do(t, "DELETE", "/v1/orgs/eng/teams/devs/members/bob", lead, nil); code != 409 {
		t.Errorf("removing an LDAP user by hand: %d %v", code, out)
	}
	// A bad setting is refused whole.
	code, out = ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/ldapSync", lead, map[string]any{
		"sync": map[string]any{"enabled": true, "searchBaseDN": "nonsense", "searchFilter": "(("}})
	if code != 400 || !strings.Contains(fmt.Sprint(out["message"]), "searchFilter") {
		t.Errorf("bad team sync: %d %v", code, out)
	}
	// Turned off, members are managed by hand again.
	ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/ldapSync", lead, map[string]any{"sync": map[string]any{"enabled": false}})
	if code, out := ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/members/carol", admin, map[string]any{"isAdmin": false}); code != 200 {
		t.Errorf("adding carol with sync off: %d %v", code, out)
	}
}

func TestScheduledSync(t *testing.T) {
	for _, c := range []struct {
		at       string
		interval int
		due      bool
	}{
		{"2026-11-23T10:00:00Z", 1, true}, {"2026-11-23T11:00:00Z", 2, false}, {"2026-11-23T12:00:00Z", 2, true},
		{"2026-11-23T00:00:00Z", 24, true}, {"2026-11-23T06:00:00Z", 24, false}, {"2026-11-23T10:00:00Z", 0, false},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if got := syncDue(at, c.interval); got != c.due {
			t.Errorf("syncDue(%s, %d) = %v", c.at, c.interval, got)
		}
	}
	d := ldapDirectory(t)
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	at, _ := time.Parse(time.RFC3339, "2026-11-23T10:00:00Z")
	if ts.srv.scheduledSync(at) != nil {
		t.Error("a sync was scheduled with LDAP off")
	}
	cfg := ldapConfigFor(d, false)
	cfg["syncIntervalHours"] = 1
	ts.configureLDAP(t, admin, cfg)
	ts.do(t, "POST", "/v1/orgs", admin, map[string]any{"name": "eng"})
	ts.do(t, "POST", "/v1/orgs/eng/teams", admin, map[string]any{"name": "devs"})
	ts.do(t, "PUT", "/v1/orgs/eng/teams/devs/ldapSync", admin, map[string]any{
		"sync": map[string]any{"enabled": true, "groupDN": "cn=devs,ou=groups,dc=example,dc=com"}})
	run := ts.srv.scheduledSync(at)
	if run == nil {
		t.Fatal("no run at the top of the hour")
	}
	rep, err := run.Wait(t.Context())
	if err != nil || rep.State != "succeeded" || rep.Trigger != "schedule" || rep.Counts.MembershipsAdded != 2 {
		t.Fatalf("scheduled run: %+v %v", rep, err)
	}
	cfg["syncIntervalHours"] = 0
	ts.configureLDAP(t, admin, cfg)
	if ts.srv.scheduledSync(at) != nil {
		t.Error("a sync was scheduled with the schedule off")
	}
}
