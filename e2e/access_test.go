package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/grantd/grantd/dataset"
	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/manifest/reconcile"
	"github.com/grantd/grantd/store"
)

// loginCtl starts a grantd and logs a grantctl in as its admin.
func loginCtl(t *testing.T) (*grantd, *ctl) {
	t.Helper()
	dir := t.TempDir()
	g := start(t, dir)
	c := newCtl(t)
	if out, code := c.run(adminPassword+"\n", "login", "--server", g.addr, "--ca-cert", filepath.Join(dir, "tls", "ca.crt"),
		"-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	return g, c
}

// TestAccessAsCodeExample applies the documented example with the real
// grantctl: diff first, then one write, then nothing; a pruned edit
// removes what the file owns and no longer lists.
func TestAccessAsCodeExample(t *testing.T) {
	g, admin := loginCtl(t)
	example, err := filepath.Abs("../docs/examples/access.yaml")
	if err != nil {
		t.Fatal(err)
	}
	token := g.login(t)
	diff := admin.ok("diff", "-f", example)
	for _, want := range []string{"+ org payments", "+ team payments/ops", "+ role deployer", "+ grant team:payments/web viewonly collection:/payments subtree",
		"would be made (nothing written)"} {
		if !strings.Contains(diff, want) {
			t.Fatalf("diff lacks %q:\n%s", want, diff)
		}
	}
	if code, _, _ := g.call(context.Background(), "GET", "/v1/orgs/payments", token, nil); code != 404 {
		t.Fatalf("after diff, org payments: %d, want 404 (diff writes nothing)", code)
	}
	out := admin.ok("apply", "-f", example)
	if !strings.Contains(out, "in one write") {
		t.Fatalf("apply: %s", out)
	}
	check := func(user, op, collection string) bool {
		return g.must(t, 200, "POST", "/v1/authorize", token, map[string]any{"subject": "user:" + user, "operation": op,
			"resource": map[string]any{"collection": collection}})["allowed"] == true
	}
	if !check("paolo", "container.view", "/payments/prod") || !check("ana", "service.create", "/payments/prod") || check("ana", "service.create", "/payments/staging") {
		t.Fatal("the applied grants do not decide as the manifest says")
	}
	if again := admin.ok("apply", "-f", example); !strings.Contains(again, "No changes") {
		t.Fatalf("a second apply: %s", again)
	}

	// The ops team and its grant leave the file.
	raw, _ := os.ReadFile(example)
	edited := strings.Replace(string(raw), "      - name: ops\n        kubernetesGroups: [payments-ops]\n        members: [{user: ana}]\n", "", 1)
	edited = strings.Replace(edited, `  - {subject: "team:payments/ops", role: deployer, object: "collection:/payments/prod"}`+"\n", "", 1)
	file := filepath.Join(t.TempDir(), "access.yaml")
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := admin.ok("apply", "-f", file); strings.Contains(out, "- team") {
		t.Fatalf("apply without --prune removed something:\n%s", out)
	}
	pruned := admin.ok("apply", "-f", file, "--prune")
	for _, want := range []string{"- team payments/ops", "- grant team:payments/ops deployer collection:/payments/prod subtree", "- org member payments/ana"} {
		if !strings.Contains(pruned, want) {
			t.Fatalf("apply --prune lacks %q:\n%s", want, pruned)
		}
	}
	if check("ana", "service.create", "/payments/prod") {
		t.Fatal("the pruned grant still decides")
	}
	if code, _, _ := g.call(context.Background(), "GET", "/v1/orgs/payments/teams/ops", token, nil); code != 404 {
		t.Fatalf("the pruned team: %d", code)
	}
	// A typo is refused before anything reaches the server.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("apiVersion: grantd.io/v1\nkind: Access\ngrant: []\n"), 0o600)
	if out, code := admin.run("", "apply", "-f", bad); code == 0 || !strings.Contains(out, `unknown field "grant"`) {
		t.Fatalf("a typo: exit %d %s", code, out)
	}
}

// TestAccessAsCodeRoundTripsTheReferenceDataset builds the small
// reference dataset, applies its export to a real grantd with grantctl,
// exports that grantd, applies the export to a second, empty one, and
// finds the three exports the same.
func TestAccessAsCodeRoundTripsTheReferenceDataset(t *testing.T) {
	want := referenceExport(t)
	file := filepath.Join(t.TempDir(), "reference.yaml")
	y, err := yaml.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, y, 0o600); err != nil {
		t.Fatal(err)
	}
	_, first := loginCtl(t)
	if out := first.ok("apply", "-f", file, "--prune"); !strings.Contains(out, "in one write") {
		t.Fatalf("apply: %s", out)
	}
	exported := filepath.Join(t.TempDir(), "exported.yaml")
	first.ok("export", "-f", exported)
	_, second := loginCtl(t)
	second.ok("apply", "-f", exported, "--prune")
	again := filepath.Join(t.TempDir(), "again.yaml")
	second.ok("export", "-f", again)
	a, b := readDoc(t, exported), readDoc(t, again)
	if !jsonEqual(t, a, want) || !jsonEqual(t, b, want) {
		t.Fatal("the exports differ from the reference dataset's")
	}
	if out := second.ok("diff", "-f", exported, "--prune"); !strings.Contains(out, "No changes") {
		t.Fatalf("diff after the round trip:\n%.2000s", out)
	}
	t.Logf("round trip: %d users, %d orgs, %d collections, %d roles, %d grants, %d repositories", len(want.Users), len(want.Orgs),
		len(want.Collections), len(want.Roles), len(want.Grants), len(want.Repositories))
}

func referenceExport(t *testing.T) *manifest.Document {
	t.Helper()
	cfg := store.DefaultConfig(t.TempDir())
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(ctx, store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g-shared", AdminGrantID: "g-admin",
		Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, batch := range dataset.Generate(dataset.Small, 1).Batches {
		if _, err := st.Apply(ctx, store.Batch{Commands: batch}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := reconcile.Export(st.Read())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readDoc(t *testing.T, file string) *manifest.Document {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d manifest.Document
	if err := yaml.UnmarshalStrict(raw, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &d
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
