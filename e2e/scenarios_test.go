package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/grantd/grantd/internal/scenario"
)

// TestScenariosOverREST runs every acceptance scenario (testdata/scenarios,
// plus GRANTD_SCENARIOS_DIR) against the real grantd binary: the setup goes
// through the public REST API as the recovery admin, and every check through
// POST /v1/authorize. Each scenario gets a fresh server, because scenarios
// reuse names with different grants.
func TestScenariosOverREST(t *testing.T) {
	all, err := scenario.All("../testdata/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	checks := 0
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			g := start(t, t.TempDir())
			admin := g.login(t)
			setUp(t, g, admin, sc.Setup)
			for i, c := range sc.Checks {
				resource := map[string]any{}
				switch {
				case c.Collection != "":
					resource["collection"] = c.Collection
				case c.Labels != nil:
					resource["labels"] = c.Labels
				case c.Repository != "":
					resource["repository"] = c.Repository
				}
				body := map[string]any{"subject": c.Subject, "operation": c.Operation, "resource": resource,
					"options": c.Options, "secrets": c.Secrets}
				out := g.must(t, 200, "POST", "/v1/authorize", admin, body)
				if out["allowed"] != c.Allowed {
					t.Errorf("check %d %+v: allowed=%v (%v), want %v", i, c, out["allowed"], out["reason"], c.Allowed)
				}
				checks++
			}
		})
	}
	if checks == 0 {
		t.Fatal("no checks ran")
	}
}

// setUp creates a scenario's state as the file format says; 409 means the
// object is already there (built-in collections, or a repeated name).
func setUp(t *testing.T, g *grantd, admin string, s scenario.Setup) {
	t.Helper()
	create := func(method, path string, body any) {
		t.Helper()
		code, out, err := g.call(context.Background(), method, path, admin, body)
		if err != nil || code != 200 && code != 409 {
			t.Fatalf("setup %s %s %v: %d %v %v", method, path, body, code, out, err)
		}
	}
	for _, u := range s.Users {
		create("POST", "/v1/users", map[string]any{"name": u.Name, "password": "scenario-password-" + u.Name, "isAdmin": u.IsAdmin})
	}
	member := func(path string, admin bool) {
		create("PUT", path, map[string]any{"isAdmin": admin})
	}
	for _, o := range s.Orgs {
		create("POST", "/v1/orgs", map[string]any{"name": o.Name})
		for _, m := range o.Members {
			member(fmt.Sprintf("/v1/orgs/%s/members/%s", o.Name, url.PathEscape(m)), false)
		}
		for _, m := range o.Admins {
			member(fmt.Sprintf("/v1/orgs/%s/members/%s", o.Name, url.PathEscape(m)), true)
		}
		for _, tm := range o.Teams {
			create("POST", "/v1/orgs/"+o.Name+"/teams", map[string]any{"name": tm.Name})
			for _, m := range tm.Members {
				member(fmt.Sprintf("/v1/orgs/%s/teams/%s/members/%s", o.Name, tm.Name, url.PathEscape(m)), false)
			}
			for _, m := range tm.Admins {
				member(fmt.Sprintf("/v1/orgs/%s/teams/%s/members/%s", o.Name, tm.Name, url.PathEscape(m)), true)
			}
		}
	}
	for _, p := range s.Collections {
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("collection %q is not a path", p)
		}
		create("POST", "/v1/collections", map[string]any{"path": p})
	}
	for _, r := range s.Roles {
		create("POST", "/v1/roles", map[string]any{"name": r.Name, "permissions": r.Permissions})
	}
	for _, r := range s.Repositories {
		create("POST", "/v1/repositories", map[string]any{"namespace": r.Namespace, "name": r.Name, "visibility": r.Visibility})
	}
	for _, gr := range s.Grants {
		create("POST", "/v1/grants", map[string]any{"subject": gr.Subject, "role": gr.Role, "object": gr.Object, "scope": gr.Scope})
	}
}
