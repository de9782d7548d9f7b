package authz

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// TestMetricsCountByKindAndResult: each decision is counted once, under
// its resource kind and result, and its latency observed under its kind.
func TestMetricsCountByKindAndResult(t *testing.T) {
	v := newEnv(t)
	v.must(v.user("ann"), store.CreateCollection{Collection: store.Collection{Path: "/prod", Parent: "/"}},
		store.CreateGrant{Grant: store.Grant{ID: v.id(), Subject: subjects.MustParse("user:ann"), Role: roles.ViewOnly, Object: subjects.MustParseObject("collection:/prod")}})
	count := func(kind, result string) float64 {
		return testutil.ToFloat64(v.e.metrics.decisions.WithLabelValues(kind, result))
	}

	v.decide("user:ann", "container.view", "/prod")                                                                                    // allowed
	v.decide("user:ann", "container.view", "/prod")                                                                                    // allowed, from the cache
	v.decide("user:ann", "container.exec", "/prod")                                                                                    // denied
	v.e.Decide(context.Background(), Request{Subject: subjects.MustParse("user:ann"), Operation: "image.pull", Repository: "ann/app"}) // denied
	v.e.Decide(context.Background(), Request{Subject: subjects.MustParse("user:ann"), Operation: "pods.get", Kubernetes: true, Namespace: "prod"})

	for _, c := range []struct {
		kind, result string
		want         float64
	}{
		{"collection", "allowed", 2}, {"collection", "denied", 1}, {"collection", "error", 0},
		{"repository", "allowed", 0}, {"repository", "denied", 1},
		{"kubernetes", "allowed", 0}, {"kubernetes", "denied", 1},
	} {
		if got := count(c.kind, c.result); got != c.want {
			t.Errorf("grantd_decisions_total{kind=%q,result=%q} = %v, want %v", c.kind, c.result, got, c.want)
		}
	}
	for kind, want := range map[string]uint64{"collection": 3, "repository": 1, "kubernetes": 1} {
		if got := histogramCount(t, v, kind); got != want {
			t.Errorf("grantd_decision_duration_seconds_count{kind=%q} = %d, want %d", kind, got, want)
		}
	}
}

// histogramCount is how many latencies the kind's histogram observed.
func histogramCount(t *testing.T, v *env, kind string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := v.e.metrics.latency.WithLabelValues(kind).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}
