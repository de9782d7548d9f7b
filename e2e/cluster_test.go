package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/grantd/grantd/pki"
)

// clusterNet is a test network: one namespace per node, each with two
// links into the root namespace: one on the cluster bridge (raft and
// forwarded writes, between nodes only) and one on the API bridge (what
// the test, as a client, reaches the nodes on). Cutting a node's cluster
// link partitions it from the others while clients still reach it.
type clusterNet struct {
	sfx            string
	octet          int
	clusterBr, api string
	ns             []string
}

func mustRun(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newClusterNet(t testing.TB, n int) *clusterNet {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	c := &clusterNet{sfx: hex.EncodeToString(b[:2]), octet: 100 + int(b[2])%100}
	c.clusterBr, c.api = "gcb"+c.sfx, "gab"+c.sfx
	t.Cleanup(c.teardown)
	mustRun(t, "ip", "link", "add", c.clusterBr, "type", "bridge")
	mustRun(t, "ip", "link", "set", c.clusterBr, "up")
	mustRun(t, "ip", "link", "add", c.api, "type", "bridge")
	mustRun(t, "ip", "addr", "add", fmt.Sprintf("10.%d.2.254/24", c.octet), "dev", c.api)
	mustRun(t, "ip", "link", "set", c.api, "up")
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("gcn%s-%d", c.sfx, i)
		c.ns = append(c.ns, ns)
		mustRun(t, "ip", "netns", "add", ns)
		mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
		for _, l := range []struct{ root, inside, br, subnet string }{
			{c.clusterLink(i), "c0", c.clusterBr, "1"}, {fmt.Sprintf("ga%s%d", c.sfx, i), "a0", c.api, "2"},
		} {
			mustRun(t, "ip", "link", "add", l.root, "type", "veth", "peer", "name", l.inside, "netns", ns)
			mustRun(t, "ip", "link", "set", l.root, "master", l.br, "up")
			mustRun(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("10.%d.%s.%d/24", c.octet, l.subnet, i), "dev", l.inside)
			mustRun(t, "ip", "-n", ns, "link", "set", l.inside, "up")
		}
	}
	return c
}

func (c *clusterNet) clusterLink(i int) string { return fmt.Sprintf("gc%s%d", c.sfx, i) }
func (c *clusterNet) clusterAddr(i int) string { return fmt.Sprintf("10.%d.1.%d:8301", c.octet, i) }
func (c *clusterNet) apiIP(i int) string       { return fmt.Sprintf("10.%d.2.%d", c.octet, i) }

func (c *clusterNet) teardown() {
	for _, ns := range c.ns {
		_ = exec.Command("ip", "netns", "delete", ns).Run()
	}
	_ = exec.Command("ip", "link", "delete", c.clusterBr).Run()
	_ = exec.Command("ip", "link", "delete", c.api).Run()
}

// partition cuts (or heals) node i's cluster link.
func (c *clusterNet) partition(t testing.TB, i int, cut bool) {
	state := "up"
	if cut {
		state = "down"
	}
	mustRun(t, "ip", "link", "set", c.clusterLink(i), state)
}

// cluster is n grantd processes, one per namespace.
type cluster struct {
	net   *clusterNet
	nodes []*grantd
	dirs  []string
	token string
	certs string
	dir   string
	apiCA string // the CA of every node's API certificate
}

func startGrantdCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	return startGrantdClusterIn(t, newClusterNet(t, n), n, extra...)
}

// startGrantdClusterIn starts n founding nodes in a network that may have
// room for more.
func startGrantdClusterIn(t testing.TB, cn *clusterNet, n int, extra ...string) *cluster {
	t.Helper()
	dir := t.TempDir()
	var ids, peers []string
	for i := 1; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("node%d", i))
		peers = append(peers, fmt.Sprintf("node%d=%s", i, cn.clusterAddr(i)))
	}
	certs := filepath.Join(dir, "certs")
	var all []string
	for i := 1; i <= len(cn.ns); i++ {
		all = append(all, fmt.Sprintf("node%d", i))
	}
	mustRun(t, append([]string{grantdBin, "cluster", "certs", "--dir", certs}, all...)...)
	c := &cluster{net: cn, nodes: make([]*grantd, n), certs: certs, dir: dir}
	// The nodes start together: none is ready before a quorum is up.
	for _, id := range ids {
		c.dirs = append(c.dirs, filepath.Join(dir, id))
	}
	// The nodes' API certificates come from one CA, as a deployment's
	// would: clients trust it once for every node.
	seed := filepath.Join(dir, "api-ca")
	if _, err := pki.EnsureTLS(seed, "", "", nil); err != nil {
		t.Fatal(err)
	}
	c.apiCA = filepath.Join(seed, "tls", "ca.crt")
	for _, d := range c.dirs {
		for _, f := range []string{"ca.crt", "ca.key"} {
			b, err := os.ReadFile(filepath.Join(seed, "tls", f))
			if err == nil {
				err = os.MkdirAll(filepath.Join(d, "tls"), 0o700)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(d, "tls", f), b, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() { c.nodes[i-1] = c.launch(t, i, certs, strings.Join(peers, ","), extra...) })
	}
	wg.Wait()
	for i, g := range c.nodes {
		if g == nil {
			for j, o := range c.nodes {
				if o != nil {
					t.Logf("node%d's log:\n%s", j+1, o.logs)
				}
			}
			t.Fatalf("node%d did not start", i+1)
		}
	}
	c.token = c.nodes[0].login(t)
	return c
}

// launch starts node i (1-based); it returns nil on failure, having
// reported it (t.Fatal is for the test's own goroutine).
func (c *cluster) launch(t testing.TB, i int, certs, peers string, extra ...string) *grantd {
	args := append([]string{"--listen", c.net.apiIP(i) + ":8443", "--tls-san", c.net.apiIP(i), "--node-id", fmt.Sprintf("node%d", i),
		"--cluster-listen", c.net.clusterAddr(i), "--cluster-peers", peers, "--cluster-certs-dir", certs}, extra...)
	g, err := launch(t, []string{"nsenter", "--net=/var/run/netns/" + c.net.ns[i-1]}, c.dirs[i-1],
		"GRANTD_ADMIN_PASSWORD="+adminPassword, args...)
	if err != nil {
		t.Errorf("node%d: %v", i, err)
		return nil
	}
	return g
}

// leader is the index of the node that leads, as the nodes report it.
func (c *cluster) leader(t testing.TB, alive []int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, i := range alive {
			body := readyz(c.nodes[i])
			if strings.Contains(body, fmt.Sprintf("leader: node%d\n", i+1)) {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no node reports leading")
	return -1
}

func readyz(g *grantd) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+g.addr+"/readyz", nil)
	resp, err := g.client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

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

// TestClusterSurvivesKillingTheLeader: three nodes in their own network
// namespaces under writes and decisions; the leader gets kill -9.
func TestClusterSurvivesKillingTheLeader(t *testing.T) {
	c := startGrantdCluster(t, 3)
	all := []int{0, 1, 2}
	leader := c.leader(t, all)
	l := startLoad(c, all)
	time.Sleep(2 * time.Second)
	l.drop(leader)
	killed := time.Now()
	c.nodes[leader].kill()
	time.Sleep(6 * time.Second)
	l.end()
	l.report(t, "kill -9 of the leader")

	survivors := slices.DeleteFunc(slices.Clone(all), func(i int) bool { return i == leader })
	resumed := l.firstAckAfter(killed)
	switch {
	case resumed < 0:
		t.Fatal("no write was acknowledged after the leader was killed")
	case resumed > 5*time.Second:
		t.Errorf("writes resumed %v after the kill (target 5 s)", resumed)
	}
	t.Logf("writes resumed %v after the kill", resumed.Round(time.Millisecond))
	for _, i := range survivors {
		if l.gaps[i] > 5*time.Second {
			t.Errorf("node%d answered no decision for %v", i+1, l.gaps[i])
		}
	}
	c.checkAcked(t, l, survivors)
	l.checkLinearizable(t)
	newLeader := c.leader(t, survivors)
	t.Logf("node%d leads now", newLeader+1)
}

// TestClusterPartitionedLeader: the leader loses its link to the others
// (clients still reach it) under load. The others elect a leader and go
// on; the cut-off node acknowledges no write while cut off, keeps
// answering decisions from its state, and after healing every node holds
// every acknowledged write.
func TestClusterPartitionedLeader(t *testing.T) {
	c := startGrantdCluster(t, 3, "--cluster-max-staleness", "2s")
	all := []int{0, 1, 2}
	old := c.leader(t, all)
	majority := slices.DeleteFunc(slices.Clone(all), func(i int) bool { return i == old })
	l := startLoad(c, all)
	time.Sleep(2 * time.Second)
	cut := time.Now()
	c.net.partition(t, old+1, true)
	time.Sleep(4 * time.Second)
	// Past --cluster-max-staleness the cut-off node tells load balancers
	// it cannot serve, and denies saying why.
	if body := readyz(c.nodes[old]); !strings.Contains(body, "stale") {
		t.Errorf("/readyz of the cut-off node after 4 s: %q", body)
	}
	time.Sleep(2 * time.Second)
	healed := time.Now()
	c.net.partition(t, old+1, false)
	time.Sleep(3 * time.Second)
	l.end()
	l.report(t, "the leader partitioned for 6 s")

	// A write in flight at the cut may still commit; after the old
	// leader's lease (250 ms) and a request's timeout, none may.
	if n := l.ackedThrough(old, cut.Add(time.Second), healed); n > 0 {
		t.Errorf("the cut-off node acknowledged %d writes while cut off", n)
	}
	for _, i := range majority {
		if n := l.ackedThrough(i, cut, healed); n == 0 {
			t.Errorf("node%d (majority) acknowledged no write during the partition", i+1)
		}
	}
	resumed := l.firstAckVia(majority, cut)
	if resumed < 0 || resumed > 5*time.Second {
		t.Errorf("the majority acknowledged no write within 5 s of the cut (%v)", resumed)
	}
	t.Logf("the majority acknowledged a write %v after the cut", resumed.Round(time.Millisecond))
	for _, i := range majority {
		if l.gaps[i] > 5*time.Second {
			t.Errorf("node%d answered no decision for %v", i+1, l.gaps[i])
		}
	}
	// The cut-off node decided from its state for 2 s, then denied with
	// the reason, and decides again once healed.
	l.mu.Lock()
	stale, gap, last := l.stale[old], l.gaps[old], l.lastAns[old]
	l.mu.Unlock()
	switch {
	case stale == 0:
		t.Errorf("node%d never denied for staleness while cut off", old+1)
	case gap < 2*time.Second || gap > 6*time.Second:
		t.Errorf("node%d stopped answering for %v (cut off 6 s, limit 2 s)", old+1, gap)
	case !last.After(healed):
		t.Errorf("node%d answered nothing after healing", old+1)
	}
	t.Logf("node%d, cut off: %d denials for staleness, %v without an answer", old+1, stale, gap.Round(time.Millisecond))
	c.checkAcked(t, l, all)
	l.checkLinearizable(t)
	t.Logf("after healing node%d leads", c.leader(t, all)+1)
}

// TestClusterMembershipUnderLoad: a fourth node joins under load and
// catches up, leadership moves on request, and a member is removed; the
// changes are sent to followers, which pass them to the leader.
func TestClusterMembershipUnderLoad(t *testing.T) {
	cn := newClusterNet(t, 4)
	c := startGrantdClusterIn(t, cn, 3)
	all := []int{0, 1, 2}
	l := startLoad(c, all)
	t.Cleanup(l.end) // when the test stops early
	leader := c.leader(t, all)
	follower := (leader + 1) % 3

	// node4 starts with its certificate and no peers, and waits.
	c.dirs = append(c.dirs, filepath.Join(c.dir, "node4"))
	ready := make(chan *grantd, 1)
	go func() {
		g, err := launch(t, []string{"nsenter", "--net=/var/run/netns/" + cn.ns[3]}, c.dirs[3], "",
			"--listen", cn.apiIP(4)+":8443", "--tls-san", cn.apiIP(4), "--node-id", "node4",
			"--cluster-listen", cn.clusterAddr(4), "--cluster-certs-dir", c.certs)
		if err != nil {
			t.Error(err)
		}
		ready <- g
	}()
	time.Sleep(time.Second)
	out := c.nodes[follower].must(t, 200, "POST", "/v1/cluster/members", c.token, map[string]any{"id": "node4", "address": cn.clusterAddr(4)})
	if members, _ := out["members"].([]any); len(members) != 4 {
		t.Fatalf("after adding node4: %v", out)
	}
	g4 := <-ready
	if g4 == nil {
		t.FailNow()
	}
	c.nodes = append(c.nodes, g4)
	time.Sleep(time.Second)

	// Leadership moves to node4 on request, sent to a follower.
	c.nodes[follower].must(t, 200, "POST", "/v1/cluster:transferLeadership", c.token, map[string]any{"toId": "node4"})
	if now := c.leader(t, []int{0, 1, 2, 3}); now != 3 {
		t.Errorf("node%d leads after the transfer to node4", now+1)
	}
	// The old leader leaves the cluster.
	l.drop(leader)
	out = c.nodes[follower].must(t, 200, "DELETE", fmt.Sprintf("/v1/cluster/members/node%d", leader+1), c.token, nil)
	if members, _ := out["members"].([]any); len(members) != 3 {
		t.Fatalf("after removing node%d: %v", leader+1, out)
	}
	time.Sleep(time.Second)
	l.end()
	l.report(t, "membership changes")
	rest := []int{3}
	for _, i := range all {
		if i != leader {
			rest = append(rest, i)
		}
	}
	c.checkAcked(t, l, rest)
	l.checkLinearizable(t)
}

// TestClusterRecoversFromLostQuorum: two of three nodes are lost for good;
// `grantd recover` on the stopped survivor makes it a cluster of one that
// elects itself and keeps every write the old cluster acknowledged.
func TestClusterRecoversFromLostQuorum(t *testing.T) {
	c := startGrantdCluster(t, 3)
	all := []int{0, 1, 2}
	l := startLoad(c, all)
	time.Sleep(time.Second)
	// A backup of the running cluster, from a follower, under load.
	follower := (c.leader(t, all) + 1) % 3
	backup, backupRev := c.backup(t, follower)
	time.Sleep(time.Second)
	l.end()
	c.checkAcked(t, l, all) // every node has every acknowledged write
	survivor := follower
	for _, i := range all {
		c.nodes[i].kill() // the survivor too: recovery runs on a stopped node
	}
	peers := fmt.Sprintf("node%d=%s", survivor+1, c.net.clusterAddr(survivor+1))
	mustRun(t, grantdBin, "recover", "--data-dir", c.dirs[survivor], "--node-id", fmt.Sprintf("node%d", survivor+1),
		"--cluster-peers", peers)
	g := c.launch(t, survivor+1, c.certs, peers)
	if g == nil {
		t.FailNow()
	}
	c.nodes[survivor] = g
	if body := readyz(g); !strings.Contains(body, fmt.Sprintf("leader: node%d", survivor+1)) {
		t.Fatalf("the recovered node does not lead: %q", body)
	}
	c.checkAcked(t, l, []int{survivor})
	g.must(t, 200, "POST", "/v1/collections", c.token, map[string]any{"path": "/after-recovery"})
	out := g.must(t, 200, "GET", "/v1/cluster", c.token, nil)
	if members, _ := out["members"].([]any); len(members) != 1 {
		t.Fatalf("members after recovery: %v", out)
	}
	t.Logf("node%d recovered alone with all %d acknowledged writes", survivor+1, len(l.acked))
	checkRestored(t, l, backup, backupRev)
}

// backup fetches GET /v1/backup from node i: the file and its revision.
func (c *cluster) backup(t *testing.T, i int) (string, uint64) {
	t.Helper()
	g := c.nodes[i]
	req, _ := http.NewRequest("GET", "https://"+g.addr+"/v1/backup", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("backup: %d %v %.200s", resp.StatusCode, err, body)
	}
	var rev uint64
	_, _ = fmt.Sscan(resp.Header.Get("X-Grantd-Revision"), &rev)
	file := filepath.Join(t.TempDir(), "backup.jsonl")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, rev
}

// checkRestored: a single node restored from the backup holds every write
// acknowledged at or below the backup's revision.
func checkRestored(t *testing.T, l *load, backup string, rev uint64) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	mustRun(t, grantdBin, "restore", "--data-dir", dir, backup)
	g := start(t, dir)
	token := g.login(t)
	have := map[string]bool{}
	page := ""
	for {
		out := g.must(t, 200, "GET", "/v1/collections?pageSize=1000&pageToken="+page, token, nil)
		items, _ := out["collections"].([]any)
		for _, it := range items {
			have[it.(map[string]any)["path"].(string)] = true
		}
		if page, _ = out["nextPageToken"].(string); page == "" {
			break
		}
	}
	want, missing := 0, 0
	for p, r := range l.acked {
		if r <= rev {
			want++
			if !have[p] {
				missing++
			}
		}
	}
	if want == 0 || missing > 0 {
		t.Fatalf("the restored backup (revision %d) lacks %d of the %d writes acknowledged before it", rev, missing, want)
	}
	t.Logf("a backup taken from a follower under load (revision %d) restored with all %d writes acknowledged before it", rev, want)
}

// stop sends SIGTERM (a graceful stop) and waits for the process to end.
func (g *grantd) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(30 * time.Second):
		g.kill()
	}
	g.client.CloseIdleConnections()
}

// TestClusterRollingRestart restarts every node in turn, the leader last
// after handing leadership over, under load. A client that tries the next
// node when one does not answer (what a health-checked list or a load
// balancer does) gets every decision answered.
func TestClusterRollingRestart(t *testing.T) {
	c := startGrantdCluster(t, 3)
	all := []int{0, 1, 2}
	peers := make([]string, 3)
	for i := range 3 {
		peers[i] = fmt.Sprintf("node%d=%s", i+1, c.net.clusterAddr(i+1))
	}
	var asked, refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex // guards c.nodes while a node is replaced
	for k := range 4 {
		wg.Go(func() {
			for n := k; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				asked.Add(1)
				answered := false
				for try := range 3 {
					mu.Lock()
					g := c.nodes[(n+try)%3]
					mu.Unlock()
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					code, out, err := g.call(ctx, "POST", "/v1/authorize", c.token, map[string]any{"subject": "user:admin",
						"operation": "container.view", "resource": map[string]any{"collection": "/"}})
					cancel()
					if err == nil && code == 200 && out["allowed"] == true {
						answered = true
						break
					}
				}
				if !answered {
					refused.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	restart := func(i int) {
		c.nodes[i].stop()
		g := c.launch(t, i+1, c.certs, strings.Join(peers, ","))
		if g == nil {
			t.FailNow()
		}
		mu.Lock()
		c.nodes[i] = g
		mu.Unlock()
	}
	leader := c.leader(t, all)
	for _, i := range all {
		if i != leader {
			restart(i)
		}
	}
	c.nodes[(leader+1)%3].must(t, 200, "POST", "/v1/cluster:transferLeadership", c.token, map[string]any{})
	if now := c.leader(t, all); now == leader {
		t.Fatalf("node%d still leads after the transfer", leader+1)
	}
	restart(leader)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	t.Logf("rolling restart of 3 nodes: %d decisions asked, %d refused", asked.Load(), refused.Load())
	if refused.Load() > 0 {
		t.Errorf("%d decisions were refused by every node", refused.Load())
	}
	out := c.nodes[0].must(t, 200, "GET", "/v1/cluster", c.token, nil)
	if members, _ := out["members"].([]any); len(members) != 3 || out["leaderId"] == "" {
		t.Errorf("after the restart: %v", out)
	}
}

// TestGrantctlFindsTheCluster: grantctl given every node's address keeps
// working when the node it talks to goes away.
func TestGrantctlFindsTheCluster(t *testing.T) {
	c := startGrantdCluster(t, 3)
	// A follower first: grantctl talks to it, and it goes away (a lost
	// leader would stop writes for an election, which is another test's).
	leader := c.leader(t, []int{0, 1, 2})
	first := (leader + 1) % 3
	addrs := []string{c.nodes[first].addr}
	for i, g := range c.nodes {
		if i != first {
			addrs = append(addrs, g.addr)
		}
	}
	admin := newCtl(t)
	if out, code := admin.run(adminPassword+"\n", "login", "--server", strings.Join(addrs, ","), "--ca-cert", c.apiCA,
		"-u", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, out)
	}
	if out := admin.ok("cluster", "status"); !strings.Contains(out, "leader") {
		t.Fatalf("cluster status: %s", out)
	}
	c.nodes[first].kill() // the first address, which grantctl was using
	out := admin.ok("cluster", "status")
	if strings.Contains(out, fmt.Sprintf("answered by node%d", first+1)) || !strings.Contains(out, "answered by node") {
		t.Fatalf("cluster status with node%d gone: %s", first+1, out)
	}
	admin.ok("collections", "create", "/via-grantctl")
	t.Logf("grantctl moved on to the next node:\n%s", out)
}

// TestClusterLoginThrottleIsShared: failed logins on one node count on the
// others, so an attacker cannot spread guesses over the nodes.
func TestClusterLoginThrottleIsShared(t *testing.T) {
	c := startGrantdCluster(t, 3)
	c.nodes[0].must(t, 200, "POST", "/v1/users", c.token, map[string]any{"name": "alice", "password": "alice-password-1"})
	login := func(g *grantd, password string) int {
		code, _, err := g.call(context.Background(), "POST", "/auth/login", "", map[string]string{"username": "alice", "password": password})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	// Failures spread over the three nodes: the first five are free.
	for i := range 6 {
		if code := login(c.nodes[i%3], "guess"); code != 401 && code != 429 {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	time.Sleep(300 * time.Millisecond) // the last failures reach the others
	throttled := 0
	for _, g := range c.nodes {
		if login(g, "alice-password-1") == 429 {
			throttled++
		}
	}
	if throttled != 3 {
		t.Errorf("after six failures spread over the nodes, %d of 3 nodes throttle alice", throttled)
	}
}
