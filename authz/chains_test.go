package authz

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

// TestChainIndexRefreshedAfterAWideWrite: a subtree grant above more
// collections than a write recomputes leaves its collection a stale root,
// decisions below it are right meanwhile (they read the tables), and the
// index is rebuilt off the write path and installed without stale roots.
func TestChainIndexRefreshedAfterAWideWrite(t *testing.T) {
	v := staleRootEnv(t)
	if d := v.decide("user:ann", "container.view", "/a/c3"); !d.Allowed {
		t.Fatalf("below the stale root: %s", d.Reason)
	}
	chainRefresh = true
	v.must(store.CreateCollection{Collection: store.Collection{Path: "/b"}})
	awaitFreshChains(t, v)
	if d := v.decide("user:ann", "container.view", "/a/c3"); !d.Allowed {
		t.Fatalf("after the refresh: %s", d.Reason)
	}
}

// TestChainIndexRefreshCatchesUp: writes that come while the chain index
// is rebuilt are applied to the rebuilt index before it is installed.
func TestChainIndexRefreshCatchesUp(t *testing.T) {
	v := staleRootEnv(t)
	stale := v.e.opa.cur.Load()
	// Meanwhile: a collection, an exact grant below the stale root, and a
	// subtree grant under it.
	v.must(store.CreateCollection{Collection: store.Collection{Path: "/a/c1/d"}},
		v.grant("user:ann", roles.FullControl, "collection:/a/c2", store.ScopeExact),
		v.grant("user:ann", roles.Scheduler, "collection:/a/c1", store.ScopeSubtree))
	v.e.refreshChainsOf(stale, maxChainRecompute)
	s := v.e.opa.cur.Load()
	if len(s.stale) != 0 || s.rev == stale.rev {
		t.Fatalf("after the refresh: stale roots %v at revision %d (the stale snapshot's %d)", s.stale, s.rev, stale.rev)
	}
	assertChainIndex(t, s)
	if d := v.decide("user:ann", "node.schedule", "/a/c1/d"); !d.Allowed {
		t.Fatalf("below the subtree grant written meanwhile: %s", d.Reason)
	}
}

// TestChainIndexRefreshFollowsAWideWriteMeanwhile: a write during a
// rebuild that leaves a stale root of its own (here a subtree grant above
// more collections than a write recomputes) found the refresh running;
// the refresh goes again, and ends with no stale root.
func TestChainIndexRefreshFollowsAWideWriteMeanwhile(t *testing.T) {
	v := staleRootEnv(t)
	for _, p := range []string{"/b", "/b/c0", "/b/c1", "/b/c2"} {
		v.must(store.CreateCollection{Collection: store.Collection{Path: p}})
	}
	before := v.e.opa.cur.Load()
	v.must(v.grant("user:ann", roles.ViewOnly, "collection:/b", store.ScopeSubtree))
	v.e.refreshing.Store(true) // the refresh that started from before
	v.e.refreshUntilFresh(before, maxChainRecompute)
	s := v.e.opa.cur.Load()
	if len(s.stale) != 0 || v.e.refreshing.Load() {
		t.Fatalf("after the refresh: stale roots %v, refreshing %v", s.stale, v.e.refreshing.Load())
	}
	assertChainIndex(t, s)
	if d := v.decide("user:ann", "container.view", "/b/c2"); !d.Allowed {
		t.Fatalf("below the grant written meanwhile: %s", d.Reason)
	}
}

// TestChainIndexBuiltAfterACompile: a whole compile leaves the chain
// index to be built off its path (every collection below the stale root
// "/" meanwhile), and the engine builds and installs it.
func TestChainIndexBuiltAfterACompile(t *testing.T) {
	v := newEnv(t)
	v.must(v.user("ann"), store.CreateCollection{Collection: store.Collection{Path: "/a"}},
		v.grant("user:ann", roles.ViewOnly, "collection:/a", store.ScopeSubtree))
	built, err := compiler{r: v.st.Read()}.build(v.st.Read().Revision())
	if err != nil {
		t.Fatal(err)
	}
	if len(built.stale) != 1 || built.stale[0] != "/" || built.chains.Len() != 0 {
		t.Fatalf("a compile's chain index: %d entries, stale roots %v", built.chains.Len(), built.stale)
	}
	if err := v.e.Rebuild(context.Background(), v.st.Read()); err != nil {
		t.Fatal(err)
	}
	awaitFreshChains(t, v)
}

// staleRootEnv is ann and the collection /a with five collections below
// it, the chain index built; then, with a write recomputing at most two
// entries and nothing refreshing the index, ann's subtree grant on /a,
// which leaves /a the one stale root. The test's end puts the bound and
// the refresh back.
func staleRootEnv(t *testing.T) *env {
	t.Helper()
	most := maxChainRecompute
	t.Cleanup(func() { maxChainRecompute, chainRefresh = most, true })
	v := newEnv(t)
	v.must(v.user("ann"), store.CreateCollection{Collection: store.Collection{Path: "/a"}})
	for i := range 5 {
		v.must(store.CreateCollection{Collection: store.Collection{Path: fmt.Sprintf("/a/c%d", i)}})
	}
	refreshNow(t, v)
	maxChainRecompute, chainRefresh = 2, false
	v.must(v.grant("user:ann", roles.ViewOnly, "collection:/a", store.ScopeSubtree))
	if s := v.e.opa.cur.Load(); len(s.stale) != 1 || s.stale[0] != "/a" {
		t.Fatalf("stale roots after the grant: %v, want [/a]", s.stale)
	}
	return v
}

// awaitFreshChains waits for the engine's refresh to install a chain
// index without stale roots, and checks it against the tables: every
// collection's entry, and none other.
func awaitFreshChains(t *testing.T, v *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(v.e.opa.cur.Load().stale) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the chain index was not refreshed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	assertChainIndex(t, v.e.opa.cur.Load())
}

// refreshNow builds the engine's chain index now, in place of the
// refresh that a compile starts off its path, and checks that it left no
// stale root.
func refreshNow(t *testing.T, v *env) {
	t.Helper()
	v.e.refreshChainsOf(v.e.opa.cur.Load(), maxChainRecompute)
	if s := v.e.opa.cur.Load(); len(s.stale) > 0 {
		t.Fatalf("stale roots after a refresh: %v", s.stale)
	}
}
