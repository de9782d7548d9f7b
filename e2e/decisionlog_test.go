package e2e

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"
)

// TestDecisionLogReachesNginx runs grantd with an HTTP decision log whose
// sink, a real nginx keeping every request body, is down at first: the
// decisions made meanwhile wait and are retried with backoff, and once
// nginx is up every one arrives, in gzip-compressed batches that decode
// as OPA's own decision-log events.
func TestDecisionLogReachesNginx(t *testing.T) {
	sinkAddr := freeLoopbackAddr(t)
	g := start(t, t.TempDir(), "--decision-log", "http://"+sinkAddr+"/logs", "--decision-log-flush-interval", "200ms",
		"--node-id", "edge-1")
	admin := g.login(t)
	g.must(t, 200, "POST", "/v1/users", admin, map[string]any{"name": "maria", "password": "maria-password"})
	g.must(t, 200, "POST", "/v1/collections", admin, map[string]any{"path": "/prod"})
	grant := g.must(t, 200, "POST", "/v1/grants", admin, map[string]any{"subject": "user:maria", "role": "viewonly", "object": "collection:/prod"})["grant"].(map[string]any)["id"].(string)

	want := map[string]bool{} // request ID -> allowed
	for i := range 60 {
		op := "container.view"
		if i%3 == 0 {
			op = "container.exec"
		}
		id := fmt.Sprintf("req-%d", i)
		allowed := authorizeWithID(t, g, admin, id, op)
		if allowed != (op == "container.view") {
			t.Fatalf("%s %s: allowed=%v", id, op, allowed)
		}
		want[id] = allowed
	}
	time.Sleep(500 * time.Millisecond)
	if n := metric(t, g, admin, "grantd_decision_log_written_total"); n != 0 {
		t.Fatalf("%v events delivered with the sink down", n)
	}

	dir := startNginxSink(t, sinkAddr)
	var events []logs.EventV1
	deadline := time.Now().Add(60 * time.Second)
	for {
		events = receivedEvents(t, dir)
		if len(events) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := map[string]bool{}
	for _, ev := range events {
		rid, _ := ev.Custom["request_id"].(string)
		if !strings.HasPrefix(rid, "req-") {
			continue
		}
		in := (*ev.Input).(map[string]any)
		res := (*ev.Result).(map[string]any)
		if in["subject"] != "user:maria" || ev.Custom["interface"] != "rest" || ev.Custom["caller"] != "user:admin" ||
			ev.Labels["id"] != "edge-1" || ev.Path != "grantd/authz/decision" || ev.DecisionID == "" {
			t.Fatalf("event %+v", ev)
		}
		if allowed := res["allowed"] == true; allowed {
			if gs, _ := res["grants"].([]any); len(gs) != 1 || gs[0] != grant {
				t.Fatalf("allowed event %s names grants %v, want [%s]", rid, res["grants"], grant)
			}
		} else if res["code"] != "missing_operation" {
			t.Fatalf("denied event %s: %v", rid, res)
		}
		if _, dup := got[rid]; dup {
			t.Fatalf("%s delivered twice", rid)
		}
		got[rid] = res["allowed"] == true
	}
	if len(got) != len(want) {
		t.Fatalf("nginx received %d of the %d decisions", len(got), len(want))
	}
	for id, allowed := range want {
		if got[id] != allowed {
			t.Fatalf("%s: logged allowed=%v, decided %v", id, got[id], allowed)
		}
	}
	if n := metric(t, g, admin, "grantd_decision_log_dropped_total"); n != 0 {
		t.Fatalf("%v decisions dropped", n)
	}
}

// authorizeWithID asks POST /v1/authorize with an X-Request-ID.
func authorizeWithID(t *testing.T, g *grantd, token, id, op string) bool {
	t.Helper()
	body := fmt.Sprintf(`{"subject":"user:maria","operation":%q,"resource":{"collection":"/prod"}}`, op)
	req, _ := http.NewRequest("POST", "https://"+g.addr+"/v1/authorize", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-ID", id)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Allowed bool `json:"allowed"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("authorize %s: %d %v", id, resp.StatusCode, err)
	}
	return out.Allowed
}

// metric reads one counter from grantd's /metrics.
func metric(t *testing.T, g *grantd, token, name string) float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+g.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// startNginxSink runs nginx on addr as a decision-log sink: POST /logs is
// read whole into a file it keeps (client_body_in_file_only), logged with
// its method, status and headers, and answered 204. It returns the
// directory of the log and the bodies.
func startNginxSink(t *testing.T, addr string) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"bodies", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/bodies;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	client_max_body_size 64m;
	client_body_in_file_only on;
	log_format batches '$request_method $status $http_content_encoding $content_type $request_body_file';
	server {
		listen %[2]s;
		location = /logs {
			access_log %[1]s/batches.log batches;
			proxy_pass http://%[2]s/taken;
		}
		location = /taken { return 204; }
	}
}
`, dir, addr)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/nginx", "-c", confFile, "-p", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return dir
		}
		if i == 100 {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s:\n%s", addr, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receivedEvents reads the batches nginx took: each a POST answered 204,
// gzip-encoded JSON, an array of OPA decision-log events.
func receivedEvents(t *testing.T, dir string) []logs.EventV1 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "batches.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logs.EventV1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 5 || fields[0] != "POST" || fields[1] != "204" || fields[2] != "gzip" || fields[3] != "application/json" {
			t.Fatalf("nginx logged %q: want a POST of gzip-encoded JSON answered 204", sc.Text())
		}
		out = append(out, decodeBatch(t, fields[4])...)
	}
	return out
}

func decodeBatch(t *testing.T, path string) []logs.EventV1 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dec := json.NewDecoder(zr)
	dec.DisallowUnknownFields()
	var batch []logs.EventV1
	if err := dec.Decode(&batch); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return batch
}
