package controller

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drover-dev/drover/pkg/metrics"
)

// TestForgetKeepsANewControllersSeries: a stopped controller's series go,
// unless a controller for the cluster's new session already runs (its
// series are the new one's: deleting them would leave the cluster without
// readiness until its next pass).
func TestForgetKeepsANewControllersSeries(t *testing.T) {
	m := New(Options{Metrics: metrics.NewServer()})
	ready := func() int { return testutil.CollectAndCount(m.opts.Metrics.APIServerReady) }
	m.opts.Metrics.APIServerReady.WithLabelValues("c-1").Set(1)
	m.running["c-1"] = &running{} // the new session's controller
	m.forget("c-1")
	if n := ready(); n != 1 {
		t.Errorf("%d readiness series after the old controller stopped beside a new one, want 1", n)
	}
	delete(m.running, "c-1")
	m.forget("c-1")
	if n := ready(); n != 0 {
		t.Errorf("%d readiness series after the last controller stopped, want 0", n)
	}
}
