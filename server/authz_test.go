package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestAuthorizeContract(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	for _, step := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/users", map[string]any{"name": "maria", "password": "maria-pass-1"}},
		{"/v1/users", map[string]any{"name": "paolo", "password": "paolo-pass-1"}},
		{"/v1/orgs", map[string]any{"name": "acme"}},
		{"/v1/orgs/acme/teams", map[string]any{"name": "mobile"}},
		{"/v1/collections", map[string]any{"path": "/production"}},
		{"/v1/collections", map[string]any{"path": "/production/mobile"}},
		{"/v1/serviceAccounts", map[string]any{"name": "proxy", "capabilities": []string{"authorize"}}},
		{"/v1/serviceAccounts", map[string]any{"name": "bot"}},
	} {
		if code, out := ts.do(t, "POST", step.path, admin, step.body); code != 200 {
			t.Fatalf("POST %s: %d %v", step.path, code, out)
		}
	}
	ts.do(t, "PUT", "/v1/orgs/acme/teams/mobile/members/maria", admin, map[string]any{"isAdmin": false})
	code, out := ts.do(t, "POST", "/v1/grants", admin, map[string]any{"subject": "team:acme/mobile", "role": "restrictedcontrol", "object": "collection:/production"})
	if code != 200 {
		t.Fatalf("grant: %d %v", code, out)
	}
	grantRev := out["revision"].(string)

	authorize := func(token string, body map[string]any) (int, map[string]any) {
		t.Helper()
		return ts.do(t, "POST", "/v1/authorize", token, body)
	}
	req := map[string]any{"subject": "user:maria", "operation": "container.create",
		"resource": map[string]any{"collection": "/production/mobile"}, "minRevision": grantRev}
	code, out = authorize(admin, req)
	if code != 200 || out["allowed"] != true || out["revision"] == nil {
		t.Fatalf("authorize: %d %v", code, out)
	}
	// Restricted Control holds node.schedule, so /production is the highest
	// ancestor where maria may schedule.
	if sc, ok := out["schedulableCollections"].([]any); !ok || len(sc) != 1 || sc[0] != "/production" {
		t.Errorf("schedulableCollections = %v", out["schedulableCollections"])
	}
	req["options"] = []string{"privileged"}
	if code, out = authorize(admin, req); code != 200 || out["allowed"] != false || !strings.Contains(out["reason"].(string), "privileged") {
		t.Fatalf("privileged: %d %v", code, out)
	}
	// Denials of bad input are decisions (200, allowed false), never errors.
	for _, bad := range []map[string]any{
		{"subject": "user:nobody", "operation": "container.view", "resource": map[string]any{"collection": "/production"}},
		{"subject": "team:acme/mobile", "operation": "container.view", "resource": map[string]any{"collection": "/production"}},
		{"subject": "user:maria", "operation": "container.fly", "resource": map[string]any{"collection": "/production"}},
		{"subject": "user:maria", "operation": "container.view", "resource": map[string]any{"labels": map[string]string{"com.docker.ucp.access.label": "/nowhere"}}},
		{"subject": "user:maria", "operation": "container.view", "resource": map[string]any{"collection": "/production", "repository": "a/b"}},
		{"subject": "user:maria\"; allow := true #", "operation": "container.view", "resource": map[string]any{"collection": "/production"}},
		{"subject": "user:maria", "operation": "container.view", "resource": map[string]any{"collection": "/production"}, "minRevision": "999999"},
	} {
		code, out := authorize(admin, bad)
		if code != 200 || out["allowed"] != false || out["reason"] == "" {
			t.Errorf("%v: %d %v", bad, code, out)
		}
	}
	// Who may ask: users about themselves, services with the capability, admins.
	maria := ts.login(t, "maria", "maria-pass-1")
	paolo := ts.login(t, "paolo", "paolo-pass-1")
	self := map[string]any{"subject": "user:maria", "operation": "container.view", "resource": map[string]any{"collection": "/production"}}
	if code, out := authorize(maria, self); code != 200 || out["allowed"] != true {
		t.Errorf("maria about herself: %d %v", code, out)
	}
	if code, _ := authorize(paolo, self); code != 403 {
		t.Errorf("paolo about maria: %d", code)
	}
	for name, want := range map[string]int{"proxy": 200, "bot": 403} {
		code, out := ts.do(t, "POST", "/v1/tokens", admin, map[string]any{"owner": "serviceaccount:" + name, "name": "t"})
		if code != 200 {
			t.Fatalf("token: %d %v", code, out)
		}
		if code, _ := authorize(out["secret"].(string), self); code != want {
			t.Errorf("service account %s asking: %d, want %d", name, code, want)
		}
	}
	// Batch answers in order.
	code, out = ts.do(t, "POST", "/v1/authorize:batch", admin, map[string]any{"requests": []any{self,
		map[string]any{"subject": "user:paolo", "operation": "container.view", "resource": map[string]any{"collection": "/production"}}}})
	if code != 200 {
		t.Fatalf("batch: %d %v", code, out)
	}
	ds := out["decisions"].([]any)
	if len(ds) != 2 || ds[0].(map[string]any)["allowed"] != true || ds[1].(map[string]any)["allowed"] != false {
		t.Errorf("batch decisions = %v", ds)
	}
	// A batch large enough to be decided on several cores keeps its order.
	var many []any
	for i := range 101 {
		if i%3 == 0 {
			many = append(many, self)
		} else {
			many = append(many, map[string]any{"subject": "user:paolo", "operation": "container.view", "resource": map[string]any{"collection": "/production"}})
		}
	}
	code, out = ts.do(t, "POST", "/v1/authorize:batch", admin, map[string]any{"requests": many})
	if code != 200 || len(out["decisions"].([]any)) != len(many) {
		t.Fatalf("batch of %d: %d %v", len(many), code, out)
	}
	for i, d := range out["decisions"].([]any) {
		if allowed := d.(map[string]any)["allowed"] == true; allowed != (i%3 == 0) {
			t.Fatalf("batch decision %d is allowed=%v, out of order", i, allowed)
		}
	}
	// Explain names the grant and the path to it.
	code, out = ts.do(t, "POST", "/v1/explain", admin, self)
	if code != 200 || out["allowed"] != true {
		t.Fatalf("explain: %d %v", code, out)
	}
	g := out["grants"].([]any)[0].(map[string]any)
	if g["subjectPath"] != "user:maria → team:acme/mobile" || g["role"] != "restrictedcontrol" || g["object"] != "collection:/production" {
		t.Errorf("explain grant = %v", g)
	}
	code, out = ts.do(t, "POST", "/v1/explain", admin, map[string]any{"subject": "user:maria", "operation": "container.exec", "resource": map[string]any{"collection": "/production"}})
	if code != 200 || out["missingOperation"] != "container.exec" {
		t.Errorf("explain missing: %d %v", code, out)
	}
	// Effective permissions and who can.
	code, out = ts.do(t, "GET", "/v1/subjects/"+url.PathEscape("user:maria")+"/permissions?collection=/production/mobile", maria, nil)
	if code != 200 || len(out["permissions"].([]any)) < 10 {
		t.Fatalf("permissions: %d %v", code, out)
	}
	code, out = ts.do(t, "GET", "/v1/access?object=collection:/production/mobile&operation=container.create", admin, nil)
	if code != 200 {
		t.Fatalf("access: %d %v", code, out)
	}
	users := fmt.Sprint(out["entries"])
	if !strings.Contains(users, "user:maria") || !strings.Contains(users, "user:admin") || strings.Contains(users, "user:paolo") {
		t.Errorf("who can create in /production/mobile: %v", users)
	}
	if code, _ := ts.do(t, "GET", "/v1/access?object=collection:/production&operation=container.create", maria, nil); code != 403 {
		t.Errorf("a user asking who can: %d", code)
	}
	code, out = ts.do(t, "GET", "/v1/policy/bundle", admin, nil)
	if code != 200 || out["entrypoint"] != "data.grantd.authz.decision" || out["bundle"] == "" {
		t.Errorf("export: %d %v", code, out["entrypoint"])
	}
}
