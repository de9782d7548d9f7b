package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/ldapsync"
	"github.com/grantd/grantd/store"
)

// ErrThrottled is a login refused for too many recent failures; the error
// is a *ThrottledError saying how long to wait.
var ErrThrottled = errors.New("too many failed logins")

// ThrottledError is ErrThrottled with the wait.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %d seconds", int(e.Wait.Round(time.Second)/time.Second)+1)
}

func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// ErrDirectoryUnavailable is a login the directory could not answer:
// refused (fail closed), saying why without the directory's details.
var ErrDirectoryUnavailable = errors.New("the directory cannot be reached; try again later")

// Passwords checks usernames and passwords (ldap.md): local users against
// their argon2id hash; LDAP users, and unknown users while the directory
// integration is on, by binding to the directory, with just-in-time
// accounts for directory users' first login. Failures are throttled
// (Throttle) and counted.
type Passwords struct {
	Store    *store.Store
	Throttle *Throttle
	// Apply writes a command as actor, audited (a just-in-time account, a
	// directory user's new full name or DN).
	Apply func(ctx context.Context, actor string, cmd store.Command) (uint64, error)
	Now   func() time.Time
	Log   *slog.Logger
	// Observe counts a login by its result: ok, ok_ldap, ok_provisioned,
	// failed, invalid, throttled, directory_unavailable.
	Observe func(result string)
}

// Check verifies username and password from the client address addr and
// returns the active principal. Errors: ErrBadCredentials, ErrThrottled
// (a *ThrottledError), ErrDirectoryUnavailable, or an internal error.
func (a *Passwords) Check(ctx context.Context, username, password, addr string) (*Principal, error) {
	if username == "" || password == "" || len(password) > MaxPasswordLen {
		a.Observe("invalid")
		return nil, ErrBadCredentials
	}
	if wait := a.Throttle.Blocked(username, addr); wait > 0 {
		a.Observe("throttled")
		a.Log.WarnContext(ctx, "login throttled", "user", username, "client", addr)
		return nil, &ThrottledError{Wait: wait}
	}
	result, err := a.verify(ctx, username, password, addr)
	if err != nil {
		return nil, err
	}
	p, err := PrincipalOf(a.Store.Read(), subjects.OfUser(username), MethodPassword)
	if err != nil {
		return nil, err
	}
	a.Throttle.Succeeded(username, addr)
	a.Observe(result)
	return p, nil
}

// verify checks the credentials of a login that is not throttled and
// returns the login's result label.
func (a *Passwords) verify(ctx context.Context, username, password, addr string) (string, error) {
	r := a.Store.Read()
	u, err := r.User(username)
	if err != nil {
		return "", err
	}
	if u == nil || u.Source == store.SourceLDAP {
		return a.directory(ctx, r, u, username, password, addr)
	}
	if u.PasswordHash == "" || !u.Active {
		CheckDummy(password)
		return "", a.failed(ctx, username, addr)
	}
	if !CheckPassword(u.PasswordHash, password) {
		return "", a.failed(ctx, username, addr)
	}
	return "ok", nil
}

// directory authenticates an LDAP user, or an unknown one, against the
// directory. Without JIT, accounts come only from sync.
func (a *Passwords) directory(ctx context.Context, r *store.ReadTxn, u *store.User, name, password, addr string) (string, error) {
	cfg, err := ldapsync.StoredConfig(r)
	if err != nil {
		return "", err
	}
	if !cfg.Enabled || u != nil && !u.Active || u == nil && !cfg.JITUserProvisioning {
		CheckDummy(password)
		return "", a.failed(ctx, name, addr)
	}
	found, err := cfg.Authenticate(ctx, name, password)
	if errors.Is(err, ldapsync.ErrBadCredentials) {
		return "", a.failed(ctx, name, addr)
	}
	if err != nil {
		a.Observe("directory_unavailable")
		a.Log.ErrorContext(ctx, "login: directory unavailable", "user", name, "err", err)
		return "", ErrDirectoryUnavailable
	}
	if u == nil {
		return "ok_provisioned", a.provision(ctx, found.Entry)
	}
	if u.LDAPDN != found.DN || u.FullName != found.FullName {
		upd := store.UpdateUser{Name: u.Name, LDAPDN: &found.DN, FullName: &found.FullName, Time: a.Now()}
		if _, err := a.Apply(ctx, ldapsync.Actor, upd); err != nil {
			return "", err
		}
	}
	return "ok_ldap", nil
}

// provision creates the account of a directory user at their first login,
// with their private collection and its default grant.
func (a *Passwords) provision(ctx context.Context, e ldapsync.Entry) error {
	grantID, err := randid.New()
	if err != nil {
		return err
	}
	_, err = a.Apply(ctx, ldapsync.Actor, store.CreateUser{PrivateGrantID: grantID, User: store.User{
		Name: e.Username, FullName: e.FullName, Source: store.SourceLDAP, LDAPDN: e.DN, Active: true, CreatedAt: a.Now()}})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil // a concurrent first login made it
	}
	if err == nil {
		a.Log.InfoContext(ctx, "user provisioned from the directory", "user", e.Username)
	}
	return err
}

// failed counts a failed login and answers it.
func (a *Passwords) failed(ctx context.Context, username, addr string) error {
	a.Throttle.Failed(username, addr)
	a.Observe("failed")
	a.Log.InfoContext(ctx, "login failed", "user", username, "client", addr)
	return ErrBadCredentials
}
