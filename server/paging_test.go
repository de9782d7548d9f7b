package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grantd/grantd/store"
)

// TestPagingProperty: for every paged listing, every filter and every page
// size, the pages concatenated equal the whole filtered listing read in one
// page. The data is shaped so that filters keep rows sparsely and in runs,
// which is where a page that fills part-way through a batch used to drop
// the rest of it (issue 17, item 7).
func TestPagingProperty(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(17, 7))
	apply := func(c store.Command) {
		t.Helper()
		if _, err := ts.st.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	ts.mustDo(t, "POST", "/v1/orgs", admin, map[string]any{"name": "acme"})
	ts.mustDo(t, "POST", "/v1/orgs/acme/teams", admin, map[string]any{"name": "web"})
	ts.mustDo(t, "POST", "/v1/collections", admin, map[string]any{"path": "/prod"})
	for i := range 150 {
		source := store.SourceLocal
		if rng.IntN(3) > 0 || i >= 60 && i < 100 { // a long run of LDAP users
			source = store.SourceLDAP
		}
		name := fmt.Sprintf("u%03d", i)
		apply(store.CreateUser{PrivateGrantID: fmt.Sprintf("g-%s", name), User: store.User{Name: name,
			Source: source, Active: rng.IntN(4) > 0, IsAdmin: rng.IntN(10) == 0, CreatedAt: time.Now()}})
		if i%3 == 0 {
			ts.mustDo(t, "PUT", "/v1/orgs/acme/teams/web/members/"+name, admin, map[string]any{"isAdmin": false})
		}
		if i%5 == 0 {
			ts.mustDo(t, "POST", "/v1/grants", admin, map[string]any{"subject": "user:" + name,
				"role": []string{"viewonly", "scheduler"}[i%2], "object": "collection:/prod"})
		}
		if i%4 == 0 {
			ts.mustDo(t, "POST", "/v1/serviceAccounts", admin, map[string]any{"name": "sa-" + name})
			ts.mustDo(t, "POST", "/v1/orgs", admin, map[string]any{"name": "org-" + name})
			ts.mustDo(t, "POST", "/v1/collections", admin, map[string]any{"path": "/prod/c-" + name})
			ts.mustDo(t, "POST", "/v1/repositories", admin, map[string]any{"namespace": "acme", "name": "r-" + name})
		}
	}
	listings := []struct{ path, field, key string }{
		{"/v1/users", "users", "name"},
		{"/v1/users?source=ldap", "users", "name"},
		{"/v1/users?source=local", "users", "name"},
		{"/v1/users?source=ldap&state=active", "users", "name"},
		{"/v1/users?state=inactive", "users", "name"},
		{"/v1/users?adminsOnly=true", "users", "name"},
		{"/v1/users?prefix=u1", "users", "name"},
		{"/v1/grants", "grants", "id"},
		{"/v1/grants?role=viewonly", "grants", "id"},
		{"/v1/grants?object=collection:/prod", "grants", "id"},
		{"/v1/grants?subject=user:u000&expandUser=true", "grants", "id"},
		{"/v1/orgs", "orgs", "name"},
		{"/v1/orgs/acme/teams/web/members", "members", "user"},
		{"/v1/orgs/acme/members", "members", "user"},
		{"/v1/serviceAccounts", "serviceAccounts", "name"},
		{"/v1/collections?parent=/prod", "collections", "path"},
		{"/v1/repositories?namespace=acme", "repositories", "name"},
		{"/v1/audit", "events", "id"},
		{"/v1/audit?object=collection:", "events", "id"},
		{"/v1/access?object=collection:/prod&operation=node.view", "entries", "user"},
	}
	for _, l := range listings {
		whole := ts.listKeys(t, admin, l.path, l.field, l.key, 1000)
		if len(whole) < 3 {
			t.Errorf("%s: only %d rows; the test needs more", l.path, len(whole))
			continue
		}
		for _, size := range []int{1, 2, 3, 7, 10, 33, len(whole) - 1, len(whole), len(whole) + 1} {
			if got := ts.listKeys(t, admin, l.path, l.field, l.key, size); !slices.Equal(got, whole) {
				t.Errorf("%s with pageSize %d: %d rows %v…, want %d", l.path, size, len(got), head(got), len(whole))
			}
		}
	}
}

// listKeys reads a listing page by page and returns the key of every row.
func (ts *testServer) listKeys(t *testing.T, token, path, field, key string, size int) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var keys []string
	next := ""
	for pages := 0; ; pages++ {
		if pages > 2000 {
			t.Fatalf("%s: more than 2000 pages", path)
		}
		out := ts.mustDo(t, "GET", fmt.Sprintf("%s%spageSize=%d&pageToken=%s", path, sep, size, url.QueryEscape(next)), token, nil)
		rows, _ := out[field].([]any)
		if len(rows) > size {
			t.Fatalf("%s: a page of %d rows for pageSize %d", path, len(rows), size)
		}
		for _, r := range rows {
			keys = append(keys, fmt.Sprint(r.(map[string]any)[key]))
		}
		if next, _ = out["nextPageToken"].(string); next == "" {
			return keys
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }
