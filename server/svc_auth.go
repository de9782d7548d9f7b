package server

import (
	"context"
	"errors"
	"time"

	"github.com/grantd/grantd/ldapsync"
	"github.com/grantd/grantd/store"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type authService struct {
	v1.UnimplementedAuthServiceServer
	*deps
}

// Login checks credentials and opens a session. Local users are checked
// against their password hash; LDAP users, and unknown users while the
// directory integration is on, by binding to the directory (ldap.md).
// Unknown users, inactive users and wrong passwords all get the same
// answer.
func (s *authService) Login(ctx context.Context, req *v1.LoginRequest) (*v1.LoginResponse, error) {
	if req.GetUsername() == "" || req.GetPassword() == "" || len(req.GetPassword()) > maxPasswordLen {
		s.metrics.logins.WithLabelValues("invalid").Inc()
		return nil, status.Error(codes.Unauthenticated, errBadCredentials.Error())
	}
	addr := clientAddr(ctx)
	if wait := s.logins.blocked(req.GetUsername(), addr); wait > 0 {
		s.metrics.logins.WithLabelValues("throttled").Inc()
		s.log.WarnContext(ctx, "login throttled", "user", req.GetUsername(), "client", addr)
		return nil, status.Errorf(codes.ResourceExhausted, "too many failed logins; try again in %d seconds",
			int(wait.Round(time.Second)/time.Second)+1)
	}
	r := s.store.Read()
	u, err := r.User(req.GetUsername())
	if err != nil {
		return nil, err
	}
	if u == nil || u.Source == store.SourceLDAP {
		return s.directoryLogin(ctx, r, u, req.GetUsername(), req.GetPassword(), addr)
	}
	if u.PasswordHash == "" || !u.Active {
		checkPassword(dummyHash, req.GetPassword())
		return nil, s.loginFailed(ctx, req.GetUsername(), addr)
	}
	if !checkPassword(u.PasswordHash, req.GetPassword()) {
		return nil, s.loginFailed(ctx, req.GetUsername(), addr)
	}
	return s.loggedIn(ctx, r, u.Name, "ok")
}

// directoryLogin authenticates an LDAP user, or an unknown one, against the
// directory, and with JIT provisioning creates the account of a directory
// user at their first login. Without JIT, accounts come only from sync.
func (s *authService) directoryLogin(ctx context.Context, r *store.ReadTxn, u *store.User, name, password, addr string) (*v1.LoginResponse, error) {
	cfg, err := ldapsync.StoredConfig(r)
	if err != nil {
		return nil, err
	}
	if !cfg.Enabled || u != nil && !u.Active || u == nil && !cfg.JITUserProvisioning {
		checkPassword(dummyHash, password)
		return nil, s.loginFailed(ctx, name, addr)
	}
	found, err := cfg.Authenticate(ctx, name, password)
	if errors.Is(err, ldapsync.ErrBadCredentials) {
		return nil, s.loginFailed(ctx, name, addr)
	}
	if err != nil {
		// Fail closed, and say why without the directory's details.
		s.metrics.logins.WithLabelValues("directory_unavailable").Inc()
		s.log.ErrorContext(ctx, "login: directory unavailable", "user", name, "err", err)
		return nil, status.Error(codes.Unavailable, "the directory cannot be reached; try again later")
	}
	if u == nil {
		if err := s.provision(ctx, found.Entry); err != nil {
			return nil, err
		}
		return s.loggedIn(ctx, s.store.Read(), name, "ok_provisioned")
	}
	if u.LDAPDN != found.DN || u.FullName != found.FullName {
		upd := store.UpdateUser{Name: u.Name, LDAPDN: &found.DN, FullName: &found.FullName, Time: s.now()}
		if _, err := s.applyAs(ctx, ldapsync.Actor, upd); err != nil {
			return nil, err
		}
	}
	return s.loggedIn(ctx, r, u.Name, "ok_ldap")
}

// provision creates the account of a directory user at their first login,
// with their private collection and its default grant.
func (s *authService) provision(ctx context.Context, e ldapsync.Entry) error {
	grantID, err := newID()
	if err != nil {
		return err
	}
	_, err = s.applyAs(ctx, ldapsync.Actor, store.CreateUser{PrivateGrantID: grantID, User: store.User{
		Name: e.Username, FullName: e.FullName, Source: store.SourceLDAP, LDAPDN: e.DN, Active: true}})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil // a concurrent first login made it
	}
	if err == nil {
		s.log.InfoContext(ctx, "user provisioned from the directory", "user", e.Username)
	}
	return err
}

// loggedIn opens the session of a successful login.
func (s *authService) loggedIn(ctx context.Context, r *store.ReadTxn, user, result string) (*v1.LoginResponse, error) {
	token, err := s.openSession(ctx, r, user)
	if err != nil {
		return nil, err
	}
	s.logins.succeeded(user)
	s.metrics.logins.WithLabelValues(result).Inc()
	return &v1.LoginResponse{AuthToken: token}, nil
}

// loginFailed counts a failed login and answers it.
func (s *authService) loginFailed(ctx context.Context, username, addr string) error {
	s.logins.failed(username, addr)
	s.metrics.logins.WithLabelValues("failed").Inc()
	s.log.InfoContext(ctx, "login failed", "user", username, "client", addr)
	return status.Error(codes.Unauthenticated, errBadCredentials.Error())
}

// openSession stores a new session for user and returns its bearer token.
func (s *authService) openSession(ctx context.Context, r *store.ReadTxn, user string) (string, error) {
	settings, err := r.Settings()
	if err != nil {
		return "", err
	}
	token, err := newSecret(sessionTokenPrefix)
	if err != nil {
		return "", err
	}
	now := s.now()
	sess := store.Session{ID: tokenHash(token), User: user, CreatedAt: now,
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
	return &v1.WhoAmIResponse{Subject: p.Subject(), IsAdmin: p.IsAdmin, Method: p.Method}, nil
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
