package server

import (
	"context"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type repositoryService struct {
	v1.UnimplementedRepositoryServiceServer
	*deps
}

func (s *repositoryService) CreateRepository(ctx context.Context, req *v1.CreateRepositoryRequest) (*v1.CreateRepositoryResponse, error) {
	if err := subjects.ValidRepository(req.GetNamespace() + "/" + req.GetName()); err != nil {
		return nil, invalid("%v", err)
	}
	r := store.Repository{Namespace: req.GetNamespace(), Name: req.GetName(), Visibility: req.GetVisibility(),
		Description: req.GetDescription(), CreatedAt: s.now()}
	if r.Visibility == "" {
		r.Visibility = store.VisibilityPrivate
	}
	rev, err := s.apply(ctx, store.CreateRepository{Repository: r})
	if err != nil {
		return nil, err
	}
	return &v1.CreateRepositoryResponse{Repository: repositoryPB(&r), Revision: rev}, nil
}

func (s *repositoryService) GetRepository(_ context.Context, req *v1.GetRepositoryRequest) (*v1.Repository, error) {
	r, err := s.store.Read().Repository(req.GetNamespace(), req.GetName())
	if err != nil || r == nil {
		return nil, orNotFound(err, "repository %s/%s not found", req.GetNamespace(), req.GetName())
	}
	return repositoryPB(r), nil
}

func (s *repositoryService) ListRepositories(_ context.Context, req *v1.ListRepositoriesRequest) (*v1.ListRepositoriesResponse, error) {
	if req.GetNamespace() == "" {
		return nil, invalid("namespace is required")
	}
	all, err := s.store.Read().Repositories(req.GetNamespace())
	if err != nil {
		return nil, err
	}
	out := &v1.ListRepositoriesResponse{}
	for _, r := range all {
		out.Repositories = append(out.Repositories, repositoryPB(r))
	}
	return out, nil
}

func (s *repositoryService) UpdateRepository(ctx context.Context, req *v1.UpdateRepositoryRequest) (*v1.UpdateRepositoryResponse, error) {
	rev, err := s.apply(ctx, store.UpdateRepository{Namespace: req.GetNamespace(), Name: req.GetName(),
		Visibility: req.Visibility, Description: req.Description})
	if err != nil {
		return nil, err
	}
	r, err := s.store.Read().Repository(req.GetNamespace(), req.GetName())
	if err != nil || r == nil {
		return nil, orNotFound(err, "repository %s/%s was deleted concurrently", req.GetNamespace(), req.GetName())
	}
	return &v1.UpdateRepositoryResponse{Repository: repositoryPB(r), Revision: rev}, nil
}

func (s *repositoryService) DeleteRepository(ctx context.Context, req *v1.DeleteRepositoryRequest) (*v1.DeleteRepositoryResponse, error) {
	rev, err := s.apply(ctx, store.DeleteRepository{Namespace: req.GetNamespace(), Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteRepositoryResponse{Revision: rev}, nil
}

// ListRepositoryAccess lists the grants on the repository and on its namespace.
func (s *repositoryService) ListRepositoryAccess(_ context.Context, req *v1.ListRepositoryAccessRequest) (*v1.ListRepositoryAccessResponse, error) {
	r := s.store.Read()
	if repo, err := r.Repository(req.GetNamespace(), req.GetName()); err != nil || repo == nil {
		return nil, orNotFound(err, "repository %s/%s not found", req.GetNamespace(), req.GetName())
	}
	out := &v1.ListRepositoryAccessResponse{}
	for _, object := range []string{"repository:" + req.GetNamespace() + "/" + req.GetName(), "namespace:" + req.GetNamespace()} {
		grants, err := r.GrantsOnObject(object)
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			out.Access = append(out.Access, &v1.RepositoryAccess{Subject: g.Subject, Role: g.Role, Object: g.Object, GrantId: g.ID})
		}
	}
	return out, nil
}
