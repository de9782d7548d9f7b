package authz

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// TestDecisionCacheFollowsWrites: a repeated question is answered from the
// cache, and the first decision after any write sees that write.
func TestDecisionCacheFollowsWrites(t *testing.T) {
	v := newEnv(t)
	v.must(v.user("ann"), store.CreateCollection{Collection: store.Collection{Path: "/prod", Parent: "/"}})
	hits := func() float64 { return testutil.ToFloat64(v.e.cache.hits) }

	if d := v.decide("user:ann", "container.exec", "/prod"); d.Allowed || d.Code != "missing_operation" {
		t.Fatalf("before the grant: %+v", d)
	}
	before := hits()
	if d := v.decide("user:ann", "container.exec", "/prod"); d.Allowed || hits() != before+1 {
		t.Fatalf("the repeated question was not answered from the cache (hits %v → %v): %+v", before, hits(), d)
	}

	grant := v.id()
	v.must(store.CreateGrant{Grant: store.Grant{ID: grant, Subject: subjects.MustParse("user:ann"), Role: roles.FullControl, Object: subjects.MustParseObject("collection:/prod")}})
	if d := v.decide("user:ann", "container.exec", "/prod"); !d.Allowed {
		t.Fatalf("the first decision after the grant did not see it: %+v", d)
	}
	if d := v.decide("user:ann", "container.exec", "/prod"); !d.Allowed {
		t.Fatalf("cached after the grant: %+v", d)
	}
	v.must(store.DeleteGrant{ID: grant})
	if d := v.decide("user:ann", "container.exec", "/prod"); d.Allowed {
		t.Fatalf("the first decision after the revocation still allows: %+v", d)
	}

	// A grant on an ancestor reaches a decision cached below it (the
	// policy reads the derived at[/prod/app], which stands for /prod's
	// grants too).
	v.must(store.CreateCollection{Collection: store.Collection{Path: "/prod/app", Parent: "/prod"}})
	for range 2 {
		if d := v.decide("user:ann", "container.exec", "/prod/app"); d.Allowed {
			t.Fatalf("below /prod before the grant: %+v", d)
		}
	}
	above := v.id()
	v.must(store.CreateGrant{Grant: store.Grant{ID: above, Subject: subjects.MustParse("user:ann"), Role: roles.FullControl, Object: subjects.MustParseObject("collection:/prod")}})
	if d := v.decide("user:ann", "container.exec", "/prod/app"); !d.Allowed {
		t.Fatalf("the first decision below /prod after its grant did not see it: %+v", d)
	}
	v.must(store.DeleteGrant{ID: above})
	if d := v.decide("user:ann", "container.exec", "/prod/app"); d.Allowed {
		t.Fatalf("the first decision below /prod after the revocation still allows: %+v", d)
	}

	// A broken engine denies even what it remembers allowing.
	v.must(store.CreateGrant{Grant: store.Grant{ID: v.id(), Subject: subjects.MustParse("user:ann"), Role: roles.FullControl, Object: subjects.MustParseObject("collection:/prod")}})
	if d := v.decide("user:ann", "container.exec", "/prod"); !d.Allowed {
		t.Fatalf("regranted: %+v", d)
	}
	v.e.broken.Store(true)
	if d := v.decide("user:ann", "container.exec", "/prod"); d.Allowed || d.Code != "internal_error" {
		t.Fatalf("a broken engine answered from its cache: %+v", d)
	}
	v.e.broken.Store(false)

	// Callers own what they get: changing a returned slice does not
	// change the next answer.
	d := v.e.Decide(context.Background(), Request{Subject: subjects.MustParse("user:ann"), Operation: "container.create", Collection: "/prod"})
	again := v.e.Decide(context.Background(), Request{Subject: subjects.MustParse("user:ann"), Operation: "container.create", Collection: "/prod"})
	if len(d.Schedulable) == 0 || len(again.Schedulable) == 0 {
		t.Fatalf("no schedulable collections: %+v", d)
	}
	again.Schedulable[0] = "/elsewhere"
	if third := v.e.Decide(context.Background(), Request{Subject: subjects.MustParse("user:ann"), Operation: "container.create", Collection: "/prod"}); third.Schedulable[0] != d.Schedulable[0] {
		t.Fatalf("a caller's change reached the cache: %v", third.Schedulable)
	}
}

// TestCacheKeyTellsRequestsApart: requests that differ anywhere the
// policy looks get different keys.
func TestCacheKeyTellsRequestsApart(t *testing.T) {
	reqs := []Request{
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Collection: "/x"},
		{Subject: subjects.MustParse("user:ab"), Operation: "c", Collection: "/x"},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Repository: "/x"},
		{Subject: subjects.MustParse("user:a"), Operation: "bc"},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", HasLabels: true},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Labels: map[string]string{"k": "v"}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Labels: map[string]string{"k": "", "v": ""}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Labels: map[string]string{"kv": ""}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Collection: "/x", Options: []string{"privileged"}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Collection: "/x", Secrets: []string{"privileged"}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Collection: "/x", Options: []string{"a", "b"}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Collection: "/x", Options: []string{"a:b"}},
		{Subject: subjects.MustParse("user:a"), Operation: "bc", Collection: "/x", Options: []string{"a"}, Secrets: []string{"b"}},
	}
	seen := map[string]int{}
	for i, r := range reqs {
		k := cacheKey(r)
		if j, dup := seen[k]; dup {
			t.Errorf("requests %d and %d share the key %q", j, i, k)
		}
		seen[k] = i
	}
	same := cacheKey(Request{Subject: subjects.OfUser("s"), Operation: "o", Labels: map[string]string{"a": "1", "b": "2"}})
	for range 20 { // map order must not matter
		if cacheKey(Request{Subject: subjects.OfUser("s"), Operation: "o", Labels: map[string]string{"b": "2", "a": "1"}}) != same {
			t.Fatal("the same labels gave different keys")
		}
	}
}

// Explain and effective permissions read roles from the compiled snapshot
// the decision used: every role reads back from it as the store holds it.
func TestSnapshotRolesMatchTheStore(t *testing.T) {
	v := newEnv(t)
	v.must(v.role("dev", roles.Permission{Operation: "container.logs"},
		roles.Permission{Operation: "container.create", Options: []string{"privileged", "host_bind_mounts"}}))
	snap := v.e.opa.cur.Load()
	all, err := v.st.Read().Roles()
	if err != nil || len(all) < 5 {
		t.Fatalf("roles: %d %v", len(all), err)
	}
	for _, want := range all {
		got, ok := snap.role(want.ID)
		if !ok {
			t.Errorf("role %s is not in the snapshot", want.ID)
			continue
		}
		norm := func(r roles.Role) string {
			ps := slices.Clone(r.Permissions)
			for i := range ps {
				ps[i].Options = slices.Sorted(slices.Values(ps[i].Options))
			}
			slices.SortFunc(ps, func(a, b roles.Permission) int { return strings.Compare(a.Operation, b.Operation) })
			return fmt.Sprint(ps)
		}
		if norm(got) != norm(want.Role) {
			t.Errorf("role %s: snapshot %v, store %v", want.ID, norm(got), norm(want.Role))
		}
	}
	if _, ok := snap.role("no-such-role"); ok {
		t.Error("a missing role reads back")
	}
}

// TestCacheSurvivesWritesDifferential: through a random sequence of writes
// of every kind, after each write the cached engine answers a fixed set of
// questions exactly as a fresh evaluation does (full Decision, revision
// included), and most of its answers
// after the first pass come from entries made before the write.
func TestCacheSurvivesWritesDifferential(t *testing.T) {
	seed := testSeed(t)
	v := newEnv(t)
	g := &gen{rng: rand.New(rand.NewPCG(seed, 99)), v: v}
	g.populate()
	questions := make([]Request, 300)
	for i := range questions {
		questions[i] = g.query()
	}
	ctx := context.Background()
	hits := func() float64 { return testutil.ToFloat64(v.e.cache.hits) }
	stale := func() float64 { return testutil.ToFloat64(v.e.cache.stale) }
	writes, asked, survived := 0, 0, 0.0
	for step := range 120 {
		before := v.st.Revision()
		// Mostly one write between rounds (the cache checks the write's
		// keys), sometimes many (it looks each entry read up again).
		n := 1
		if step%10 == 9 {
			n = 25
		}
		g.mutate(n)
		if v.st.Revision() != before {
			writes++
		}
		h := hits()
		for _, q := range questions {
			got := v.e.Decide(ctx, q)
			want, _, _ := v.e.evaluate(ctx, q, nil, nil)
			asked++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d, after revision %d: %+v\ncached: %+v\nfresh:  %+v", step, v.st.Revision(), q, got, want)
			}
		}
		survived += hits() - h
	}
	if writes < 60 {
		t.Fatalf("only %d of 120 random writes changed the state", writes)
	}
	ratio := survived / float64(asked)
	t.Logf("%d writes; %d questions after writes, %.0f%% answered by entries that survived a write; %.0f entries invalidated",
		writes, asked, 100*ratio, stale())
	if stale() == 0 {
		t.Error("no write invalidated any cached decision: the test cannot tell invalidation from none")
	}
	if ratio < 0.5 {
		t.Errorf("only %.0f%% of repeated questions were answered from the cache across writes", 100*ratio)
	}
}

// BenchmarkCacheKey measures building a request's cache key, which every
// cached decision does.
//
//	go test -run XXX -bench CacheKey ./authz
func BenchmarkCacheKey(b *testing.B) {
	r := Request{Subject: subjects.OfUser("user01234"), Operation: "container.view",
		Collection: "/shared/org012/team003/app0042", Options: []string{"privileged"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = cacheKey(r)
	}
}
