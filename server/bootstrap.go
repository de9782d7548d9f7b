package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/authn"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"
)

// RecoveryAdmin is the name of the account created at first start.
const RecoveryAdmin = "admin"

// ErrBootstrapped is Bootstrap's answer on a store bootstrapped before.
var ErrBootstrapped = errors.New("the store is bootstrapped already")

// Bootstrap initializes an empty store: settings, built-in collections and
// roles, default grants and the recovery admin. The admin's password is
// the given one, or a random one that is returned so the caller can show it
// once. On a store bootstrapped before it changes nothing and returns
// ErrBootstrapped.
func Bootstrap(ctx context.Context, st *store.Store, password string, now time.Time) (generated string, err error) {
	done, err := st.Read().Bootstrapped()
	if err != nil {
		return "", err
	}
	if done {
		return "", ErrBootstrapped
	}
	if password == "" {
		if password, err = randomPassword(); err != nil {
			return "", err
		}
		generated = password
	} else if err := authn.ValidPassword(password); err != nil {
		return "", fmt.Errorf("GRANTD_ADMIN_PASSWORD: %w", err)
	}
	hash, err := authn.HashPassword(password)
	if err != nil {
		return "", err
	}
	sharedID, err := randid.New()
	if err != nil {
		return "", err
	}
	adminID, err := randid.New()
	if err != nil {
		return "", err
	}
	cmd := store.Bootstrap{Admin: store.User{Name: RecoveryAdmin, FullName: "Recovery admin", PasswordHash: hash, Source: store.SourceLocal},
		Time: now, SharedGrantID: sharedID, AdminGrantID: adminID}
	if _, err := st.Apply(ctx, cmd); err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	return generated, nil
}

// ResetActor is the audit log's actor of a password reset made on the
// data directory by the operator.
const ResetActor = "local:grantd admin reset-password"

// ResetRecoveryAdmin sets the recovery admin's password (a random one,
// returned, when password is empty), keeps the account an active system
// admin and ends its sessions. It is the way back in when the password is
// lost: `grantd admin reset-password`, run on the data directory while
// grantd is stopped.
func ResetRecoveryAdmin(ctx context.Context, st *store.Store, password string, now time.Time) (generated string, err error) {
	u, err := st.Read().User(RecoveryAdmin)
	if err != nil {
		return "", err
	}
	if u == nil || !u.Recovery {
		return "", fmt.Errorf("this data directory has no recovery admin %q: start grantd once to create it", RecoveryAdmin)
	}
	if password == "" {
		if password, err = randomPassword(); err != nil {
			return "", err
		}
		generated = password
	} else if err := authn.ValidPassword(password); err != nil {
		return "", err
	}
	hash, err := authn.HashPassword(password)
	if err != nil {
		return "", err
	}
	yes := true
	cmd := store.UpdateUser{Name: RecoveryAdmin, PasswordHash: &hash, Active: &yes, IsAdmin: &yes, EndSessions: true, Time: now}
	if _, err := st.Apply(ctx, store.Audited{Actor: ResetActor, Time: now, Command: cmd}); err != nil {
		return "", fmt.Errorf("reset the password: %w", err)
	}
	return generated, nil
}

// randomPassword is 144 random bits, URL-safe.
func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
