package authn

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/grantd/grantd/store"
)

// Principals remembers what bearer tokens resolved to, so that a token
// presented again is not looked up again (a session, its user and their
// rows: about a sixth of what a cached decision over gRPC costs grantd,
// and of its garbage).
//
// An entry holds only while no write has changed a user, a service
// account, a session or an API token since it was resolved
// (store.Store.CredentialsRevision): a logout, a deactivated user, a
// deleted token or a renewed session retires every entry; a grant, a
// membership or a collection retires none. Expiry needs no write, so it is
// checked on every use. Failures are not remembered: a wrong token costs
// the full lookup every time. Entries are keyed by the token's SHA-256;
// the token itself is not kept.
//
// The principals handed out are shared by every request of the token and
// must not be modified.
type Principals struct {
	mu sync.RWMutex
	// rev is the credentials revision the entries were resolved at.
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

// Bearer resolves a session or API token to an active principal on the
// current state of st (any failure is ErrUnauthenticated), without reading
// the state when the token was resolved since the last write to the
// credentials.
func (c *Principals) Bearer(st *store.Store, token string, now time.Time) (*Principal, error) {
	sum := sha256.Sum256([]byte(token))
	// Before the state, so that the state read is at least as new.
	rev := st.CredentialsRevision()
	c.mu.RLock()
	e, ok := c.entries[sum]
	ok = ok && c.rev == rev
	c.mu.RUnlock()
	if ok && (e.expires.IsZero() || now.Before(e.expires)) {
		return e.p, nil
	}
	return c.resolve(rev, st.Read(), token, sum, now)
}

// resolve resolves the token (whose SHA-256 is sum) on r, a read taken
// after the credentials revision was rev, and remembers the principal for
// rev unless the cache has moved past it.
func (c *Principals) resolve(rev uint64, r *store.ReadTxn, token string, sum [sha256.Size]byte, now time.Time) (*Principal, error) {
	p, expires, err := bearer(r, token, sum, now)
	if err != nil {
		return nil, err
	}
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
