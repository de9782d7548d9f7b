package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/adapters/registry"
	"github.com/grantd/grantd/ldapsync/ldaptest"
	"github.com/grantd/grantd/subjects"
)

// The security regression suite: one test per reproduction of the security
// review (issue 17), each against a real server over REST, each failing on
// the code the review attacked. Names start with TestSecurity so that
// `go test -run TestSecurity ./...` runs the whole suite.

// mustDo is ts.do that fails the test unless the answer is 200.
func (ts *testServer) mustDo(t testing.TB, method, path, token string, body any) map[string]any {
	t.Helper()
	code, out := ts.do(t, method, path, token, body)
	if code != 200 {
		t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// newUser creates a local user as the admin and logs them in.
func (ts *testServer) newUser(t *testing.T, admin, name string) string {
	t.Helper()
	ts.mustDo(t, "POST", "/v1/users", admin, map[string]any{"name": name, "password": name + "-password"})
	return ts.login(t, name, name+"-password")
}

// Reproduction 1: a team admin sets a team sync with a search filter that
// selects directory users outside the org, with syncNow. They must not
// become members of the team nor of the org; the same setting saved by
// an org admin may bring them in.
func TestSecurityTeamAdminSyncCannotBringStrangersIntoTheOrg(t *testing.T) {
	d := ldaptest.Start(t, ldaptest.Options{
		LDIF: ldaptest.OU("dc=example,dc=com", "people") +
			ldaptest.Person(ldapPeople, "mallory1", "Mallory One", "m1-pw") +
			ldaptest.Person(ldapPeople, "mallory2", "Mallory Two", "m2-pw") +
			ldaptest.Person(ldapPeople, "webdev", "Web Developer", "wd-pw"),
	})
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.configureLDAP(t, admin, ldapConfigFor(d, false))
	ts.syncNow(t, admin, false) // creates mallory1, mallory2 and webdev
	ts.mustDo(t, "POST", "/v1/orgs", admin, map[string]any{"name": "acme"})
	ts.mustDo(t, "POST", "/v1/orgs/acme/teams", admin, map[string]any{"name": "web"})
	ts.mustDo(t, "PUT", "/v1/orgs/acme/members/webdev", admin, map[string]any{"isAdmin": false})
	lead := ts.newUser(t, admin, "lead")
	ts.mustDo(t, "PUT", "/v1/orgs/acme/teams/web/members/lead", admin, map[string]any{"isAdmin": true})
	orgAdmin := ts.newUser(t, admin, "boss")
	ts.mustDo(t, "PUT", "/v1/orgs/acme/members/boss", admin, map[string]any{"isAdmin": true})

	setting := map[string]any{"syncNow": true, "sync": map[string]any{"enabled": true,
		"searchBaseDN": ldapPeople, "searchFilter": "(|(uid=mallory*)(uid=webdev))"}}
	out := ts.mustDo(t, "PUT", "/v1/orgs/acme/teams/web/ldapSync", lead, setting)
	if out["sync"].(map[string]any)["orgMembersOnly"] != true {
		t.Errorf("a team admin's setting is not marked org-members-only: %v", out)
	}
	orgMembers := fmt.Sprint(ts.mustDo(t, "GET", "/v1/orgs/acme/members", admin, nil))
	teamMembers := fmt.Sprint(ts.mustDo(t, "GET", "/v1/orgs/acme/teams/web/members", admin, nil))
	if strings.Contains(orgMembers, "mallory") || strings.Contains(teamMembers, "mallory") {
		t.Fatalf("a team admin's sync brought strangers in:\norg %s\nteam %s", orgMembers, teamMembers)
	}
	if !strings.Contains(teamMembers, "webdev") {
		t.Errorf("the org member the filter selects was not added: %s", teamMembers)
	}
	runs := fmt.Sprint(ts.mustDo(t, "GET", "/v1/ldap/syncs", admin, nil))
	if !strings.Contains(runs, "skippedNotOrgMembers:2") {
		t.Errorf("the run does not count the two users it left out: %s", runs)
	}
	// The legitimate path: an org admin saves the same setting.
	out = ts.mustDo(t, "PUT", "/v1/orgs/acme/teams/web/ldapSync", orgAdmin, setting)
	if out["sync"].(map[string]any)["orgMembersOnly"] != false {
		t.Errorf("an org admin's setting is marked org-members-only: %v", out)
	}
	orgMembers = fmt.Sprint(ts.mustDo(t, "GET", "/v1/orgs/acme/members", admin, nil))
	if !strings.Contains(orgMembers, "mallory1") || !strings.Contains(orgMembers, "mallory2") {
		t.Errorf("an org admin's sync did not add the selected users: %s", orgMembers)
	}
}

// Reproduction 2: PATCH on another user's private repository with an empty
// body answered 200, wrote an audit event and bumped the revision. It must
// answer like GET (404) and write nothing; an empty PATCH on a repository
// the caller may see writes nothing either.
func TestSecurityRepositoryPatchIsNoExistenceOracle(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	alice := ts.newUser(t, admin, "alice")
	mallory := ts.newUser(t, admin, "mallory")
	ts.mustDo(t, "POST", "/v1/repositories", alice, map[string]any{"namespace": "alice", "name": "secret"})
	ts.mustDo(t, "POST", "/v1/repositories", alice, map[string]any{"namespace": "alice", "name": "open", "visibility": "public"})
	// A session's first use is recorded (a write of its own); make it now.
	ts.mustDo(t, "GET", "/v1/sessions", mallory, nil)
	revision := func() uint64 { return ts.st.Revision() }
	audit := func() int {
		out := ts.mustDo(t, "GET", "/v1/audit?pageSize=1000", admin, nil)
		return len(out["events"].([]any))
	}
	before, events := revision(), audit()
	for _, body := range []map[string]any{{}, {"description": "pwned"}, {"visibility": "public"}} {
		for _, name := range []string{"secret", "does-not-exist"} {
			getCode, getOut := ts.do(t, "GET", "/v1/repositories/alice/"+name, mallory, nil)
			code, out := ts.do(t, "PATCH", "/v1/repositories/alice/"+name, mallory, body)
			if code != 404 || getCode != 404 || fmt.Sprint(out) != fmt.Sprint(getOut) {
				t.Errorf("PATCH %v on alice/%s: %d %v; GET: %d %v — want the same 404", body, name, code, out, getCode, getOut)
			}
		}
	}
	// An empty PATCH on a repository mallory may see answers it as it is.
	code, out := ts.do(t, "PATCH", "/v1/repositories/alice/open", mallory, map[string]any{})
	if code != 200 || out["repository"].(map[string]any)["visibility"] != "public" {
		t.Errorf("empty PATCH on a visible repository: %d %v", code, out)
	}
	if code, _ := ts.do(t, "PATCH", "/v1/repositories/alice/open", mallory, map[string]any{"description": "x"}); code != 403 {
		t.Errorf("editing a visible repository without the right: %d, want 403", code)
	}
	if got := revision(); got != before {
		t.Errorf("refused and empty PATCHes moved the revision from %d to %d", before, got)
	}
	if got := audit(); got != events {
		t.Errorf("refused and empty PATCHes wrote %d audit events", got-events)
	}
}

// Reproduction 3: with a service account's API token, POST /v1/bundles
// issued a year-long certificate for the account that outlived the
// token. Service accounts' credentials are made by system admins only.
func TestSecurityServiceAccountsCannotMintTheirOwnCredentials(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.mustDo(t, "POST", "/v1/serviceAccounts", admin, map[string]any{"name": "ci", "capabilities": []string{"authorize"}})
	token := ts.mustDo(t, "POST", "/v1/tokens", admin, map[string]any{"owner": "serviceaccount:ci", "name": "deploy"})["secret"].(string)
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/bundles", map[string]any{}},
		{"/v1/bundles", map[string]any{"owner": "serviceaccount:ci"}},
		{"/v1/tokens", map[string]any{"name": "another"}},
	} {
		if code, out := ts.do(t, "POST", c.path, token, c.body); code != 403 {
			t.Errorf("service account POST %s %v: %d %v, want 403", c.path, c.body, code, out)
		}
	}
	if out := ts.mustDo(t, "GET", "/v1/bundles?owner=serviceaccount:ci", admin, nil); len(out["bundles"].([]any)) != 0 {
		t.Errorf("a bundle was issued: %v", out)
	}
	// The legitimate path: a system admin makes the account's bundle.
	ts.mustDo(t, "POST", "/v1/bundles", admin, map[string]any{"owner": "serviceaccount:ci", "label": "runner"})
}

// Reproduction 4: a plain user stored 1 MB repository descriptions, kept
// in the state and again in the audit log. Every free-text field has a
// maximum length, enforced with a 400 that names the field; what is
// accepted is kept in the audit log only as a bounded excerpt.
func TestSecurityTextFieldsAreBounded(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	alice := ts.newUser(t, admin, "alice")
	ts.mustDo(t, "POST", "/v1/orgs", admin, map[string]any{"name": "acme"})
	ts.mustDo(t, "POST", "/v1/serviceAccounts", admin, map[string]any{"name": "ci"})
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, c := range []struct {
		token, method, path string
		body                map[string]any
		field               string
	}{
		{alice, "POST", "/v1/repositories", map[string]any{"namespace": "alice", "name": "big", "description": long(40_000)}, "description"},
		{alice, "POST", "/v1/repositories", map[string]any{"namespace": "alice", "name": "big", "description": long(1001)}, "description"},
		{admin, "POST", "/v1/users", map[string]any{"name": "bob", "fullName": long(201), "password": "bob-password"}, "fullName"},
		{admin, "PATCH", "/v1/users/alice", map[string]any{"fullName": long(201)}, "fullName"},
		{admin, "POST", "/v1/orgs/acme/teams", map[string]any{"name": "web", "description": long(1001)}, "description"},
		{admin, "PATCH", "/v1/serviceAccounts/ci", map[string]any{"description": long(1001)}, "description"},
		{admin, "POST", "/v1/roles", map[string]any{"name": "dev", "displayName": long(201),
			"permissions": []any{map[string]any{"operation": "container.view"}}}, "displayName"},
		{alice, "POST", "/v1/bundles", map[string]any{"label": long(101)}, "label"},
		{alice, "POST", "/v1/tokens", map[string]any{"name": long(201)}, "name"},
		{admin, "PUT", "/v1/ldap/config", map[string]any{"enabled": false,
			"userSearchConfigs": []any{map[string]any{"baseDN": "dc=x", "usernameAttr": "uid", "filter": long(4097)}}}, "userSearchConfigs[0].filter"},
		{admin, "GET", "/v1/users?pageToken=" + long(600), nil, "pageToken"},
	} {
		code, out := ts.do(t, c.method, c.path, c.token, c.body)
		if code != 400 || !strings.Contains(fmt.Sprint(out["message"]), c.field) {
			t.Errorf("%s %s with a long %s: %d %v, want 400 naming it", c.method, c.path, c.field, code, clip(fmt.Sprint(out), 200))
		}
	}
	// Every problem at once.
	code, out := ts.do(t, "POST", "/v1/users", admin, map[string]any{"name": "bob", "fullName": long(300), "password": long(2000)})
	if msg := fmt.Sprint(out["message"]); code != 400 || !strings.Contains(msg, "fullName") || !strings.Contains(msg, "password") {
		t.Errorf("two long fields: %d %v", code, msg)
	}
	// At the limit is accepted, and the audit log keeps an excerpt.
	ts.mustDo(t, "POST", "/v1/repositories", alice, map[string]any{"namespace": "alice", "name": "ok", "description": long(1000)})
	events := ts.mustDo(t, "GET", "/v1/audit?actor=user:alice&pageSize=1", admin, nil)["events"].([]any)
	if after := events[0].(map[string]any)["after"].(string); len(after) > 600 || !strings.Contains(after, "more bytes") {
		t.Errorf("audit keeps %d bytes of the new repository: %s", len(after), clip(after, 100))
	}
}

// Reproduction 6a: minRevision waited its bound once per batch item, so a
// batch of 1,000 unreachable revisions held a worker for most of an hour.
// The bound is one deadline per call.
func TestSecurityBatchWaitsForARevisionOncePerCall(t *testing.T) {
	ts := startServer(t)
	ts.srv.deps.maxRevisionWait = 500 * time.Millisecond
	admin := ts.login(t, "admin", adminPassword)
	future := fmt.Sprint(ts.st.Revision() + 1_000_000)
	reqs := make([]any, 300) // as many as the test server's body limit holds
	for i := range reqs {
		reqs[i] = map[string]any{"subject": "user:admin", "operation": "container.view", "minRevision": future}
	}
	start := time.Now()
	out := ts.mustDo(t, "POST", "/v1/authorize:batch", admin, map[string]any{"requests": reqs})
	elapsed := time.Since(start)
	for i, d := range out["decisions"].([]any) {
		if d.(map[string]any)["allowed"] != false {
			t.Fatalf("decision %d allowed without its revision: %v", i, d)
		}
	}
	// Per item, the batch would wait 300 × 500 ms / GOMAXPROCS: over a minute.
	if elapsed > 20*time.Second {
		t.Errorf("a batch of %d unreachable revisions took %v; the bound is one wait per call", len(reqs), elapsed)
	}
}

// Reproduction 6b: a request body sent slowly held its connection for
// minutes. Reading a whole request has a deadline.
func TestSecuritySlowBodiesAreCutOff(t *testing.T) {
	ts := startServer(t)
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // a test of the server, not of its certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	start := time.Now()
	// One byte a second; the server must give up on the request.
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	limit := ts.srv.cfg.ReadTimeout + 15*time.Second
	for time.Since(start) < limit {
		<-ticker.C
		if _, err := conn.Write([]byte(" ")); err != nil {
			return // the server closed the connection
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if n, err := conn.Read(make([]byte, 512)); n > 0 || err != nil && !isTimeout(err) {
			return // the server answered or closed
		}
	}
	t.Errorf("a trickled body held the connection for %v", time.Since(start))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Reproduction 6c: durations overflowed silently: a session lifetime of
// 153,722,868 minutes made every new session expire at once, ttlHours
// 2,562,048 gave a token an expiry in 1734. Both are 400s now.
func TestSecurityDurationsHaveUpperBounds(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	settings := ts.mustDo(t, "GET", "/v1/settings", admin, nil)
	sessions := settings["sessions"].(map[string]any)
	sessions["lifetimeMinutes"] = 153722868
	if code, out := ts.do(t, "PUT", "/v1/settings", admin, map[string]any{"settings": settings}); code != 400 {
		t.Errorf("lifetimeMinutes 153722868: %d %v, want 400", code, out)
	}
	if code, out := ts.do(t, "POST", "/v1/tokens", admin, map[string]any{"name": "t", "ttlHours": 2562048}); code != 400 {
		t.Errorf("ttlHours 2562048: %d %v, want 400", code, out)
	}
	out := ts.mustDo(t, "POST", "/v1/tokens", admin, map[string]any{"name": "t", "ttlHours": maxTokenTTLHours})
	expires, err := time.Parse(time.RFC3339Nano, fmt.Sprint(out["token"].(map[string]any)["expiresAt"]))
	if err != nil || expires.Before(time.Now().AddDate(9, 0, 0)) {
		t.Errorf("the longest token lifetime expires at %v (%v)", expires, err)
	}
	ts.login(t, "admin", adminPassword) // sessions still work
}

// Reproduction 6d: deleting a user left their private collection behind
// and their name could never be used again (409); and "col_40x" and
// "col@x" mapped to the same private collection.
func TestSecurityUserDeletionAndPrivateCollections(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.newUser(t, admin, "maria")
	ts.mustDo(t, "POST", "/v1/collections", admin, map[string]any{"path": "/Shared/Private/maria/app"})
	code, out := ts.do(t, "DELETE", "/v1/users/maria", admin, nil)
	if code != 409 || !strings.Contains(fmt.Sprint(out["message"]), "/Shared/Private/maria/app") {
		t.Errorf("deleting a user whose private collection has children: %d %v, want 409 with the reason", code, out)
	}
	ts.mustDo(t, "DELETE", "/v1/collections/Shared/Private/maria/app", admin, nil)
	ts.mustDo(t, "DELETE", "/v1/users/maria", admin, nil)
	if code, _ := ts.do(t, "GET", "/v1/collections/Shared/Private/maria", admin, nil); code != 404 {
		t.Errorf("the private collection outlived its user: %d", code)
	}
	ts.newUser(t, admin, "maria") // the name is free again
	for _, name := range []string{"col@x", "col_40x"} {
		ts.mustDo(t, "POST", "/v1/users", admin, map[string]any{"name": name, "password": "some-password"})
	}
	for name, path := range map[string]string{"col@x": "/Shared/Private/col_40x", "col_40x": "/Shared/Private/col_5F40x"} {
		out := ts.mustDo(t, "GET", "/v1/grants?subject=user:"+url.QueryEscape(name), admin, nil)
		if !strings.Contains(fmt.Sprint(out), "collection:"+path+" ") {
			t.Errorf("%s's grants: %v, want one on %s", name, out, path)
		}
	}
}

// Reproduction 6e: TLS 1.2 offered CBC-SHA1 suites. Only AEAD suites are
// offered.
func TestSecurityTLSOffersAEADSuitesOnly(t *testing.T) {
	ts := startServer(t)
	dial := func(suites ...uint16) error {
		c, err := tls.Dial("tcp", ts.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: suites}) //nolint:gosec // a test of the server's suites
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, s := range tls.CipherSuites() {
		if strings.Contains(s.Name, "CBC") {
			if err := dial(s.ID); err == nil {
				t.Errorf("the server accepted %s", s.Name)
			}
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		if err := dial(s.ID); err == nil {
			t.Errorf("the server accepted %s", s.Name)
		}
	}
	if err := dial(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); err != nil {
		t.Errorf("an AEAD suite was refused: %v", err)
	}
}

// Reproduction 5, over the wire: another loopback address (127.0.0.2)
// fails the admin's password fifty times; the admin logs in from
// 127.0.0.1 at once. And reproduction 6f: a throttled registry login
// answers 429, as the login endpoint does, not 401.
func TestSecurityFailuresElsewhereDoNotLockOutTheAdmin(t *testing.T) {
	ts := startServer(t)
	attacker := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: ts.http.Transport.(*http.Transport).TLSClientConfig,
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	login := func(c *http.Client, password string) int {
		body := strings.NewReader(fmt.Sprintf(`{"username":"admin","password":%q}`, password))
		resp, err := c.Post("https://"+ts.addr+"/auth/login", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	codes := map[int]int{}
	for range 50 {
		codes[login(attacker, "guess")]++
	}
	if codes[429] == 0 {
		t.Errorf("fifty failures from one address were never throttled: %v", codes)
	}
	// The registry's token endpoint, throttled, says so: asked right after
	// a throttled login, inside the same delay (which a slow machine could
	// otherwise let run out, or the admin's login below reset).
	for i := 0; i < 20 && login(attacker, "guess") != 429; i++ {
		// until a login is refused for the delay
	}
	req, _ := http.NewRequest("GET", "https://"+ts.addr+"/auth/token?service=registry", nil)
	req.SetBasicAuth("admin", "guess")
	resp, err := attacker.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("a throttled registry login: %d, want 429", resp.StatusCode)
	}
	if code := login(ts.http, adminPassword); code != 200 {
		t.Errorf("the admin from 127.0.0.1 after another address's failures: %d, want 200", code)
	}
}

// Names are checked where they enter, not in the store: a registry push
// to a repository name grantd's rules refuse creates nothing.
func TestRegistryPushChecksTheRepositoryName(t *testing.T) {
	ts := startServer(t)
	b := registryBackend{ts.srv.deps}
	id := registry.Identity{Subject: subjects.MustParse("user:admin"), Account: "admin", IsAdmin: true}
	for _, name := range []string{"admin/UPPER", "admin/a b", "admin/", "admin/x/../y"} {
		if err := b.CreateForPush(context.Background(), id, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if all, err := ts.st.Read().AllRepositories(); err != nil || len(all) != 0 {
		t.Errorf("repositories created from bad names: %v %v", all, err)
	}
	if err := b.CreateForPush(context.Background(), id, "admin/good"); err != nil {
		t.Fatal(err)
	}
	if r, _ := ts.st.Read().Repository("admin", "good"); r == nil {
		t.Error("a good name was not created")
	}
}
