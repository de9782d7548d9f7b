package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/codes"
)

// metrics are the Prometheus series grantd exports at /metrics.
type metrics struct {
	reg        *prometheus.Registry
	rpcs       *prometheus.CounterVec
	rpcLatency *prometheus.HistogramVec
	writes     *prometheus.HistogramVec
	logins     *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grantd_rpc_requests_total", Help: "RPCs handled, by method and status code.",
		}, []string{"method", "code"}),
		rpcLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "grantd_rpc_duration_seconds", Help: "RPC latency by method.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 14),
		}, []string{"method"}),
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "grantd_store_write_duration_seconds", Help: "Latency of store writes (raft commit, fsync and apply), by result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"result"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grantd_logins_total", Help: "Login attempts by result.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.rpcs, m.rpcLatency, m.writes, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRPC(method string, code codes.Code, d time.Duration) {
	m.rpcs.WithLabelValues(method, code.String()).Inc()
	m.rpcLatency.WithLabelValues(method).Observe(d.Seconds())
}

func (m *metrics) observeWrite(err error, d time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.writes.WithLabelValues(result).Observe(d.Seconds())
}
