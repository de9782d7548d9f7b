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
	// The series of each kind, looked up once: a decision only counts
	// and observes (a label lookup hashes and locks, twice per decision).
	byKind [len(decisionKinds)]kindSeries
}

// The values of the kind label, by index into Metrics.byKind.
const (
	kindCollection = iota
	kindKubernetes
	kindRepository
)

var decisionKinds = [...]string{kindCollection: "collection", kindKubernetes: "kubernetes", kindRepository: "repository"}

// kindSeries are one kind's series: a counter for each result
// (allowed, denied, error) and the latency histogram.
type kindSeries struct {
	allowed, denied, failed prometheus.Counter
	latency                 prometheus.Observer
}

func newMetrics() *Metrics {
	m := &Metrics{
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
	for i, kind := range decisionKinds {
		m.byKind[i] = kindSeries{
			allowed: m.decisions.WithLabelValues(kind, "allowed"),
			denied:  m.decisions.WithLabelValues(kind, "denied"),
			failed:  m.decisions.WithLabelValues(kind, "error"),
			latency: m.latency.WithLabelValues(kind),
		}
	}
	return m
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
	k := &m.byKind[kindCollection]
	switch {
	case r.Kubernetes:
		k = &m.byKind[kindKubernetes]
	case r.Repository != "":
		k = &m.byKind[kindRepository]
	}
	switch {
	case d.Allowed:
		k.allowed.Inc()
	case d.Code == CodeInternalError:
		k.failed.Inc()
	default:
		k.denied.Inc()
	}
	k.latency.Observe(took.Seconds())
}
