package server

import (
	"context"
	"fmt"
	"testing"

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
