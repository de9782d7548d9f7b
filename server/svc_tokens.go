package server

import (
	"context"
	"time"

	"github.com/grantd/grantd/authn"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type tokenService struct {
	v1.UnimplementedTokenServiceServer
	*deps
}

// tokenOwner resolves the owner a token or bundle request names: the
// caller by default; only system admins may name another account.
func tokenOwner(ctx context.Context, owner string) (string, error) {
	p := principalFrom(ctx)
	if owner == "" || owner == p.Subject() {
		return p.Subject(), nil
	}
	if !p.IsAdmin {
		return "", denied("only system admins manage other accounts' tokens")
	}
	s, err := subjects.ParseSubject(owner)
	if err != nil || s.Kind != subjects.User && s.Kind != subjects.ServiceAccount {
		return "", invalid("owner must be user:<name> or serviceaccount:<name>")
	}
	return s.String(), nil
}

// newCredentialOwner resolves the owner of a credential to create (an API
// token or a client bundle). Users make their own; a service account's
// credentials are made by system admins only, so that a leaked token
// cannot mint a longer-lived credential that survives its revocation.
func newCredentialOwner(ctx context.Context, owner string) (string, error) {
	owner, err := tokenOwner(ctx, owner)
	if err != nil {
		return "", err
	}
	if p := principalFrom(ctx); !p.IsAdmin && p.Kind != "user" {
		return "", denied("only system admins create credentials for service accounts")
	}
	return owner, nil
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
	owner, err := tokenOwner(ctx, req.GetOwner())
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
	if !owned && !p.IsAdmin {
		return nil, notFound("token %q not found", req.GetId())
	}
	rev, err := s.apply(ctx, store.DeleteAPIToken{ID: req.GetId()})
	if err != nil {
		return nil, err
	}
	return &v1.RevokeAPITokenResponse{Revision: rev}, nil
}
