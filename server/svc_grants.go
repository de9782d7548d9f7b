package server

import (
	"context"
	"sort"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type grantService struct {
	v1.UnimplementedGrantServiceServer
	*writer
	*asker
}

func (s *grantService) CreateGrant(ctx context.Context, req *v1.CreateGrantRequest) (*v1.CreateGrantResponse, error) {
	subject, err := subjects.ParseSubject(req.GetSubject())
	if err != nil {
		return nil, invalid("%v", err)
	}
	object, err := subjects.ParseObject(req.GetObject())
	if err != nil {
		return nil, invalid("%v", err)
	}
	scope := req.GetScope()
	if scope == "" {
		scope = store.ScopeSubtree
	}
	if scope != store.ScopeSubtree && scope != store.ScopeExact {
		return nil, invalid("scope must be %s or %s", store.ScopeSubtree, store.ScopeExact)
	}
	if err := s.requireGrantRight(ctx, object, req.GetRole()); err != nil {
		return nil, err
	}
	if err := s.roleExists(req.GetRole()); err != nil {
		return nil, err
	}
	id, err := randid.New()
	if err != nil {
		return nil, err
	}
	g := store.Grant{ID: id, Subject: subject, Role: req.GetRole(), Object: object,
		Scope: scope, CreatedAt: s.now(), CreatedBy: principalFrom(ctx).Subject().String()}
	rev, err := s.apply(ctx, store.CreateGrant{Grant: g})
	if err != nil {
		return nil, err
	}
	return &v1.CreateGrantResponse{Grant: grantPB(&g), Revision: rev}, nil
}

// roleExists answers a grant on a missing role with the nearest role's
// name; the store checks the role again inside its transaction.
func (s *grantService) roleExists(id string) error {
	all, err := s.store.Read().Roles()
	if err != nil {
		return err
	}
	ids := make([]string, len(all))
	for i, r := range all {
		if r.ID == id {
			return nil
		}
		ids[i] = r.ID
	}
	if near := roles.Closest(id, ids); near != "" {
		return notFound("role %q not found; did you mean %q? (`grantctl roles list` lists them)", id, near)
	}
	return notFound("role %q not found (`grantctl roles list` lists them)", id)
}

func (s *grantService) GetGrant(ctx context.Context, req *v1.GetGrantRequest) (*v1.Grant, error) {
	if err := s.mayReadGrant(ctx, req.GetId()); err != nil {
		return nil, err
	}
	g, err := s.store.Read().Grant(req.GetId())
	if err != nil || g == nil {
		return nil, orNotFound(err, "grant %q not found", req.GetId())
	}
	return grantPB(g), nil
}

// ListGrants filters by subject, object and role. With expandUser and a
// user subject, it also lists the grants the user holds through their
// teams, orgs and the authenticated subject, each with the path to it.
func (s *grantService) ListGrants(ctx context.Context, req *v1.ListGrantsRequest) (*v1.ListGrantsResponse, error) {
	subject, err := subjectField("subject", req.GetSubject())
	if err != nil {
		return nil, err
	}
	object, err := objectField("object", req.GetObject())
	if err != nil {
		return nil, err
	}
	if err := s.rights().MayListGrants(ctx, s.store.Read(), principalFrom(ctx), subject, object); err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	r := s.store.Read()
	var candidates []*v1.Grant
	switch {
	case !subject.IsZero():
		candidates, err = grantsOfSubject(r, subject, req.GetExpandUser())
	case !object.IsZero():
		candidates, err = grantsVia(r.GrantsOnObject(object))
	case req.GetRole() != "":
		// One more than a page tells whether another page follows.
		candidates, err = grantsVia(r.GrantsOfRole(req.GetRole(), after, size+1))
	default:
		candidates, err = grantsVia(r.Grants(after, size+1))
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Id < candidates[j].Id })
	out := &v1.ListGrantsResponse{}
	for _, g := range candidates {
		if g.Id <= after || !object.IsZero() && g.Object != object.String() || req.GetRole() != "" && g.Role != req.GetRole() {
			continue
		}
		if len(out.Grants) == size {
			out.NextPageToken = nextPageToken(size, size, out.Grants[size-1].Id)
			break
		}
		out.Grants = append(out.Grants, g)
	}
	return out, nil
}

func grantsVia(gs []*store.Grant, err error) ([]*v1.Grant, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*v1.Grant, len(gs))
	for i, g := range gs {
		out[i] = grantPB(g)
	}
	return out, nil
}

// grantsOfSubject lists a subject's own grants and, for an expanded user,
// those reached through memberships.
func grantsOfSubject(r *store.ReadTxn, subject subjects.Subject, expand bool) ([]*v1.Grant, error) {
	if !expand || subject.Kind != subjects.User {
		return grantsVia(r.GrantsOfSubject(subject))
	}
	paths, err := userSubjects(r, subject.Name)
	if err != nil {
		return nil, err
	}
	var out []*v1.Grant
	for _, p := range paths {
		gs, err := grantsVia(r.GrantsOfSubject(p.subject))
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			g.Via = p.via
			out = append(out, g)
		}
	}
	return out, nil
}

type subjectPath struct {
	subject subjects.Subject
	via     string
}

// userSubjects are the subjects a user acts as, each with how the user
// reaches it.
func userSubjects(r *store.ReadTxn, user string) ([]subjectPath, error) {
	self := subjects.OfUser(user)
	via := func(s subjects.Subject) subjectPath { return subjectPath{s, self.String() + " → " + s.String()} }
	out := []subjectPath{{self, self.String()}}
	teams, err := r.TeamsOfUser(user)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		out = append(out, via(subjects.OfTeam(t.Org, t.Team)))
	}
	orgs, err := r.OrgsOfUser(user)
	if err != nil {
		return nil, err
	}
	for _, o := range orgs {
		out = append(out, via(subjects.OfOrg(o.Org)))
	}
	return append(out, via(subjects.AnyAuthenticated)), nil
}

func (s *grantService) DeleteGrant(ctx context.Context, req *v1.DeleteGrantRequest) (*v1.DeleteGrantResponse, error) {
	if p := principalFrom(ctx); !rights.SeesEverything(p) {
		g, err := s.store.Read().Grant(req.GetId())
		if err != nil || g == nil {
			return nil, orNotFound(err, "grant %q not found", req.GetId())
		}
		if err := s.requireGrantRight(ctx, g.Object, g.Role); err != nil {
			return nil, err
		}
	}
	rev, err := s.apply(ctx, store.DeleteGrant{ID: req.GetId()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteGrantResponse{Revision: rev}, nil
}

// mayReadGrant applies the listing rules to one grant.
func (s *grantService) mayReadGrant(ctx context.Context, id string) error {
	r := s.store.Read()
	g, err := r.Grant(id)
	if err != nil || g == nil {
		if p := principalFrom(ctx); err == nil && rights.SeesEverything(p) {
			return nil // the handler answers 404
		}
		return orNotFound(err, "grant %q not found", id)
	}
	return s.rights().MayReadGrant(ctx, r, principalFrom(ctx), g)
}
