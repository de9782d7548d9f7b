package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCluster prints what a three-node cluster costs and gives
// against a single node on the same machine: write latency (fsync
// included) through the leader and through a follower, decisions per
// second on each node while writes replicate, and the failover time after
// kill -9 of the leader. Each node runs in its own network namespace; all
// share the machine's cores.
//
//	go test -run XXX -bench Cluster -benchtime 1x ./e2e
func BenchmarkCluster(b *testing.B) {
	single := start(b, filepath.Join(b.TempDir(), "single"))
	singleTok := single.login(b)
	sw := writeLatency(b, single, singleTok, "/s", 300)
	sd := decisionRate(single, singleTok, 8, 3*time.Second)
	single.kill()

	c := startGrantdCluster(b, 3)
	all := []int{0, 1, 2}
	leader := c.leader(b, all)
	follower := (leader + 1) % 3
	lw := writeLatency(b, c.nodes[leader], c.token, "/l", 300)
	fw := writeLatency(b, c.nodes[follower], c.token, "/f", 300)
	// Decisions on every node at once while a writer keeps the log moving.
	stop := make(chan struct{})
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if code, _, err := c.nodes[leader].call(context.Background(), "POST", "/v1/collections", c.token,
				map[string]any{"path": fmt.Sprintf("/bg%d", n)}); err == nil && code == 200 {
				writes.Add(1)
			}
		}
	})
	rates := make([]float64, 3)
	var dwg sync.WaitGroup
	for _, i := range all {
		dwg.Go(func() { rates[i] = decisionRate(c.nodes[i], c.token, 8, 3*time.Second) })
	}
	dwg.Wait()
	close(stop)
	wg.Wait()

	// Failover: kill -9 the leader, write through a follower until it works.
	killed := time.Now()
	c.nodes[leader].kill()
	failover := time.Duration(-1)
	for n := 0; time.Since(killed) < 10*time.Second; n++ {
		if code, _, err := c.nodes[follower].call(context.Background(), "POST", "/v1/collections", c.token,
			map[string]any{"path": fmt.Sprintf("/fo%d", n)}); err == nil && code == 200 {
			failover = time.Since(killed)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	fmt.Printf("\nA three-node cluster against a single node (same machine; 2 cores shared by every node and the client)\n\n")
	fmt.Printf("| measure | single node | 3-node cluster |\n|---|---|---|\n")
	fmt.Printf("| write latency p50 / p99, through the leader | %s / %s | %s / %s |\n", ms(pct(sw, 50)), ms(pct(sw, 99)), ms(pct(lw, 50)), ms(pct(lw, 99)))
	fmt.Printf("| write latency p50 / p99, through a follower (forwarded) | - | %s / %s |\n", ms(pct(fw, 50)), ms(pct(fw, 99)))
	fmt.Printf("| decisions/s, 8 callers over REST | %.0f | %.0f, %.0f, %.0f (per node, all at once, %d writes replicating) |\n",
		sd, rates[0], rates[1], rates[2], writes.Load())
	fmt.Printf("| failover: kill -9 of the leader to the next acknowledged write | - | %s |\n\n", ms(failover))
	b.ReportMetric(float64(pct(lw, 50))/1e6, "leader-write-p50-ms")
	b.ReportMetric(float64(pct(fw, 50))/1e6, "follower-write-p50-ms")
	b.ReportMetric(float64(failover)/1e6, "failover-ms")
}

func writeLatency(b *testing.B, g *grantd, token, prefix string, n int) []time.Duration {
	b.Helper()
	out := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		g.must(b, 200, "POST", "/v1/collections", token, map[string]any{"path": fmt.Sprintf("%s%d", prefix, i)})
		out = append(out, time.Since(start))
	}
	return out
}

// decisionRate is the decisions per second that callers concurrent
// callers get from g over REST in d.
func decisionRate(g *grantd, token string, callers int, d time.Duration) float64 {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if code, out, err := g.call(context.Background(), "POST", "/v1/authorize", token, map[string]any{"subject": "user:admin",
					"operation": "container.view", "resource": map[string]any{"collection": "/"}}); err == nil && code == 200 && out["allowed"] == true {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}
