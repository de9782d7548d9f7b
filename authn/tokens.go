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
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Bearer resolves a session or API token to an active principal; any
// failure is ErrUnauthenticated.
func Bearer(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	switch {
	case strings.HasPrefix(token, SessionTokenPrefix):
		return sessionPrincipal(r, token, now)
	case strings.HasPrefix(token, APITokenPrefix):
		return APIToken(r, token, now)
	}
	return nil, ErrUnauthenticated
}

func sessionPrincipal(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	id := TokenHash(token)
	sess, err := r.Session(id)
	if err != nil || sess == nil || !now.Before(sess.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	p, err := PrincipalOf(r, subjects.OfUser(sess.User), MethodSession)
	if err != nil {
		return nil, err
	}
	p.SessionID, p.SessionExpires = id, sess.ExpiresAt
	return p, nil
}

// APIToken resolves an API token (of a user or a service account) to an
// active principal.
func APIToken(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	t, err := r.APITokenByHash(TokenHash(token))
	if err != nil || t == nil || !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	return PrincipalOf(r, t.Owner, MethodAPIToken)
}
