package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBadInputIsA400 sends malformed input to every kind of endpoint and
// expects 400 with a message that says what is wrong.
func TestBadInputIsA400(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.do(t, "POST", "/v1/orgs", admin, map[string]any{"name": "acme"})
	cases := []struct {
		method, path string
		body         string
		mention      string // a word the message must contain
	}{
		{"POST", "/v1/users", `{"name": "a/b", "password": "long-enough-1"}`, "name"},
		// Names are checked here, where they enter, not again in the store.
		{"POST", "/v1/users", `{"name": "a b", "password": "long-enough-1"}`, "name"},
		{"POST", "/v1/users", `{"name": "x*", "password": "long-enough-1"}`, "name"},
		{"POST", "/v1/orgs", `{"name": "-x"}`, "name"},
		{"POST", "/v1/serviceAccounts", `{"name": "a b"}`, "name"},
		{"POST", "/v1/repositories", `{"namespace": "admin", "name": "UPPER"}`, "name"},
		{"POST", "/v1/users", `{"name": "", "password": "long-enough-1"}`, "name"},
		{"POST", "/v1/users", `{"name": "bob", "password": "short"}`, "password"},
		{"POST", "/v1/users", `{"nmae": "bob"}`, "nmae"},
		{"POST", "/v1/users", `{"name": "bob", "isAdmin": "yes"}`, "isAdmin"},
		{"POST", "/v1/users", `{"name": `, ""},
		{"POST", "/v1/users", `[1, 2]`, ""},
		{"PATCH", "/v1/users/bad%20name", `{"fullName": "x"}`, "name"},
		{"POST", "/v1/orgs", `{"name": ".hidden"}`, "name"},
		{"POST", "/v1/orgs/acme/teams", `{"name": "a b"}`, "name"},
		{"PUT", "/v1/orgs/acme/members/a%3Bb", `{"isAdmin": false}`, "user"},
		{"PUT", "/v1/orgs/ac%24me/teams/web/members/bob", `{}`, "org"},
		{"POST", "/v1/grants", `{"subject": "wizard:x", "role": "viewonly", "object": "collection:/Shared"}`, "subject"},
		{"POST", "/v1/grants", `{"subject": "user:admin", "role": "viewonly", "object": "collection:relative"}`, "collection"},
		{"POST", "/v1/grants", `{"subject": "user:admin", "role": "viewonly", "object": "collection:/Shared", "scope": "sideways"}`, "scope"},
		{"POST", "/v1/grants", `{"subject": "user:admin", "role": "view only", "object": "collection:/Shared"}`, "role"},
		{"GET", "/v1/grants?subject=nobody", "", "subject"},
		{"DELETE", "/v1/grants/not%20an%20id", "", "id"},
		{"POST", "/v1/roles", `{"name": "r", "permissions": [{"operation": "container.fly"}]}`, "container.fly"},
		{"POST", "/v1/roles", `{"name": "r", "permissions": [{"operation": "container.create", "options": ["warp"]}]}`, "warp"},
		{"POST", "/v1/collections", `{"path": "/a/../b"}`, ".."},
		{"POST", "/v1/collections", `{"path": "/` + strings.Repeat("x", 101) + `"}`, "100"},
		{"POST", "/v1/repositories", `{"namespace": "acme", "name": "UPPER"}`, "name"},
		{"POST", "/v1/repositories", `{"namespace": "acme", "name": "app", "visibility": "secret"}`, "visibility"},
		{"GET", "/v1/users?pageToken=%25%25%25", "", "page_token"},
		{"GET", "/v1/users?pageSize=-1", "", "page_size"},
		{"GET", "/v1/users?pageSize=lots", "", ""},
		{"GET", "/v1/users?state=sleeping", "", "state"},
		{"GET", "/v1/users?source=nis", "", "source"},
		{"PUT", "/v1/settings", `{"defaultPrivateRole": "restrictedcontrol", "sessions": {"lifetimeMinutes": 5, "renewalThresholdMinutes": 0, "perUserLimit": 1}}`, "lifetime"},
		{"POST", "/v1/tokens", `{"name": ""}`, "name"},
		{"POST", "/v1/tokens", `{"name": "ci", "owner": "team:acme/x"}`, "owner"},
		{"GET", "/v1/audit?pageToken=abc", "", "page_token"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "https://"+ts.addr+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := ts.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 400 || err != nil || out.Message == "" || !strings.Contains(out.Message, c.mention) {
			t.Errorf("%s %s %s: %d %+v (%v), want 400 mentioning %q", c.method, c.path, c.body, resp.StatusCode, out, err, c.mention)
		}
	}
}

// FuzzRESTBodies feeds arbitrary bodies to the endpoints of the fixed
// contract through the real HTTP handler: whatever comes in, the answer is
// never a 5xx, and the decision API answers 200 or 400 (a decision, or a
// body that is not JSON of the request's shape).
func FuzzRESTBodies(f *testing.F) {
	seeds := []string{
		`{"username": "admin", "password": "x"}`,
		`{"subject": "user:admin", "operation": "container.view", "resource": {"collection": "/"}}`,
		`{"subject": "user:x", "operation": "container.create", "resource": {"labels": {"com.docker.ucp.access.label": "/a"}}, "options": ["privileged"], "secrets": ["/b"], "minRevision": "1"}`,
		`{"requests": [{"subject": "anonymous", "operation": "repository.pull", "resource": {"repository": "a/b"}}]}`,
		`{"subject": "team:a/b", "role": "viewonly", "object": "collection:/Shared", "scope": "exact"}`,
		`{"name": "r", "permissions": [{"operation": "container.create", "options": ["privileged"]}]}`,
		`{"name": "u", "password": "0123456789", "isAdmin": true}`,
		`{"isAdmin": 1e400}`, `{"minRevision": "-1"}`, `{"resource": {"labels": null}}`, "\x00", `{"a":` + strings.Repeat("[", 500),
	}
	paths := []string{"/auth/login", "/v1/authorize", "/v1/authorize:batch", "/v1/explain", "/v1/grants", "/v1/roles",
		"/v1/users", "/v1/orgs/acme/members/bob", "/v1/orgs/acme/teams/web/members/bob"}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	ts := startServer(f)
	token := ts.login(f, "admin", adminPassword)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		method := "POST"
		if strings.Contains(path, "/members/") {
			method = "PUT"
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		ts.srv.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if strings.HasPrefix(path, "/v1/authorize") || path == "/v1/explain" {
			if rec.Code != 200 && rec.Code != 400 {
				t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
			}
		}
	})
}
