package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/grantd/grantd/store"
	"google.golang.org/grpc/metadata"
)

// Principal is an authenticated caller.
type Principal struct {
	// Kind is "user" or "serviceaccount".
	Kind string
	Name string
	// IsAdmin is true for system admins.
	IsAdmin bool
	// Method is how the caller authenticated: "session" or "api_token".
	Method string
	// SessionID is the stored ID (token hash) of the caller's session.
	SessionID    string
	Capabilities []string
	// sessionExpires is when the caller's session ends (session callers).
	sessionExpires time.Time
}

// Subject is the caller as a subject string.
func (p *Principal) Subject() string { return p.Kind + ":" + p.Name }

// HasCapability reports whether a service account holds a capability.
func (p *Principal) HasCapability(c string) bool {
	for _, x := range p.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principalFrom returns the authenticated caller, or nil on public methods.
func principalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Token prefixes tell session tokens from API tokens at a glance (and to
// secret scanners); the rest is 256 random bits.
const (
	sessionTokenPrefix = "gds_"
	apiTokenPrefix     = "gdt_"
)

func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenHash is how tokens are stored and looked up: never the token itself.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

var errUnauthenticated = errors.New("missing, invalid or expired credentials")

// bearerToken reads "authorization: Bearer <token>" from incoming metadata.
func bearerToken(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
	}
	return ""
}

// authenticate resolves a bearer token to an active principal. Any failure
// is the same opaque error, so callers learn nothing about which part failed.
func authenticate(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	switch {
	case strings.HasPrefix(token, sessionTokenPrefix):
		return sessionPrincipal(r, token, now)
	case strings.HasPrefix(token, apiTokenPrefix):
		return apiTokenPrincipal(r, token, now)
	}
	return nil, errUnauthenticated
}

func sessionPrincipal(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	id := tokenHash(token)
	sess, err := r.Session(id)
	if err != nil || sess == nil || !now.Before(sess.ExpiresAt) {
		return nil, errUnauthenticated
	}
	u, err := r.User(sess.User)
	if err != nil || u == nil || !u.Active {
		return nil, errUnauthenticated
	}
	return &Principal{Kind: "user", Name: u.Name, IsAdmin: u.IsAdmin, Method: "session", SessionID: id,
		sessionExpires: sess.ExpiresAt}, nil
}

func apiTokenPrincipal(r *store.ReadTxn, token string, now time.Time) (*Principal, error) {
	t, err := r.APITokenByHash(tokenHash(token))
	if err != nil || t == nil || !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return nil, errUnauthenticated
	}
	kind, name, _ := strings.Cut(t.Owner, ":")
	switch kind {
	case "user":
		u, err := r.User(name)
		if err != nil || u == nil || !u.Active {
			return nil, errUnauthenticated
		}
		return &Principal{Kind: kind, Name: name, IsAdmin: u.IsAdmin, Method: "api_token"}, nil
	case "serviceaccount":
		a, err := r.ServiceAccount(name)
		if err != nil || a == nil || !a.Active {
			return nil, errUnauthenticated
		}
		return &Principal{Kind: kind, Name: name, Method: "api_token", Capabilities: a.Capabilities}, nil
	}
	return nil, errUnauthenticated
}
