package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/grantd/grantd/rights"
	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/authn"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/grantd/grantd/adapters/registry"
	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/store"
)

// registryBackend answers the token service's questions from the state and
// the decision engine.
type registryBackend struct{ *deps }

// Authenticate accepts a password (local or directory, throttled like a
// login) or an API token of the named account.
func (b registryBackend) Authenticate(ctx context.Context, username, secret string) (registry.Identity, error) {
	var p *authn.Principal
	var err error
	if strings.HasPrefix(secret, authn.APITokenPrefix) {
		p, err = authn.APIToken(b.store.Read(), secret, b.now())
		if err == nil && p.Name != username && p.Subject().String() != username {
			err = authn.ErrUnauthenticated
		}
	} else {
		p, err = b.passwords.Check(ctx, username, secret, clientAddr(ctx))
	}
	switch {
	case errors.Is(err, authn.ErrDirectoryUnavailable):
		return registry.Identity{}, registry.ErrUnavailable
	case errors.Is(err, authn.ErrThrottled):
		return registry.Identity{}, registry.ErrThrottled
	case err != nil:
		return registry.Identity{}, registry.ErrBadCredentials
	}
	// The catalog (registry:catalog:*) is for those rights calls system admins.
	return registry.Identity{Subject: p.Subject(), Account: username, IsAdmin: rights.RequireSystemAdmin(p) == nil}, nil
}

// Refresh checks that the account of a refresh token is still active.
func (b registryBackend) Refresh(_ context.Context, subject subjects.Subject) (registry.Identity, error) {
	p, err := authn.PrincipalOf(b.store.Read(), subject, authn.MethodAPIToken)
	if err != nil {
		return registry.Identity{}, registry.ErrBadCredentials
	}
	return registry.Identity{Subject: subject, Account: p.Name, IsAdmin: rights.RequireSystemAdmin(p) == nil}, nil
}

// Allowed asks the decision engine.
func (b registryBackend) Allowed(ctx context.Context, id registry.Identity, operation, repository string) (bool, error) {
	r := authz.Request{Subject: id.Subject, Operation: operation, Repository: repository}
	if d := b.fresh.denial(); d != nil {
		b.decisions.denied(ctx, b.decisions.now(), r, *d, viaRegistry)
		return false, errors.New(d.Reason)
	}
	d := b.decisions.decide(ctx, r, viaRegistry)
	if d.Code == authz.CodeInternalError {
		return false, errors.New(d.Reason)
	}
	return d.Allowed, nil
}

// CreateForPush creates a missing repository, private, when the caller
// manages its namespace (their own, an org they administer, or any as a
// system admin).
func (b registryBackend) CreateForPush(ctx context.Context, id registry.Identity, repository string) error {
	if subjects.ValidRepository(repository) != nil {
		return nil // no such repository can exist: nothing is created, and the push is not granted
	}
	ns, name, _ := strings.Cut(repository, "/")
	r := b.store.Read()
	if repo, err := r.Repository(ns, name); err != nil || repo != nil {
		return err
	}
	ok, err := rights.ManagesNamespace(r, &Principal{Kind: id.Subject.Kind, Name: id.Subject.Name, IsAdmin: id.IsAdmin}, ns)
	if err != nil || !ok {
		return err
	}
	_, err = b.applyAs(ctx, id.Subject.String(), store.CreateRepository{Repository: store.Repository{Namespace: ns, Name: name,
		Visibility: store.VisibilityPrivate, CreatedAt: b.now()}})
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil // a concurrent push made it
	}
	return err
}

// withClientAddr gives plain HTTP handlers the caller's address the way
// gRPC handlers have it (login throttling counts by address).
func withClientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withHTTPPeer(r.Context())))
	})
}

// registryKeys hands the token service the signing keys in its own terms.
func registryKeys(keys *pki.TokenKeys) func() (*registry.Keys, error) {
	return func() (*registry.Keys, error) {
		k, err := keys.Load()
		if err != nil {
			return nil, err
		}
		return &registry.Keys{Key: k.Key, Algorithm: jose.SignatureAlgorithm(k.Algorithm), Chain: k.Chain, Roots: k.Roots}, nil
	}
}
