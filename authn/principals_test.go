package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// openStore is a bootstrapped store with user alice, who holds one session
// (expiring an hour after t0) and one API token (expiring after two).
func openStore(t *testing.T) (st *store.Store, session, token string) {
	t.Helper()
	st, err := store.Open(store.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if session, err = NewSecret(SessionTokenPrefix); err != nil {
		t.Fatal(err)
	}
	if token, err = NewSecret(APITokenPrefix); err != nil {
		t.Fatal(err)
	}
	apply(t, st,
		store.Bootstrap{Admin: store.User{Name: RecoveryAdmin, PasswordHash: "h", Active: true}, Time: t0,
			SharedGrantID: "g-shared", AdminGrantID: "g-admin"},
		store.CreateUser{User: store.User{Name: "alice", Active: true, CreatedAt: t0}, PrivateGrantID: "g-alice"},
		store.CreateSession{Session: store.Session{ID: TokenHash(session), User: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}},
		store.CreateAPIToken{Token: store.APIToken{ID: "t1", Name: "ci", Owner: subjects.OfUser("alice"), Hash: TokenHash(token),
			CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}})
	return st, session, token
}

func apply(t *testing.T, st *store.Store, cmds ...store.Command) {
	t.Helper()
	for _, c := range cmds {
		if _, err := st.Apply(context.Background(), c); err != nil {
			t.Fatalf("apply %T: %v", c, err)
		}
	}
}

// The cache answers a token again only while the state has not moved:
// every write that can end a credential (a logout, a deactivated user, a
// deleted token) ends what it remembered, and expiry ends it without any
// write.
func TestPrincipalsAnswerOnlyWhatTheStateStillSays(t *testing.T) {
	for _, c := range []struct {
		name   string
		token  func(session, token string) string
		end    store.Command // a write that ends the credential
		expiry time.Time
	}{
		{"session ended", func(s, _ string) string { return s }, nil, t0.Add(time.Hour)},
		{"user deactivated (session)", func(s, _ string) string { return s },
			store.UpdateUser{Name: "alice", Active: new(false), Time: t0}, t0.Add(time.Hour)},
		{"token deleted", func(_, tok string) string { return tok }, store.DeleteAPIToken{ID: "t1"}, t0.Add(2 * time.Hour)},
		{"user deactivated (token)", func(_, tok string) string { return tok },
			store.UpdateUser{Name: "alice", Active: new(false), Time: t0}, t0.Add(2 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, session, tok := openStore(t)
			token := c.token(session, tok)
			end := c.end
			if end == nil {
				end = store.DeleteSession{ID: TokenHash(session)}
			}
			cache := NewPrincipals()
			now := t0.Add(time.Minute)
			first, err := cache.Bearer(st, token, now)
			if err != nil || first.Name != "alice" {
				t.Fatalf("first use: %+v, %v", first, err)
			}
			again, err := cache.Bearer(st, token, now)
			if err != nil || again != first {
				t.Fatalf("second use at the same revision: %p, %v; want the remembered %p", again, err, first)
			}
			// Expiry needs no write.
			if p, err := cache.Bearer(st, token, c.expiry); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("at expiry: %+v, %v; want ErrUnauthenticated", p, err)
			}
			if p, err := cache.Bearer(st, token, now); err != nil || p != first {
				t.Fatalf("before expiry again: %+v, %v", p, err)
			}
			apply(t, st, end)
			if p, err := cache.Bearer(st, token, now); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("after %T: %+v, %v; want ErrUnauthenticated", end, p, err)
			}
			// Each answer is the uncached one.
			if p, _, err := bearer(st.Read(), token, sha256.Sum256([]byte(token)), now); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("uncached after %T: %+v, %v", end, p, err)
			}
		})
	}
}

// A write to the accounts retires every entry, even one it does not touch,
// and the principal resolved again is equal to the first.
func TestPrincipalsResolveAgainAfterAnAccountWrite(t *testing.T) {
	st, session, _ := openStore(t)
	cache := NewPrincipals()
	now := t0.Add(time.Minute)
	first, err := cache.Bearer(st, session, now)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, st, store.CreateUser{User: store.User{Name: "bob", Active: true, CreatedAt: t0}, PrivateGrantID: "g-bob"})
	second, err := cache.Bearer(st, session, now)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !reflect.DeepEqual(*second, *first) {
		t.Fatalf("after a write: %p %+v; want a new principal equal to %p %+v", second, *second, first, *first)
	}
}

// Wrong tokens are never remembered, and a read at an older revision than
// the cache's does not overwrite what it holds.
func TestPrincipalsRememberNoFailureAndNoOlderRevision(t *testing.T) {
	st, session, _ := openStore(t)
	cache := NewPrincipals()
	now := t0.Add(time.Minute)
	for _, bad := range []string{"", "gds_nope", "gdt_nope", "Bearer " + session, session + "x"} {
		if p, err := cache.Bearer(st, bad, now); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("%q: %+v, %v", bad, p, err)
		}
	}
	if n := len(cache.entries); n != 0 {
		t.Fatalf("%d failures remembered", n)
	}
	oldRev, old := st.CredentialsRevision(), st.Read()
	apply(t, st, store.CreateUser{User: store.User{Name: "bob", Active: true, CreatedAt: t0}, PrivateGrantID: "g-bob"})
	if _, err := cache.Bearer(st, session, now); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.resolve(oldRev, old, session, sha256.Sum256([]byte(session)), now); err != nil {
		t.Fatal(err)
	}
	if cache.rev != st.CredentialsRevision() || cache.rev == oldRev || len(cache.entries) != 1 {
		t.Fatalf("cache at credentials revision %d with %d entries; want %d with 1", cache.rev, len(cache.entries), st.CredentialsRevision())
	}
}

// The cache holds at most MaxCachedPrincipals entries: a full cache starts
// over.
func TestPrincipalsAreBounded(t *testing.T) {
	st, session, tok := openStore(t)
	cache := NewPrincipals()
	p, err := cache.Bearer(st, session, t0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; len(cache.entries) < MaxCachedPrincipals; i++ {
		cache.entries[[32]byte{byte(i), byte(i >> 8), byte(i >> 16), 1}] = cachedPrincipal{p: p}
	}
	if _, err := cache.Bearer(st, tok, t0); err != nil {
		t.Fatal(err)
	}
	if n := len(cache.entries); n != 1 {
		t.Fatalf("%d entries after a full cache took one more; want 1", n)
	}
}

// Writes that change no account, session or token (an org, a collection, a
// grant) leave the cache as it is: the same principal answers.
func TestPrincipalsSurviveWritesElsewhere(t *testing.T) {
	st, session, tok := openStore(t)
	cache := NewPrincipals()
	now := t0.Add(time.Minute)
	first, err := cache.Bearer(st, session, now)
	if err != nil {
		t.Fatal(err)
	}
	firstTok, err := cache.Bearer(st, tok, now)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, st, store.CreateOrg{Org: store.Org{Name: "acme", CreatedAt: t0}},
		store.CreateCollection{Collection: store.Collection{Path: "/acme", Parent: "/", CreatedAt: t0}},
		store.CreateGrant{Grant: store.Grant{ID: "g1", Subject: subjects.OfUser("alice"), Role: "viewonly",
			Object: subjects.CollectionOf("/acme"), Scope: store.ScopeSubtree, CreatedAt: t0}})
	if p, err := cache.Bearer(st, session, now); err != nil || p != first {
		t.Fatalf("session after writes elsewhere: %p, %v; want the remembered %p", p, err, first)
	}
	if p, err := cache.Bearer(st, tok, now); err != nil || p != firstTok {
		t.Fatalf("token after writes elsewhere: %p, %v; want the remembered %p", p, err, firstTok)
	}
}
