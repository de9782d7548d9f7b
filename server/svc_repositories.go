package server

import (
	"context"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type repositoryService struct {
	v1.UnimplementedRepositoryServiceServer
	*writer
	*asker
}

func (s *repositoryService) CreateRepository(ctx context.Context, req *v1.CreateRepositoryRequest) (*v1.CreateRepositoryResponse, error) {
	if err := s.requireRepositoryRight(ctx, req.GetNamespace(), "", "repository.create"); err != nil {
		return nil, err
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

func (s *repositoryService) GetRepository(ctx context.Context, req *v1.GetRepositoryRequest) (*v1.Repository, error) {
	r, err := s.visibleRepository(ctx, s.store.Read(), req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	return repositoryPB(r), nil
}

// visibleRepository reads a repository the caller may view. One the
// caller may not see does not exist for them: both are the same 404, so
// no call reveals which private repositories exist.
func (s *repositoryService) visibleRepository(ctx context.Context, r *store.ReadTxn, namespace, name string) (*store.Repository, error) {
	repo, err := r.Repository(namespace, name)
	if err == nil && repo != nil && !s.mayView(ctx, repo) {
		repo = nil
	}
	if err != nil || repo == nil {
		return nil, orNotFound(err, "repository %s/%s not found", namespace, name)
	}
	return repo, nil
}

// ListRepositories lists the repositories of a namespace, or of every
// namespace, that the caller may view.
func (s *repositoryService) ListRepositories(ctx context.Context, req *v1.ListRepositoriesRequest) (*v1.ListRepositoriesResponse, error) {
	r := s.store.Read()
	var all []*store.Repository
	var err error
	if req.GetNamespace() == "" {
		all, err = r.AllRepositories()
	} else {
		all, err = r.Repositories(req.GetNamespace())
	}
	if err != nil {
		return nil, err
	}
	var visible []*store.Repository
	for _, repo := range all {
		if s.mayView(ctx, repo) {
			visible = append(visible, repo)
		}
	}
	page, next, err := pageOf(req, visible, repositoryPB, func(r *store.Repository) string { return r.Namespace + "/" + r.Name })
	if err != nil {
		return nil, err
	}
	return &v1.ListRepositoriesResponse{Repositories: page, NextPageToken: next}, nil
}

// mayView reports whether the caller may see a repository: its namespace's
// managers, and whoever the engine allows repository.view (everyone, for a
// public repository).
func (s *repositoryService) mayView(ctx context.Context, repo *store.Repository) bool {
	return s.requireRepositoryRight(ctx, repo.Namespace, repo.Name, "repository.view") == nil
}

// UpdateRepository changes visibility or description. It answers like
// GetRepository for a repository the caller may not see, and an update
// that changes nothing writes nothing: it answers the repository as it is.
func (s *repositoryService) UpdateRepository(ctx context.Context, req *v1.UpdateRepositoryRequest) (*v1.UpdateRepositoryResponse, error) {
	read := s.store.Read()
	current, err := s.visibleRepository(ctx, read, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	if req.Visibility != nil {
		if err := s.requireRepositoryRight(ctx, req.GetNamespace(), req.GetName(), "repository.set_visibility"); err != nil {
			return nil, err
		}
	}
	if req.Description != nil {
		if err := s.requireRepositoryRight(ctx, req.GetNamespace(), req.GetName(), "repository.edit"); err != nil {
			return nil, err
		}
	}
	if (req.Visibility == nil || *req.Visibility == current.Visibility) &&
		(req.Description == nil || *req.Description == current.Description) {
		return &v1.UpdateRepositoryResponse{Repository: repositoryPB(current), Revision: read.Revision()}, nil
	}
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

// DeleteRepository is for the namespace's managers: repository.delete is
// reserved to them and to system admins.
func (s *repositoryService) DeleteRepository(ctx context.Context, req *v1.DeleteRepositoryRequest) (*v1.DeleteRepositoryResponse, error) {
	if err := s.requireRepositoryRight(ctx, req.GetNamespace(), "", "repository.delete"); err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.DeleteRepository{Namespace: req.GetNamespace(), Name: req.GetName()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteRepositoryResponse{Revision: rev}, nil
}

// ListRepositoryAccess lists the grants on the repository and on its namespace.
func (s *repositoryService) ListRepositoryAccess(ctx context.Context, req *v1.ListRepositoryAccessRequest) (*v1.ListRepositoryAccessResponse, error) {
	if err := s.requireRepositoryRight(ctx, req.GetNamespace(), req.GetName(), "repository.manage_access"); err != nil {
		return nil, err
	}
	r := s.store.Read()
	if repo, err := r.Repository(req.GetNamespace(), req.GetName()); err != nil || repo == nil {
		return nil, orNotFound(err, "repository %s/%s not found", req.GetNamespace(), req.GetName())
	}
	out := &v1.ListRepositoryAccessResponse{}
	for _, object := range []subjects.Object{subjects.RepositoryOf(req.GetNamespace(), req.GetName()), subjects.NamespaceOf(req.GetNamespace())} {
		grants, err := r.GrantsOnObject(object)
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			out.Access = append(out.Access, &v1.RepositoryAccess{Subject: g.Subject.String(), Role: g.Role, Object: g.Object.String(), GrantId: g.ID})
		}
	}
	return out, nil
}
