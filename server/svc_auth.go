package server

import (
	"context"
	"errors"
	"time"

	"github.com/grantd/grantd/authn"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type authService struct {
	v1.UnimplementedAuthServiceServer
	*writer
	passwords *authn.Passwords
}

// Login checks credentials and opens a session.
func (s *authService) Login(ctx context.Context, req *v1.LoginRequest) (*v1.LoginResponse, error) {
	p, err := s.passwords.Check(ctx, req.GetUsername(), req.GetPassword(), clientAddr(ctx))
	if err != nil {
		return nil, loginStatus(err)
	}
	token, err := s.openSession(ctx, s.store.Read(), p.Name)
	if err != nil {
		return nil, err
	}
	return &v1.LoginResponse{AuthToken: token}, nil
}

// loginStatus is a failed login's gRPC answer: the same Unauthenticated
// for every wrong credential, ResourceExhausted (429) when throttled,
// Unavailable when the directory cannot answer.
func loginStatus(err error) error {
	var throttled *authn.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return status.Error(codes.ResourceExhausted, throttled.Error())
	case errors.Is(err, authn.ErrBadCredentials), errors.Is(err, authn.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, authn.ErrBadCredentials.Error())
	case errors.Is(err, authn.ErrDirectoryUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	}
	return err
}

// openSession stores a new session for user and returns its bearer token.
func (s *authService) openSession(ctx context.Context, r *store.ReadTxn, user string) (string, error) {
	settings, err := r.Settings()
	if err != nil {
		return "", err
	}
	token, err := authn.NewSecret(authn.SessionTokenPrefix)
	if err != nil {
		return "", err
	}
	now := s.now()
	sess := store.Session{ID: authn.TokenHash(token), User: user, CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(settings.Sessions.LifetimeMinutes) * time.Minute)}
	if _, err := s.apply(ctx, store.CreateSession{Session: sess, PerUserLimit: settings.Sessions.PerUserLimit}); err != nil {
		return "", err
	}
	return token, nil
}

// Logout ends the caller's session; API tokens are revoked, not logged out.
func (s *authService) Logout(ctx context.Context, _ *v1.LogoutRequest) (*v1.LogoutResponse, error) {
	p := principalFrom(ctx)
	if p.SessionID == "" {
		return nil, status.Error(codes.FailedPrecondition, "the caller authenticated with an API token; revoke it instead")
	}
	rev, err := s.apply(ctx, store.DeleteSession{ID: p.SessionID})
	if err != nil {
		return nil, err
	}
	return &v1.LogoutResponse{Revision: rev}, nil
}

func (s *authService) WhoAmI(ctx context.Context, _ *v1.WhoAmIRequest) (*v1.WhoAmIResponse, error) {
	p := principalFrom(ctx)
	return &v1.WhoAmIResponse{Subject: p.Subject().String(), IsAdmin: p.IsAdmin, Method: string(p.Method)}, nil
}

// ListSessions lists the caller's sessions. The ID shown is a prefix of the
// stored hash: enough to tell sessions apart, useless as a credential.
func (s *authService) ListSessions(ctx context.Context, _ *v1.ListSessionsRequest) (*v1.ListSessionsResponse, error) {
	p := principalFrom(ctx)
	if p.Kind != "user" {
		return &v1.ListSessionsResponse{}, nil
	}
	all, err := s.store.Read().SessionsOfUser(p.Name)
	if err != nil {
		return nil, err
	}
	out := &v1.ListSessionsResponse{}
	for _, x := range all {
		out.Sessions = append(out.Sessions, &v1.Session{Id: x.ID[:12], CreatedAt: ts(x.CreatedAt),
			ExpiresAt: ts(x.ExpiresAt), Current: x.ID == p.SessionID})
	}
	return out, nil
}
