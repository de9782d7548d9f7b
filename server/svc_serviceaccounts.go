package server

import (
	"context"

	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type serviceAccountService struct {
	v1.UnimplementedServiceAccountServiceServer
	*writer
}

func (s *serviceAccountService) CreateServiceAccount(ctx context.Context, req *v1.CreateServiceAccountRequest) (*v1.CreateServiceAccountResponse, error) {
	a := store.ServiceAccount{Name: req.GetName(), Description: req.GetDescription(),
		Capabilities: req.GetCapabilities(), Active: true, CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateServiceAccount{Account: a})
	if err != nil {
		return nil, err
	}
	return &v1.CreateServiceAccountResponse{ServiceAccount: serviceAccountPB(&a), Revision: rev}, nil
}

func (s *serviceAccountService) GetServiceAccount(_ context.Context, req *v1.GetServiceAccountRequest) (*v1.ServiceAccount, error) {
	a, err := s.store.Read().ServiceAccount(req.GetName())
	if err != nil || a == nil {
		return nil, orNotFound(err, "service account %q not found", req.GetName())
	}
	return serviceAccountPB(a), nil
}

func (s *serviceAccountService) ListServiceAccounts(_ context.Context, req *v1.ListServiceAccountsRequest) (*v1.ListServiceAccountsResponse, error) {
	all, next, err := listPage(req, s.store.Read().ServiceAccounts, serviceAccountPB,
		func(a *store.ServiceAccount) string { return a.Name })
	if err != nil {
		return nil, err
	}
	return &v1.ListServiceAccountsResponse{ServiceAccounts: all, NextPageToken: next}, nil
}

func (s *serviceAccountService) UpdateServiceAccount(ctx context.Context, req *v1.UpdateServiceAccountRequest) (*v1.UpdateServiceAccountResponse, error) {
	cmd := store.UpdateServiceAccount{Name: req.GetName(), Description: req.Description, Active: req.Active}
	if req.GetUpdateCapabilities() {
		caps := req.GetCapabilities()
		cmd.Capabilities = &caps
	}
	rev, err := s.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	a, err := s.store.Read().ServiceAccount(req.GetName())
	if err != nil || a == nil {
		return nil, orNotFound(err, "service account %q was deleted concurrently", req.GetName())
	}
	return &v1.UpdateServiceAccountResponse{ServiceAccount: serviceAccountPB(a), Revision: rev}, nil
}

func (s *serviceAccountService) DeleteServiceAccount(ctx context.Context, req *v1.DeleteServiceAccountRequest) (*v1.DeleteServiceAccountResponse, error) {
	rev, err := s.apply(ctx, store.DeleteServiceAccount{Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteServiceAccountResponse{Revision: rev}, nil
}
