package server

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc/codes"
)

// TestRPCMetricsCountByMethodAndCode: each call is counted once under its
// method and status code, and its latency observed under its method.
func TestRPCMetricsCountByMethodAndCode(t *testing.T) {
	m := newMetrics()
	const a, b = "/grantd.v1.AuthzService/Authorize", "/grantd.v1.AdminService/ListUsers"
	for range 3 {
		m.observeRPC(a, codes.OK, time.Millisecond)
	}
	m.observeRPC(a, codes.PermissionDenied, time.Millisecond)
	m.observeRPC(b, codes.Unauthenticated, time.Millisecond)
	m.observeRPC(b, codes.OK, time.Millisecond)
	for _, c := range []struct {
		method string
		code   codes.Code
		want   float64
	}{{a, codes.OK, 3}, {a, codes.PermissionDenied, 1}, {b, codes.OK, 1}, {b, codes.Unauthenticated, 1}, {b, codes.PermissionDenied, 0}} {
		if got := testutil.ToFloat64(m.rpcs.WithLabelValues(c.method, c.code.String())); got != c.want {
			t.Errorf("grantd_rpc_requests_total{method=%q,code=%q} = %v, want %v", c.method, c.code, got, c.want)
		}
	}
	for method, want := range map[string]uint64{a: 4, b: 2} {
		var out dto.Metric
		if err := m.rpcLatency.WithLabelValues(method).(prometheus.Histogram).Write(&out); err != nil {
			t.Fatal(err)
		}
		if got := out.GetHistogram().GetSampleCount(); got != want {
			t.Errorf("grantd_rpc_duration_seconds_count{method=%q} = %d, want %d", method, got, want)
		}
	}
}
