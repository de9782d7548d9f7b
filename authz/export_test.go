package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/internal/opatest"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestExportedBundleDecidesLikeGrantd runs stock OPA as a server on an
// exported bundle and asks it 10,000 random questions, which must all get
// grantd's answer (allowed and code alike).
func TestExportedBundleDecidesLikeGrantd(t *testing.T) {
	opa := opatest.Install(t)
	seed := testSeed(t)
	v := newEnv(t)
	g := &gen{rng: rand.New(rand.NewPCG(seed, 99)), v: v}
	g.populate()
	g.mutate(30)
	data, rev, err := v.e.ExportBundle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "grantd-bundle.tar.gz")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	srv := exec.Command(opa, "run", "--server", "--addr", addr, "--log-level", "error", "--bundle", path)
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/health?bundles")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("opa did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	const n = 10000
	allowed := 0
	for i := range n {
		req := g.query()
		want := v.e.Decide(context.Background(), req)
		in, err := ast.JSON(req.Input().Value)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"input": in})
		resp, err := client.Post("http://"+addr+"/v1/data/"+Entrypoint, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Result struct {
				Allowed bool   `json:"allowed"`
				Code    string `json:"code"`
			} `json:"result"`
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got.Result.Allowed != want.Allowed || got.Result.Code != string(want.Code) {
			t.Fatalf("query %d %s: stock OPA says %+v, grantd says allowed=%v code=%s (revision %d)",
				i, body, got.Result, want.Allowed, want.Code, rev)
		}
		if want.Allowed {
			allowed++
		}
	}
	t.Logf("stock OPA agreed with grantd on %d random queries (%d allowed)", n, allowed)
	if allowed == 0 || allowed == n {
		t.Fatal("one-sided queries")
	}
}
