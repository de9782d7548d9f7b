package authn

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/grantd/grantd/store"
)

// Principals remembers what bearer tokens resolved to at one revision of
// the state, so that a token presented again before the next write is not
// looked up again (a session, its user and their rows: about a sixth of
// what a cached decision over gRPC costs grantd, and of its garbage).
//
// An entry holds only while the state stays at the revision it was
// resolved at: any write (a logout, a deactivated user, a deleted token, a
// renewed session) retires every entry. Expiry needs no write, so it is
// checked on every use. Failures are not remembered: a wrong token costs
// the full lookup every time. Entries are keyed by the token's SHA-256;
// the token itself is not kept.
//
// The principals handed out are shared by every request of the token and
// must not be modified.
type Principals struct {
	mu      sync.RWMutex
	rev     uint64
	entries map[[sha256.Size]byte]cachedPrincipal
}

type cachedPrincipal struct {
	p *Principal
	// expires is when the credential ends (zero: never).
	expires time.Time
}

// MaxCachedPrincipals bounds Principals: when it holds this many, it
// starts over.
const MaxCachedPrincipals = 10_000

// NewPrincipals makes an empty cache.
func NewPrincipals() *Principals {
	return &Principals{entries: map[[sha256.Size]byte]cachedPrincipal{}}
}

// Bearer is authn.Bearer on the current state of st, answered without
// reading the state when the token was resolved at the current revision.
func (c *Principals) Bearer(st *store.Store, token string, now time.Time) (*Principal, error) {
	sum := sha256.Sum256([]byte(token))
	c.mu.RLock()
	e, ok := c.entries[sum]
	ok = ok && c.rev == st.Revision()
	c.mu.RUnlock()
	if ok && (e.expires.IsZero() || now.Before(e.expires)) {
		return e.p, nil
	}
	return c.resolve(st.Read(), token, sum, now)
}

// resolve resolves the token (whose SHA-256 is sum) on r and remembers the
// principal for r's revision, unless the cache has moved past it. The
// state r reads is at least at r's revision (store.Store.Read), so what it
// says holds at that revision.
func (c *Principals) resolve(r *store.ReadTxn, token string, sum [sha256.Size]byte, now time.Time) (*Principal, error) {
	p, expires, err := bearer(r, token, sum, now)
	if err != nil {
		return nil, err
	}
	rev := r.Revision()
	c.mu.Lock()
	if rev > c.rev || len(c.entries) >= MaxCachedPrincipals {
		clear(c.entries)
		c.rev = max(c.rev, rev)
	}
	if rev == c.rev {
		c.entries[sum] = cachedPrincipal{p: p, expires: expires}
	}
	c.mu.Unlock()
	return p, nil
}
