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
				req, err := http.NewRequest(http.MethodPost, "https://"+ts.addr+"/v1/authorize", bytes.NewReader(body))
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+admin)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
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
