package authn

import (
	"net"
	"sync"
	"time"
)

// Throttle slows failed logins (api.md; the policy is in docs/decisions.md).
// It slows password guessing without letting anyone lock a legitimate
// user out:
//
//   - per account and client address (a pair): the first FreeFailures
//     failures cost nothing; from then on each failure makes that pair wait
//     twice as long as the one before (1 s, 2 s, 4 s … up to maxPairDelay)
//     before its next attempt. Failures of other addresses never slow a
//     pair, so an attacker elsewhere cannot lock an account out. A success
//     clears the pair; its failures are forgotten pairForget after the last.
//   - per client address: more than maxFailuresAddress failures from one
//     address within loginWindow (password spraying) refuse, until the
//     window ends, logins from that address for accounts that have not
//     logged in from it successfully within trustedFor. People behind a
//     shared proxy or NAT who have used it before keep logging in.
//   - the recovery admin is never refused by the address rule when calling
//     from a loopback address, and `grantd admin reset-password` resets
//     their password on the data directory while grantd is stopped.
//
// Unknown names count like known ones, so the answer tells nothing about
// which accounts exist. The state is per node and in memory.
const (
	FreeFailures       = 5
	maxPairDelay       = 15 * time.Minute
	pairForget         = time.Hour
	loginWindow        = 15 * time.Minute
	maxFailuresAddress = 30
	trustedFor         = 30 * 24 * time.Hour
	maxThrottleKeys    = 100_000
)

type Throttle struct {
	now func() time.Time
	mu  sync.Mutex
	// pairs are the recent failures of an account from an address.
	pairs map[throttlePair]*pairFailures
	// addresses are the failures from an address in its current window.
	addresses map[string]*failureWindow
	// trusted is when an account last logged in from an address.
	trusted map[throttlePair]time.Time
	// share, when set, tells the other nodes of a cluster about each
	// failure and success counted here (they count it with Peer).
	share func(failed bool, username, address string)
}

// ShareWith makes every failure and success counted here also go to
// share (the other nodes of a cluster), so that failed logins count
// cluster-wide.
func (l *Throttle) ShareWith(share func(failed bool, username, address string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.share = share
}

// Peer counts a failure or success another node reported.
func (l *Throttle) Peer(failed bool, username, address string) {
	if failed {
		l.failed(username, address)
	} else {
		l.succeeded(username, address)
	}
}

type throttlePair struct{ account, address string }

type pairFailures struct {
	count int
	last  time.Time
}

type failureWindow struct {
	start time.Time
	count int
}

// NewThrottle returns an empty throttle reading time from now.
func NewThrottle(now func() time.Time) *Throttle {
	return &Throttle{now: now, pairs: map[throttlePair]*pairFailures{},
		addresses: map[string]*failureWindow{}, trusted: map[throttlePair]time.Time{}}
}

// hostOf is the address without its port.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Delay is how long a pair with n failures waits after the last one.
func Delay(n int) time.Duration {
	if n < FreeFailures {
		return 0
	}
	shift := n - FreeFailures
	if shift >= 20 { // 2^20 s is far past the cap
		return maxPairDelay
	}
	return min(time.Second<<shift, maxPairDelay)
}

// Blocked reports how long a login of username from addr is refused
// (0: not refused).
func (l *Throttle) Blocked(username, addr string) time.Duration {
	pair := throttlePair{username, hostOf(addr)}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	if f := l.pairs[pair]; f != nil {
		wait = f.last.Add(Delay(f.count)).Sub(now)
	}
	if w := l.addresses[pair.address]; w != nil && w.count >= maxFailuresAddress && now.Sub(w.start) < loginWindow &&
		!l.trustedLocked(pair, now) {
		wait = max(wait, w.start.Add(loginWindow).Sub(now))
	}
	return max(wait, 0)
}

// trustedLocked reports whether the address rule lets pair through: the
// account logged in from the address recently, or it is the recovery
// admin on a loopback address.
func (l *Throttle) trustedLocked(pair throttlePair, now time.Time) bool {
	if at, ok := l.trusted[pair]; ok && now.Sub(at) < trustedFor {
		return true
	}
	ip := net.ParseIP(pair.address)
	return pair.account == RecoveryAdmin && ip != nil && ip.IsLoopback()
}

// Failed counts a failed attempt.
func (l *Throttle) Failed(username, addr string) {
	if share := l.failed(username, addr); share != nil {
		share(true, username, hostOf(addr))
	}
}

func (l *Throttle) failed(username, addr string) (share func(bool, string, string)) {
	pair := throttlePair{username, hostOf(addr)}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.pruneLocked(now)
	f := l.pairs[pair]
	if f == nil || now.Sub(f.last) >= pairForget {
		f = &pairFailures{}
		l.pairs[pair] = f
	}
	f.count++
	f.last = now
	w := l.addresses[pair.address]
	if w == nil || now.Sub(w.start) >= loginWindow {
		w = &failureWindow{start: now}
		l.addresses[pair.address] = w
	}
	w.count++
	return l.share
}

// Succeeded clears the pair's failures and trusts the address for the
// account (the address's own count stays).
func (l *Throttle) Succeeded(username, addr string) {
	if share := l.succeeded(username, addr); share != nil {
		share(false, username, hostOf(addr))
	}
}

func (l *Throttle) succeeded(username, addr string) (share func(bool, string, string)) {
	pair := throttlePair{username, hostOf(addr)}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.pruneLocked(now)
	delete(l.pairs, pair)
	l.trusted[pair] = now
	return l.share
}

// pruneLocked keeps the maps bounded: past maxThrottleKeys entries, the
// expired ones go first; if a flood of fresh entries keeps a map over the
// bound, arbitrary ones go until it is back under it (a flood can then
// reset some counters, but cannot exhaust memory).
func (l *Throttle) pruneLocked(now time.Time) {
	prune(l.pairs, func(f *pairFailures) bool { return now.Sub(f.last) >= pairForget })
	prune(l.addresses, func(w *failureWindow) bool { return now.Sub(w.start) >= loginWindow })
	prune(l.trusted, func(at time.Time) bool { return now.Sub(at) >= trustedFor })
}

func prune[K comparable, V any](m map[K]V, expired func(V) bool) {
	if len(m) <= maxThrottleKeys {
		return
	}
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) <= maxThrottleKeys*9/10 {
			return
		}
		delete(m, k)
	}
}
