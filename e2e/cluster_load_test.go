package e2e

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// load writes collections through every live node in turn and asks
// decisions of every live node, recording what was acknowledged and when
// each node answered.
type load struct {
	c       *cluster
	mu      sync.Mutex
	alive   []int
	acked   map[string]uint64 // collection path -> revision acknowledged
	refused int               // writes not acknowledged (never retried)
	ackedAt []ack             // each acknowledged write, in order
	gaps    map[int]time.Duration
	lastAns map[int]time.Time
	// stale counts the denials a node gave because it was cut off too long.
	stale   map[int]int
	asked   int
	answers int
	stop    chan struct{}
	endOnce sync.Once
	wg      sync.WaitGroup
	// The history porcupine checks: every create and every linearizable
	// read of a collection's existence, with call and return times.
	hist    []porcupine.Operation
	started time.Time
	next    atomic.Int64 // the index of the last collection written
}

func startLoad(c *cluster, alive []int) *load {
	l := &load{c: c, alive: alive, acked: map[string]uint64{}, gaps: map[int]time.Duration{},
		lastAns: map[int]time.Time{}, stale: map[int]int{}, stop: make(chan struct{})}
	l.started = time.Now()
	for _, i := range alive {
		l.wg.Go(func() { l.writes(i) })
		l.wg.Go(func() { l.decisions(i) })
		l.wg.Go(func() { l.reads(i) })
	}
	return l
}

func (l *load) live() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.alive)
}

// running reports whether the load goes on for node i: not ended, and
// the node not dropped.
func (l *load) running(i int) bool {
	select {
	case <-l.stop:
		return false
	default:
	}
	return slices.Contains(l.live(), i)
}

// drop takes node i out of the load (it is about to be killed).
func (l *load) drop(i int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alive = slices.DeleteFunc(l.alive, func(x int) bool { return x == i })
}

// writes creates collections through node i, one after another, while
// it is in the load.
func (l *load) writes(i int) {
	g := l.c.nodes[i]
	for {
		if !l.running(i) {
			return
		}
		n := l.next.Add(1)
		path := fmt.Sprintf("/w%d", n)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		sent, call := time.Now(), l.now()
		code, out, err := g.call(ctx, "POST", "/v1/collections", l.c.token, map[string]any{"path": path})
		ret := l.now()
		cancel()
		l.mu.Lock()
		op := porcupine.Operation{ClientId: 0, Input: regInput{key: path, write: true}, Call: call, Output: true, Return: ret}
		if err != nil || code != 200 {
			// Not acknowledged: applied or not, at any time from the call on.
			op.Output, op.Return = nil, math.MaxInt64
		}
		l.hist = append(l.hist, op)
		if err == nil && code == 200 {
			rev, _ := out["revision"].(string)
			var r uint64
			_, _ = fmt.Sscan(rev, &r)
			l.acked[path] = r
			l.ackedAt = append(l.ackedAt, ack{node: i, sent: sent, at: time.Now()})
		} else {
			l.refused++
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) now() int64 { return int64(time.Since(l.started)) }

// reads asks node i, with linearizable decisions, whether the
// collections being written exist.
func (l *load) reads(i int) {
	g := l.c.nodes[i]
	for k := 0; ; k++ {
		if !l.running(i) {
			return
		}
		path := fmt.Sprintf("/w%d", max(1, l.next.Load()-int64(k%3)))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		call := l.now()
		code, out, err := g.call(ctx, "POST", "/v1/authorize", l.c.token, map[string]any{"subject": "user:admin",
			"operation": "container.view", "resource": map[string]any{"collection": path}, "linearizable": true})
		ret := l.now()
		cancel()
		reason, _ := out["reason"].(string)
		var exists bool
		switch {
		case err != nil || code != 200:
			continue // a read that failed changes nothing: left out
		case out["allowed"] == true:
			exists = true
		case reason == "collection "+path+" does not exist":
		default:
			continue // refused (no leader): no answer about the state
		}
		l.mu.Lock()
		l.hist = append(l.hist, porcupine.Operation{ClientId: 1 + i, Input: regInput{key: path}, Call: call, Output: exists, Return: ret})
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// regInput is one operation on a collection's existence.
type regInput struct {
	key   string
	write bool // create it; else: does it exist?
}

// existence is the sequential model: a collection does not exist until
// it is created; a create whose outcome is unknown (Output nil) may take
// effect.
var existence = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return false },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, true
		}
		return output.(bool) == state.(bool), state
	},
}

// checkLinearizable checks the recorded history with porcupine.
func (l *load) checkLinearizable(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	hist := slices.Clone(l.hist)
	l.mu.Unlock()
	reads := 0
	for _, op := range hist {
		if !op.Input.(regInput).write {
			reads++
		}
	}
	if reads < 100 {
		t.Fatalf("only %d linearizable reads recorded", reads)
	}
	res := porcupine.CheckOperationsTimeout(existence, hist, time.Minute)
	if res != porcupine.Ok {
		t.Fatalf("the history of %d operations (%d reads) is not linearizable: %v", len(hist), reads, res)
	}
	t.Logf("porcupine: %d operations (%d linearizable reads on every node) are linearizable", len(hist), reads)
}

func (l *load) decisions(i int) {
	g := l.c.nodes[i]
	for {
		if !l.running(i) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		code, out, err := g.call(ctx, "POST", "/v1/authorize", l.c.token, map[string]any{"subject": "user:admin",
			"operation": "container.view", "resource": map[string]any{"collection": "/"}})
		cancel()
		now := time.Now()
		l.mu.Lock()
		l.asked++
		if reason, _ := out["reason"].(string); strings.Contains(reason, "has not heard from the cluster's leader") {
			l.stale[i]++
		}
		if err == nil && code == 200 && out["allowed"] == true {
			l.answers++
			if last, ok := l.lastAns[i]; ok && now.Sub(last) > l.gaps[i] {
				l.gaps[i] = now.Sub(last)
			}
			l.lastAns[i] = now
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// firstAckAfter is how long after at the first write sent after it was
// acknowledged (-1: none was).
func (l *load) firstAckAfter(at time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.ackedAt {
		if a.sent.After(at) {
			return a.at.Sub(at)
		}
	}
	return -1
}

// firstAckVia is how long after at the first write sent after it was
// acknowledged through one of nodes (-1: none was).
func (l *load) firstAckVia(nodes []int, at time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.ackedAt {
		if a.sent.After(at) && slices.Contains(nodes, a.node) {
			return a.at.Sub(at)
		}
	}
	return -1
}

// ack is one acknowledged write: through which node, and when.
type ack struct {
	node     int
	sent, at time.Time
}

// ackedThrough counts the writes node i acknowledged between from and to.
func (l *load) ackedThrough(i int, from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.ackedAt {
		if a.node == i && a.at.After(from) && a.at.Before(to) {
			n++
		}
	}
	return n
}

func (l *load) end() {
	l.endOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// checkAcked: every acknowledged write is on every node in nodes.
func (c *cluster) checkAcked(t *testing.T, l *load, nodes []int) {
	t.Helper()
	var maxRev uint64
	for _, r := range l.acked {
		maxRev = max(maxRev, r)
	}
	for _, i := range nodes {
		g := c.nodes[i]
		// Wait until the node has applied the last acknowledged write.
		g.must(t, 200, "POST", "/v1/authorize", c.token, map[string]any{"subject": "user:admin",
			"operation": "container.view", "resource": map[string]any{"collection": "/"}, "minRevision": maxRev})
		have := map[string]bool{}
		token := ""
		for {
			out := g.must(t, 200, "GET", "/v1/collections?pageSize=1000&pageToken="+token, c.token, nil)
			items, _ := out["collections"].([]any)
			for _, it := range items {
				have[it.(map[string]any)["path"].(string)] = true
			}
			if token, _ = out["nextPageToken"].(string); token == "" {
				break
			}
		}
		missing := 0
		for p := range l.acked {
			if !have[p] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("node%d lacks %d of %d acknowledged writes", i+1, missing, len(l.acked))
		}
	}
}

func (l *load) report(t *testing.T, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var worst time.Duration
	for _, g := range l.gaps {
		worst = max(worst, g)
	}
	t.Logf("%s: %d writes acknowledged, %d not; %d of %d decisions answered (%.1f%%), longest gap on a node %v",
		what, len(l.acked), l.refused, l.answers, l.asked, 100*float64(l.answers)/math.Max(1, float64(l.asked)), worst.Round(time.Millisecond))
}
