package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/store"
)

// Token prefixes tell session tokens from API tokens at a glance (and to
// secret scanners); the rest is 256 random bits.
const (
	SessionTokenPrefix = "gds_"
	APITokenPrefix     = "gdt_"
)

// NewSecret is a new token with prefix.
func NewSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// TokenHash is how tokens are stored and looked up: never the token itself.
func TokenHash(token string) string { return tokenID(sha256.Sum256([]byte(token))) }

// tokenID is the stored ID of the token whose SHA-256 is sum.
func tokenID(sum [sha256.Size]byte) string { return hex.EncodeToString(sum[:]) }

// bearer resolves a session or API token, whose SHA-256 is sum, to an
// active principal, and says when the credential expires (zero: never)
// without any write to the state; any failure is ErrUnauthenticated.
// Principals.Bearer is how callers ask.
func bearer(r *store.ReadTxn, token string, sum [sha256.Size]byte, now time.Time) (*Principal, time.Time, error) {
	switch {
	case strings.HasPrefix(token, SessionTokenPrefix):
		return sessionPrincipal(r, tokenID(sum), now)
	case strings.HasPrefix(token, APITokenPrefix):
		return apiTokenPrincipal(r, tokenID(sum), now)
	}
	return nil, time.Time{}, ErrUnauthenticated
}

func sessionPrincipal(r *store.ReadTxn, id string, now time.Time) (*Principal, time.Time, error) {
	sess, err := r.Session(id)
	if err != nil || sess == nil || !now.Before(sess.ExpiresAt) {
		return nil, time.Time{}, ErrUnauthenticated
	}
	p, err := PrincipalOf(r, subjects.OfUser(sess.User), MethodSession)
	if err != nil {
		return nil, time.Time{}, err
	}
	p.SessionID, p.SessionExpires = id, sess.ExpiresAt
	return p, sess.ExpiresAt, nil
}

// APIToken resolves an API token (of a user or a service account) to an
// active principal.
func APIToken(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	p, _, err := apiTokenPrincipal(r, TokenHash(token), now)
	return p, err
}

func apiTokenPrincipal(r *store.ReadTxn, hash string, now time.Time) (*Principal, time.Time, error) {
	t, err := r.APITokenByHash(hash)
	if err != nil || t == nil || !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nil, time.Time{}, ErrUnauthenticated
	}
	p, err := PrincipalOf(r, t.Owner, MethodAPIToken)
	return p, t.ExpiresAt, err
}
