package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grantd/grantd/authn"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"
)

// RecoveryAdmin is the name of the account created at first start.
const RecoveryAdmin = authn.RecoveryAdmin

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
		if password, err = authn.RandomPassword(); err != nil {
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
	if _, err := st.Apply(ctx, cmd); errors.Is(err, store.ErrFailedPrecondition) {
		return "", ErrBootstrapped // another node of the cluster was first
	} else if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	return generated, nil
}
