package authn

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/grantd/grantd/store"
)

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
		if password, err = RandomPassword(); err != nil {
			return "", err
		}
		generated = password
	} else if err := ValidPassword(password); err != nil {
		return "", err
	}
	hash, err := HashPassword(password)
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

// RandomPassword is 144 random bits, URL-safe.
func RandomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
