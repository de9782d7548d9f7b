package server

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/grantd/grantd/manifest"
)

// TestManifestApplyIsOneAuditedWriteForAdmins: a plain user may neither
// export nor apply; a dry run writes nothing; an apply is one write whose
// audit events all carry its revision.
func TestManifestApplyIsOneAuditedWriteForAdmins(t *testing.T) {
	ts := startServer(t)
	admin := ts.login(t, "admin", adminPassword)
	user := ts.newUser(t, admin, "maria")
	doc := map[string]any{"apiVersion": manifest.APIVersion, "kind": manifest.Kind,
		"orgs":        []any{map[string]any{"name": "acme", "teams": []any{map[string]any{"name": "web", "members": []any{map[string]any{"user": "maria"}}}}}},
		"collections": []any{map[string]any{"path": "/prod"}},
		"grants":      []any{map[string]any{"subject": "team:acme/web", "role": "viewonly", "object": "collection:/prod"}}}
	if code, _ := ts.do(t, "GET", manifest.ExportPath, user, nil); code != 403 {
		t.Fatalf("a plain user's export: %d", code)
	}
	if code, _ := ts.do(t, "POST", manifest.ApplyPath, user, doc); code != 403 {
		t.Fatalf("a plain user's apply: %d", code)
	}
	code, dry := ts.do(t, "POST", manifest.ApplyPath+"?dryRun=true", admin, doc)
	if code != 200 || dry["applied"] != false || len(dry["changes"].([]any)) != 5 {
		t.Fatalf("dry run: %d %v", code, dry)
	}
	if code, _ := ts.do(t, "GET", "/v1/orgs/acme", admin, nil); code != 404 {
		t.Fatalf("the dry run wrote: org acme %d", code)
	}
	code, res := ts.do(t, "POST", manifest.ApplyPath, admin, doc)
	if code != 200 || res["applied"] != true {
		t.Fatalf("apply: %d %v", code, res)
	}
	rev := res["revision"].(float64)
	_, audit := ts.do(t, "GET", "/v1/audit?"+url.Values{"pageSize": {"50"}}.Encode(), admin, nil)
	n := 0
	for _, e := range audit["events"].([]any) {
		ev := e.(map[string]any)
		if r, _ := ev["revision"].(string); r == strconv.FormatUint(uint64(rev), 10) {
			n++
			if ev["actor"] != "user:admin" {
				t.Fatalf("event %v: actor", ev)
			}
		}
	}
	if n != 5 {
		t.Fatalf("%d audit events carry the apply's revision %v, want 5: %v", n, rev, audit)
	}
	// A manifest that names a team that does not exist fails whole,
	// naming the change.
	bad := map[string]any{"apiVersion": manifest.APIVersion, "kind": manifest.Kind,
		"collections": []any{map[string]any{"path": "/dev"}},
		"grants":      []any{map[string]any{"subject": "team:acme/nobody", "role": "viewonly", "object": "collection:/dev"}}}
	code, out := ts.do(t, "POST", manifest.ApplyPath, admin, bad)
	if code != 404 || !strings.Contains(fmt.Sprint(out["message"]), "grant team:acme/nobody viewonly collection:/dev") {
		t.Fatalf("a bad reference: %d %v", code, out)
	}
	if code, _ := ts.do(t, "GET", "/v1/collections/dev", admin, nil); code != 404 {
		t.Fatal("a failed apply wrote part of itself")
	}
}
