package authz

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// TestHashIndexVersions applies random batches of sets and removals to a
// hash index, from empty past several rebuilds, and checks after each
// batch that the new version holds exactly what a Go map given the same
// batches holds, and that every earlier version still holds what it held.
func TestHashIndexVersions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type version struct {
		x    *hashIndex[*int]
		want map[string]*int
	}
	x := newHashIndex(0, func(func(string, *int)) {})
	want := map[string]*int{}
	var versions []version
	check := func(v version) {
		t.Helper()
		if v.x.Len() != len(v.want) {
			t.Fatalf("%d entries, want %d", v.x.Len(), len(v.want))
		}
		n := 0
		for _, p := range v.x.pages {
			for _, b := range p {
				n += len(b)
			}
		}
		if n != len(v.want) {
			t.Fatalf("%d entries in the buckets, want %d", n, len(v.want))
		}
		for name, w := range v.want {
			if got, ok := v.x.Get(name); !ok || got != w {
				t.Fatalf("%s: %v %v, want %v", name, got, ok, w)
			}
		}
		if got, ok := v.x.Get("absent"); ok || got != nil {
			t.Fatalf("absent: %v %v", got, ok)
		}
	}
	for round := range 300 {
		batch := map[string]*int{}
		for range 1 + rng.IntN(60) {
			name := fmt.Sprintf("/c/%d", rng.IntN(4000))
			if rng.IntN(4) == 0 {
				batch[name] = nil
			} else {
				v := round
				batch[name] = &v
			}
		}
		x = x.with(batch)
		want = maps.Clone(want)
		for name, v := range batch {
			if v == nil {
				delete(want, name)
			} else {
				want[name] = v
			}
		}
		versions = append(versions, version{x, want})
		check(versions[len(versions)-1])
		check(versions[rng.IntN(len(versions))])
	}
	if len(x.pages) < 4 {
		t.Fatalf("%d entries in %d pages: the index never grew", x.Len(), len(x.pages))
	}
	for _, v := range versions {
		check(v)
	}
}
