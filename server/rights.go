package server

import (
	"context"

	"github.com/grantd/grantd/rights"
)

// Who may change what is package rights; these are its questions asked
// with the caller of the request and the current state. Methods that org
// or team admins may call are classified accessAuthenticated, and their
// handlers ask before touching the store. TestRightsMatrix holds every
// rule to account through the API; rights' own tests hold the table.

func (d *deps) rights() rights.Checker { return rights.Checker{Decider: d.engine} }

// requireOrgAdmin refuses callers that do not administer org.
func (d *deps) requireOrgAdmin(ctx context.Context, org string) error {
	return rights.RequireOrgAdmin(d.store.Read(), principalFrom(ctx), org)
}

// requireTeamAdmin refuses callers that administer neither the team nor its org.
func (d *deps) requireTeamAdmin(ctx context.Context, org, team string) error {
	return rights.RequireTeamAdmin(d.store.Read(), principalFrom(ctx), org, team)
}

// requireRepositoryRight allows namespace managers, and callers the
// decision engine grants operation on the repository.
func (d *deps) requireRepositoryRight(ctx context.Context, namespace, name, operation string) error {
	return d.rights().RepositoryRight(ctx, d.store.Read(), principalFrom(ctx), namespace, name, operation)
}

// requireGrantRight checks who may create or delete a grant on object.
func (d *deps) requireGrantRight(ctx context.Context, object string) error {
	return d.rights().GrantRight(ctx, d.store.Read(), principalFrom(ctx), object)
}
