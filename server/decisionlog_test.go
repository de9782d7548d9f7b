package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/grantd/grantd/internal/jsonlinestest"

	"google.golang.org/grpc/metadata"

	"github.com/grantd/grantd/authz"

	"github.com/grantd/grantd/decisionlog"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// TestDecisionLogRecordsEveryInterface asks through gRPC, REST, AuthZEN
// and the registry token service, and finds each decision in the log
// with its caller, interface, request ID and the grant behind it.
func TestDecisionLogRecordsEveryInterface(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	cfg := decisionlog.DefaultConfig()
	cfg.Destination, cfg.FlushInterval, cfg.Labels = "file:"+path, 10*time.Millisecond, map[string]string{"id": "node-a"}
	dl, err := decisionlog.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerWith(t, Config{DecisionLog: dl})
	admin := authzenState(t, ts)
	grants := map[string]string{} // "subject role object" -> ID
	_, list := ts.do(t, "GET", "/v1/grants?page_size=1000", admin, nil)
	for _, g := range list["grants"].([]any) {
		m := g.(map[string]any)
		grants[m["subject"].(string)+" "+m["role"].(string)+" "+m["object"].(string)] = m["id"].(string)
	}
	viewProd := grants["team:acme/web viewonly collection:/prod"]
	readRepo := grants["team:acme/web repo-read-only repository:acme/app"]

	// gRPC, with a request ID in the metadata.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin, "x-request-id", "grpc-1")
	if _, err := v1.NewAuthzServiceClient(ts.grpc).Authorize(ctx, &v1.AuthorizeRequest{Subject: "user:maria",
		Operation: "container.view", Resource: &v1.Resource{Collection: "/prod/api"}}); err != nil {
		t.Fatal(err)
	}
	// REST, allowed and denied, and a malformed question.
	rest := func(id string, body map[string]any) {
		req := jsonRequest(t, "POST", "https://"+ts.addr+"/v1/authorize", admin, body)
		req.Header.Set("X-Request-ID", id)
		doClose(t, ts, req, id)
	}
	rest("rest-1", map[string]any{"subject": "user:paolo", "operation": "container.exec", "resource": map[string]any{"collection": "/dev"}})
	rest("rest-2", map[string]any{"subject": "user:maria", "operation": "container.view",
		"resource": map[string]any{"collection": "/prod", "repository": "acme/app"}})
	// AuthZEN.
	req := jsonRequest(t, "POST", "https://"+ts.addr+"/access/v1/evaluation", admin, map[string]any{
		"subject": map[string]any{"type": "user", "id": "maria"}, "action": map[string]any{"name": "repository.pull"},
		"resource": map[string]any{"type": "repository", "id": "acme/app"}})
	req.Header.Set("X-Request-ID", "az-1")
	doClose(t, ts, req, "authzen")
	// The registry token service.
	q := url.Values{"service": {"registry"}, "scope": {"repository:acme/app:pull"}}
	treq, _ := http.NewRequest("GET", "https://"+ts.addr+"/auth/token?"+q.Encode(), nil)
	treq.SetBasicAuth("maria", "maria-password")
	doClose(t, ts, treq, "token")

	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dl.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	events := jsonlinestest.Read(t, path)
	find := func(via, requestID string) map[string]any {
		for _, ev := range events {
			c := ev["custom"].(map[string]any)
			if c["interface"] == via && (requestID == "" || c["request_id"] == requestID) {
				return ev
			}
		}
		t.Fatalf("no %s event with request ID %q in %d events", via, requestID, len(events))
		return nil
	}
	check := func(ev map[string]any, subject, op string, allowed bool, code string, wantGrants ...string) {
		t.Helper()
		in, res := ev["input"].(map[string]any), ev["result"].(map[string]any)
		if in["subject"] != subject || in["operation"] != op || res["allowed"] != allowed || res["code"] != code || (res["reason"] == nil) != allowed || res["reason"] == "" {
			t.Fatalf("event %v: want %s %s allowed=%v code=%s", ev, subject, op, allowed, code)
		}
		var got []string
		if g, ok := res["grants"].([]any); ok {
			for _, x := range g {
				got = append(got, x.(string))
			}
		}
		if !slices.Equal(got, wantGrants) {
			t.Fatalf("event %v: grants %v, want %v", ev, got, wantGrants)
		}
		if ev["labels"].(map[string]any)["id"] != "node-a" || ev["requested_by"] == nil || ev["decision_id"] == "" {
			t.Fatalf("event %v lacks its labels, caller address or ID", ev)
		}
	}
	g := find(viaGRPC, "grpc-1")
	check(g, "user:maria", "container.view", true, "granted", viewProd)
	if g["custom"].(map[string]any)["caller"] != "user:admin" || g["result"].(map[string]any)["collection"] != "/prod/api" {
		t.Fatalf("gRPC event %v: want caller user:admin, collection /prod/api", g)
	}
	check(find(viaREST, "rest-1"), "user:paolo", "container.exec", false, "missing_operation")
	check(find(viaREST, "rest-2"), "user:maria", "container.view", false, "malformed_request")
	check(find(viaAuthZEN, "az-1"), "user:maria", "repository.pull", true, "granted", readRepo)
	reg := find(viaRegistry, "")
	check(reg, "user:maria", "repository.pull", true, "granted", readRepo)
	if s := dl.Stats(); s.Dropped != 0 || s.Written != uint64(len(events)) {
		t.Fatalf("stats %+v for %d events", s, len(events))
	}
}

func jsonRequest(t *testing.T, method, target, token string, body any) *http.Request {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, target, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// doClose sends a request that must succeed, and closes its answer.
func doClose(t *testing.T, ts *testServer, req *http.Request, what string) {
	t.Helper()
	resp, err := ts.http.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d", what, resp.StatusCode)
	}
}

// BenchmarkDecisionLog is BenchmarkAuthorizeGRPC with a granted question
// (so the log names a grant), with the decision log off and to a file;
// -cpuprofile shows what logging costs a decision:
//
//	go test -run XXX -bench DecisionLog -benchtime 200000x -cpuprofile cpu.pprof ./server
func BenchmarkDecisionLog(b *testing.B) {
	discard := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer discard.Close()
	for _, sink := range []string{"off", "file", "http"} {
		b.Run(sink, func(b *testing.B) {
			var dl *decisionlog.Logger
			if sink != "off" {
				cfg := decisionlog.DefaultConfig()
				cfg.Destination = "file:" + filepath.Join(b.TempDir(), "d.jsonl")
				if sink == "http" {
					cfg.Destination = discard.URL
				}
				var err error
				if dl, err = decisionlog.New(cfg, nil); err != nil {
					b.Fatal(err)
				}
				defer dl.Close(context.Background())
			}
			ts := startServerWith(b, Config{DecisionLog: dl})
			ts.srv.engine.SetDecisionCache(authz.DefaultDecisionCache)
			admin := authzenState(b, ts)
			client := v1.NewAuthzServiceClient(ts.grpc)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin)
			req := &v1.AuthorizeRequest{Subject: "user:maria", Operation: "container.view", Resource: &v1.Resource{Collection: "/prod/api"}}
			runLoad(b, "authorize", "decisions/s", 64, func() error {
				resp, err := client.Authorize(ctx, req)
				if err == nil && !resp.GetAllowed() {
					err = fmt.Errorf("maria denied: %s", resp.GetReason())
				}
				return err
			})
		})
	}
}
