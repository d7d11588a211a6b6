package e2e

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

func TestFaultAPIServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cl, err := testbed.Start(ctx, testbed.Options{Name: "restart", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	kc := filepath.Join(dir, "direct")
	if err := cl.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	id, reg, err := shared.server.CreateCluster(ctx, shared.adminToken, "apiserver-restart")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: dir, ServerURL: shared.server.URL, CAChecksum: reg.CAChecksum,
		Token: reg.Token, Kubeconfig: kc, Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop(5 * time.Second)
	healthy := func(c clusterWithStatus) bool { return c.State == "active" && c.Status.APIServer.Ready }
	waitStatus(ctx, t, shared.server, shared.adminToken, id, healthy)

	restarted := make(chan error, 1)
	began := time.Now()
	go func() { restarted <- cl.RestartAPIServerAfter(ctx, 10*time.Second) }()
	c := waitStatus(ctx, t, shared.server, shared.adminToken, id, func(c clusterWithStatus) bool { return c.State == "unhealthy" })
	t.Logf("status unhealthy %.1fs after the apiserver went down: %q", time.Since(began).Seconds(), c.Status.APIServer.Message)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	waitStatus(ctx, t, shared.server, shared.adminToken, id, healthy)
	t.Logf("status healthy again %.1fs after the apiserver was back", time.Since(up).Seconds())
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
