package authz

import (
	"hash/maphash"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// decisionCache remembers decisions with what each read of the compiled
// state. A write publishes a new snapshot; an entry made on an older one
// still answers if every entry of the state it read is the same term in
// the new snapshot (the incremental compiler replaces exactly the entries
// a write changes, and keeps an entry recomputed to the same value). So a
// write invalidates only the decisions it can change: those of the
// principals whose subjects it touched, of the collections below a
// changed grant, of the roles it changed; the rest survive it. The check
// runs once per entry and snapshot, after which the entry is known to
// hold on the new snapshot and answers without it.
//
// Proxies and daemons ask the same few questions over and over (every
// request of a session, every inspect of a container), so most decisions
// are answered here without evaluating the policy, writes or not.
type decisionCache struct {
	shards   [cacheShards]cacheShard
	perShard int
	seed     maphash.Seed
	hits     prometheus.Counter
	misses   prometheus.Counter
	// stale counts entries found invalid after a write (each also a miss).
	stale prometheus.Counter
}

const cacheShards = 64

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*cached
}

// cached is one decision, the snapshot it is known to hold on and what
// its evaluation read. Entries are immutable: moving one to a newer
// snapshot replaces it.
type cached struct {
	d     Decision
	snap  *snapshot
	reads *readLog
	// grants are the grants behind the decision, once a decision log has
	// asked (named); reads then include what naming them read.
	grants []string
	named  bool
	// memo goes with the question, the decision and the grants: a move
	// to a newer snapshot keeps it, naming the grants starts a new one.
	memo *Memo
}

func newDecisionCache(entries int) *decisionCache {
	c := &decisionCache{perShard: max(1, entries/cacheShards), seed: maphash.MakeSeed(),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grantd_decision_cache_hits_total", Help: "Decisions answered from the decision cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grantd_decision_cache_misses_total", Help: "Decisions the decision cache did not hold, evaluated by the policy.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grantd_decision_cache_invalidated_total", Help: "Cached decisions a write changed what they read, dropped.",
		}),
	}
	for i := range c.shards {
		c.shards[i].m = map[string]*cached{}
	}
	return c
}

func (c *decisionCache) shard(k string) *cacheShard {
	return &c.shards[maphash.String(c.seed, k)%cacheShards]
}

// entry returns the decision for the request key k as of snapshot cur,
// with the cache's entry (nil for a miss).
func (c *decisionCache) entry(cur *snapshot, k string) (Decision, *cached) {
	s := c.shard(k)
	s.mu.Lock()
	e := s.m[k]
	s.mu.Unlock()
	switch {
	case e == nil || e.snap.rev > cur.rev: // none, or made on a snapshot newer than the caller's
		c.misses.Inc()
		return Decision{}, nil
	case e.snap != cur:
		if !e.reads.holdsSince(e.snap, cur) {
			s.mu.Lock()
			if s.m[k] == e {
				delete(s.m, k)
			}
			s.mu.Unlock()
			c.stale.Inc()
			c.misses.Inc()
			return Decision{}, nil
		}
		moved := &cached{d: e.d, snap: cur, reads: e.reads, grants: e.grants, named: e.named, memo: e.memo}
		moved.d.Revision = cur.rev
		s.mu.Lock()
		if s.m[k] == e {
			s.m[k] = moved
		}
		s.mu.Unlock()
		e = moved
	}
	c.hits.Inc()
	d := e.d
	// Callers own the slices they get.
	d.Options, d.Secrets, d.Schedulable = slices.Clone(d.Options), slices.Clone(d.Secrets), slices.Clone(d.Schedulable)
	return d, e
}

// put remembers d, decided on snap after reading reads, unless the cache
// holds the same question on a newer snapshot. A full shard forgets one
// entry.
func (c *decisionCache) put(snap *snapshot, k string, d Decision, reads *readLog) *cached {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.m[k]
	switch {
	case ok && old.snap.rev > snap.rev:
		return nil
	case !ok && len(s.m) >= c.perShard:
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	e := &cached{d: d, snap: snap, reads: reads, memo: &Memo{}}
	s.m[k] = e
	return e
}

// name replaces entry e of key k, if it is still there, with one that
// also holds the grants behind its decision and what naming them read,
// and returns the entry that holds them (nil if e was gone).
func (c *decisionCache) name(k string, e *cached, grants []string, read []dep) *cached {
	reads := &readLog{deps: append(slices.Clone(e.reads.deps), read...), wide: e.reads.wide}
	named := &cached{d: e.d, snap: e.snap, reads: reads, grants: grants, named: true, memo: &Memo{}}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[k] != e {
		return nil
	}
	s.m[k] = named
	return named
}

// cacheKey encodes every field of r that reaches the policy, each with its
// length, so that no two different requests share a key. The key is built
// on the stack and copied once into its string.
func cacheKey(r Request) string {
	var buf [256]byte
	b := buf[:0]
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	list := func(tag byte, xs []string) {
		b = append(b, tag)
		b = strconv.AppendInt(b, int64(len(xs)), 10)
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
	if r.Kubernetes {
		b = append(b, 'K')
		field(r.Namespace)
		list('G', r.Groups)
	}
	if r.HasLabels || r.Labels != nil {
		keys := make([]string, 0, len(r.Labels))
		for k := range r.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, 'L')
		b = strconv.AppendInt(b, int64(len(keys)), 10)
		for _, k := range keys {
			field(k)
			field(r.Labels[k])
		}
	}
	list('O', r.Options)
	list('S', r.Secrets)
	return string(b)
}

// CacheStats counts the decision cache's answers since the engine began.
type CacheStats struct {
	Hits, Misses, Invalidated uint64
}

// CacheStats returns the cache's counts (zero without a cache).
func (e *Engine) CacheStats() CacheStats {
	if e.cache == nil {
		return CacheStats{}
	}
	return CacheStats{Hits: counterValue(e.cache.hits), Misses: counterValue(e.cache.misses), Invalidated: counterValue(e.cache.stale)}
}

func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if c.Write(&m) != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}
