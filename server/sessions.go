package server

import (
	"context"
	"sync"
	"sync/atomic"
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
	// settings are the session settings at a revision, read again only
	// after a write.
	settings atomic.Pointer[sessionSettingsAt]
}

type sessionSettingsAt struct {
	rev uint64
	ss  store.SessionSettings
}

func newSessionTracker() *sessionTracker {
	return &sessionTracker{written: map[string]time.Time{}}
}

// useRecordInterval is how stale a session's recorded last use may get.
const useRecordInterval = time.Minute

// sessionSettings are the session settings at the current revision.
func (d *deps) sessionSettings() (store.SessionSettings, bool) {
	t := d.sessions
	if c := t.settings.Load(); c != nil && c.rev == d.store.Revision() {
		return c.ss, true
	}
	r := d.store.Read()
	settings, err := r.Settings()
	if err != nil || settings == nil {
		return store.SessionSettings{}, false
	}
	t.settings.Store(&sessionSettingsAt{rev: r.Revision(), ss: settings.Sessions})
	return settings.Sessions, true
}

// touchSession records a use of the caller's session, renewing it when due.
func (d *deps) touchSession(ctx context.Context, p *Principal) {
	if p.SessionID == "" {
		return
	}
	now := d.now()
	ss, ok := d.sessionSettings()
	if !ok {
		return
	}
	threshold := time.Duration(ss.RenewalThresholdMinutes) * time.Minute
	var renewTo time.Time
	if threshold > 0 && p.SessionExpires.Sub(now) < threshold {
		renewTo = now.Add(time.Duration(ss.LifetimeMinutes) * time.Minute)
	}
	t := d.sessions
	t.mu.Lock()
	last, seen := t.written[p.SessionID]
	due := renewTo.After(p.SessionExpires) || !seen || now.Sub(last) >= useRecordInterval
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
