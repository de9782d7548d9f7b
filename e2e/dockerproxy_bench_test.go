package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// BenchmarkEngineProxy measures what the engine proxy adds to a call
// against the same real dockerd reached directly, and how long a filtered
// list of 1,000 containers and of 1,000 volumes takes. It prints a report:
//
//	go test -run XXX -bench EngineProxy -benchtime 1x ./e2e
//
// Direct and proxied calls alternate, call by call and in which goes
// first, so both see the same machine. Targets (issue 18): ≤ 1 ms added at p50 per call, ≤ 20 ms for a
// filtered 1,000-item list.
func BenchmarkEngineProxy(b *testing.B) {
	d := sharedDockerd(b)
	e := startProxyEnvB(b, d)
	ctx := context.Background()
	direct, err := client.NewClientWithOpts(client.WithHost("unix://"+d.sock), client.WithVersion("1.41"))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	proxied := e.bundleClient(b, "maria", "restrictedcontrol")
	const prod = "/prod"
	labels := map[string]string{"com.docker.ucp.access.label": prod}

	// Per-call latency: inspect and create (then remove, untimed).
	probe, err := direct.ContainerCreate(ctx, &container.Config{Image: testImage, Labels: labels}, nil, nil, nil, "")
	if err != nil {
		b.Fatal(err)
	}
	defer direct.ContainerRemove(ctx, probe.ID, container.RemoveOptions{Force: true}) //nolint:errcheck // clean-up
	const calls = 1000
	var inspectD, inspectP, createD, createP, volD, volP []time.Duration
	type side struct {
		cl  *client.Client
		out *[]time.Duration
	}
	// Which side goes first alternates too, so that neither always
	// follows the other's clean-up.
	pair := func(i int, d, p side) []side {
		if i%2 == 0 {
			return []side{d, p}
		}
		return []side{p, d}
	}
	for i := 0; i < calls; i++ {
		for _, c := range pair(i, side{direct, &inspectD}, side{proxied, &inspectP}) {
			start := time.Now()
			if _, err := c.cl.ContainerInspect(ctx, probe.ID); err != nil {
				b.Fatal(err)
			}
			*c.out = append(*c.out, time.Since(start))
		}
	}
	for i := 0; i < calls; i++ {
		for _, c := range pair(i, side{direct, &createD}, side{proxied, &createP}) {
			start := time.Now()
			made, err := c.cl.ContainerCreate(ctx, &container.Config{Image: testImage, Labels: labels}, nil, nil, nil, "")
			if err != nil {
				b.Fatal(err)
			}
			*c.out = append(*c.out, time.Since(start))
			if err := direct.ContainerRemove(ctx, made.ID, container.RemoveOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range pair(i, side{direct, &volD}, side{proxied, &volP}) {
			start := time.Now()
			v, err := c.cl.VolumeCreate(ctx, volume.CreateOptions{Labels: labels})
			if err != nil {
				b.Fatal(err)
			}
			*c.out = append(*c.out, time.Since(start))
			if err := direct.VolumeRemove(ctx, v.Name, true); err != nil {
				b.Fatal(err)
			}
		}
	}

	// Lists of 1,000: half in /prod (maria's), half in /other.
	const items = 1000
	var made []string
	var vols []string
	defer func() {
		for _, id := range made {
			_ = direct.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
		}
		for _, v := range vols {
			_ = direct.VolumeRemove(ctx, v, true)
		}
	}()
	for i := 0; i < items; i++ {
		where := prod
		if i%2 == 1 {
			where = "/other"
		}
		l := map[string]string{"com.docker.ucp.access.label": where}
		c, err := direct.ContainerCreate(ctx, &container.Config{Image: testImage, Labels: l}, nil, nil, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		made = append(made, c.ID)
		v, err := direct.VolumeCreate(ctx, volume.CreateOptions{Labels: l})
		if err != nil {
			b.Fatal(err)
		}
		vols = append(vols, v.Name)
	}
	var listCD, listCP, listVD, listVP []time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		all, err := direct.ContainerList(ctx, container.ListOptions{All: true})
		listCD = append(listCD, time.Since(start))
		if err != nil || len(all) < items {
			b.Fatalf("direct list: %d %v", len(all), err)
		}
		start = time.Now()
		mine, err := proxied.ContainerList(ctx, container.ListOptions{All: true})
		listCP = append(listCP, time.Since(start))
		if err != nil || len(mine) != items/2+1 { // and the probe
			b.Fatalf("filtered list: %d containers, want %d (%v)", len(mine), items/2+1, err)
		}
		start = time.Now()
		if _, err := direct.VolumeList(ctx, volume.ListOptions{}); err != nil {
			b.Fatal(err)
		}
		listVD = append(listVD, time.Since(start))
		start = time.Now()
		vl, err := proxied.VolumeList(ctx, volume.ListOptions{})
		listVP = append(listVP, time.Since(start))
		if err != nil || len(vl.Volumes) != items/2 {
			b.Fatalf("filtered volume list: %d, want %d (%v)", len(vl.Volumes), items/2, err)
		}
	}
	fmt.Printf("\nEngine proxy against dockerd directly (real dockerd %s, %d calls each, alternating)\n\n", "20.10", calls)
	fmt.Printf("| call | direct p50 | proxy p50 | added p50 | added, paired | direct p99 | proxy p99 |\n|---|---|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		d, p []time.Duration
	}{
		{"container inspect", inspectD, inspectP}, {"container create", createD, createP}, {"volume create", volD, volP},
		{"list 1,000 containers (filtered to 500)", listCD, listCP}, {"list 1,000 volumes (filtered to 500)", listVD, listVP},
	} {
		dp50, pp50 := pct(r.d, 50), pct(r.p, 50)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", r.name, ms(dp50), ms(pp50), ms(pp50-dp50), ms(pairedMedian(r.d, r.p)),
			ms(pct(r.d, 99)), ms(pct(r.p, 99)))
		b.ReportMetric(float64(pp50-dp50)/1e6, strings.ReplaceAll(strings.Fields(r.name)[0]+"-"+strings.Fields(r.name)[1], ",", "")+"-added-p50-ms")
	}
	fmt.Println()
}

// pairedMedian is the median of the differences between the proxied and
// the direct call of each alternating pair: the added latency with the
// drift of the engine's own speed over the run (a container create takes
// 6 ms in one stretch and 16 ms in another) taken out. The difference of
// the two medians is reported beside it.
func pairedMedian(direct, proxied []time.Duration) time.Duration {
	diffs := make([]time.Duration, len(direct))
	for i := range direct {
		diffs[i] = proxied[i] - direct[i]
	}
	return pct(diffs, 50)
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// benchProxy is a grantd with the engine proxy for a benchmark.
type benchProxy struct {
	g     *grantd
	admin string
	dir   string
}

func startProxyEnvB(b *testing.B, d *realDockerd) *benchProxy {
	b.Helper()
	dir := b.TempDir()
	g := start(b, filepath.Join(dir, "data"), "--engine-proxy-listen", "127.0.0.1:0", "--engine-api", "unix://"+d.sock)
	out := &benchProxy{g: g, dir: dir, admin: g.login(b)}
	for _, p := range []string{"/prod", "/other"} {
		g.must(b, 200, "POST", "/v1/collections", out.admin, map[string]any{"path": p})
	}
	return out
}

// bundleClient is the Docker Go client of a new user holding role on
// /prod, through the proxy with their bundle.
func (p *benchProxy) bundleClient(b *testing.B, name, role string) *client.Client {
	b.Helper()
	p.g.must(b, 200, "POST", "/v1/users", p.admin, map[string]any{"name": name, "password": name + "-password-1"})
	p.g.must(b, 200, "POST", "/v1/grants", p.admin, map[string]any{"subject": "user:" + name, "role": role, "object": "collection:/prod"})
	out := p.g.must(b, 200, "POST", "/v1/bundles", p.admin, map[string]any{"owner": "user:" + name})
	raw, err := base64.StdEncoding.DecodeString(out["zip"].(string))
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(p.dir, name)
	unzip(b, raw, dir)
	env, err := os.ReadFile(filepath.Join(dir, "env.sh"))
	if err != nil {
		b.Fatal(err)
	}
	host := ""
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(line, "export DOCKER_HOST="); ok {
			host = strings.Trim(v, "'")
		}
	}
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithVersion("1.41"),
		client.WithTLSClientConfig(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}
