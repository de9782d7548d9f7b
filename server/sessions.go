package server

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/grantd/grantd/store"
)

// sessionTracker records session use and renews sessions (api.md): a
// request inside the last renewalThreshold minutes of a session extends it
// to a full lifetime, and the last use (to the minute) decides which
// session goes when a user opens more than perUserLimit. Writes go through
// raft, so they are kept to one per session per minute.
type sessionTracker struct {
	mu      sync.Mutex
	written map[string]time.Time // session ID -> last use written
}

func newSessionTracker() *sessionTracker {
	return &sessionTracker{written: map[string]time.Time{}}
}

// useRecordInterval is how stale a session's recorded last use may get.
const useRecordInterval = time.Minute

// touchSession records a use of the caller's session, renewing it when due.
func (d *deps) touchSession(ctx context.Context, r *store.ReadTxn, p *Principal) {
	if p.SessionID == "" {
		return
	}
	now := d.now()
	settings, err := r.Settings()
	if err != nil || settings == nil {
		return
	}
	ss := settings.Sessions
	threshold := time.Duration(ss.RenewalThresholdMinutes) * time.Minute
	var renewTo time.Time
	if threshold > 0 && p.sessionExpires.Sub(now) < threshold {
		renewTo = now.Add(time.Duration(ss.LifetimeMinutes) * time.Minute)
	}
	t := d.sessions
	t.mu.Lock()
	last, seen := t.written[p.SessionID]
	due := renewTo.After(p.sessionExpires) || !seen || now.Sub(last) >= useRecordInterval
	if due {
		t.written[p.SessionID] = now
		if len(t.written) > 100_000 {
			for id, at := range t.written {
				if now.Sub(at) >= useRecordInterval {
					delete(t.written, id)
				}
			}
		}
	}
	t.mu.Unlock()
	if !due {
		return
	}
	// The request does not fail when the bookkeeping write does: its
	// credentials were valid when it was admitted.
	if _, err := d.apply(ctx, store.TouchSession{ID: p.SessionID, UsedAt: now, ExpiresAt: renewTo}); err != nil {
		d.log.WarnContext(ctx, "recording session use failed", "err", err)
	}
}

// Throttling of failed logins (api.md): per account and per client
// address, a fixed window of loginWindow; once the failures in the window
// reach the limit, further attempts are refused until it ends, whatever
// the password. Unknown accounts count like known ones, so the answer
// tells nothing about which names exist.
const (
	loginWindow        = 15 * time.Minute
	maxFailuresAccount = 5
	maxFailuresAddress = 30
	maxThrottleKeys    = 100_000
	throttleAccountKey = "account:"
	throttleAddressKey = "address:"
)

type loginThrottle struct {
	now func() time.Time
	mu  sync.Mutex
	// failures by key: the start of the current window and its count.
	failures map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	count int
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{now: now, failures: map[string]*failureWindow{}}
}

func throttleKeys(username, addr string) (account, address string) {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return throttleAccountKey + username, throttleAddressKey + addr
}

// blocked reports how long attempts for this account or address are
// refused (0: not refused).
func (l *loginThrottle) blocked(username, addr string) time.Duration {
	account, address := throttleKeys(username, addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for key, limit := range map[string]int{account: maxFailuresAccount, address: maxFailuresAddress} {
		if w := l.failures[key]; w != nil && now.Sub(w.start) < loginWindow && w.count >= limit {
			wait = max(wait, w.start.Add(loginWindow).Sub(now))
		}
	}
	return wait
}

// failed counts a failed attempt.
func (l *loginThrottle) failed(username, addr string) {
	account, address := throttleKeys(username, addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.failures) > maxThrottleKeys {
		for k, w := range l.failures {
			if now.Sub(w.start) >= loginWindow {
				delete(l.failures, k)
			}
		}
	}
	for _, key := range []string{account, address} {
		w := l.failures[key]
		if w == nil || now.Sub(w.start) >= loginWindow {
			w = &failureWindow{start: now}
			l.failures[key] = w
		}
		w.count++
	}
}

// succeeded clears the account's failures (not the address's).
func (l *loginThrottle) succeeded(username string) {
	account, _ := throttleKeys(username, "")
	l.mu.Lock()
	delete(l.failures, account)
	l.mu.Unlock()
}
