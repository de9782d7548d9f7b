package reconcile

import (
	"slices"
	"strings"
	"testing"

	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

func testDoc() *manifest.Document {
	return &manifest.Document{APIVersion: manifest.APIVersion, Kind: manifest.Kind,
		Owns:            &manifest.Ownership{Orgs: []string{"acme"}, Collections: []string{"/prod", "/dev"}, Roles: true, Users: true},
		Users:           []manifest.User{{Name: "maria"}, {Name: "paolo", FullName: "Paolo R"}, {Name: "ana"}},
		ServiceAccounts: []manifest.ServiceAccount{{Name: "ci", Capabilities: []string{"authorize"}}},
		Orgs: []manifest.Org{{Name: "acme", Members: []manifest.Member{{User: "paolo", Admin: true}}, Teams: []manifest.Team{
			{Name: "web", Members: []manifest.Member{{User: "maria"}, {User: "paolo", Admin: true}}},
			{Name: "ops", KubernetesGroups: []string{"ops"}, Members: []manifest.Member{{User: "ana"}}},
		}}},
		Collections: []manifest.Collection{{Path: "/prod"}, {Path: "/prod/api"}, {Path: "/dev"}},
		Roles:       []manifest.Role{{ID: "deployer", Name: "Deployer", Permissions: []manifest.Permission{{Operation: "container.create"}, {Operation: "container.view"}}}},
		Grants: []manifest.Grant{
			{Subject: "team:acme/web", Role: "viewonly", Object: "collection:/prod"},
			{Subject: "team:acme/ops", Role: "deployer", Object: "collection:/prod/api"},
			{Subject: "user:maria", Role: "deployer", Object: "collection:/prod/api", Scope: "exact"},
			{Subject: "user:maria", Role: "restrictedcontrol", Object: "collection:/dev"},
			{Subject: "team:acme/web", Role: "repo-read-only", Object: "repository:acme/app"},
		},
		Repositories: []manifest.Repository{{Namespace: "acme", Name: "app", Description: "the app"}},
	}
}

func TestPruneRemovesOnlyWhatTheManifestOwns(t *testing.T) {
	st := openStore(t)
	apply(t, st, testDoc(), false)
	// Outside the manifest: an org of its own, a collection, a grant.
	if _, err := st.Apply(t.Context(), store.Batch{Commands: []store.Command{
		store.CreateOrg{Org: store.Org{Name: "other"}},
		store.CreateCollection{Collection: store.Collection{Path: "/lab"}},
		store.CreateGrant{Grant: store.Grant{ID: "g-lab", Subject: subjects.OfUser("maria"), Role: "viewonly",
			Object: subjects.CollectionOf("/lab"), Scope: store.ScopeSubtree}},
	}}); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Read().GrantsOfRole("deployer", "", 0)
	next := testDoc()
	next.Users = next.Users[:2]                 // ana goes
	next.Orgs[0].Teams = next.Orgs[0].Teams[:1] // ops goes
	next.Orgs[0].Members = nil                  // paolo stays (in web) but is no org admin
	next.Collections = next.Collections[:2]     // /dev goes
	next.Grants = []manifest.Grant{next.Grants[0], next.Grants[2], next.Grants[4]}
	next.Roles[0].Permissions = append(next.Roles[0].Permissions, manifest.Permission{Operation: "container.start"})

	dry, err := Diff(st.Read(), next, Options{Now: now, NewID: ids()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dry.Changes {
		if c.Action == "delete" {
			t.Fatalf("without --prune the plan deletes: %v", c)
		}
	}
	plan := apply(t, st, next, true)
	var deleted []string
	for _, c := range plan.Changes {
		if c.Action == "delete" {
			deleted = append(deleted, c.Kind+" "+c.Name)
		}
	}
	slices.Sort(deleted)
	want := []string{"collection /dev", "grant team:acme/ops deployer collection:/prod/api subtree",
		"grant user:maria restrictedcontrol collection:/dev subtree", "org admin acme/paolo", "org member acme/ana", "team acme/ops", "user ana"}
	if !slices.Equal(deleted, want) {
		t.Fatalf("pruned\n%s\nwant\n%s", strings.Join(deleted, "\n"), strings.Join(want, "\n"))
	}
	r := st.Read()
	if o, _ := r.Org("other"); o == nil {
		t.Fatal("an org the manifest does not own was pruned")
	}
	if g, _ := r.Grant("g-lab"); g == nil {
		t.Fatal("a grant on a collection the manifest does not own was pruned")
	}
	if m, _ := r.OrgMember("acme", "paolo"); m == nil || m.IsAdmin {
		t.Fatalf("paolo in acme: %+v, want a member, no admin", m)
	}
	role, _ := r.Role("deployer")
	after, _ := r.GrantsOfRole("deployer", "", 0)
	if role == nil || len(role.Permissions) != 3 || len(after) != 1 || len(before) != 2 || !slices.ContainsFunc(before, func(g *store.Grant) bool { return g.ID == after[0].ID }) {
		t.Fatalf("deployer %+v; its grants %d before, %d after: the changed role keeps the grants it still has, by ID", role, len(before), len(after))
	}
	if again := apply(t, st, next, true); len(again.Changes) != 0 {
		t.Fatalf("a second apply plans %v", again.Changes)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	d := testDoc()
	d.APIVersion = "v0"
	d.Users = append(d.Users, manifest.User{Name: "maria"}, manifest.User{Name: "Bad Name"})
	d.Grants = append(d.Grants, manifest.Grant{Subject: "nobody", Role: "viewonly", Object: "collection:/prod", Scope: "deep"})
	d.Collections = append(d.Collections, manifest.Collection{Path: "/Shared"})
	d.Roles = append(d.Roles, manifest.Role{ID: "r", Permissions: []manifest.Permission{{Operation: "container.fly"}}})
	err := d.Validate()
	for _, want := range []string{"apiVersion", "user maria is listed twice", "Bad Name", "nobody", "scope", "/Shared is built in", "container.fly"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation %v does not mention %q", err, want)
		}
	}
}
