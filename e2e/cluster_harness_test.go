package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	c.shareAPICA(t)
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

// shareAPICA gives every node's data directory the same API CA, as a
// deployment's nodes would have: clients trust it once for every node.
func (c *cluster) shareAPICA(t testing.TB) {
	t.Helper()
	seed := filepath.Join(c.dir, "api-ca")
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
