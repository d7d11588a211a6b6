package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

func TestFaultAPIServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	oc := importOwnCluster(ctx, t, testbed.Options{Name: "restart"})
	cl, id := oc.Cluster, oc.id
	healthy := func(c clusterWithStatus) bool { return c.State == "active" && c.Status.APIServer.Ready }
	waitStatus(ctx, t, shared.server, shared.adminToken, id, healthy)

	restarted := make(chan error, 1)
	began := time.Now()
	go func() { restarted <- cl.RestartAPIServerAfter(ctx, 10*time.Second) }()
	c := waitStatus(ctx, t, shared.server, shared.adminToken, id, func(c clusterWithStatus) bool { return c.State == "unhealthy" })
	t.Logf("status unhealthy %.1fs after the apiserver went down: %q", time.Since(began).Seconds(), c.Status.APIServer.Message)
	// What an operator alerts on: connected, but its apiserver not ready.
	checkMetrics(ctx, t, map[string]float64{
		`drover_cluster_apiserver_ready{cluster="` + id + `"}`:             0,
		`drover_cluster_state{cluster="` + id + `",state="cluster_agent"}`: 1,
		`drover_cluster_disconnected_seconds{cluster="` + id + `"}`:        0,
		`drover_cluster_nodes{cluster="` + id + `",ready="true"}`:          0,
	})
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	waitStatus(ctx, t, shared.server, shared.adminToken, id, healthy)
	t.Logf("status healthy again %.1fs after the apiserver was back", time.Since(up).Seconds())
	if _, err := shared.server.Login(ctx, "admin", "not-the-password"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	// -1: at least one. The API by route template (never the id itself).
	checkMetrics(ctx, t, map[string]float64{
		`drover_cluster_apiserver_ready{cluster="` + id + `"}`:                         1,
		`drover_api_requests_total{code="200",method="GET",route="/v3/clusters/{id}"}`: -1,
		`drover_logins_total{kind="password",result="ok"}`:                             -1,
		`drover_logins_total{kind="password",result="refused"}`:                        -1,
		`drover_controllers`:                            -1,
		`drover_controller_pass_duration_seconds_count`: -1,
		`drover_store_connections{state="idle"}`:        -1,
	})
	// The tunnel stayed up through the outage: the agent keeps it, not the
	// apiserver.
	var st harness.ClusterState
	if err := shared.server.Do(ctx, "GET", "/v3/clusters/"+id, shared.adminToken, nil, &st); err != nil {
		t.Fatal(err)
	}
	if !st.Tunnel.Connected || st.Tunnel.Via != "cluster" {
		t.Errorf("tunnel after the outage: %+v", st.Tunnel)
	}
}

func TestNodeNameTakenWhileConnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFaultEnv(ctx, t)
	// A second agent claiming node-a while node-a's agent is connected.
	impostor := f.startAgent("node", "node-a")
	time.Sleep(2 * time.Second)
	f.waitSessions(ctx, 2)
	if ok, _ := impostor.Exited(); ok {
		t.Fatal("the refused agent exited; it should keep retrying")
	}
	if !strings.Contains(readFile(t, f.server.LogPath), `node \"node-a\" already has a connected agent`) {
		t.Error("the server did not log the refused node name")
	}
	// Once node-a's agent is gone, the name is free again.
	f.node.Kill()
	f.waitTunnel(ctx, func(via string, n int) bool { return n == 2 })
	t.Log("the waiting agent took over node-a once its agent was gone")
}

// checkMetrics scrapes the shared server's metrics once and checks each
// series (name and labels exactly as exposed) has its value; -1 means
// "present and at least 1", -2 "present".
func checkMetrics(ctx context.Context, t *testing.T, want map[string]float64) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, shared.metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if v, err := strconv.ParseFloat(value, 64); ok && err == nil && !strings.HasPrefix(series, "#") {
			got[series] = v
		}
	}
	for series, w := range want {
		v, ok := got[series]
		switch {
		case !ok:
			t.Errorf("no series %s in the metrics", series)
		case w == -2:
		case w == -1 && v < 1, w >= 0 && v != w:
			t.Errorf("%s = %v, want %v", series, v, w)
		}
	}
}
