package reconcile

import (
	"cmp"
	"slices"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/manifest"
	"github.com/grantd/grantd/store"
)

// Export is the state of r as a manifest that owns all of it: applied to
// an empty server it reproduces the state; applied with --prune to
// another, it makes that one the same. Left out: the recovery admin,
// directory users and the memberships a directory sync manages, built-in
// collections and roles, the grants grantd makes itself (the shared
// grant, users' private ones), passwords, tokens and keys.
func Export(r *store.ReadTxn) (*manifest.Document, error) {
	d := &manifest.Document{APIVersion: manifest.APIVersion, Kind: manifest.Kind,
		Owns: &manifest.Ownership{Collections: []string{collections.Root}, Namespaces: []string{"*"}, Roles: true, Users: true, ServiceAccounts: true}}
	steps := []func(*store.ReadTxn, *manifest.Document) error{exportSettings, exportUsers, exportServiceAccounts, exportOrgs,
		exportCollections, exportRoles, exportGrants, exportRepositories}
	for _, step := range steps {
		if err := step(r, d); err != nil {
			return nil, err
		}
	}
	for _, o := range d.Orgs {
		d.Owns.Orgs = append(d.Owns.Orgs, o.Name)
	}
	return d, nil
}

func exportSettings(r *store.ReadTxn, d *manifest.Document) error {
	s, err := r.Settings()
	if err != nil || s == nil {
		return err
	}
	d.Settings = &manifest.Settings{DefaultPrivateRole: s.DefaultPrivateRole, NodeIsolation: s.NodeIsolation, AuditRetention: s.AuditRetention,
		Sessions: manifest.Sessions{LifetimeMinutes: s.Sessions.LifetimeMinutes, RenewalThresholdMinutes: s.Sessions.RenewalThresholdMinutes,
			PerUserLimit: s.Sessions.PerUserLimit}}
	return nil
}

func exportUsers(r *store.ReadTxn, d *manifest.Document) error {
	users, err := r.Users("", "", 0)
	if err != nil {
		return err
	}
	for _, u := range users {
		if managedUser(u) {
			d.Users = append(d.Users, manifest.User{Name: u.Name, FullName: u.FullName, Admin: u.IsAdmin, Inactive: !u.Active})
		}
	}
	return nil
}

// managedUser: a manifest manages local users other than the recovery
// admin.
func managedUser(u *store.User) bool { return u.Source == store.SourceLocal && !u.Recovery }

func exportServiceAccounts(r *store.ReadTxn, d *manifest.Document) error {
	accounts, err := r.ServiceAccounts("", 0)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		d.ServiceAccounts = append(d.ServiceAccounts, manifest.ServiceAccount{Name: a.Name, Description: a.Description,
			Capabilities: slices.Clone(a.Capabilities), Inactive: !a.Active})
	}
	return nil
}

func exportOrgs(r *store.ReadTxn, d *manifest.Document) error {
	orgs, err := r.Orgs("", 0)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		org, err := currentOrg(r, o)
		if err != nil {
			return err
		}
		d.Orgs = append(d.Orgs, org.asDeclared())
	}
	return nil
}

func exportCollections(r *store.ReadTxn, d *manifest.Document) error {
	cols, err := r.Collections("", 0)
	if err != nil {
		return err
	}
	for _, c := range cols {
		if !c.Builtin {
			d.Collections = append(d.Collections, manifest.Collection{Path: c.Path})
		}
	}
	return nil
}

func exportRoles(r *store.ReadTxn, d *manifest.Document) error {
	rs, err := r.Roles()
	if err != nil {
		return err
	}
	for _, role := range rs {
		if !role.Builtin {
			d.Roles = append(d.Roles, roleOf(role))
		}
	}
	slices.SortFunc(d.Roles, func(a, b manifest.Role) int { return cmp.Compare(a.ID, b.ID) })
	return nil
}

func exportGrants(r *store.ReadTxn, d *manifest.Document) error {
	grants, err := r.Grants("", 0)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if !madeByGrantd(g) {
			d.Grants = append(d.Grants, grantOf(g))
		}
	}
	slices.SortFunc(d.Grants, compareGrants)
	return nil
}

// madeByGrantd: the grants grantd makes itself (bootstrap's shared grant,
// each user's private one) come and go with what made them.
func madeByGrantd(g *store.Grant) bool { return g.CreatedBy == "system" }

func exportRepositories(r *store.ReadTxn, d *manifest.Document) error {
	repos, err := r.AllRepositories()
	if err != nil {
		return err
	}
	for _, repo := range repos {
		d.Repositories = append(d.Repositories, manifest.Repository{Namespace: repo.Namespace, Name: repo.Name,
			Visibility: repo.Visibility, Description: repo.Description})
	}
	slices.SortFunc(d.Repositories, func(a, b manifest.Repository) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return nil
}

func roleOf(r *store.Role) manifest.Role {
	out := manifest.Role{ID: r.ID, Name: r.DisplayName, Permissions: []manifest.Permission{}}
	for _, p := range r.Permissions {
		out.Permissions = append(out.Permissions, manifest.Permission{Operation: p.Operation, Options: slices.Clone(p.Options)})
	}
	return out
}

func grantOf(g *store.Grant) manifest.Grant {
	return manifest.Grant{Subject: g.Subject.String(), Role: g.Role, Object: g.Object.String(), Scope: g.Scope}
}

func compareGrants(a, b manifest.Grant) int {
	return cmp.Or(cmp.Compare(a.Object, b.Object), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Role, b.Role),
		cmp.Compare(a.Scope, b.Scope))
}
