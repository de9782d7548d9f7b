package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/grantd/grantd/authz"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// BenchmarkAuthorizeGRPC measures Authorize over gRPC through the real
// listener (TLS, the connection mux, grpc-go's transport, the
// authentication interceptor) with the decision cache answering, so what
// it measures, and what -cpuprofile shows, is the per-call cost of the
// transport and of authenticating the caller:
//
//	go test -run XXX -bench AuthorizeGRPC -benchtime 100000x -cpuprofile cpu.pprof ./server
func BenchmarkAuthorizeGRPC(b *testing.B) {
	ts := startServer(b)
	// As grantd runs by default.
	ts.srv.engine.SetDecisionCache(authz.DefaultDecisionCache)
	admin := ts.login(b, "admin", adminPassword)
	client := v1.NewAuthzServiceClient(ts.grpc)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin)
	req := &v1.AuthorizeRequest{Subject: "user:admin", Operation: "container.view", Resource: &v1.Resource{Collection: "/Shared"}}
	for _, callers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("callers-%d", callers), func(b *testing.B) {
			runLoad(b, "authorize", "decisions/s", callers, func() error {
				resp, err := client.Authorize(ctx, req)
				if err == nil && !resp.GetAllowed() {
					err = fmt.Errorf("admin denied: %s", resp.GetReason())
				}
				return err
			})
		})
	}
}

// BenchmarkAuthorizeREST is BenchmarkAuthorizeGRPC through the REST
// gateway: HTTP/1.1 over TLS with kept-alive connections, as the bench and
// most REST clients call it.
//
//	go test -run XXX -bench AuthorizeREST -benchtime 50000x -cpuprofile cpu.pprof ./server
func BenchmarkAuthorizeREST(b *testing.B) {
	ts := startServer(b)
	ts.srv.engine.SetDecisionCache(authz.DefaultDecisionCache)
	admin := ts.login(b, "admin", adminPassword)
	tr := ts.http.Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	body := []byte(`{"subject":"user:admin","operation":"container.view","resource":{"collection":"/Shared"}}`)
	for _, callers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("callers-%d", callers), func(b *testing.B) {
			runLoad(b, "authorize", "decisions/s", callers, func() error {
				resp, err := postJSON(client, "https://"+ts.addr+"/v1/authorize", admin, body)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var out struct {
					Allowed bool   `json:"allowed"`
					Reason  string `json:"reason"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK || !out.Allowed {
					return fmt.Errorf("admin denied: %d %s", resp.StatusCode, out.Reason)
				}
				return nil
			})
		})
	}
}

// BenchmarkKubernetesWebhook is BenchmarkAuthorizeREST for the Kubernetes
// authorization webhook: one SubjectAccessReview per POST over HTTPS, as
// kube-apiserver sends them, with the decision cache answering.
//
//	go test -run XXX -bench KubernetesWebhook -benchtime 30000x -memprofile mem.pprof ./server
func BenchmarkKubernetesWebhook(b *testing.B) {
	ts := startServer(b)
	ts.srv.engine.SetDecisionCache(authz.DefaultDecisionCache)
	admin := ts.login(b, "admin", adminPassword)
	// kube-apiserver calls as a service account that may ask.
	ts.mustDo(b, "POST", "/v1/serviceAccounts", admin, map[string]any{"name": "kube-apiserver", "capabilities": []string{"authorize"}})
	code, out := ts.do(b, "POST", "/v1/tokens", admin, map[string]any{"owner": "serviceaccount:kube-apiserver", "name": "webhook"})
	if code != http.StatusOK {
		b.Fatalf("the webhook's token: %d %v", code, out)
	}
	token := out["secret"].(string)
	tr := ts.http.Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	body := []byte(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"resourceAttributes":` +
		`{"namespace":"default","verb":"get","group":"","version":"v1","resource":"pods"},"user":"admin","groups":["system:authenticated"]}}`)
	for _, callers := range []int{16, 64} {
		b.Run(fmt.Sprintf("callers-%d", callers), func(b *testing.B) {
			runLoad(b, "review", "decisions/s", callers, func() error {
				resp, err := postJSON(client, "https://"+ts.addr+KubernetesAuthorizePath, token, body)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var out struct {
					Status struct {
						Allowed         bool   `json:"allowed"`
						EvaluationError string `json:"evaluationError"`
					} `json:"status"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK || !out.Status.Allowed {
					return fmt.Errorf("admin's review denied: %d %+v", resp.StatusCode, out.Status)
				}
				return nil
			})
		})
	}
}

// postJSON posts body as JSON with token as the bearer credential.
func postJSON(client *http.Client, url, token string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}
