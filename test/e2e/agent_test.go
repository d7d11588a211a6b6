package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

func TestAgentRefusesWrongCAChecksum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, reg, err := shared.server.CreateCluster(ctx, shared.adminToken, "wrong-ca")
	if err != nil {
		t.Fatal(err)
	}
	bogus := sha256.Sum256([]byte("not the server's CA"))
	dir := t.TempDir()
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: dir, ServerURL: shared.server.URL,
		CAChecksum: hex.EncodeToString(bogus[:]), Token: reg.Token,
		Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-agent.Done():
	case <-ctx.Done():
		agent.Kill()
		t.Fatal("agent with a wrong CA checksum kept running")
	}
	_, exitErr := agent.Exited()
	if exitErr == nil || !strings.Contains(exitErr.Error(), "exit status 1") {
		t.Errorf("agent exit = %v, want exit status 1", exitErr)
	}
	log := readFile(t, agent.LogPath)
	if want := "the server's CA does not match the configured CA checksum"; !strings.Contains(log, want) {
		t.Errorf("agent log lacks %q:\n%s", want, log)
	}
	if strings.Contains(log, reg.Token) || strings.Contains(log, strings.SplitN(reg.Token, ":", 2)[1]) {
		t.Error("agent log contains the registration token")
	}
}

func TestAgentRejectedWithWrongToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, reg, err := shared.server.CreateCluster(ctx, shared.adminToken, "wrong-token")
	if err != nil {
		t.Fatal(err)
	}
	// Same id, different secret.
	tokID, _, _ := strings.Cut(reg.Token, ":")
	forged := tokID + ":" + strings.Repeat("a", 52)
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: t.TempDir(), ServerURL: shared.server.URL, CAChecksum: reg.CAChecksum,
		Token: forged, Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop(5 * time.Second)
	time.Sleep(3 * time.Second)
	var st harness.ClusterState
	if err := shared.server.Do(ctx, http.MethodGet, "/v3/clusters/"+id, shared.adminToken, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Tunnel.Connected {
		t.Fatal("an agent with a forged registration token connected")
	}
	// It said why, with the HTTP status, and did not knock again: a token
	// the server refused with 401 cannot work until it changes.
	log := readFile(t, agent.LogPath)
	if !strings.Contains(log, `"status":401`) || !strings.Contains(log, "the server refuses this agent's tunnel") ||
		!strings.Contains(log, "import manifest") {
		t.Errorf("the agent log does not say the server answered 401 and what to do:\n%s", log)
	}
	if strings.Contains(log, "bad handshake") {
		t.Errorf("the agent log says bad handshake:\n%s", log)
	}
	if n := strings.Count(log, "the server refuses this agent's tunnel"); n != 1 {
		t.Errorf("%d refused attempts in 3 s, want 1 (a long wait after a 401):\n%s", n, log)
	}
	// The right token in the file (a re-applied manifest) ends the wait.
	if err := os.WriteFile(filepath.Join(filepath.Dir(agent.LogPath), "agent-cluster.token"), []byte(reg.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := shared.server.WaitConnected(ctx, shared.adminToken, id, "cluster"); err != nil {
		t.Fatalf("the agent did not connect with the right token: %v", err)
	}
}

// TestServerRestartAgentReconnects restarts a server of its own (the shared
// one must stay up for the other tests) and measures how long the agent
// takes to come back.
func TestServerRestartAgentReconnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	own := startOwnServer(ctx, t, dir, "restart")
	srv, admin, id := own.srv, own.admin, own.id
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	if srv.AdminPassword != "" {
		t.Error("the restarted server printed an admin password again")
	}
	// The old session token survives the restart: state is in the store.
	if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	back := time.Since(restarted)
	t.Logf("agent reconnected %.2fs after the server was serving again", back.Seconds())
	if back > 10*time.Second {
		t.Errorf("agent took %s to reconnect; the backoff is meant to bring it back within seconds", back)
	}
	kc, err := srv.Kubeconfig(ctx, admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig")
	writeFile(t, path, kc)
	if _, err := kubectl(ctx, t, path, "get", "ns", "default"); err != nil {
		t.Fatalf("kubectl after restart: %v", err)
	}
}
