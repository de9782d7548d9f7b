package authz

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the decision engine's Prometheus series.
type Metrics struct {
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	failures  prometheus.Counter
}

func newMetrics() *Metrics {
	return &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grantd_decisions_total", Help: "Decisions by resource kind and result (allowed, denied, error).",
		}, []string{"kind", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "grantd_decision_duration_seconds", Help: "In-process decision latency by resource kind.",
			Buckets: prometheus.ExponentialBuckets(0.000002, 2, 16),
		}, []string{"kind"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grantd_policy_state_failures_total", Help: "Times the compiled policy state could not follow the store.",
		}),
	}
}

// Collectors returns the engine's metrics for registration.
func (e *Engine) Collectors() []prometheus.Collector {
	cs := []prometheus.Collector{e.metrics.decisions, e.metrics.latency, e.metrics.failures}
	if e.cache != nil {
		cs = append(cs, e.cache.hits, e.cache.misses, e.cache.stale)
	}
	return cs
}

func (m *Metrics) observe(r Request, d Decision, took time.Duration) {
	kind := "collection"
	switch {
	case r.Kubernetes:
		kind = "kubernetes"
	case r.Repository != "":
		kind = "repository"
	}
	result := "denied"
	switch {
	case d.Allowed:
		result = "allowed"
	case d.Code == CodeInternalError:
		result = "error"
	}
	m.decisions.WithLabelValues(kind, result).Inc()
	m.latency.WithLabelValues(kind).Observe(took.Seconds())
}
