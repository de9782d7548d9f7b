package server

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/codes"

	"github.com/grantd/grantd/ldapsync"
)

// metrics are the Prometheus series grantd exports at /metrics.
type metrics struct {
	reg        *prometheus.Registry
	rpcs       *prometheus.CounterVec
	rpcLatency *prometheus.HistogramVec
	// byMethod holds each registered method's *rpcSeries, looked up once
	// (a label lookup hashes and locks, twice per call).
	byMethod sync.Map
	writes   *prometheus.HistogramVec
	logins   *prometheus.CounterVec
	// LDAP sync runs: by state, their duration, what they changed, and
	// when the last one succeeded.
	syncRuns        *prometheus.CounterVec
	syncDuration    prometheus.Histogram
	syncChanges     *prometheus.CounterVec
	syncLastSuccess prometheus.Gauge
	// Engine plugin decisions: by operation and result, and their latency.
	engineDecisions *prometheus.CounterVec
	engineLatency   *prometheus.HistogramVec
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
	m.syncRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grantd_ldap_sync_runs_total", Help: "LDAP sync runs by final state.",
	}, []string{"state"})
	m.syncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "grantd_ldap_sync_duration_seconds", Help: "Duration of LDAP sync runs.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
	})
	m.syncChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grantd_ldap_sync_changes_total", Help: "Changes made by LDAP sync runs, by kind.",
	}, []string{"kind"})
	m.syncLastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "grantd_ldap_sync_last_success_timestamp_seconds", Help: "When the last successful LDAP sync run ended.",
	})
	m.reg.MustRegister(m.syncRuns, m.syncDuration, m.syncChanges, m.syncLastSuccess)
	m.engineDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grantd_engine_plugin_decisions_total", Help: "Docker engine plugin decisions by operation and result.",
	}, []string{"operation", "result"})
	m.engineLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "grantd_engine_plugin_decision_duration_seconds", Help: "Latency of Docker engine plugin decisions (object lookups included), by result.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 14),
	}, []string{"result"})
	m.reg.MustRegister(m.engineDecisions, m.engineLatency)
	m.reg.MustRegister(m.rpcs, m.rpcLatency, m.writes, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// rpcSeries are a method's count of calls that succeeded and its latency.
type rpcSeries struct {
	ok      prometheus.Counter
	latency prometheus.Observer
}

func (m *metrics) observeRPC(method string, code codes.Code, d time.Duration) {
	v, found := m.byMethod.Load(method)
	if !found {
		// Only registered methods reach the interceptor: the map is
		// bounded by the API.
		v, _ = m.byMethod.LoadOrStore(method, &rpcSeries{
			ok: m.rpcs.WithLabelValues(method, codes.OK.String()), latency: m.rpcLatency.WithLabelValues(method)})
	}
	series := v.(*rpcSeries)
	if code == codes.OK {
		series.ok.Inc()
	} else {
		m.rpcs.WithLabelValues(method, code.String()).Inc()
	}
	series.latency.Observe(d.Seconds())
}

func (m *metrics) observeWrite(err error, d time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.writes.WithLabelValues(result).Observe(d.Seconds())
}

// observeSync records a finished LDAP sync run.
func (m *metrics) observeSync(rep ldapsync.Report, took time.Duration) {
	m.syncRuns.WithLabelValues(rep.State).Inc()
	m.syncDuration.Observe(took.Seconds())
	c := rep.Counts
	for kind, n := range map[string]int{"created": c.Created, "updated": c.Updated, "deactivated": c.Deactivated,
		"reactivated": c.Reactivated, "admins_added": c.AdminsAdded, "admins_removed": c.AdminsRemoved,
		"org_admins_added": c.OrgAdminsAdded, "org_admins_removed": c.OrgAdminsRemoved,
		"memberships_added": c.MembershipsAdded, "memberships_removed": c.MembershipsRemoved,
		"skipped_invalid_names": c.SkippedInvalidNames} {
		m.syncChanges.WithLabelValues(kind).Add(float64(n))
	}
	if rep.State == ldapsync.StateSucceeded {
		m.syncLastSuccess.Set(float64(rep.EndedAt.Unix()))
	}
}

// observeEngine records one engine plugin decision.
func (m *metrics) observeEngine(operation string, allowed bool, took time.Duration) {
	result := "denied"
	if allowed {
		result = "allowed"
	}
	m.engineDecisions.WithLabelValues(operation, result).Inc()
	m.engineLatency.WithLabelValues(result).Observe(took.Seconds())
}
