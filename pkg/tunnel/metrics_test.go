package tunnel

import (
	"io"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/store"
)

// clusterMetrics scrapes the server's metrics and returns its
// drover_cluster_state and drover_cluster_disconnected_seconds lines.
func (f *fixture) clusterMetrics() []string {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.tun.opts.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var lines []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "drover_cluster_state{") || strings.HasPrefix(l, "drover_cluster_disconnected_seconds{") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// TestClusterStateMetrics: every cluster in the store has exactly one
// state set, whatever serves it: its cluster agent, a node agent only, or
// nothing (how long: since the last session ended, or since it was made).
func TestClusterStateMetrics(t *testing.T) {
	f := newFixture(t)
	alpha := f.addCluster("c-alpha", time.Time{})
	beta := f.addCluster("c-beta", time.Time{})
	f.addCluster("c-gamma", time.Time{}) // never connected
	a := f.startAgent(alpha, f.params(agentapi.KindCluster, "", "sa-a"))
	f.waitLive("c-alpha", 1)
	// c-beta: a node agent stays after its cluster agent left.
	b := f.startAgent(beta, f.params(agentapi.KindCluster, "", "sa-b"))
	f.waitLive("c-beta", 1)
	f.startAgent(f.addRegistrationKind("c-beta", store.AgentNode, time.Time{}), f.params(agentapi.KindNode, "n1", ""))
	f.waitLive("c-beta", 2)
	b.Stop()
	f.waitLive("c-beta", 1)
	f.clock.Add(90 * time.Second)

	want := []string{
		`drover_cluster_disconnected_seconds{cluster="c-alpha"} 0`,
		`drover_cluster_disconnected_seconds{cluster="c-beta"} 0`,
		`drover_cluster_disconnected_seconds{cluster="c-gamma"} 90`,
		`drover_cluster_state{cluster="c-alpha",state="cluster_agent"} 1`,
		`drover_cluster_state{cluster="c-alpha",state="disconnected"} 0`,
		`drover_cluster_state{cluster="c-alpha",state="node_agent"} 0`,
		`drover_cluster_state{cluster="c-beta",state="cluster_agent"} 0`,
		`drover_cluster_state{cluster="c-beta",state="disconnected"} 0`,
		`drover_cluster_state{cluster="c-beta",state="node_agent"} 1`,
		`drover_cluster_state{cluster="c-gamma",state="cluster_agent"} 0`,
		`drover_cluster_state{cluster="c-gamma",state="disconnected"} 1`,
		`drover_cluster_state{cluster="c-gamma",state="node_agent"} 0`,
	}
	if diff := cmp.Diff(want, f.clusterMetrics()); diff != "" {
		t.Errorf("cluster metrics (-want +got):\n%s", diff)
	}

	// c-alpha's agent leaves: disconnected since then.
	a.Stop()
	f.waitLive("c-alpha", 0)
	f.clock.Add(30 * time.Second)
	got := f.clusterMetrics()
	for _, w := range []string{
		`drover_cluster_disconnected_seconds{cluster="c-alpha"} 30`,
		`drover_cluster_state{cluster="c-alpha",state="disconnected"} 1`,
	} {
		if !slices.Contains(got, w) {
			t.Errorf("after c-alpha's agent left, no %s in\n%s", w, strings.Join(got, "\n"))
		}
	}
}
