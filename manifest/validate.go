package manifest

import (
	"errors"
	"fmt"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// MaxItems bounds the entries of one manifest (users, grants, members
// and the rest together).
const MaxItems = 2_000_000

// Validate reports every problem a manifest has on its own (what the
// state must also agree with, such as a grant's team existing, is checked
// when it is applied).
func (d *Document) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d.APIVersion != APIVersion || d.Kind != Kind {
		bad("apiVersion must be %s and kind %s (got %q, %q)", APIVersion, Kind, d.APIVersion, d.Kind)
	}
	items := 0
	seen := map[string]bool{}
	once := func(what, key string) {
		items++
		if seen[what+"\x00"+key] {
			bad("%s %s is listed twice", what, key)
		}
		seen[what+"\x00"+key] = true
	}
	if o := d.Owns; o != nil {
		for _, org := range o.Orgs {
			if err := subjects.ValidOrgName(org); err != nil {
				bad("owns.orgs: %w", err)
			}
		}
		for _, ns := range o.Namespaces {
			if ns != "*" && subjects.ValidNamespace(ns) != nil && subjects.ValidKubernetesNamespace(ns) != nil {
				bad("owns.namespaces: %q is not a namespace or *", ns)
			}
		}
		for _, c := range o.Collections {
			if p, err := collections.Parse(c); err != nil || p != c {
				bad("owns.collections: %q is not a collection path", c)
			}
		}
	}
	for _, u := range d.Users {
		once("user", u.Name)
		if err := subjects.ValidUsername(u.Name); err != nil {
			bad("users: %w", err)
		}
		if len(u.FullName) > 256 {
			bad("user %s: fullName is longer than 256 characters", u.Name)
		}
	}
	for _, a := range d.ServiceAccounts {
		once("service account", a.Name)
		if err := subjects.ValidUsername(a.Name); err != nil {
			bad("serviceAccounts: %w", err)
		}
		if len(a.Description) > 1024 || len(a.Capabilities) > 16 {
			bad("service account %s: description over 1024 characters or over 16 capabilities", a.Name)
		}
	}
	for _, o := range d.Orgs {
		once("org", o.Name)
		if err := subjects.ValidOrgName(o.Name); err != nil {
			bad("orgs: %w", err)
		}
		for _, m := range o.Members {
			once("org member", o.Name+"/"+m.User)
			if err := subjects.ValidUsername(m.User); err != nil {
				bad("org %s members: %w", o.Name, err)
			}
		}
		for _, t := range o.Teams {
			once("team", o.Name+"/"+t.Name)
			if err := subjects.ValidOrgName(t.Name); err != nil {
				bad("org %s teams: %w", o.Name, err)
			}
			if len(t.Description) > 1024 {
				bad("team %s/%s: description over 1024 characters", o.Name, t.Name)
			}
			for _, m := range t.Members {
				once("team member", o.Name+"/"+t.Name+"/"+m.User)
				if err := subjects.ValidUsername(m.User); err != nil {
					bad("team %s/%s members: %w", o.Name, t.Name, err)
				}
			}
		}
	}
	for _, c := range d.Collections {
		once("collection", c.Path)
		if p, err := collections.Parse(c.Path); err != nil || p != c.Path || p == collections.Root {
			bad("collections: %q is not a collection path", c.Path)
		} else if collections.IsBuiltin(p) {
			bad("collections: %s is built in", p)
		}
	}
	for _, r := range d.Roles {
		once("role", r.ID)
		if _, err := roles.ValidateCustom(r.ID, PermissionsOf(r)); err != nil {
			bad("role %s: %w", r.ID, err)
		}
		if len(r.Name) > 256 {
			bad("role %s: name over 256 characters", r.ID)
		}
	}
	for _, g := range d.Grants {
		once("grant", GrantKey(g))
		if _, err := subjects.ParseSubject(g.Subject); err != nil {
			bad("grant %s: %w", GrantKey(g), err)
		}
		if _, err := subjects.ParseObject(g.Object); err != nil {
			bad("grant %s: %w", GrantKey(g), err)
		}
		if err := roles.ValidID(g.Role); err != nil {
			bad("grant %s: %w", GrantKey(g), err)
		}
		if g.Scope != "" && g.Scope != "subtree" && g.Scope != "exact" {
			bad("grant %s: scope is subtree or exact", GrantKey(g))
		}
	}
	for _, r := range d.Repositories {
		once("repository", r.Namespace+"/"+r.Name)
		if err := subjects.ValidRepository(r.Namespace + "/" + r.Name); err != nil {
			bad("repositories: %w", err)
		}
		if r.Visibility != "" && r.Visibility != "private" && r.Visibility != "public" {
			bad("repository %s/%s: visibility is private or public", r.Namespace, r.Name)
		}
		if len(r.Description) > 4096 {
			bad("repository %s/%s: description over 4096 characters", r.Namespace, r.Name)
		}
	}
	if items > MaxItems {
		bad("the manifest lists %d entries; at most %d", items, MaxItems)
	}
	if len(errs) > 20 {
		errs = append(errs[:20], fmt.Errorf("and %d more problems", len(errs)-20))
	}
	return errors.Join(errs...)
}

func PermissionsOf(r Role) []roles.Permission {
	out := make([]roles.Permission, len(r.Permissions))
	for i, p := range r.Permissions {
		out[i] = roles.Permission{Operation: p.Operation, Options: p.Options}
	}
	return out
}

// GrantKey is how a grant is known: subject, role, object and scope.
func GrantKey(g Grant) string {
	scope := g.Scope
	if scope == "" {
		scope = "subtree"
	}
	return g.Subject + " " + g.Role + " " + g.Object + " " + scope
}
