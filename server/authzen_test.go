package server

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// authzenState builds a small installation: maria in team acme/web, which
// holds viewonly on /prod; paolo with restrictedcontrol on /prod/api;
// a repository acme/app the team may pull; team acme/web Full Control in
// Kubernetes namespace web.
func authzenState(t testing.TB, ts *testServer) string {
	t.Helper()
	admin := ts.login(t, "admin", adminPassword)
	for _, c := range []struct {
		method, path string
		body         map[string]any
	}{
		{"POST", "/v1/users", map[string]any{"name": "maria", "password": "maria-password"}},
		{"POST", "/v1/users", map[string]any{"name": "paolo", "password": "paolo-password"}},
		{"POST", "/v1/orgs", map[string]any{"name": "acme"}},
		{"POST", "/v1/orgs/acme/teams", map[string]any{"name": "web"}},
		{"PUT", "/v1/orgs/acme/teams/web/members/maria", map[string]any{"isAdmin": false}},
		{"POST", "/v1/collections", map[string]any{"path": "/prod"}},
		{"POST", "/v1/collections", map[string]any{"path": "/prod/api"}},
		{"POST", "/v1/collections", map[string]any{"path": "/dev"}},
		{"POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "app"}},
		{"POST", "/v1/grants", map[string]any{"subject": "team:acme/web", "role": "viewonly", "object": "collection:/prod"}},
		{"POST", "/v1/grants", map[string]any{"subject": "user:paolo", "role": "restrictedcontrol", "object": "collection:/prod/api"}},
		{"POST", "/v1/grants", map[string]any{"subject": "team:acme/web", "role": "repo-read-only", "object": "repository:acme/app"}},
		{"POST", "/v1/grants", map[string]any{"subject": "team:acme/web", "role": "fullcontrol", "object": "namespace:web"}},
	} {
		if code, out := ts.do(t, c.method, c.path, admin, c.body); code != 200 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, code, out)
		}
	}
	return admin
}

// TestAuthzenDecidesLikeAuthorize asks random questions both ways: the
// AuthZEN evaluation's decision is POST /v1/authorize's.
func TestAuthzenDecidesLikeAuthorize(t *testing.T) {
	ts := startServer(t)
	admin := authzenState(t, ts)
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	allowed := 0
	for i := range 400 {
		user := pick("maria", "paolo", "admin", "ghost")
		var resource, authorizeResource map[string]any
		op := pick("container.view", "container.exec", "container.create", "service.view", "volume.create")
		switch rng.IntN(3) {
		case 0, 1:
			col := pick("/prod", "/prod/api", "/dev", "/nowhere", "/")
			resource, authorizeResource = map[string]any{"type": "collection", "id": col}, map[string]any{"collection": col}
		default:
			repo := pick("acme/app", "acme/none", "maria/x")
			op = pick("repository.pull", "repository.push", "repository.view")
			resource, authorizeResource = map[string]any{"type": "repository", "id": repo}, map[string]any{"repository": repo}
		}
		var options []string
		if op == "container.create" && rng.IntN(2) == 0 {
			options = []string{pick("privileged", "bridge_networking")}
		}
		code, az := ts.do(t, "POST", "/access/v1/evaluation", admin, map[string]any{
			"subject": map[string]any{"type": "user", "id": user}, "action": map[string]any{"name": op},
			"resource": resource, "context": map[string]any{"options": options, "time": "2026-11-30T10:00:00Z"}})
		if code != 200 {
			t.Fatalf("evaluation %d: %d %v", i, code, az)
		}
		_, native := ts.do(t, "POST", "/v1/authorize", admin, map[string]any{"subject": "user:" + user, "operation": op,
			"resource": authorizeResource, "options": options})
		if az["decision"] != (native["allowed"] == true) {
			t.Fatalf("user %s %s on %v %v: AuthZEN %v, /v1/authorize %v", user, op, resource, options, az, native)
		}
		if az["decision"] == true {
			allowed++
		}
	}
	if allowed < 20 || allowed > 380 {
		t.Fatalf("%d of 400 allowed: the questions test too little", allowed)
	}
}

func TestAuthzenEvaluationsAndSearches(t *testing.T) {
	ts := startServer(t)
	admin := authzenState(t, ts)
	maria := map[string]any{"type": "user", "id": "maria"}
	view := map[string]any{"name": "container.view"}
	col := func(p string) map[string]any { return map[string]any{"type": "collection", "id": p} }
	items := []any{map[string]any{"resource": col("/prod")}, map[string]any{"resource": col("/dev")}, map[string]any{"resource": col("/prod/api")}}
	for semantic, want := range map[string][]bool{
		"":                       {true, false, true},
		"execute_all":            {true, false, true},
		"deny_on_first_deny":     {true, false},
		"permit_on_first_permit": {true},
	} {
		code, out := ts.do(t, "POST", "/access/v1/evaluations", admin, map[string]any{"subject": maria, "action": view,
			"evaluations": items, "options": map[string]any{"evaluations_semantic": semantic}})
		if code != 200 {
			t.Fatalf("%q: %d %v", semantic, code, out)
		}
		got := out["evaluations"].([]any)
		if len(got) != len(want) {
			t.Fatalf("%q: %d answers %v, want %d", semantic, len(got), got, len(want))
		}
		for i, a := range got {
			if a.(map[string]any)["decision"] != want[i] {
				t.Errorf("%q item %d: %v, want %v", semantic, i, a, want[i])
			}
		}
	}
	if code, out := ts.do(t, "POST", "/access/v1/evaluations", admin, map[string]any{"evaluations": items,
		"options": map[string]any{"evaluations_semantic": "whatever"}}); code != 400 {
		t.Errorf("unknown semantic: %d %v", code, out)
	}
	// A Kubernetes namespace, which /v1/authorize does not name.
	if _, out := ts.do(t, "POST", "/access/v1/evaluation", admin, map[string]any{"subject": maria,
		"action": map[string]any{"name": "kubernetes.pods.exec"}, "resource": map[string]any{"type": "kubernetes_namespace", "id": "web"}}); out["decision"] != true {
		t.Errorf("maria's exec in namespace web: %v", out)
	}
	// Malformed requests and questions the caller may not ask.
	for _, body := range []map[string]any{
		{"subject": map[string]any{"type": "group", "id": "x"}, "action": view, "resource": col("/prod")},
		{"subject": maria, "resource": col("/prod")},
		{"subject": maria, "action": view, "resource": map[string]any{"type": "account", "id": "123"}},
	} {
		if code, out := ts.do(t, "POST", "/access/v1/evaluation", admin, body); code != 400 {
			t.Errorf("%v: %d %v, want 400", body, code, out)
		}
	}
	mariaToken := ts.login(t, "maria", "maria-password")
	if code, _ := ts.do(t, "POST", "/access/v1/evaluation", mariaToken, map[string]any{"subject": map[string]any{"type": "user", "id": "paolo"},
		"action": view, "resource": col("/prod")}); code != 403 {
		t.Errorf("maria asking about paolo: %d, want 403", code)
	}
	if code, out := ts.do(t, "POST", "/access/v1/evaluation", mariaToken, map[string]any{"subject": maria, "action": view, "resource": col("/prod")}); code != 200 || out["decision"] != true {
		t.Errorf("maria asking about herself: %d %v", code, out)
	}

	// Subject search: who can view /prod/api.
	code, out := ts.do(t, "POST", "/access/v1/search/subject", admin, map[string]any{"subject": map[string]any{"type": "user"},
		"action": view, "resource": col("/prod/api")})
	if code != 200 || fmt.Sprint(out["results"]) != "[map[id:admin type:user] map[id:maria type:user] map[id:paolo type:user]]" {
		t.Errorf("subject search: %d %v", code, out)
	}
	if code, _ := ts.do(t, "POST", "/access/v1/search/subject", mariaToken, map[string]any{"action": view, "resource": col("/prod")}); code != 403 {
		t.Errorf("subject search as maria: %d, want 403", code)
	}
	// Resource search, a page at a time.
	var found []string
	token := ""
	for range 10 {
		code, out = ts.do(t, "POST", "/access/v1/search/resource", admin, map[string]any{"subject": maria, "action": view,
			"resource": map[string]any{"type": "collection"}, "page": map[string]any{"token": token, "limit": 1}})
		if code != 200 {
			t.Fatalf("resource search: %d %v", code, out)
		}
		for _, r := range out["results"].([]any) {
			found = append(found, r.(map[string]any)["id"].(string))
		}
		token, _ = out["page"].(map[string]any)["next_token"].(string)
		if token == "" {
			break
		}
	}
	if fmt.Sprint(found) != "[/Shared/Private/maria /prod /prod/api]" {
		t.Errorf("maria may view %v, want her private collection, /prod and /prod/api", found)
	}
	// Action search: what paolo may do on /prod/api (Restricted Control).
	code, out = ts.do(t, "POST", "/access/v1/search/action", admin, map[string]any{"subject": map[string]any{"type": "user", "id": "paolo"},
		"resource": col("/prod/api"), "page": map[string]any{"limit": 1000}})
	acts := fmt.Sprint(out["results"])
	if code != 200 || !strings.Contains(acts, "container.create") || strings.Contains(acts, "container.exec") {
		t.Errorf("paolo's actions: %d %v", code, acts)
	}
	// The metadata document.
	code, out = ts.do(t, "GET", "/.well-known/authzen-configuration", "", nil)
	if code != 200 || out["access_evaluation_endpoint"] != "https://"+ts.addr+"/access/v1/evaluation" || out["search_action_endpoint"] == nil {
		t.Errorf("metadata: %d %v", code, out)
	}
}

// TestAuthzenEchoesRequestID: a PDP answers with the caller's X-Request-ID.
func TestAuthzenEchoesRequestID(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	req := jsonRequest(t, "POST", "https://"+ts.addr+"/access/v1/evaluation", admin, map[string]any{
		"subject": map[string]any{"type": "user", "id": "admin"}, "action": map[string]any{"name": "container.view"},
		"resource": map[string]any{"type": "collection", "id": "/"}})
	req.Header.Set("X-Request-ID", "trace-42")
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-ID") != "trace-42" {
		t.Fatalf("HTTP %d, X-Request-ID %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
}
