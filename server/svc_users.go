package server

import (
	"context"

	"github.com/grantd/grantd/rights"

	"github.com/grantd/grantd/authn"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type userService struct {
	v1.UnimplementedUserServiceServer
	*writer
}

func (s *userService) CreateUser(ctx context.Context, req *v1.CreateUserRequest) (*v1.CreateUserResponse, error) {
	u := store.User{Name: req.GetName(), FullName: req.GetFullName(), IsAdmin: req.GetIsAdmin(), Active: true,
		Source: store.SourceLocal, CreatedAt: s.now()}
	if req.GetPassword() != "" { // its length was checked with the request (validate.go)
		hash, err := authn.HashPassword(req.GetPassword())
		if err != nil {
			return nil, err
		}
		u.PasswordHash = hash
	}
	grantID, err := randid.New()
	if err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.CreateUser{User: u, PrivateGrantID: grantID})
	if err != nil {
		return nil, err
	}
	created, err := s.store.Read().User(u.Name)
	if err != nil || created == nil {
		return nil, notFound("user %q was deleted concurrently", u.Name)
	}
	return &v1.CreateUserResponse{User: userPB(created), Revision: rev}, nil
}

func (s *userService) GetUser(ctx context.Context, req *v1.GetUserRequest) (*v1.User, error) {
	if err := rights.SelfOrAdmin(principalFrom(ctx), req.GetName()); err != nil {
		return nil, err
	}
	u, err := s.store.Read().User(req.GetName())
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, notFound("user %q not found", req.GetName())
	}
	return userPB(u), nil
}

func (s *userService) ListUsers(_ context.Context, req *v1.ListUsersRequest) (*v1.ListUsersResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	switch req.GetState() {
	case "", "active", "inactive":
	default:
		return nil, invalid("state must be active, inactive or empty")
	}
	r := s.store.Read()
	users, next, err := filteredPage(after, size, func(after string, n int) ([]*store.User, error) {
		return r.Users(req.GetPrefix(), after, n)
	}, func(u *store.User) bool { return matchUser(u, req) }, func(u *store.User) string { return u.Name })
	if err != nil {
		return nil, err
	}
	out := &v1.ListUsersResponse{NextPageToken: next}
	for _, u := range users {
		out.Users = append(out.Users, userPB(u))
	}
	return out, nil
}

func matchUser(u *store.User, req *v1.ListUsersRequest) bool {
	return (!req.GetAdminsOnly() || u.IsAdmin) &&
		(req.GetSource() == "" || req.GetSource() == u.Source) &&
		(req.GetState() == "" || (req.GetState() == "active") == u.Active)
}

func (s *userService) UpdateUser(ctx context.Context, req *v1.UpdateUserRequest) (*v1.UpdateUserResponse, error) {
	cmd := store.UpdateUser{Name: req.GetName(), FullName: req.FullName, IsAdmin: req.IsAdmin, Active: req.Active, Time: s.now()}
	rev, err := s.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	u, err := s.store.Read().User(req.GetName())
	if err != nil || u == nil {
		return nil, notFound("user %q was deleted concurrently", req.GetName())
	}
	return &v1.UpdateUserResponse{User: userPB(u), Revision: rev}, nil
}

// ChangePassword lets admins set any local user's password, and users set
// their own after proving the old one.
func (s *userService) ChangePassword(ctx context.Context, req *v1.ChangePasswordRequest) (*v1.ChangePasswordResponse, error) {
	if err := rights.SelfOrAdmin(principalFrom(ctx), req.GetName()); err != nil {
		return nil, err
	}
	u, err := s.store.Read().User(req.GetName())
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, notFound("user %q not found", req.GetName())
	}
	if u.Source != store.SourceLocal {
		return nil, invalid("user %q authenticates through the directory; change the password there", u.Name)
	}
	if p := principalFrom(ctx); rights.MustProveOldPassword(p) && !authn.CheckPassword(u.PasswordHash, req.GetOldPassword()) {
		return nil, denied("the old password is wrong")
	}
	hash, err := authn.HashPassword(req.GetNewPassword())
	if err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.UpdateUser{Name: u.Name, PasswordHash: &hash, Time: s.now()})
	if err != nil {
		return nil, err
	}
	return &v1.ChangePasswordResponse{Revision: rev}, nil
}

func (s *userService) DeleteUser(ctx context.Context, req *v1.DeleteUserRequest) (*v1.DeleteUserResponse, error) {
	rev, err := s.apply(ctx, store.DeleteUser{Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteUserResponse{Revision: rev}, nil
}

func (s *userService) GetDefaultCollection(ctx context.Context, req *v1.GetDefaultCollectionRequest) (*v1.DefaultCollection, error) {
	u, err := s.GetUser(ctx, &v1.GetUserRequest{Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DefaultCollection{Collection: u.GetDefaultCollection()}, nil
}

func (s *userService) SetDefaultCollection(ctx context.Context, req *v1.SetDefaultCollectionRequest) (*v1.SetDefaultCollectionResponse, error) {
	path, err := collections.Parse(req.GetCollection())
	if err != nil {
		return nil, invalid("%v", err)
	}
	rev, err := s.apply(ctx, store.UpdateUser{Name: req.GetName(), DefaultCollection: &path, Time: s.now()})
	if err != nil {
		return nil, err
	}
	return &v1.SetDefaultCollectionResponse{Collection: path, Revision: rev}, nil
}

func (s *userService) ListUserMemberships(ctx context.Context, req *v1.ListUserMembershipsRequest) (*v1.ListUserMembershipsResponse, error) {
	if err := rights.SelfOrAdmin(principalFrom(ctx), req.GetName()); err != nil {
		return nil, err
	}
	r := s.store.Read()
	orgs, err := r.OrgsOfUser(req.GetName())
	if err != nil {
		return nil, err
	}
	teams, err := r.TeamsOfUser(req.GetName())
	if err != nil {
		return nil, err
	}
	out := &v1.ListUserMembershipsResponse{}
	for _, m := range orgs {
		out.Orgs = append(out.Orgs, orgMemberPB(m))
	}
	for _, m := range teams {
		out.Teams = append(out.Teams, teamMemberPB(m))
	}
	return out, nil
}
