package reconcile

import (
	"slices"
	"strings"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// The prune steps remove what the manifest owns (Ownership) and does not
// list, dependents first: grants, repositories, memberships, teams, orgs,
// collections (deepest first), roles, service accounts, users.

func (p *planner) ownsOrg(name string) bool { return slices.Contains(p.d.Owns.Orgs, name) }

func (p *planner) ownsCollection(path string) bool {
	for _, base := range p.d.Owns.Collections {
		if collections.IsWithin(path, base) {
			return true
		}
	}
	return false
}

// ownsGrant: a grant on an owned collection, on an owned org's or owned
// namespace or its repositories, or to an owned org or its teams.
func (p *planner) ownsGrant(g *store.Grant) bool {
	switch o := g.Object; o.Kind {
	case subjects.CollectionObject:
		if p.ownsCollection(o.Path) {
			return true
		}
	case subjects.RepositoryObject, subjects.NamespaceObject:
		ns, _, _ := strings.Cut(o.Path, "/")
		if p.ownsOrg(ns) || slices.Contains(p.d.Owns.Namespaces, ns) || slices.Contains(p.d.Owns.Namespaces, "*") {
			return true
		}
	}
	switch s := g.Subject; s.Kind {
	case subjects.Team, subjects.Org:
		return p.ownsOrg(s.Name)
	}
	return false
}

func (p *planner) pruneGrants() error {
	have, err := p.currentGrants()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, g := range p.d.Grants {
		want[manifest.GrantKey(g)] = true
	}
	for _, key := range sortedKeys(have) {
		if g := have[key]; !want[key] && p.ownsGrant(g) {
			p.add(store.DeleteGrant{ID: g.ID}, "delete", "grant", key, "")
		}
	}
	return nil
}

func (p *planner) pruneRepositories() error {
	want := map[string]bool{}
	for _, r := range p.d.Repositories {
		want[r.Namespace+"/"+r.Name] = true
	}
	for _, org := range p.d.Owns.Orgs {
		repos, err := p.r.Repositories(org)
		if err != nil {
			return err
		}
		for _, r := range repos {
			if name := r.Namespace + "/" + r.Name; !want[name] {
				p.add(store.DeleteRepository{Namespace: r.Namespace, Name: r.Name}, "delete", "repository", name, "")
			}
		}
	}
	return nil
}

// pruneMembers removes, in owned orgs the manifest keeps, the team
// members it does not list (but from synced teams), and the org members
// that are neither listed nor in a listed team nor in a synced team.
func (p *planner) pruneMembers() error {
	for _, want := range p.d.Orgs {
		st := p.orgStates[want.Name]
		if !p.ownsOrg(want.Name) || st == nil {
			continue
		}
		keep := map[string]bool{}
		for _, m := range want.Members {
			keep[m.User] = true
		}
		declared := map[string]manifest.Team{}
		for _, t := range want.Teams {
			declared[t.Name] = t
		}
		for _, name := range sortedKeys(st.teams) {
			ts := st.teams[name]
			t, listed := declared[name]
			if ts.synced {
				for u := range ts.members {
					keep[u] = true
				}
				continue
			}
			if !listed {
				continue // the team goes, with its members
			}
			wantMembers := map[string]bool{}
			for _, m := range t.Members {
				wantMembers[m.User] = true
				keep[m.User] = true
			}
			for _, u := range sortedKeys(ts.members) {
				if !wantMembers[u] {
					p.add(store.RemoveTeamMember{Org: want.Name, Team: name, User: u}, "delete", "team member", want.Name+"/"+name+"/"+u, "")
				}
			}
		}
		for _, t := range want.Teams {
			for _, m := range t.Members {
				keep[m.User] = true
			}
		}
		admins := map[string]bool{}
		for _, m := range want.Members {
			admins[m.User] = m.Admin
		}
		for _, u := range sortedKeys(st.members) {
			switch {
			case st.ldapAdmins[u]:
			case !keep[u]:
				p.add(store.RemoveOrgMember{Org: want.Name, User: u}, "delete", "org member", want.Name+"/"+u, "")
			case st.members[u] && !admins[u]:
				// Kept through a team, but no longer an org admin.
				p.add(store.SetOrgMember{Member: store.OrgMember{Org: want.Name, User: u}}, "delete", "org admin", want.Name+"/"+u, "")
			}
		}
	}
	return nil
}

func (p *planner) pruneTeams() error {
	for _, want := range p.d.Orgs {
		st := p.orgStates[want.Name]
		if !p.ownsOrg(want.Name) || st == nil {
			continue
		}
		for _, name := range sortedKeys(st.teams) {
			if !slices.ContainsFunc(want.Teams, func(t manifest.Team) bool { return t.Name == name }) {
				p.add(store.DeleteTeam{Org: want.Name, Name: name}, "delete", "team", want.Name+"/"+name, "")
			}
		}
	}
	return nil
}

func (p *planner) pruneOrgs() error {
	for _, org := range p.d.Owns.Orgs {
		if slices.ContainsFunc(p.d.Orgs, func(o manifest.Org) bool { return o.Name == org }) {
			continue
		}
		if have, err := p.r.Org(org); err != nil {
			return err
		} else if have != nil {
			p.add(store.DeleteOrg{Name: org}, "delete", "org", org, "")
		}
	}
	return nil
}

func (p *planner) pruneCollections() error {
	want := map[string]bool{}
	for _, c := range p.d.Collections {
		want[c.Path] = true
	}
	cols, err := p.r.Collections("", 0)
	if err != nil {
		return err
	}
	var gone []string
	for _, c := range cols {
		if !c.Builtin && !want[c.Path] && p.ownsCollection(c.Path) {
			gone = append(gone, c.Path)
		}
	}
	// Deepest first: a collection goes after its children.
	slices.SortFunc(gone, func(a, b string) int { return parentsFirst(b, a) })
	for _, path := range gone {
		p.add(store.DeleteCollection{Path: path}, "delete", "collection", path, "")
	}
	return nil
}

func (p *planner) pruneRoles() error {
	if !p.d.Owns.Roles {
		return nil
	}
	rs, err := p.r.Roles()
	if err != nil {
		return err
	}
	for _, r := range rs {
		if !r.Builtin && !slices.ContainsFunc(p.d.Roles, func(w manifest.Role) bool { return w.ID == r.ID }) {
			p.add(store.DeleteRole{ID: r.ID}, "delete", "role", r.ID, "")
		}
	}
	return nil
}

func (p *planner) pruneServiceAccounts() error {
	if !p.d.Owns.ServiceAccounts {
		return nil
	}
	accounts, err := p.r.ServiceAccounts("", 0)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if !slices.ContainsFunc(p.d.ServiceAccounts, func(w manifest.ServiceAccount) bool { return w.Name == a.Name }) {
			p.add(store.DeleteServiceAccount{Name: a.Name}, "delete", "service account", a.Name, "")
		}
	}
	return nil
}

func (p *planner) pruneUsers() error {
	if !p.d.Owns.Users {
		return nil
	}
	users, err := p.r.Users("", "", 0)
	if err != nil {
		return err
	}
	for _, u := range users {
		if managedUser(u) && !slices.ContainsFunc(p.d.Users, func(w manifest.User) bool { return w.Name == u.Name }) {
			p.add(store.DeleteUser{Name: u.Name}, "delete", "user", u.Name, "")
		}
	}
	return nil
}
