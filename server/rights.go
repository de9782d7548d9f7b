package server

import (
	"context"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/rights"
)

// Who may change what is package rights; these are its questions asked
// with the caller of the request and the current state. Methods that org
// or team admins may call are classified accessAuthenticated, and their
// handlers ask before touching the store. TestRightsMatrix holds every
// rule to account through the API; rights' own tests hold the table.

// asker asks package rights with the request's caller and the current state.
type asker struct {
	state  *store.Store
	engine *authz.Engine
}

func (d *asker) rights() rights.Checker { return rights.Checker{Decider: d.engine} }

// requireOrgAdmin refuses callers that do not administer org.
func (d *asker) requireOrgAdmin(ctx context.Context, org string) error {
	return rights.RequireOrgAdmin(d.state.Read(), principalFrom(ctx), org)
}

// requireTeamAdmin refuses callers that administer neither the team nor its org.
func (d *asker) requireTeamAdmin(ctx context.Context, org, team string) error {
	return rights.RequireTeamAdmin(d.state.Read(), principalFrom(ctx), org, team)
}

// requireRepositoryRight allows namespace managers, and callers the
// decision engine grants operation on the repository.
func (d *asker) requireRepositoryRight(ctx context.Context, namespace, name, operation string) error {
	return d.rights().RepositoryRight(ctx, d.state.Read(), principalFrom(ctx), namespace, name, operation)
}

// requireGrantRight checks who may create or delete a grant on object.
func (d *asker) requireGrantRight(ctx context.Context, object subjects.Object, role string) error {
	return d.rights().GrantRight(ctx, d.state.Read(), principalFrom(ctx), object, role)
}

// credentialOwner resolves the owner a token or bundle request names ("":
// the caller) with rights.CredentialOwner.
func credentialOwner(ctx context.Context, owner string) (subjects.Subject, error) {
	o, err := ownerField(owner)
	if err != nil {
		return subjects.Subject{}, err
	}
	return rights.CredentialOwner(principalFrom(ctx), o)
}

// newCredentialOwner is credentialOwner for a credential to create.
func newCredentialOwner(ctx context.Context, owner string) (subjects.Subject, error) {
	o, err := ownerField(owner)
	if err != nil {
		return subjects.Subject{}, err
	}
	return rights.NewCredentialOwner(principalFrom(ctx), o)
}

func ownerField(owner string) (subjects.Subject, error) {
	o, err := subjects.ParseSubject(owner)
	switch {
	case owner == "":
		return subjects.Subject{}, nil
	case err != nil || !o.IsAccount():
		return subjects.Subject{}, invalid("owner must be user:<name> or serviceaccount:<name>")
	}
	return o, nil
}
