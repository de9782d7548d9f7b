package authn

import (
	"fmt"
	"testing"
	"time"
)

// clock is a settable time for the throttle's unit tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// Reproduction 5 (security suite): five wrong passwords for admin from
// anywhere locked it for 15 minutes, renewably; 30 failures from one
// address locked out everyone behind it. Failures from elsewhere must not
// keep the recovery admin (or anyone) from logging in.
func TestSecurityLoginThrottleCannotLockOutTheLegitimateUser(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewThrottle(c.now)
	// An attacker hammers admin from one address, for hours.
	for range 24 * 60 {
		for range 10 {
			if l.Blocked("admin", "203.0.113.5:4000") == 0 {
				l.Failed("admin", "203.0.113.5:4000")
			}
		}
		c.advance(time.Minute)
	}
	if w := l.Blocked("admin", "203.0.113.5:4001"); w == 0 || w > maxPairDelay {
		t.Errorf("the attacker's pair waits %v, want 0 < wait ≤ %v", w, maxPairDelay)
	}
	for _, addr := range []string{"127.0.0.1:5000", "[::1]:5000", "198.51.100.7:5000"} {
		if w := l.Blocked("admin", addr); w != 0 {
			t.Errorf("admin from %s is refused for %v after another address's failures", addr, w)
		}
	}
	// The attacker sprays many accounts from a NAT address others use too.
	l.Succeeded("carol", "198.51.100.1:1") // carol has logged in from behind the NAT before
	for i := range 200 {
		l.Failed(fmt.Sprintf("victim%d", i), "198.51.100.1:2")
	}
	if w := l.Blocked("carol", "198.51.100.1:3"); w != 0 {
		t.Errorf("carol, known from the NAT's address, is refused for %v", w)
	}
	if w := l.Blocked("admin", "127.0.0.1:3"); w != 0 {
		t.Errorf("the recovery admin on loopback is refused for %v", w)
	}
	if w := l.Blocked("newcomer", "198.51.100.1:4"); w == 0 || w > loginWindow {
		t.Errorf("a spraying address is not throttled for accounts new to it: %v", w)
	}
	if w := l.Blocked("newcomer", "192.0.2.9:4"); w != 0 {
		t.Errorf("the spraying address's limit reaches another address: %v", w)
	}
	c.advance(loginWindow)
	if w := l.Blocked("newcomer", "198.51.100.1:4"); w != 0 {
		t.Errorf("after the window: %v", w)
	}
}

// The pair's delay doubles from one second after the free failures, up to
// its cap, and a success clears it.
func TestLoginThrottlePairDelay(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewThrottle(c.now)
	want := []time.Duration{0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i, w := range want {
		l.Failed("carol", "192.0.2.1:1")
		if got := l.Blocked("carol", "192.0.2.1:2"); got != w {
			t.Errorf("after %d failures: wait %v, want %v", i+1, got, w)
		}
		c.advance(l.Blocked("carol", "192.0.2.1:2"))
	}
	if got := Delay(100); got != maxPairDelay {
		t.Errorf("delay after 100 failures: %v, want the cap %v", got, maxPairDelay)
	}
	l.Succeeded("carol", "192.0.2.1:3")
	l.Failed("carol", "192.0.2.1:1")
	if got := l.Blocked("carol", "192.0.2.1:2"); got != 0 {
		t.Errorf("a success did not clear the pair: %v", got)
	}
}

// What one node counts, it shares; what it is told, it counts without
// telling again (no echo between nodes).
func TestThrottleSharesWithPeers(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a, b := NewThrottle(func() time.Time { return now }), NewThrottle(func() time.Time { return now })
	var toB, toA int
	a.ShareWith(func(failed bool, user, addr string) { toB++; b.Peer(failed, user, addr) })
	b.ShareWith(func(bool, string, string) { toA++ })
	for range FreeFailures + 1 {
		a.Failed("alice", "10.0.0.9:5555")
	}
	if toB != FreeFailures+1 || toA != 0 {
		t.Fatalf("shared %d to b, %d echoed back to a", toB, toA)
	}
	if b.Blocked("alice", "10.0.0.9:1234") == 0 {
		t.Error("b does not throttle what a counted")
	}
	a.Succeeded("alice", "10.0.0.9:5555")
	if b.Blocked("alice", "10.0.0.9:1234") != 0 {
		t.Error("a's success did not clear b's count")
	}
}
