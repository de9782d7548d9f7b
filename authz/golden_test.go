package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCompiledStateGolden compiles a small fixed installation and compares
// the data with testdata/compiled-state.golden.json (go test -update
// rewrites it; review the diff).
func TestCompiledStateGolden(t *testing.T) {
	v := newEnv(t)
	v.must(
		v.user("maria"), v.user("paolo"),
		store.CreateOrg{Org: store.Org{Name: "acme"}},
		store.CreateTeam{Team: store.Team{Org: "acme", Name: "mobile"}},
		store.SetTeamMember{Member: store.TeamMember{Org: "acme", Team: "mobile", User: "maria"}},
		store.SetOrgMember{Member: store.OrgMember{Org: "acme", User: "paolo", IsAdmin: true}},
		store.CreateCollection{Collection: store.Collection{Path: "/production"}},
		store.CreateCollection{Collection: store.Collection{Path: "/production/mobile"}},
		v.role("logs-reader", roles.Permission{Operation: "container.logs"}, roles.Permission{Operation: "container.create", Options: []string{"privileged"}}),
		v.grant("team:acme/mobile", "restrictedcontrol", "collection:/production", "subtree"),
		v.grant("org:acme", "logs-reader", "collection:/production/mobile", "exact"),
		store.CreateRepository{Repository: store.Repository{Namespace: "acme", Name: "app", Visibility: "public"}},
		v.grant("team:acme/mobile", "repo-read-write", "repository:acme/app", "subtree"),
		store.CreateServiceAccount{Account: store.ServiceAccount{Name: "proxy", Active: true}},
	)
	state, _, err := v.e.Data(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ast.JSON(state)
	if err != nil {
		t.Fatal(err)
	}
	// The catalog is the roles package's business and has its own tests.
	delete(raw.(map[string]any), tOps)
	got, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "compiled-state.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("compiled state differs from %s; if the change is intended, run go test ./authz -run Golden -update and review the diff\n%s", path, got)
	}
}
