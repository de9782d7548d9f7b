package server

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// refusal is how a call outside the caller's rights is refused: 403, or
// 404 where the object is a private repository the caller may not see
// (what they may not see does not exist for them).
func refusal(path string) int {
	if strings.HasPrefix(path, "/v1/repositories/acme/app-") {
		return 404
	}
	return 403
}

// TestRightsMatrix holds "who may change what" (api.md) to account: each
// actor calls each endpoint group over REST, and every call is either
// admitted or refused with 403, exactly as the rules say.
func TestRightsMatrix(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	must := func(method, path string, body any) {
		t.Helper()
		if code, out := ts.do(t, method, path, admin, body); code != 200 {
			t.Fatalf("setup %s %s: %d %v", method, path, code, out)
		}
	}
	actors := []string{"admin", "orgadmin", "teamadmin", "member", "outsider", "proxy"}
	for _, u := range []string{"orgadmin", "teamadmin", "member", "member2", "outsider"} {
		must("POST", "/v1/users", map[string]any{"name": u, "password": u + "-password"})
	}
	must("POST", "/v1/orgs", map[string]any{"name": "acme"})
	must("POST", "/v1/orgs", map[string]any{"name": "beta"})
	must("POST", "/v1/orgs/acme/teams", map[string]any{"name": "web"})
	must("PUT", "/v1/orgs/acme/members/orgadmin", map[string]any{"isAdmin": true})
	must("PUT", "/v1/orgs/acme/members/member2", map[string]any{"isAdmin": false})
	must("PUT", "/v1/orgs/acme/teams/web/members/teamadmin", map[string]any{"isAdmin": true})
	must("PUT", "/v1/orgs/acme/teams/web/members/member", map[string]any{"isAdmin": false})
	must("POST", "/v1/collections", map[string]any{"path": "/prod"})
	must("POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "app"})
	must("POST", "/v1/serviceAccounts", map[string]any{"name": "proxy", "capabilities": []string{"authorize"}})
	for _, a := range actors {
		// Per-actor objects, so that one actor's allowed write does not
		// change what the next actor's call finds.
		must("POST", "/v1/users", map[string]any{"name": "stranger-" + a, "password": "stranger-password"})
		must("POST", "/v1/users", map[string]any{"name": "new-" + a, "password": "new-password"})
		must("POST", "/v1/users", map[string]any{"name": "rm-" + a, "password": "rm-password"})
		must("PUT", "/v1/orgs/acme/teams/web/members/rm-"+a, map[string]any{"isAdmin": false})
		must("POST", "/v1/orgs/acme/teams", map[string]any{"name": "del-" + a})
		must("POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "app-" + a})
		must("POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "del-" + a})
		must("POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "pub-" + a, "visibility": "public"})
	}
	tokens := map[string]string{"admin": admin}
	for _, a := range actors[1:5] {
		tokens[a] = ts.login(t, a, a+"-password")
	}
	code, out := ts.do(t, "POST", "/v1/tokens", admin, map[string]any{"owner": "serviceaccount:proxy", "name": "ci"})
	if code != 200 {
		t.Fatalf("proxy token: %d %v", code, out)
	}
	tokens["proxy"] = out["secret"].(string)
	subject := func(a string) string {
		if a == "proxy" {
			return "serviceaccount:proxy"
		}
		return "user:" + a
	}

	all := strings.Join(actors, " ")
	users := "admin orgadmin teamadmin member outsider"
	rows := []struct {
		name, method, path string
		body               map[string]any
		allowed            string // actors admitted; everyone else is refused
	}{
		{"create an org", "POST", "/v1/orgs", map[string]any{"name": "o-{a}"}, "admin"},
		{"read own org", "GET", "/v1/orgs/acme", nil, "admin orgadmin"},
		{"list org members", "GET", "/v1/orgs/acme/members", nil, "admin orgadmin"},
		{"add an org member", "PUT", "/v1/orgs/acme/members/stranger-{a}", map[string]any{"isAdmin": false}, "admin orgadmin"},
		{"create a team", "POST", "/v1/orgs/acme/teams", map[string]any{"name": "t-{a}"}, "admin orgadmin"},
		{"create a team in another org", "POST", "/v1/orgs/beta/teams", map[string]any{"name": "t-{a}"}, "admin"},
		{"update a team", "PATCH", "/v1/orgs/acme/teams/web", map[string]any{"description": "by {a}"}, "admin orgadmin"},
		{"map Kubernetes groups to a team", "PATCH", "/v1/orgs/acme/teams/web", map[string]any{"kubernetesGroups": []string{"oidc:{a}"}, "updateKubernetesGroups": true}, "admin"},
		{"grant Kubernetes access to the org's namespace", "POST", "/v1/grants", map[string]any{"subject": "team:acme/del-{a}", "role": "restrictedcontrol", "object": "namespace:acme"}, "admin"},
		{"grant registry access to the org's namespace", "POST", "/v1/grants", map[string]any{"subject": "team:acme/del-{a}", "role": "repo-read-only", "object": "namespace:acme"}, "admin orgadmin"},
		{"answer kube-apiserver's reviews", "POST", "/kubernetes/authorize", map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
			"spec": map[string]any{"user": "member", "resourceAttributes": map[string]any{"verb": "get", "resource": "pods", "namespace": "acme"}}}, "proxy"},
		{"delete a team", "DELETE", "/v1/orgs/acme/teams/del-{a}", nil, "admin orgadmin"},
		{"read a team", "GET", "/v1/orgs/acme/teams/web", nil, "admin orgadmin teamadmin"},
		{"list team members", "GET", "/v1/orgs/acme/teams/web/members", nil, "admin orgadmin teamadmin"},
		{"add an org member to the team", "PUT", "/v1/orgs/acme/teams/web/members/member2", map[string]any{"isAdmin": false}, "admin orgadmin teamadmin"},
		{"bring a stranger into the team", "PUT", "/v1/orgs/acme/teams/web/members/new-{a}", map[string]any{"isAdmin": false}, "admin orgadmin"},
		{"remove a team member", "DELETE", "/v1/orgs/acme/teams/web/members/rm-{a}", nil, "admin orgadmin teamadmin"},
		{"create a user", "POST", "/v1/users", map[string]any{"name": "u-{a}", "password": "some-password"}, "admin"},
		{"update another user", "PATCH", "/v1/users/member", map[string]any{"fullName": "by {a}"}, "admin"},
		{"read another user", "GET", "/v1/users/member", nil, "admin member"},
		{"list users", "GET", "/v1/users", nil, "admin"},
		{"list own tokens", "GET", "/v1/tokens", nil, all},
		{"create an own client bundle", "POST", "/v1/bundles", map[string]any{"label": "{a}"}, users},
		{"list own client bundles", "GET", "/v1/bundles", nil, all},
		{"read the client CA", "GET", "/v1/bundles/ca", nil, all},
		{"create a bundle for a service account", "POST", "/v1/bundles", map[string]any{"owner": "serviceaccount:proxy"}, "admin"},
		{"list another account's bundles", "GET", "/v1/bundles?owner=user:outsider", nil, "admin outsider"},
		{"list every account's bundles", "GET", "/v1/bundles?owner=*", nil, "admin"},
		{"create own token", "POST", "/v1/tokens", map[string]any{"name": "t-{a}"}, users},
		{"list another's tokens", "GET", "/v1/tokens?owner=user:member", nil, "admin member"},
		{"list own sessions", "GET", "/v1/sessions", nil, all},
		{"create a collection", "POST", "/v1/collections", map[string]any{"path": "/c-{a}"}, "admin"},
		{"read the collection tree", "GET", "/v1/collections:tree", nil, "admin"},
		{"grant on a collection", "POST", "/v1/grants", map[string]any{"subject": "team:acme/web", "role": "viewonly", "object": "collection:/c-admin"}, "admin"},
		{"create an org repository", "POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "r-{a}"}, "admin orgadmin"},
		{"create a repository in one's own namespace", "POST", "/v1/repositories", map[string]any{"namespace": "{a}", "name": "mine"}, users},
		{"grant on an org repository", "POST", "/v1/grants", map[string]any{"subject": "team:acme/web", "role": "repo-read-only", "object": "repository:acme/app-{a}"}, "admin orgadmin"},
		{"change an org repository's visibility", "PATCH", "/v1/repositories/acme/app-{a}", map[string]any{"visibility": "private"}, "admin orgadmin"},
		{"change a public org repository's visibility", "PATCH", "/v1/repositories/acme/pub-{a}", map[string]any{"visibility": "public"}, "admin orgadmin"},
		{"list an org repository's access", "GET", "/v1/repositories/acme/app/access", nil, "admin orgadmin"},
		{"delete an org repository", "DELETE", "/v1/repositories/acme/del-{a}", nil, "admin orgadmin"},
		{"list own grants", "GET", "/v1/grants?subject={subject}", nil, all},
		{"list another's grants", "GET", "/v1/grants?subject=user:member", nil, "admin member"},
		{"list every grant", "GET", "/v1/grants", nil, "admin"},
		{"ask about oneself", "POST", "/v1/authorize", map[string]any{"subject": "{subject}", "operation": "container.view", "resource": map[string]any{"collection": "/prod"}}, all},
		{"ask about another", "POST", "/v1/authorize", map[string]any{"subject": "user:member", "operation": "container.view", "resource": map[string]any{"collection": "/prod"}}, "admin member proxy"},
		{"another's effective permissions", "GET", "/v1/subjects/user:member/permissions?collection=/prod", nil, "admin member proxy"},
		{"who can", "GET", "/v1/access?object=collection:/prod&operation=container.view", nil, "admin"},
		{"read settings", "GET", "/v1/settings", nil, "admin"},
		{"read the audit log", "GET", "/v1/audit", nil, "admin"},
		{"list service accounts", "GET", "/v1/serviceAccounts", nil, "admin"},
		{"export the policy", "GET", "/v1/policy/bundle", nil, "admin"},
		{"read a team's LDAP sync", "GET", "/v1/orgs/acme/teams/web/ldapSync", nil, "admin orgadmin teamadmin"},
		{"set a team's LDAP sync", "PUT", "/v1/orgs/acme/teams/web/ldapSync", map[string]any{"sync": map[string]any{"enabled": false}}, "admin orgadmin teamadmin"},
		{"read an org's admin sync", "GET", "/v1/orgs/acme/ldapAdminSync", nil, "admin orgadmin"},
		{"set an org's admin sync", "PUT", "/v1/orgs/acme/ldapAdminSync", map[string]any{"sync": map[string]any{"enabled": false}}, "admin orgadmin"},
		{"set another org's admin sync", "PUT", "/v1/orgs/beta/ldapAdminSync", map[string]any{"sync": map[string]any{"enabled": false}}, "admin"},
		{"read the LDAP configuration", "GET", "/v1/ldap/config", nil, "admin"},
		{"start an LDAP sync", "POST", "/v1/ldap/syncs", map[string]any{}, "admin"},
		{"list LDAP sync runs", "GET", "/v1/ldap/syncs", nil, "admin"},
	}
	for _, row := range rows {
		for _, a := range actors {
			fill := func(s string) string {
				return strings.NewReplacer("{a}", a, "{subject}", subject(a)).Replace(s)
			}
			path := fill(row.path)
			if strings.Contains(row.path, "{subject}") {
				path = strings.Replace(row.path, "{subject}", url.QueryEscape(subject(a)), 1)
			}
			var body map[string]any
			if row.body != nil {
				body = map[string]any{}
				for k, v := range row.body {
					if s, ok := v.(string); ok {
						v = fill(s)
					}
					body[k] = v
				}
			}
			code, out := ts.do(t, row.method, path, tokens[a], body)
			want := strings.Contains(" "+row.allowed+" ", " "+a+" ")
			switch {
			case want && (code == 401 || code == 403 || code >= 500):
				t.Errorf("%s as %s: %d %v, want admitted", row.name, a, code, out)
			case !want && code != refusal(row.path):
				t.Errorf("%s as %s: %d %v, want %d", row.name, a, code, out, refusal(row.path))
			case want && code != 200:
				t.Logf("%s as %s: admitted, answered %d %v", row.name, a, code, fmt.Sprint(out["message"]))
			}
		}
	}
}

func TestSmallListingsArePaged(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ts.do(t, "POST", "/v1/orgs", admin, map[string]any{"name": "acme"})
	for _, team := range []string{"c", "a", "b"} {
		if code, out := ts.do(t, "POST", "/v1/orgs/acme/teams", admin, map[string]any{"name": team}); code != 200 {
			t.Fatalf("team %s: %d %v", team, code, out)
		}
	}
	var names []string
	token := ""
	for range 4 {
		code, out := ts.do(t, "GET", "/v1/orgs/acme/teams?pageSize=2&pageToken="+token, admin, nil)
		if code != 200 {
			t.Fatalf("list: %d %v", code, out)
		}
		for _, x := range out["teams"].([]any) {
			names = append(names, x.(map[string]any)["name"].(string))
		}
		if token, _ = out["nextPageToken"].(string); token == "" {
			break
		}
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("paged teams = %v, want a,b,c", names)
	}
}
