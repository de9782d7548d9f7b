package server

import (
	"context"
	"strings"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/store"
)

// Who may change what (api.md): system admins everything; org admins their
// org's teams, members and the repositories (and repository grants) of the
// org namespace; team admins their team's members; every user their own
// account's password, sessions and tokens. Reads follow writes: whoever
// manages an object may read it. Everything else is refused.
//
// Methods that org or team admins may call are classified
// accessAuthenticated, and their handlers call the checks below before
// touching the store. TestRightsMatrix holds every rule to account.

// isOrgAdmin reports whether p administers org (system admins do all orgs).
func isOrgAdmin(r *store.ReadTxn, p *Principal, org string) (bool, error) {
	if p.IsAdmin {
		return true, nil
	}
	if p.Kind != "user" {
		return false, nil
	}
	m, err := r.OrgMember(org, p.Name)
	return m != nil && m.IsAdmin, err
}

// isTeamAdmin reports whether p administers the team, directly or as an
// admin of its org.
func isTeamAdmin(r *store.ReadTxn, p *Principal, org, team string) (bool, error) {
	if ok, err := isOrgAdmin(r, p, org); ok || err != nil {
		return ok, err
	}
	if p.Kind != "user" {
		return false, nil
	}
	m, err := r.TeamMember(org, team, p.Name)
	return m != nil && m.IsAdmin, err
}

// managesNamespace reports whether p owns a registry namespace: its own
// user namespace, or an org namespace it administers.
func managesNamespace(r *store.ReadTxn, p *Principal, namespace string) (bool, error) {
	if p.IsAdmin || p.Kind == "user" && p.Name == namespace {
		return true, nil
	}
	return isOrgAdmin(r, p, namespace)
}

// requireOrgAdmin refuses callers that do not administer org.
func (d *deps) requireOrgAdmin(ctx context.Context, org string) error {
	ok, err := isOrgAdmin(d.store.Read(), principalFrom(ctx), org)
	if err != nil {
		return err
	}
	if !ok {
		return denied("only system admins and admins of org %q may do this", org)
	}
	return nil
}

// requireTeamAdmin refuses callers that administer neither the team nor its org.
func (d *deps) requireTeamAdmin(ctx context.Context, org, team string) error {
	ok, err := isTeamAdmin(d.store.Read(), principalFrom(ctx), org, team)
	if err != nil {
		return err
	}
	if !ok {
		return denied("only system admins and admins of org %q or team %s/%s may do this", org, org, team)
	}
	return nil
}

// requireRepositoryRight allows namespace managers, and callers to whom the
// decision engine grants operation on the repository (for example
// repo-admin holders with repository.manage_access).
func (d *deps) requireRepositoryRight(ctx context.Context, namespace, name, operation string) error {
	p := principalFrom(ctx)
	ok, err := managesNamespace(d.store.Read(), p, namespace)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if name != "" {
		dec := d.engine.Decide(ctx, authz.Request{Subject: p.Subject(), Operation: operation,
			Repository: namespace + "/" + name})
		if dec.Allowed {
			return nil
		}
	}
	return denied("%s on %s/%s is not granted to the caller", operation, namespace, name)
}

// requireGrantRight checks who may create or delete a grant on an object:
// grants on collections are for system admins; grants on repositories and
// namespaces for the namespace's managers (and, on one repository, for
// holders of repository.manage_access there).
func (d *deps) requireGrantRight(ctx context.Context, object string) error {
	p := principalFrom(ctx)
	if p.IsAdmin {
		return nil
	}
	kind, rest, _ := strings.Cut(object, ":")
	switch kind {
	case "repository":
		ns, name, _ := strings.Cut(rest, "/")
		return d.requireRepositoryRight(ctx, ns, name, "repository.manage_access")
	case "namespace":
		return d.requireRepositoryRight(ctx, rest, "", "repository.manage_access")
	}
	return denied("only system admins manage grants on collections")
}
