package server

import (
	"context"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type orgService struct {
	v1.UnimplementedOrgServiceServer
	*deps
}

func (s *orgService) CreateOrg(ctx context.Context, req *v1.CreateOrgRequest) (*v1.CreateOrgResponse, error) {
	if err := subjects.ValidOrgName(req.GetName()); err != nil {
		return nil, invalid("%v", err)
	}
	o := store.Org{Name: req.GetName(), CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateOrg{Org: o})
	if err != nil {
		return nil, err
	}
	return &v1.CreateOrgResponse{Org: orgPB(&o), Revision: rev}, nil
}

func (s *orgService) GetOrg(_ context.Context, req *v1.GetOrgRequest) (*v1.Org, error) {
	o, err := s.store.Read().Org(req.GetOrg())
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, notFound("org %q not found", req.GetOrg())
	}
	return orgPB(o), nil
}

func (s *orgService) ListOrgs(_ context.Context, req *v1.ListOrgsRequest) (*v1.ListOrgsResponse, error) {
	orgs, next, err := listPage(req, s.store.Read().Orgs, orgPB, func(o *store.Org) string { return o.Name })
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
	m := store.OrgMember{Org: req.GetOrg(), User: req.GetUser(), IsAdmin: req.GetIsAdmin()}
	rev, err := s.apply(ctx, store.SetOrgMember{Member: m})
	if err != nil {
		return nil, err
	}
	return &v1.SetOrgMemberResponse{Member: orgMemberPB(&m), Revision: rev}, nil
}

func (s *orgService) RemoveOrgMember(ctx context.Context, req *v1.RemoveOrgMemberRequest) (*v1.RemoveOrgMemberResponse, error) {
	rev, err := s.apply(ctx, store.RemoveOrgMember{Org: req.GetOrg(), User: req.GetUser()})
	if err != nil {
		return nil, err
	}
	return &v1.RemoveOrgMemberResponse{Revision: rev}, nil
}

func (s *orgService) ListOrgMembers(_ context.Context, req *v1.ListOrgMembersRequest) (*v1.ListOrgMembersResponse, error) {
	r := s.store.Read()
	if o, err := r.Org(req.GetOrg()); err != nil || o == nil {
		return nil, orNotFound(err, "org %q not found", req.GetOrg())
	}
	members, err := r.OrgMembers(req.GetOrg())
	if err != nil {
		return nil, err
	}
	out := &v1.ListOrgMembersResponse{}
	for _, m := range members {
		out.Members = append(out.Members, orgMemberPB(m))
	}
	return out, nil
}

func (s *orgService) CreateTeam(ctx context.Context, req *v1.CreateTeamRequest) (*v1.CreateTeamResponse, error) {
	if err := subjects.ValidOrgName(req.GetName()); err != nil {
		return nil, invalid("%v", err)
	}
	t := store.Team{Org: req.GetOrg(), Name: req.GetName(), Description: req.GetDescription(), CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateTeam{Team: t})
	if err != nil {
		return nil, err
	}
	return &v1.CreateTeamResponse{Team: teamPB(&t), Revision: rev}, nil
}

func (s *orgService) GetTeam(_ context.Context, req *v1.GetTeamRequest) (*v1.Team, error) {
	t, err := s.store.Read().Team(req.GetOrg(), req.GetTeam())
	if err != nil || t == nil {
		return nil, orNotFound(err, "team %s/%s not found", req.GetOrg(), req.GetTeam())
	}
	return teamPB(t), nil
}

func (s *orgService) ListTeams(_ context.Context, req *v1.ListTeamsRequest) (*v1.ListTeamsResponse, error) {
	r := s.store.Read()
	if o, err := r.Org(req.GetOrg()); err != nil || o == nil {
		return nil, orNotFound(err, "org %q not found", req.GetOrg())
	}
	teams, err := r.Teams(req.GetOrg())
	if err != nil {
		return nil, err
	}
	out := &v1.ListTeamsResponse{}
	for _, t := range teams {
		out.Teams = append(out.Teams, teamPB(t))
	}
	return out, nil
}

func (s *orgService) DeleteTeam(ctx context.Context, req *v1.DeleteTeamRequest) (*v1.DeleteTeamResponse, error) {
	rev, err := s.apply(ctx, store.DeleteTeam{Org: req.GetOrg(), Name: req.GetTeam()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteTeamResponse{Revision: rev}, nil
}

func (s *orgService) SetTeamMember(ctx context.Context, req *v1.SetTeamMemberRequest) (*v1.SetTeamMemberResponse, error) {
	m := store.TeamMember{Org: req.GetOrg(), Team: req.GetTeam(), User: req.GetUser(), IsAdmin: req.GetIsAdmin()}
	rev, err := s.apply(ctx, store.SetTeamMember{Member: m})
	if err != nil {
		return nil, err
	}
	return &v1.SetTeamMemberResponse{Member: teamMemberPB(&m), Revision: rev}, nil
}

func (s *orgService) RemoveTeamMember(ctx context.Context, req *v1.RemoveTeamMemberRequest) (*v1.RemoveTeamMemberResponse, error) {
	rev, err := s.apply(ctx, store.RemoveTeamMember{Org: req.GetOrg(), Team: req.GetTeam(), User: req.GetUser()})
	if err != nil {
		return nil, err
	}
	return &v1.RemoveTeamMemberResponse{Revision: rev}, nil
}

func (s *orgService) ListTeamMembers(_ context.Context, req *v1.ListTeamMembersRequest) (*v1.ListTeamMembersResponse, error) {
	r := s.store.Read()
	if t, err := r.Team(req.GetOrg(), req.GetTeam()); err != nil || t == nil {
		return nil, orNotFound(err, "team %s/%s not found", req.GetOrg(), req.GetTeam())
	}
	members, err := r.TeamMembers(req.GetOrg(), req.GetTeam())
	if err != nil {
		return nil, err
	}
	out := &v1.ListTeamMembersResponse{}
	for _, m := range members {
		out.Members = append(out.Members, teamMemberPB(m))
	}
	return out, nil
}

// orNotFound returns err, or a NotFound status when err is nil.
func orNotFound(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	return notFound(format, args...)
}
