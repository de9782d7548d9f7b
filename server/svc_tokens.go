package server

import (
	"context"
	"time"

	"github.com/grantd/grantd/rights"

	"github.com/grantd/grantd/authn"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type tokenService struct {
	v1.UnimplementedTokenServiceServer
	*writer
}

func (s *tokenService) CreateAPIToken(ctx context.Context, req *v1.CreateAPITokenRequest) (*v1.CreateAPITokenResponse, error) {
	owner, err := newCredentialOwner(ctx, req.GetOwner())
	if err != nil {
		return nil, err
	}
	// The name and ttlHours were checked with the request (validate.go).
	secret, err := authn.NewSecret(authn.APITokenPrefix)
	if err != nil {
		return nil, err
	}
	id, err := randid.New()
	if err != nil {
		return nil, err
	}
	now := s.now()
	t := store.APIToken{ID: id, Name: req.GetName(), Owner: owner, Hash: authn.TokenHash(secret), CreatedAt: now}
	if req.GetTtlHours() > 0 {
		t.ExpiresAt = now.Add(time.Duration(req.GetTtlHours()) * time.Hour)
	}
	rev, err := s.apply(ctx, store.CreateAPIToken{Token: t})
	if err != nil {
		return nil, err
	}
	return &v1.CreateAPITokenResponse{Token: apiTokenPB(&t), Secret: secret, Revision: rev}, nil
}

func (s *tokenService) ListAPITokens(ctx context.Context, req *v1.ListAPITokensRequest) (*v1.ListAPITokensResponse, error) {
	owner, err := credentialOwner(ctx, req.GetOwner())
	if err != nil {
		return nil, err
	}
	all, err := s.store.Read().APITokens(owner)
	if err != nil {
		return nil, err
	}
	out := &v1.ListAPITokensResponse{}
	for _, t := range all {
		out.Tokens = append(out.Tokens, apiTokenPB(t))
	}
	return out, nil
}

func (s *tokenService) RevokeAPIToken(ctx context.Context, req *v1.RevokeAPITokenRequest) (*v1.RevokeAPITokenResponse, error) {
	p := principalFrom(ctx)
	r := s.store.Read()
	// Look the token up among the caller's own first, so that non-admins
	// learn nothing about other accounts' token IDs.
	mine, err := r.APITokens(p.Subject())
	if err != nil {
		return nil, err
	}
	owned := false
	for _, t := range mine {
		owned = owned || t.ID == req.GetId()
	}
	if !owned && !rights.SeesEverything(p) {
		return nil, notFound("token %q not found", req.GetId())
	}
	rev, err := s.apply(ctx, store.DeleteAPIToken{ID: req.GetId()})
	if err != nil {
		return nil, err
	}
	return &v1.RevokeAPITokenResponse{Revision: rev}, nil
}
