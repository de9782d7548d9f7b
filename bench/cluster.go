package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// clusterFigures are the cluster step's measurements, beside a single
// node started the same way on the same machine.
type clusterFigures struct {
	singleWrite, leaderWrite, followerWrite []time.Duration
	singleRate                              float64
	nodeRates                               []float64
	replicated                              int64
	failover                                time.Duration
}

// clusterWrites and clusterRateFor size the cluster step.
const (
	clusterWrites  = 200
	clusterCallers = 8
)

// clusterStep starts a single node and then a three-node cluster on
// loopback addresses (127.0.0.1-3, one process each, the cluster port over
// mutual TLS), both on a fresh state, and measures write latency through
// the leader and a follower, decisions per second on every node at once
// while writes replicate, and the time from kill -9 of the leader to the
// next acknowledged write.
func clusterStep(ctx context.Context, o options, bin, work string) (*clusterFigures, error) {
	const password = "bench-cluster-admin-1"
	// Fresh nodes create their recovery admin with this password (the
	// processes inherit the bench's environment).
	if err := os.Setenv("GRANTD_ADMIN_PASSWORD", password); err != nil {
		return nil, err
	}
	defer func() { _ = os.Unsetenv("GRANTD_ADMIN_PASSWORD") }()
	f := &clusterFigures{}
	single, err := startGrantd(ctx, bin, filepath.Join(work, "single"), password)
	if err != nil {
		return nil, err
	}
	if f.singleWrite, err = timedWrites(ctx, single, "/single", clusterWrites); err != nil {
		single.stop()
		return nil, err
	}
	f.singleRate = decisionsPerSecond(ctx, single, clusterCallers, o.duration)
	single.stop()

	ids := []string{"node1", "node2", "node3"}
	certs := filepath.Join(work, "cluster-certs")
	if out, err := exec.Command(bin, append([]string{"cluster", "certs", "--dir", certs}, ids...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cluster certs: %v: %s", err, out)
	}
	var peers []string
	addrs := make([]string, 3)
	for i, id := range ids {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			return nil, err
		}
		addrs[i] = ln.Addr().String()
		_ = ln.Close()
		peers = append(peers, id+"="+addrs[i])
	}
	nodes := make([]*process, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			nodes[i], errs[i] = startGrantd(ctx, bin, filepath.Join(work, id), password, "--node-id", id,
				"--cluster-listen", addrs[i], "--cluster-peers", strings.Join(peers, ","), "--cluster-certs-dir", certs)
		})
	}
	wg.Wait()
	defer func() {
		for _, p := range nodes {
			if p != nil {
				p.stop()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	leader := -1
	for deadline := time.Now().Add(10 * time.Second); leader < 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for i, p := range nodes {
			if strings.Contains(readyz(ctx, p), "leader: "+ids[i]+"\n") {
				leader = i
			}
		}
	}
	if leader < 0 {
		return nil, fmt.Errorf("the cluster elected no leader")
	}
	follower := (leader + 1) % 3
	if f.leaderWrite, err = timedWrites(ctx, nodes[leader], "/leader", clusterWrites); err != nil {
		return nil, err
	}
	if f.followerWrite, err = timedWrites(ctx, nodes[follower], "/follower", clusterWrites); err != nil {
		return nil, err
	}
	// Decisions on every node at once, while a writer keeps the log moving.
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Go(func() {
		cols := v1.NewCollectionServiceClient(nodes[leader].conn)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := cols.CreateCollection(nodes[leader].auth(ctx), &v1.CreateCollectionRequest{Path: fmt.Sprintf("/bg%d", n)}); err == nil {
				atomic.AddInt64(&f.replicated, 1)
			}
		}
	})
	f.nodeRates = make([]float64, 3)
	var rates sync.WaitGroup
	for i, p := range nodes {
		rates.Go(func() { f.nodeRates[i] = decisionsPerSecond(ctx, p, clusterCallers, o.duration) })
	}
	rates.Wait()
	close(stop)
	writer.Wait()

	// Failover.
	killed := time.Now()
	nodes[leader].stop()
	nodes[leader] = nil
	cols := v1.NewCollectionServiceClient(nodes[follower].conn)
	for n := 0; f.failover == 0 && time.Since(killed) < 30*time.Second; n++ {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := cols.CreateCollection(nodes[follower].auth(cctx), &v1.CreateCollectionRequest{Path: fmt.Sprintf("/failover%d", n)}); err == nil {
			f.failover = time.Since(killed)
		}
		cancel()
		time.Sleep(10 * time.Millisecond)
	}
	if f.failover == 0 {
		return nil, fmt.Errorf("no write acknowledged within 30 s of the leader's kill -9")
	}
	return f, nil
}

// timedWrites creates n collections one after another and times each.
func timedWrites(ctx context.Context, p *process, prefix string, n int) ([]time.Duration, error) {
	cols := v1.NewCollectionServiceClient(p.conn)
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := cols.CreateCollection(p.auth(ctx), &v1.CreateCollectionRequest{Path: fmt.Sprintf("%s%d", prefix, i)}); err != nil {
			return nil, fmt.Errorf("write %s%d: %w", prefix, i, err)
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// decisionsPerSecond is what callers concurrent gRPC callers get from p
// in d.
func decisionsPerSecond(ctx context.Context, p *process, callers int, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	client := v1.NewAuthzServiceClient(p.conn)
	ask := &v1.AuthorizeRequest{Subject: "user:admin", Operation: "container.view", Resource: &v1.Resource{Collection: "/"}}
	for range callers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if d, err := client.Authorize(p.auth(ctx), ask); err == nil && d.GetAllowed() {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

func readyz(ctx context.Context, p *process) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+p.addr+"/readyz", nil)
	if err != nil {
		return ""
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// section is the report's cluster section.
func (f *clusterFigures) section(b *strings.Builder, duration time.Duration) {
	if f == nil {
		return
	}
	msPair := func(ds []time.Duration) string {
		return fmt.Sprintf("%.2f ms / %.2f ms", ms(percentile(ds, 0.50)), ms(percentile(ds, 0.99)))
	}
	fmt.Fprintf(b, "\n## A three-node cluster\n\nA single node, then three nodes on loopback addresses (one process each, the cluster port over mutual TLS), each on a fresh state, on the same machine: every node and the load share its cores. %d writes each way, one after another; decisions from %d gRPC callers per node for %v.\n\n", clusterWrites, clusterCallers, duration)
	b.WriteString("| measure | single node | 3-node cluster |\n|---|---|---|\n")
	fmt.Fprintf(b, "| write latency p50 / p99 (fsync on a majority included), through the leader | %s | %s |\n", msPair(f.singleWrite), msPair(f.leaderWrite))
	fmt.Fprintf(b, "| write latency p50 / p99, through a follower (forwarded, then applied there) | - | %s |\n", msPair(f.followerWrite))
	total := 0.0
	for _, r := range f.nodeRates {
		total += r
	}
	fmt.Fprintf(b, "| decisions/s | %.0f | %.0f in all (%.0f, %.0f, %.0f per node, at once, while %d writes replicated) |\n",
		f.singleRate, total, f.nodeRates[0], f.nodeRates[1], f.nodeRates[2], f.replicated)
	fmt.Fprintf(b, "| failover: kill -9 of the leader to the next write acknowledged through a follower | - | %.2f s |\n", f.failover.Seconds())
}
