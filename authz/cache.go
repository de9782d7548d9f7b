package authz

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// decisionCache remembers the decisions made on the current version of
// the compiled state. Each write publishes a new snapshot, and an entry
// counts only for the snapshot it was made on, so the first decision
// after a write already sees it: nothing is ever invalidated by hand.
//
// Proxies and daemons ask the same few questions over and over (every
// request of a session, every inspect of a container), so between writes
// most decisions are answered here without evaluating the policy.
type decisionCache struct {
	shards   [cacheShards]cacheShard
	perShard int
	seed     maphash.Seed
	hits     prometheus.Counter
	misses   prometheus.Counter
}

const cacheShards = 64

type cacheShard struct {
	mu sync.Mutex
	// snap is the snapshot the entries were decided on; entries of any
	// other snapshot are dropped on the next store.
	snap *snapshot
	m    map[string]Decision
}

func newDecisionCache(entries int) *decisionCache {
	return &decisionCache{perShard: max(1, entries/cacheShards), seed: maphash.MakeSeed(),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grantd_decision_cache_hits_total", Help: "Decisions answered from the decision cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grantd_decision_cache_misses_total", Help: "Decisions the decision cache did not hold, evaluated by the policy.",
		}),
	}
}

func (c *decisionCache) shard(k string) *cacheShard {
	return &c.shards[maphash.String(c.seed, k)%cacheShards]
}

// get returns the decision made on snap for the request key k.
func (c *decisionCache) get(snap *snapshot, k string) (Decision, bool) {
	s := c.shard(k)
	s.mu.Lock()
	d, ok := s.m[k]
	ok = ok && s.snap == snap
	s.mu.Unlock()
	if !ok {
		c.misses.Inc()
		return Decision{}, false
	}
	c.hits.Inc()
	// Callers own the slices they get.
	d.Options, d.Secrets, d.Schedulable = slices.Clone(d.Options), slices.Clone(d.Secrets), slices.Clone(d.Schedulable)
	return d, true
}

// put remembers d, decided on snap. A shard moves on to a newer snapshot
// by forgetting everything it held; a full shard forgets one entry.
func (c *decisionCache) put(snap *snapshot, k string, d Decision) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.snap != snap && (s.snap == nil || s.snap.rev <= snap.rev):
		s.snap, s.m = snap, make(map[string]Decision, min(c.perShard, 1024))
	case s.snap != snap:
		return // decided on an older snapshot than the shard holds
	case len(s.m) >= c.perShard:
		for old := range s.m {
			delete(s.m, old)
			break
		}
	}
	s.m[k] = d
}

// cacheKey encodes every field of r that reaches the policy, each with its
// length, so that no two different requests share a key.
func cacheKey(r Request) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	list := func(tag byte, xs []string) {
		b.WriteByte(tag)
		b.WriteString(strconv.Itoa(len(xs)))
		for _, x := range xs {
			field(x)
		}
	}
	// The subject's parts, length-prefixed like every field: no string
	// built for it on the cached path.
	field(string(r.Subject.Kind))
	field(r.Subject.Name)
	field(r.Subject.Team)
	field(r.Operation)
	field(r.Collection)
	field(r.Repository)
	if r.HasLabels || r.Labels != nil {
		keys := make([]string, 0, len(r.Labels))
		for k := range r.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('L')
		b.WriteString(strconv.Itoa(len(keys)))
		for _, k := range keys {
			field(k)
			field(r.Labels[k])
		}
	}
	list('O', r.Options)
	list('S', r.Secrets)
	return b.String()
}
