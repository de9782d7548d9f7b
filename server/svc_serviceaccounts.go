package server

import (
	"context"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type serviceAccountService struct {
	v1.UnimplementedServiceAccountServiceServer
	*deps
}

func (s *serviceAccountService) CreateServiceAccount(ctx context.Context, req *v1.CreateServiceAccountRequest) (*v1.CreateServiceAccountResponse, error) {
	if err := subjects.ValidUsername(req.GetName()); err != nil {
		return nil, invalid("%v", err)
	}
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
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.GetPageToken())
	if err != nil {
		return nil, err
	}
	all, err := s.store.Read().ServiceAccounts(after, size)
	if err != nil {
		return nil, err
	}
	out := &v1.ListServiceAccountsResponse{}
	for _, a := range all {
		out.ServiceAccounts = append(out.ServiceAccounts, serviceAccountPB(a))
	}
	if len(all) > 0 {
		out.NextPageToken = nextPageToken(len(all), size, all[len(all)-1].Name)
	}
	return out, nil
}

func (s *serviceAccountService) DeleteServiceAccount(ctx context.Context, req *v1.DeleteServiceAccountRequest) (*v1.DeleteServiceAccountResponse, error) {
	rev, err := s.apply(ctx, store.DeleteServiceAccount{Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteServiceAccountResponse{Revision: rev}, nil
}
