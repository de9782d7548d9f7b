package authz

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

// scenarioFile is the acceptance scenario format of testdata/scenarios.
type scenarioFile struct {
	Scenarios []struct {
		Name  string `json:"name"`
		Setup struct {
			Users []struct {
				Name    string `json:"name"`
				IsAdmin bool   `json:"isAdmin"`
			} `json:"users"`
			Orgs []struct {
				Name    string   `json:"name"`
				Members []string `json:"members"`
				Admins  []string `json:"admins"`
				Teams   []struct {
					Name    string   `json:"name"`
					Members []string `json:"members"`
					Admins  []string `json:"admins"`
				} `json:"teams"`
			} `json:"orgs"`
			Collections []string `json:"collections"`
			Roles       []struct {
				Name        string             `json:"name"`
				Permissions []roles.Permission `json:"permissions"`
			} `json:"roles"`
			Repositories []struct {
				Namespace  string `json:"namespace"`
				Name       string `json:"name"`
				Visibility string `json:"visibility"`
			} `json:"repositories"`
			Grants []struct {
				Subject string `json:"subject"`
				Role    string `json:"role"`
				Object  string `json:"object"`
				Scope   string `json:"scope"`
			} `json:"grants"`
		} `json:"setup"`
		Checks []struct {
			Subject    string            `json:"subject"`
			Operation  string            `json:"operation"`
			Collection string            `json:"collection"`
			Labels     map[string]string `json:"labels"`
			Repository string            `json:"repository"`
			Options    []string          `json:"options"`
			Secrets    []string          `json:"secrets"`
			Allowed    bool              `json:"allowed"`
		} `json:"checks"`
	} `json:"scenarios"`
}

// TestScenariosInProcess runs every acceptance scenario against a real
// store and engine, in process. (The end-to-end runner drives the same
// files through the REST API of a real grantd.)
func TestScenariosInProcess(t *testing.T) {
	files, _ := filepath.Glob("../testdata/scenarios/*.yaml")
	if dir := os.Getenv("GRANTD_SCENARIOS_DIR"); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		files = append(files, more...)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	checks := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sf scenarioFile
		if err := yaml.UnmarshalStrict(raw, &sf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, sc := range sf.Scenarios {
			t.Run(sc.Name, func(t *testing.T) {
				v := newEnv(t)
				s := sc.Setup
				var cmds []store.Command
				for _, u := range s.Users {
					c := v.user(u.Name).(store.CreateUser)
					c.User.IsAdmin = u.IsAdmin
					cmds = append(cmds, c)
				}
				for _, o := range s.Orgs {
					cmds = append(cmds, store.CreateOrg{Org: store.Org{Name: o.Name}})
					for _, m := range o.Members {
						cmds = append(cmds, store.SetOrgMember{Member: store.OrgMember{Org: o.Name, User: m}})
					}
					for _, m := range o.Admins {
						cmds = append(cmds, store.SetOrgMember{Member: store.OrgMember{Org: o.Name, User: m, IsAdmin: true}})
					}
					for _, tm := range o.Teams {
						cmds = append(cmds, store.CreateTeam{Team: store.Team{Org: o.Name, Name: tm.Name}})
						for _, m := range tm.Members {
							cmds = append(cmds, store.SetTeamMember{Member: store.TeamMember{Org: o.Name, Team: tm.Name, User: m}})
						}
						for _, m := range tm.Admins {
							cmds = append(cmds, store.SetTeamMember{Member: store.TeamMember{Org: o.Name, Team: tm.Name, User: m, IsAdmin: true}})
						}
					}
				}
				for _, p := range s.Collections {
					if c, _ := v.st.Read().Collection(p); c == nil {
						cmds = append(cmds, store.CreateCollection{Collection: store.Collection{Path: p, Parent: collections.Parent(p)}})
					}
				}
				for _, r := range s.Roles {
					cmds = append(cmds, v.role(r.Name, r.Permissions...))
				}
				for _, r := range s.Repositories {
					cmds = append(cmds, store.CreateRepository{Repository: store.Repository{Namespace: r.Namespace, Name: r.Name, Visibility: r.Visibility}})
				}
				for _, g := range s.Grants {
					cmds = append(cmds, v.grant(g.Subject, g.Role, g.Object, g.Scope))
				}
				if err := v.apply(cmds...); err != nil {
					t.Fatalf("setup: %v", err)
				}
				for i, c := range sc.Checks {
					req := Request{Subject: c.Subject, Operation: c.Operation, Collection: c.Collection,
						Labels: c.Labels, HasLabels: c.Labels != nil, Repository: c.Repository, Options: c.Options, Secrets: c.Secrets}
					d := v.e.Decide(context.Background(), req)
					if d.Allowed != c.Allowed {
						t.Errorf("check %d %+v: allowed=%v (%s), want %v", i, c, d.Allowed, d.Reason, c.Allowed)
					}
					checks++
				}
			})
		}
	}
	if checks == 0 {
		t.Fatal("no checks ran")
	}
}
