package server

import (
	"context"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type roleService struct {
	v1.UnimplementedRoleServiceServer
	*writer
}

func (s *roleService) ListOperations(context.Context, *v1.ListOperationsRequest) (*v1.ListOperationsResponse, error) {
	out := &v1.ListOperationsResponse{}
	for _, o := range roles.Catalog() {
		out.Operations = append(out.Operations, operationPB(o))
	}
	return out, nil
}

func (s *roleService) CreateRole(ctx context.Context, req *v1.CreateRoleRequest) (*v1.CreateRoleResponse, error) {
	perms := make([]roles.Permission, len(req.GetPermissions()))
	for i, p := range req.GetPermissions() {
		perms[i] = roles.Permission{Operation: p.GetOperation(), Options: p.GetOptions()}
	}
	valid, err := roles.ValidateCustom(req.GetName(), perms)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if req.GetDisplayName() != "" {
		valid.DisplayName = req.GetDisplayName()
	}
	role := store.Role{Role: valid, CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateRole{Role: role})
	if err != nil {
		return nil, err
	}
	return &v1.CreateRoleResponse{Role: rolePB(&role), Revision: rev}, nil
}

func (s *roleService) GetRole(_ context.Context, req *v1.GetRoleRequest) (*v1.Role, error) {
	r, err := s.store.Read().Role(req.GetName())
	if err != nil || r == nil {
		return nil, orNotFound(err, "role %q not found", req.GetName())
	}
	return rolePB(r), nil
}

func (s *roleService) ListRoles(context.Context, *v1.ListRolesRequest) (*v1.ListRolesResponse, error) {
	all, err := s.store.Read().Roles()
	if err != nil {
		return nil, err
	}
	out := &v1.ListRolesResponse{}
	for _, r := range all {
		out.Roles = append(out.Roles, rolePB(r))
	}
	return out, nil
}

func (s *roleService) DeleteRole(ctx context.Context, req *v1.DeleteRoleRequest) (*v1.DeleteRoleResponse, error) {
	rev, err := s.apply(ctx, store.DeleteRole{ID: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteRoleResponse{Revision: rev}, nil
}
