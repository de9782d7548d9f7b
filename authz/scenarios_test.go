package authz

import (
	"context"
	"testing"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/internal/scenario"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// TestScenariosInProcess runs every acceptance scenario against a real
// store and engine, in process. (The end-to-end runner drives the same
// files through the REST API of a real grantd.)
func TestScenariosInProcess(t *testing.T) {
	all, err := scenario.All("../testdata/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	checks := 0
	for _, sc := range all {
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
				var perms []roles.Permission
				for _, p := range r.Permissions {
					perms = append(perms, roles.Permission{Operation: p.Operation, Options: p.Options})
				}
				cmds = append(cmds, v.role(r.Name, perms...))
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
				// Read by shape only, so that hostile names reach the engine
				// (which must deny them) rather than stop at the parser.
				subject, _ := subjects.ParseStored(c.Subject)
				req := Request{Subject: subject, Operation: c.Operation, Collection: c.Collection,
					Labels: c.Labels, HasLabels: c.Labels != nil, Repository: c.Repository, Options: c.Options, Secrets: c.Secrets}
				d := v.e.Decide(context.Background(), req)
				if d.Allowed != c.Allowed {
					t.Errorf("check %d %+v: allowed=%v (%s), want %v", i, c, d.Allowed, d.Reason, c.Allowed)
				}
				checks++
			}
		})
	}
	if checks == 0 {
		t.Fatal("no checks ran")
	}
}
