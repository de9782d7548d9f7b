package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/grantd/grantd/internal/randid"
	"github.com/grantd/grantd/store"
)

// RecoveryAdmin is the name of the account created at first start.
const RecoveryAdmin = "admin"

// Bootstrap initializes an empty store: settings, built-in collections and
// roles, default grants and the recovery admin. The admin's password is
// the given one, or a random one that is returned so the caller can show it
// once. It does nothing (and returns "") on a store bootstrapped before.
func Bootstrap(ctx context.Context, st *store.Store, password string, now time.Time) (generated string, err error) {
	done, err := st.Read().Bootstrapped()
	if err != nil || done {
		return "", err
	}
	if password == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
		generated = password
	} else if err := validPassword(password); err != nil {
		return "", fmt.Errorf("GRANTD_ADMIN_PASSWORD: %w", err)
	}
	hash, err := hashPassword(password)
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
