package server

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRegistryToken measures the registry token service through its
// HTTP endpoint, 8 callers at once: tokens for a push-and-pull scope on a
// team repository, with an API token as the password (what CI systems
// use) and with a local password (argon2id on every request). It reports
// tokens per second and the latency distribution.
func BenchmarkRegistryToken(b *testing.B) {
	ts := startServer(b)
	admin := ts.login(b, "admin", adminPassword)
	must := func(method, path string, body any) map[string]any {
		code, out := ts.do(b, method, path, admin, body)
		if code != 200 {
			b.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		return out
	}
	must("POST", "/v1/users", map[string]any{"name": "ci", "password": "ci-password"})
	must("POST", "/v1/orgs", map[string]any{"name": "acme"})
	must("POST", "/v1/orgs/acme/teams", map[string]any{"name": "build"})
	must("PUT", "/v1/orgs/acme/teams/build/members/ci", map[string]any{"isAdmin": false})
	must("POST", "/v1/repositories", map[string]any{"namespace": "acme", "name": "app"})
	must("POST", "/v1/grants", map[string]any{"subject": "team:acme/build", "role": "repo-read-write", "object": "repository:acme/app"})
	secret := must("POST", "/v1/tokens", map[string]any{"owner": "user:ci", "name": "bench"})["secret"].(string)
	q := url.Values{"service": {"registry"}, "scope": {"repository:acme/app:pull,push"}}
	target := "https://" + ts.addr + "/auth/token?" + q.Encode()
	for _, c := range []struct{ name, password string }{{"api-token", secret}, {"password", "ci-password"}} {
		b.Run(c.name, func(b *testing.B) {
			const callers = 8
			var lat []time.Duration
			var mu sync.Mutex
			var next atomic.Int64
			n := int64(b.N)
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					var mine []time.Duration
					for next.Add(1) <= n {
						req, _ := http.NewRequest("GET", target, nil)
						req.SetBasicAuth("ci", c.password)
						t0 := time.Now()
						resp, err := ts.http.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						mine = append(mine, time.Since(t0))
						if resp.StatusCode != 200 {
							b.Errorf("token: %d", resp.StatusCode)
							return
						}
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			rate := float64(len(lat)) / elapsed.Seconds()
			b.ReportMetric(rate, "tokens/s")
			b.ReportMetric(p(0.5), "p50-ms")
			b.ReportMetric(p(0.99), "p99-ms")
			b.Logf("%s: %d tokens by %d callers in %v: %.0f tokens/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms",
				c.name, len(lat), callers, elapsed.Round(time.Millisecond), rate, p(0.5), p(0.9), p(0.99))
		})
	}
}
