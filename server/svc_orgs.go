package server

import (
	"context"
	"slices"
	"strings"

	"github.com/grantd/grantd/rights"

	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type orgService struct {
	v1.UnimplementedOrgServiceServer
	*writer
	*asker
}

func (s *orgService) CreateOrg(ctx context.Context, req *v1.CreateOrgRequest) (*v1.CreateOrgResponse, error) {
	o := store.Org{Name: req.GetName(), CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateOrg{Org: o})
	if err != nil {
		return nil, err
	}
	return &v1.CreateOrgResponse{Org: orgPB(&o), Revision: rev}, nil
}

func (s *orgService) GetOrg(ctx context.Context, req *v1.GetOrgRequest) (*v1.Org, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	o, err := s.store.Read().Org(req.GetOrg())
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, notFound("org %q not found", req.GetOrg())
	}
	return orgPB(o), nil
}

// ListOrgs lists every org to system admins, and to anyone else the orgs
// they administer.
func (s *orgService) ListOrgs(ctx context.Context, req *v1.ListOrgsRequest) (*v1.ListOrgsResponse, error) {
	r := s.store.Read()
	fetch := r.Orgs
	if p := principalFrom(ctx); !rights.SeesEverything(p) {
		fetch = func(after string, limit int) ([]*store.Org, error) { return administeredOrgs(r, p, after, limit) }
	}
	orgs, next, err := listPage(req, fetch, orgPB, func(o *store.Org) string { return o.Name })
	if err != nil {
		return nil, err
	}
	return &v1.ListOrgsResponse{Orgs: orgs, NextPageToken: next}, nil
}

func (s *orgService) DeleteOrg(ctx context.Context, req *v1.DeleteOrgRequest) (*v1.DeleteOrgResponse, error) {
	rev, err := s.apply(ctx, store.DeleteOrg{Name: req.GetOrg()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteOrgResponse{Revision: rev}, nil
}

func (s *orgService) SetOrgMember(ctx context.Context, req *v1.SetOrgMemberRequest) (*v1.SetOrgMemberResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	m := store.OrgMember{Org: req.GetOrg(), User: req.GetUser(), IsAdmin: req.GetIsAdmin()}
	rev, err := s.apply(ctx, store.SetOrgMember{Member: m})
	if err != nil {
		return nil, err
	}
	return &v1.SetOrgMemberResponse{Member: orgMemberPB(&m), Revision: rev}, nil
}

func (s *orgService) RemoveOrgMember(ctx context.Context, req *v1.RemoveOrgMemberRequest) (*v1.RemoveOrgMemberResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.RemoveOrgMember{Org: req.GetOrg(), User: req.GetUser()})
	if err != nil {
		return nil, err
	}
	return &v1.RemoveOrgMemberResponse{Revision: rev}, nil
}

func (s *orgService) ListOrgMembers(ctx context.Context, req *v1.ListOrgMembersRequest) (*v1.ListOrgMembersResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	r := s.store.Read()
	if o, err := r.Org(req.GetOrg()); err != nil || o == nil {
		return nil, orNotFound(err, "org %q not found", req.GetOrg())
	}
	members, err := r.OrgMembers(req.GetOrg())
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(req, members, orgMemberPB, func(m *store.OrgMember) string { return m.User })
	if err != nil {
		return nil, err
	}
	return &v1.ListOrgMembersResponse{Members: page, NextPageToken: next}, nil
}

func (s *orgService) CreateTeam(ctx context.Context, req *v1.CreateTeamRequest) (*v1.CreateTeamResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	t := store.Team{Org: req.GetOrg(), Name: req.GetName(), Description: req.GetDescription(), CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateTeam{Team: t})
	if err != nil {
		return nil, err
	}
	return &v1.CreateTeamResponse{Team: teamPB(&t), Revision: rev}, nil
}

func (s *orgService) GetTeam(ctx context.Context, req *v1.GetTeamRequest) (*v1.Team, error) {
	if err := s.requireTeamAdmin(ctx, req.GetOrg(), req.GetTeam()); err != nil {
		return nil, err
	}
	t, err := s.store.Read().Team(req.GetOrg(), req.GetTeam())
	if err != nil || t == nil {
		return nil, orNotFound(err, "team %s/%s not found", req.GetOrg(), req.GetTeam())
	}
	return teamPB(t), nil
}

func (s *orgService) ListTeams(ctx context.Context, req *v1.ListTeamsRequest) (*v1.ListTeamsResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	r := s.store.Read()
	if o, err := r.Org(req.GetOrg()); err != nil || o == nil {
		return nil, orNotFound(err, "org %q not found", req.GetOrg())
	}
	teams, err := r.Teams(req.GetOrg())
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(req, teams, teamPB, func(t *store.Team) string { return t.Name })
	if err != nil {
		return nil, err
	}
	return &v1.ListTeamsResponse{Teams: page, NextPageToken: next}, nil
}

func (s *orgService) UpdateTeam(ctx context.Context, req *v1.UpdateTeamRequest) (*v1.UpdateTeamResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	c := store.UpdateTeam{Org: req.GetOrg(), Name: req.GetTeam(), Description: req.Description}
	if req.GetUpdateKubernetesGroups() {
		// A group mapping hands the team's Kubernetes access to the
		// group's members: Kubernetes grants are for system admins.
		if err := rights.RequireSystemAdmin(principalFrom(ctx)); err != nil {
			return nil, err
		}
		groups := slices.Clone(req.GetKubernetesGroups())
		c.KubernetesGroups = &groups
	}
	rev, err := s.apply(ctx, c)
	if err != nil {
		return nil, err
	}
	t, err := s.store.Read().Team(req.GetOrg(), req.GetTeam())
	if err != nil || t == nil {
		return nil, orNotFound(err, "team %s/%s was deleted concurrently", req.GetOrg(), req.GetTeam())
	}
	return &v1.UpdateTeamResponse{Team: teamPB(t), Revision: rev}, nil
}

func (s *orgService) DeleteTeam(ctx context.Context, req *v1.DeleteTeamRequest) (*v1.DeleteTeamResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.DeleteTeam{Org: req.GetOrg(), Name: req.GetTeam()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteTeamResponse{Revision: rev}, nil
}

func (s *orgService) SetTeamMember(ctx context.Context, req *v1.SetTeamMemberRequest) (*v1.SetTeamMemberResponse, error) {
	if err := rights.MayAddTeamMember(s.store.Read(), principalFrom(ctx), req.GetOrg(), req.GetTeam(), req.GetUser()); err != nil {
		return nil, err
	}
	m := store.TeamMember{Org: req.GetOrg(), Team: req.GetTeam(), User: req.GetUser(), IsAdmin: req.GetIsAdmin()}
	rev, err := s.apply(ctx, store.SetTeamMember{Member: m})
	if err != nil {
		return nil, err
	}
	return &v1.SetTeamMemberResponse{Member: teamMemberPB(&m), Revision: rev}, nil
}

func (s *orgService) RemoveTeamMember(ctx context.Context, req *v1.RemoveTeamMemberRequest) (*v1.RemoveTeamMemberResponse, error) {
	if err := s.requireTeamAdmin(ctx, req.GetOrg(), req.GetTeam()); err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.RemoveTeamMember{Org: req.GetOrg(), Team: req.GetTeam(), User: req.GetUser()})
	if err != nil {
		return nil, err
	}
	return &v1.RemoveTeamMemberResponse{Revision: rev}, nil
}

func (s *orgService) ListTeamMembers(ctx context.Context, req *v1.ListTeamMembersRequest) (*v1.ListTeamMembersResponse, error) {
	if err := s.requireTeamAdmin(ctx, req.GetOrg(), req.GetTeam()); err != nil {
		return nil, err
	}
	r := s.store.Read()
	if t, err := r.Team(req.GetOrg(), req.GetTeam()); err != nil || t == nil {
		return nil, orNotFound(err, "team %s/%s not found", req.GetOrg(), req.GetTeam())
	}
	members, err := r.TeamMembers(req.GetOrg(), req.GetTeam())
	if err != nil {
		return nil, err
	}
	page, next, err := pageOf(req, members, teamMemberPB, func(m *store.TeamMember) string { return m.User })
	if err != nil {
		return nil, err
	}
	return &v1.ListTeamMembersResponse{Members: page, NextPageToken: next}, nil
}

// orNotFound returns err, or a NotFound status when err is nil.
func orNotFound(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return notFound(format, args...)
}

// administeredOrgs is one page of the orgs p administers, in name order.
func administeredOrgs(r *store.ReadTxn, p *Principal, after string, limit int) ([]*store.Org, error) {
	if p.Kind != "user" {
		return nil, nil
	}
	memberships, err := r.OrgsOfUser(p.Name)
	if err != nil {
		return nil, err
	}
	var out []*store.Org
	for _, m := range memberships {
		if !m.IsAdmin || m.Org <= after {
			continue
		}
		o, err := r.Org(m.Org)
		if err != nil {
			return nil, err
		}
		if o != nil {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *store.Org) int { return strings.Compare(a.Name, b.Name) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
