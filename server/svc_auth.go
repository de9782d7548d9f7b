package server

import (
	"context"
	"errors"
	"time"

	"github.com/grantd/grantd/internal/randid"
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

// Login checks credentials and opens a session.
func (s *authService) Login(ctx context.Context, req *v1.LoginRequest) (*v1.LoginResponse, error) {
	name, result, err := s.checkPassword(ctx, req.GetUsername(), req.GetPassword())
	if err != nil {
		return nil, err
	}
	return s.loggedIn(ctx, s.store.Read(), name, result)
}

// checkPassword verifies a username and password, throttled: local users
// against their password hash; LDAP users, and unknown users while the
// directory integration is on, by binding to the directory (ldap.md). With
// JIT provisioning a directory user's first login creates their account.
// Unknown users, inactive users and wrong passwords all get the same
// answer; a directory that cannot be reached is Unavailable (fail closed).
// It returns the user's name and the login metric's result label.
func (d *deps) checkPassword(ctx context.Context, username, password string) (string, string, error) {
	if username == "" || password == "" || len(password) > maxPasswordLen {
		d.metrics.logins.WithLabelValues("invalid").Inc()
		return "", "", status.Error(codes.Unauthenticated, errBadCredentials.Error())
	}
	addr := clientAddr(ctx)
	if wait := d.logins.blocked(username, addr); wait > 0 {
		d.metrics.logins.WithLabelValues("throttled").Inc()
		d.log.WarnContext(ctx, "login throttled", "user", username, "client", addr)
		return "", "", status.Errorf(codes.ResourceExhausted, "too many failed logins; try again in %d seconds",
			int(wait.Round(time.Second)/time.Second)+1)
	}
	name, result, err := d.verifyPassword(ctx, username, password, addr)
	if err == nil {
		d.logins.succeeded(username, addr)
	}
	return name, result, err
}

// verifyPassword checks the credentials of a login that is not throttled.
func (d *deps) verifyPassword(ctx context.Context, username, password, addr string) (string, string, error) {
	r := d.store.Read()
	u, err := r.User(username)
	if err != nil {
		return "", "", err
	}
	if u == nil || u.Source == store.SourceLDAP {
		return d.directoryLogin(ctx, r, u, username, password, addr)
	}
	if u.PasswordHash == "" || !u.Active {
		checkPassword(dummyHash, password)
		return "", "", d.loginFailed(ctx, username, addr)
	}
	if !checkPassword(u.PasswordHash, password) {
		return "", "", d.loginFailed(ctx, username, addr)
	}
	return u.Name, "ok", nil
}

// directoryLogin authenticates an LDAP user, or an unknown one, against the
// directory. Without JIT, accounts come only from sync.
func (d *deps) directoryLogin(ctx context.Context, r *store.ReadTxn, u *store.User, name, password, addr string) (string, string, error) {
	cfg, err := ldapsync.StoredConfig(r)
	if err != nil {
		return "", "", err
	}
	if !cfg.Enabled || u != nil && !u.Active || u == nil && !cfg.JITUserProvisioning {
		checkPassword(dummyHash, password)
		return "", "", d.loginFailed(ctx, name, addr)
	}
	found, err := cfg.Authenticate(ctx, name, password)
	if errors.Is(err, ldapsync.ErrBadCredentials) {
		return "", "", d.loginFailed(ctx, name, addr)
	}
	if err != nil {
		// Fail closed, and say why without the directory's details.
		d.metrics.logins.WithLabelValues("directory_unavailable").Inc()
		d.log.ErrorContext(ctx, "login: directory unavailable", "user", name, "err", err)
		return "", "", status.Error(codes.Unavailable, "the directory cannot be reached; try again later")
	}
	if u == nil {
		if err := d.provision(ctx, found.Entry); err != nil {
			return "", "", err
		}
		return name, "ok_provisioned", nil
	}
	if u.LDAPDN != found.DN || u.FullName != found.FullName {
		upd := store.UpdateUser{Name: u.Name, LDAPDN: &found.DN, FullName: &found.FullName, Time: d.now()}
		if _, err := d.applyAs(ctx, ldapsync.Actor, upd); err != nil {
			return "", "", err
		}
	}
	return u.Name, "ok_ldap", nil
}

// provision creates the account of a directory user at their first login,
// with their private collection and its default grant.
func (d *deps) provision(ctx context.Context, e ldapsync.Entry) error {
	grantID, err := randid.New()
	if err != nil {
		return err
	}
	_, err = d.applyAs(ctx, ldapsync.Actor, store.CreateUser{PrivateGrantID: grantID, User: store.User{
		Name: e.Username, FullName: e.FullName, Source: store.SourceLDAP, LDAPDN: e.DN, Active: true, CreatedAt: d.now()}})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil // a concurrent first login made it
	}
	if err == nil {
		d.log.InfoContext(ctx, "user provisioned from the directory", "user", e.Username)
	}
	return err
}

// loggedIn opens the session of a successful login.
func (s *authService) loggedIn(ctx context.Context, r *store.ReadTxn, user, result string) (*v1.LoginResponse, error) {
	token, err := s.openSession(ctx, r, user)
	if err != nil {
		return nil, err
	}
	s.metrics.logins.WithLabelValues(result).Inc()
	return &v1.LoginResponse{AuthToken: token}, nil
}

// loginFailed counts a failed login and answers it.
func (d *deps) loginFailed(ctx context.Context, username, addr string) error {
	d.logins.failed(username, addr)
	d.metrics.logins.WithLabelValues("failed").Inc()
	d.log.InfoContext(ctx, "login failed", "user", username, "client", addr)
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
