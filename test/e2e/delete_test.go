package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// logCount counts the server's log lines with message msg about cluster id.
func logCount(t *testing.T, srv *harness.Server, msg, clusterID string) int {
	t.Helper()
	b, err := os.ReadFile(srv.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct{ Msg, Cluster string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg && line.Cluster == clusterID {
			n++
		}
	}
	return n
}

// waitLog waits until the server logged msg about the cluster want times.
func waitLog(t *testing.T, srv *harness.Server, msg, clusterID string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for logCount(t, srv, msg, clusterID) < want {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q for %s %d times within %s (log %s)", msg, clusterID, want, within, srv.LogPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestImportedClusterDeleted: deleting a connected cluster closes its
// agents' tunnels and stops its controller at once, its kubeconfig tokens
// stop working, and its agents, which keep trying, are refused.
func TestImportedClusterDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(10 * time.Second)
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	id, reg, err := srv.CreateCluster(ctx, admin, "doomed")
	if err != nil {
		t.Fatal(err)
	}
	direct := filepath.Join(shared.dir, "direct-kubeconfig")
	for _, a := range []harness.AgentOptions{
		{Kind: "cluster", Token: reg.Token},
		{Kind: "node", NodeName: "doomed-node", Token: reg.NodeToken},
	} {
		a.Bin, a.Dir, a.ServerURL, a.CAChecksum, a.Kubeconfig = shared.bins.Agent, filepath.Join(dir, "agents"), srv.URL, srv.CAChecksum, direct
		p, err := harness.StartAgent(a)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop(5 * time.Second)
	}
	if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, srv, "agent connected", id, 2, 30*time.Second)
	// One controller runs (it may have started on the node agent's session
	// first and restarted on the cluster agent's).
	waitLog(t, srv, "cluster controller started", id, 1, 30*time.Second)
	started := logCount(t, srv, "cluster controller started", id)
	waitLog(t, srv, "cluster controller stopped", id, started-1, 10*time.Second)
	var tok struct{ Token string }
	if err := srv.Do(ctx, http.MethodPost, "/v3/tokens", admin, map[string]string{"clusterId": id}, &tok); err != nil {
		t.Fatal(err)
	}
	if err := srv.Do(ctx, http.MethodGet, "/k8s/clusters/"+id+"/version", tok.Token, nil, nil); err != nil {
		t.Fatalf("the cluster's token before the deletion: %v", err)
	}

	if err := srv.Do(ctx, http.MethodDelete, "/v3/clusters/"+id, admin, nil, nil); err != nil {
		t.Fatal(err)
	}
	// The controller runs on the cluster's session; the manager looks for
	// ended sessions every 500 ms.
	waitLog(t, srv, "agent disconnected", id, 2, 2*time.Second)
	waitLog(t, srv, "cluster controller stopped", id, started, 2*time.Second)
	for _, as := range []string{tok.Token, admin} {
		var apiErr *harness.APIError
		if err := srv.Do(ctx, http.MethodGet, "/k8s/clusters/"+id+"/version", as, nil, nil); !asAPIError(err, &apiErr) || apiErr.Code < 400 {
			t.Errorf("the deleted cluster's proxy answered %v", err)
		}
	}
	var apiErr *harness.APIError
	if err := srv.Do(ctx, http.MethodGet, "/v3/users/me", tok.Token, nil, nil); !asAPIError(err, &apiErr) || apiErr.Code != 401 {
		t.Errorf("the deleted cluster's token: %v, want 401", err)
	}
	// The agents try again and are refused: their tokens went with the
	// cluster.
	deadline := time.Now().Add(30 * time.Second)
	for refusedCount(t, srv) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the deleted cluster's agents did not try to reconnect")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := logCount(t, srv, "agent connected", id); n != 2 {
		t.Errorf("%d connects for the deleted cluster, want the 2 before the deletion", n)
	}
	if n := logCount(t, srv, "cluster controller started", id); n != started {
		t.Errorf("the deleted cluster's controller started again (%d starts, %d before the deletion)", n, started)
	}
}

// refusedCount counts refused agent connects (they name no cluster: the
// token that would say which is unknown).
func refusedCount(t *testing.T, srv *harness.Server) int {
	t.Helper()
	return logCount(t, srv, "agent connect refused", "")
}
