package server

import (
	"context"
	"strings"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type collectionService struct {
	v1.UnimplementedCollectionServiceServer
	*writer
}

// collectionPath accepts a path with or without its leading slash (REST
// URLs carry it without), and an empty path as the root.
func collectionPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	c, err := collections.Parse(p)
	if err != nil {
		return "", invalid("%v", err)
	}
	return c, nil
}

func (s *collectionService) CreateCollection(ctx context.Context, req *v1.CreateCollectionRequest) (*v1.CreateCollectionResponse, error) {
	p, err := collections.Parse(req.GetPath())
	if err != nil {
		return nil, invalid("%v", err)
	}
	if p == collections.Root {
		return nil, invalid("the root collection always exists")
	}
	c := store.Collection{Path: p, Parent: collections.Parent(p), CreatedAt: s.now()}
	rev, err := s.apply(ctx, store.CreateCollection{Collection: c})
	if err != nil {
		return nil, err
	}
	return &v1.CreateCollectionResponse{Collection: collectionPB(&c), Revision: rev}, nil
}

func (s *collectionService) GetCollection(_ context.Context, req *v1.GetCollectionRequest) (*v1.Collection, error) {
	p, err := collectionPath(req.GetPath())
	if err != nil {
		return nil, err
	}
	c, err := s.store.Read().Collection(p)
	if err != nil || c == nil {
		return nil, orNotFound(err, "collection %s not found", p)
	}
	return collectionPB(c), nil
}

func (s *collectionService) ListCollections(_ context.Context, req *v1.ListCollectionsRequest) (*v1.ListCollectionsResponse, error) {
	parent, err := collectionPath(req.GetParent())
	if err != nil {
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
	if c, err := r.Collection(parent); err != nil || c == nil {
		return nil, orNotFound(err, "collection %s not found", parent)
	}
	children, err := r.Children(parent)
	if err != nil {
		return nil, err
	}
	out := &v1.ListCollectionsResponse{}
	for _, c := range children {
		if c.Path <= after {
			continue
		}
		if len(out.Collections) == size {
			out.NextPageToken = nextPageToken(size, size, out.Collections[size-1].Path)
			break
		}
		out.Collections = append(out.Collections, collectionPB(c))
	}
	return out, nil
}

// maxTreeNodes bounds one tree answer; deeper trees are read level by level.
const maxTreeNodes = 50000

func (s *collectionService) GetCollectionTree(_ context.Context, req *v1.GetCollectionTreeRequest) (*v1.CollectionNode, error) {
	root, err := collectionPath(req.GetRoot())
	if err != nil {
		return nil, err
	}
	r := s.store.Read()
	if c, err := r.Collection(root); err != nil || c == nil {
		return nil, orNotFound(err, "collection %s not found", root)
	}
	budget := maxTreeNodes
	var walk func(path string, depth int) (*v1.CollectionNode, error)
	walk = func(path string, depth int) (*v1.CollectionNode, error) {
		node := &v1.CollectionNode{Path: path}
		budget--
		if budget < 0 {
			return nil, invalid("the tree below %s has more than %d collections; ask for less depth", root, maxTreeNodes)
		}
		if req.GetDepth() > 0 && depth >= int(req.GetDepth()) {
			return node, nil
		}
		children, err := r.Children(path)
		if err != nil {
			return nil, err
		}
		for _, c := range children {
			child, err := walk(c.Path, depth+1)
			if err != nil {
				return nil, err
			}
			node.Children = append(node.Children, child)
		}
		return node, nil
	}
	return walk(root, 0)
}

func (s *collectionService) DeleteCollection(ctx context.Context, req *v1.DeleteCollectionRequest) (*v1.DeleteCollectionResponse, error) {
	p, err := collectionPath(req.GetPath())
	if err != nil {
		return nil, err
	}
	var doomed []string
	if req.GetForce() {
		grants, err := s.store.Read().GrantsOnObject(subjects.CollectionOf(p))
		if err != nil {
			return nil, err
		}
		for _, g := range grants {
			doomed = append(doomed, g.ID)
		}
	}
	rev, err := s.apply(ctx, store.DeleteCollection{Path: p, Force: req.GetForce()})
	if err != nil {
		return nil, err
	}
	return &v1.DeleteCollectionResponse{Revision: rev, DeletedGrants: doomed}, nil
}
