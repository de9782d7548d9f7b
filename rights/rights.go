// Package rights says who may change what (api.md): system admins
// everything; org admins their org's teams, members, admin sync and the
// repositories (and repository grants) of the org namespace; team admins
// their team's members and team sync; every user their own account's
// password, sessions, tokens and bundles. Reads follow writes: whoever
// manages an object may read it. Everything else is refused with a Denial.
//
// Every handler of the API asks this package; nothing else decides these
// questions. It reads the state through State and asks repository
// operations of the decision engine through Decider. It imports authn
// (the principal), authz (the request type), store (row types) and
// subjects.
package rights

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// ErrDenied is what every refusal wraps; the transport answers it with
// 403 and the Denial's message.
var ErrDenied = errors.New("permission denied")

// Denial is a refusal saying who may do it instead.
type Denial struct{ msg string }

func (d *Denial) Error() string        { return d.msg }
func (d *Denial) Is(target error) bool { return target == ErrDenied }

func deny(format string, args ...any) error { return &Denial{msg: fmt.Sprintf(format, args...)} }

// orDeny returns err, or a Denial when err is nil.
func orDeny(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return deny(format, args...)
}

// State is what rights reads of the state (a store read view).
type State interface {
	OrgMember(org, user string) (*store.OrgMember, error)
	TeamMember(org, team, user string) (*store.TeamMember, error)
	Role(id string) (*store.Role, error)
}

var _ State = (*store.ReadTxn)(nil)

// Decider answers repository questions (the decision engine).
type Decider interface {
	Decide(ctx context.Context, r authz.Request) authz.Decision
}

// OrgAdmin reports whether p administers org (system admins do all orgs).
func OrgAdmin(s State, p *authn.Principal, org string) (bool, error) {
	if p.IsAdmin {
		return true, nil
	}
	if p.Kind != subjects.User {
		return false, nil
	}
	m, err := s.OrgMember(org, p.Name)
	return m != nil && m.IsAdmin, err
}

// TeamAdmin reports whether p administers the team, directly or as an
// admin of its org.
func TeamAdmin(s State, p *authn.Principal, org, team string) (bool, error) {
	if ok, err := OrgAdmin(s, p, org); ok || err != nil {
		return ok, err
	}
	if p.Kind != subjects.User {
		return false, nil
	}
	m, err := s.TeamMember(org, team, p.Name)
	return m != nil && m.IsAdmin, err
}

// ManagesNamespace reports whether p owns a registry namespace: its own
// user namespace, or an org namespace it administers.
func ManagesNamespace(s State, p *authn.Principal, namespace string) (bool, error) {
	if p.IsAdmin || p.Kind == subjects.User && p.Name == namespace {
		return true, nil
	}
	return OrgAdmin(s, p, namespace)
}

// RequireOrgAdmin refuses callers that do not administer org.
func RequireOrgAdmin(s State, p *authn.Principal, org string) error {
	ok, err := OrgAdmin(s, p, org)
	if err != nil || ok {
		return err
	}
	return deny("only system admins and admins of org %q may do this", org)
}

// RequireTeamAdmin refuses callers that administer neither the team nor its org.
func RequireTeamAdmin(s State, p *authn.Principal, org, team string) error {
	ok, err := TeamAdmin(s, p, org, team)
	if err != nil || ok {
		return err
	}
	return deny("only system admins and admins of org %q or team %s/%s may do this", org, org, team)
}

// MayAddTeamMember lets org admins add anyone to a team (which makes them
// an org member), and team admins add members of the org only: a team
// admin cannot bring new people into the org.
func MayAddTeamMember(s State, p *authn.Principal, org, team, user string) error {
	if ok, err := OrgAdmin(s, p, org); ok || err != nil {
		return err
	}
	if err := RequireTeamAdmin(s, p, org, team); err != nil {
		return err
	}
	m, err := s.OrgMember(org, user)
	if err != nil || m == nil {
		return orDeny(err, "team admins may add members of org %q only; ask an org admin to add %q", org, user)
	}
	return nil
}

// TeamSyncMayAddNonMembers is whether a team sync saved by p may bring
// directory users into the org: only an org admin's or a system admin's
// (docs/decisions.md), as a team admin cannot add non-members by hand.
func TeamSyncMayAddNonMembers(s State, p *authn.Principal, org string) (bool, error) {
	return OrgAdmin(s, p, org)
}

// SelfOrAdmin allows system admins, and users acting on their own account.
func SelfOrAdmin(p *authn.Principal, user string) error {
	if p == nil {
		return deny("authentication required")
	}
	if p.IsAdmin || p.Kind == subjects.User && p.Name == user {
		return nil
	}
	return deny("only system admins may act on other users")
}

// MayAsk allows system admins and service accounts holding the authorize
// capability to ask decisions about anyone, everyone else about themselves.
func MayAsk(p *authn.Principal, subject subjects.Subject) error {
	if p.IsAdmin || p.Kind == subjects.ServiceAccount && p.HasCapability(store.CapabilityAuthorize) || p.Subject() == subject {
		return nil
	}
	return deny("only system admins and services with the authorize capability may ask about other subjects")
}

// CredentialOwner resolves the owner a token or bundle request names: the
// caller by default; only system admins may name another account.
func CredentialOwner(p *authn.Principal, owner subjects.Subject) (subjects.Subject, error) {
	if owner.IsZero() || owner == p.Subject() {
		return p.Subject(), nil
	}
	if !p.IsAdmin {
		return subjects.Subject{}, deny("only system admins manage other accounts' tokens")
	}
	if !owner.IsAccount() {
		return subjects.Subject{}, &Invalid{msg: "owner must be user:<name> or serviceaccount:<name>"}
	}
	return owner, nil
}

// ErrInvalid is a malformed question (a 400, not a refusal); Invalid
// carries its message.
var ErrInvalid = errors.New("invalid")

// Invalid is a malformed question.
type Invalid struct{ msg string }

func (e *Invalid) Error() string        { return e.msg }
func (e *Invalid) Is(target error) bool { return target == ErrInvalid }

// NewCredentialOwner resolves the owner of a credential to create (an API
// token or a client bundle). Users make their own; a service account's
// credentials are made by system admins only, so that a leaked token
// cannot mint a longer-lived credential that survives its revocation.
func NewCredentialOwner(p *authn.Principal, owner subjects.Subject) (subjects.Subject, error) {
	owner, err := CredentialOwner(p, owner)
	if err != nil {
		return subjects.Subject{}, err
	}
	if !p.IsAdmin && p.Kind != subjects.User {
		return subjects.Subject{}, deny("only system admins create credentials for service accounts")
	}
	return owner, nil
}

// Checker answers the questions that need the decision engine too.
type Checker struct {
	Decider Decider
}

// RepositoryRight allows namespace managers, and callers to whom the
// decision engine grants operation on the repository (for example
// repo-admin holders with repository.manage_access).
func (c Checker) RepositoryRight(ctx context.Context, s State, p *authn.Principal, namespace, name, operation string) error {
	ok, err := ManagesNamespace(s, p, namespace)
	if err != nil || ok {
		return err
	}
	if name != "" {
		dec := c.Decider.Decide(ctx, authz.Request{Subject: p.Subject(), Operation: operation, Repository: namespace + "/" + name})
		if dec.Allowed {
			return nil
		}
	}
	return deny("%s on %s/%s is not granted to the caller", operation, namespace, name)
}

// GrantRight checks who may create or delete a grant of role on an
// object: grants on collections, and Kubernetes grants (a role of
// Kubernetes operations on a namespace), are for system admins; grants on
// repositories and registry namespaces for the namespace's managers (and,
// on one repository, for holders of repository.manage_access there).
// role is "" when the question is about the object alone (listing).
func (c Checker) GrantRight(ctx context.Context, s State, p *authn.Principal, o subjects.Object, role string) error {
	if p.IsAdmin {
		return nil
	}
	if o.Kind == subjects.NamespaceObject && role != "" {
		r, err := s.Role(role)
		if err != nil {
			return err
		}
		if r != nil && r.AppliesTo(roles.Kubernetes) {
			return deny("only system admins manage Kubernetes grants (role %s on %s)", role, o)
		}
	}
	switch {
	case o.Kind == subjects.RepositoryObject:
		ns, name, _ := strings.Cut(o.Path, "/")
		return c.RepositoryRight(ctx, s, p, ns, name, "repository.manage_access")
	case o.Kind == subjects.NamespaceObject:
		return c.RepositoryRight(ctx, s, p, o.Path, "", "repository.manage_access")
	}
	return deny("only system admins manage grants on collections")
}

// MayListGrants: system admins list any grants; anyone their own
// (subject = themselves), and the grants on objects they manage.
func (c Checker) MayListGrants(ctx context.Context, s State, p *authn.Principal, subject subjects.Subject, object subjects.Object) error {
	switch {
	case p.IsAdmin:
		return nil
	case !subject.IsZero():
		if subject == p.Subject() {
			return nil
		}
		return deny("only system admins may list other subjects' grants")
	case !object.IsZero():
		return c.GrantRight(ctx, s, p, object, "")
	}
	return deny("name subject=%s or an object you manage to list grants", p.Subject())
}

// MayReadGrant applies the listing rules to one grant.
func (c Checker) MayReadGrant(ctx context.Context, s State, p *authn.Principal, g *store.Grant) error {
	if p.IsAdmin || g.Subject == p.Subject() {
		return nil
	}
	return c.GrantRight(ctx, s, p, g.Object, g.Role)
}

// SeesEverything reports whether p reads and manages every object of a
// kind (system admins), rather than only its own or those it administers:
// listings are scoped by it, and others' objects are "not found" to the rest.
func SeesEverything(p *authn.Principal) bool { return p.IsAdmin }

// ManagesCredential reports whether p manages a credential (an API token,
// a client bundle) of owner: its own, or anyone's for a system admin.
func ManagesCredential(p *authn.Principal, owner subjects.Subject) bool {
	return p.IsAdmin || owner == p.Subject()
}

// ListEveryAccount allows listing every account's credentials (owner "*").
func ListEveryAccount(p *authn.Principal) error {
	if p.IsAdmin {
		return nil
	}
	return deny("only system admins list every account's bundles")
}

// MustProveOldPassword is whether a password change needs the old
// password: for users changing their own; system admins set any.
func MustProveOldPassword(p *authn.Principal) bool { return !p.IsAdmin }

// DecisionService allows service accounts holding the authorize
// capability: the callers a daemon's plugin endpoint answers.
func DecisionService(p *authn.Principal) error {
	if p.Kind == subjects.ServiceAccount && p.HasCapability(store.CapabilityAuthorize) {
		return nil
	}
	return deny("the daemon's certificate must belong to a service account with the authorize capability")
}

// PolicyBundleReader allows downloading the policy bundle (the whole
// compiled state): system admins and decision services.
func PolicyBundleReader(p *authn.Principal) error {
	if p.IsAdmin || DecisionService(p) == nil {
		return nil
	}
	return deny("the policy bundle is for system admins and service accounts with the authorize capability")
}

// RequireSystemAdmin refuses everyone but system admins: the methods of
// the API classified admin-only.
func RequireSystemAdmin(p *authn.Principal) error {
	if p.IsAdmin {
		return nil
	}
	return deny("system admin rights required")
}
