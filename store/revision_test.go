package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grantd/grantd/subjects"
)

// A read's state is never behind the revision it reports, nor behind the
// credentials revision read before it: when revision
// R made a row, every read reporting R or later sees it. (Caches keyed by
// revision, such as authn.Principals, rely on it.)
func TestReadStateIsAtLeastItsRevision(t *testing.T) {
	s := newStore(t)
	const writes = 1500
	revOf := make([]atomic.Uint64, writes)
	var done atomic.Int64 // writes that returned
	type probe struct {
		rev, cred uint64
		i         int
		present   bool
	}
	var (
		mu     sync.Mutex
		probes []probe
		wg     sync.WaitGroup
		stop   atomic.Bool
	)
	for range 2 {
		wg.Go(func() {
			var mine []probe
			for !stop.Load() {
				// The write most likely under way: the one after the last
				// that returned.
				i := int(done.Load())
				if i >= writes {
					break
				}
				cred := s.CredentialsRevision()
				r := s.Read()
				u, err := r.User(fmt.Sprintf("u%05d", i))
				if err != nil {
					t.Error(err)
					return
				}
				mine = append(mine, probe{r.Revision(), cred, i, u != nil})
			}
			mu.Lock()
			probes = append(probes, mine...)
			mu.Unlock()
		})
	}
	for i := range writes {
		rev, err := s.Apply(context.Background(), user(fmt.Sprintf("u%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		revOf[i].Store(rev)
		done.Add(1)
	}
	stop.Store(true)
	wg.Wait()
	checked := 0
	for _, p := range probes {
		made := revOf[p.i].Load()
		if made <= p.rev {
			checked++
			if !p.present {
				t.Fatalf("a read at revision %d misses user u%05d, made at revision %d", p.rev, p.i, made)
			}
		}
		// Every write here changes a user, so it moves the credentials
		// revision too, which is read before the state.
		if made <= p.cred && !p.present {
			t.Fatalf("a read after credentials revision %d misses user u%05d, made at revision %d", p.cred, p.i, made)
		}
	}
	if checked == 0 {
		t.Fatalf("no read reported a revision at or after the write it looked for (%d reads)", len(probes))
	}
}

// The credentials revision moves with the writes to accounts, sessions and
// API tokens, and with a restore, and with nothing else.
func TestCredentialsRevisionMovesWithCredentialsOnly(t *testing.T) {
	s := newStore(t)
	moved := func(c Command) bool {
		t.Helper()
		before := s.CredentialsRevision()
		mustApply(t, s, c)
		return s.CredentialsRevision() != before
	}
	for _, c := range []struct {
		cmd  Command
		want bool
	}{
		{CreateOrg{Org: Org{Name: "acme", CreatedAt: t0}}, false},
		{CreateCollection{Collection: Collection{Path: "/acme", Parent: "/", CreatedAt: t0}}, false},
		{user("alice"), true},
		{grant("g1", "user:alice", "viewonly", "collection:/acme"), false},
		{CreateSession{Session: Session{ID: "s1", User: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}}, true},
		{TouchSession{ID: "s1", UsedAt: t0.Add(time.Minute)}, true},
		{CreateAPIToken{Token: APIToken{ID: "t1", Name: "ci", Owner: subjects.OfUser("alice"), Hash: "h1", CreatedAt: t0}}, true},
		{DeleteAPIToken{ID: "t1"}, true},
		{DeleteSession{ID: "s1"}, true},
		{UpdateUser{Name: "alice", Active: new(false), Time: t0}, true},
	} {
		if got := moved(c.cmd); got != c.want {
			t.Errorf("%T moved the credentials revision: %v, want %v", c.cmd, got, c.want)
		}
	}
	var snap bytes.Buffer
	if err := s.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	before := s.CredentialsRevision()
	if err := s.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if s.CredentialsRevision() <= before {
		t.Errorf("a restore left the credentials revision at %d (before: %d)", s.CredentialsRevision(), before)
	}
}
