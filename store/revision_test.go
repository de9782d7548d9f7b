package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// A read's state is never behind the revision it reports: when revision
// R made a row, every read reporting R or later sees it. (Caches keyed by
// revision, such as authn.Principals, rely on it.)
func TestReadStateIsAtLeastItsRevision(t *testing.T) {
	s := newStore(t)
	const writes = 1500
	revOf := make([]atomic.Uint64, writes)
	var done atomic.Int64 // writes that returned
	type probe struct {
		rev     uint64
		i       int
		present bool
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
				r := s.Read()
				u, err := r.User(fmt.Sprintf("u%05d", i))
				if err != nil {
					t.Error(err)
					return
				}
				mine = append(mine, probe{r.Revision(), i, u != nil})
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
		if revOf[p.i].Load() <= p.rev {
			checked++
			if !p.present {
				t.Fatalf("a read at revision %d misses user u%05d, made at revision %d", p.rev, p.i, revOf[p.i].Load())
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no read reported a revision at or after the write it looked for (%d reads)", len(probes))
	}
}
