package realnodes

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/token"
)

// registrationGrace keeps rotated-out registration tokens valid on the
// shared server: long enough that the rotation test sees the agent pods
// move to the new tokens by themselves, never because the server closed
// their tunnels.
const registrationGrace = 10 * time.Minute

// testRotate rotates the cluster's registration tokens with requests
// flowing: the server pushes them into the cluster's Secrets, the kubelets
// update the agent pods' Secret volumes, and every agent (the cluster
// agent and both node agents) reconnects with its new token on its own,
// long before the old one's grace ends, without a pod restart.
func testRotate(t *testing.T, id string) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(shared.Cluster.RESTConfig())
	restarts := agentRestarts(ctx, t, cs)
	from := serverLogSize(t)
	l := startLoad(ctx, t, id)
	l.waitOK(ctx, t)

	rotated := time.Now()
	var rot struct {
		Registration   struct{ Token, NodeToken string }
		PushedToAgents bool
	}
	if err := shared.Server.Do(ctx, http.MethodPost, "/v3/clusters/"+id+"/registration-tokens", shared.Admin, nil, &rot); err != nil {
		t.Fatal(err)
	}
	if !rot.PushedToAgents {
		t.Fatal("the rotation did not reach the connected cluster")
	}
	clusterTok, err := token.Parse(rot.Registration.Token)
	if err != nil {
		t.Fatal(err)
	}
	nodeTok, err := token.Parse(rot.Registration.NodeToken)
	if err != nil {
		t.Fatal(err)
	}
	// Each agent's first session with its new token.
	want := map[string]string{"cluster/": clusterTok.ID}
	for _, n := range shared.Cluster.NodeNames {
		want["node/"+n] = nodeTok.ID
	}
	moved := waitConnectedWith(ctx, t, from, want)
	waitTunnel(ctx, t, id, func(via string, n int) bool { return via == "cluster" && n == 1+len(shared.Cluster.NodeNames) })
	total, failed, gap, errs := l.finish()
	var last time.Duration
	for who, at := range moved {
		t.Logf("%s reconnected with its new token %v after the rotation", who, at.Sub(rotated).Round(time.Millisecond))
		last = max(last, at.Sub(rotated))
	}
	t.Logf("load during the rotation: %d GETs, %d failed %v, longest time without a success %v", total, failed, errs, gap.Round(time.Millisecond))
	if last > registrationGrace/2 {
		t.Errorf("the last agent moved %v after the rotation; it should long before the grace (%v) ends", last, registrationGrace)
	}
	// The cluster agent's reconnect leaves the node agents to carry the
	// traffic; only requests in flight at a switch may fail.
	if failed > 3 {
		t.Errorf("%d of %d GETs failed during the rotation: %v", failed, total, errs)
	}
	if after := agentRestarts(ctx, t, cs); !maps.Equal(restarts, after) {
		t.Errorf("agent container restarts before %v, after %v: the agents should pick the token up without a restart", restarts, after)
	}
}

// agentRestarts returns the restart count of every agent pod by name.
func agentRestarts(ctx context.Context, t *testing.T, cs kubernetes.Interface) map[string]int32 {
	t.Helper()
	out := map[string]int32{}
	for _, app := range []string{manifest.ClusterAgentName, manifest.NodeAgentName} {
		list, err := cs.CoreV1().Pods(downstream.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			for _, c := range p.Status.ContainerStatuses {
				out[p.Name+"/"+c.Name] = c.RestartCount
			}
		}
	}
	return out
}

// waitConnectedWith waits until the server's log, after offset from, shows
// an "agent connected" with the wanted token id for every "kind/node" key
// of want, and returns when each first did.
func waitConnectedWith(ctx context.Context, t *testing.T, from int64, want map[string]string) map[string]time.Time {
	t.Helper()
	for {
		b, err := os.ReadFile(filepath.Join(shared.Server.DataDir, "server.log"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]time.Time{}
		for _, line := range bytes.Split(b[min(from, int64(len(b))):], []byte("\n")) {
			var rec struct {
				Time            time.Time
				Msg, Kind, Node string
				TokenID         string `json:"token_id"`
			}
			if json.Unmarshal(line, &rec) != nil || rec.Msg != "agent connected" {
				continue
			}
			key := rec.Kind + "/" + rec.Node
			if rec.Kind == "cluster" {
				key = "cluster/" // wherever its pod runs
			}
			if _, seen := got[key]; !seen && want[key] != "" && want[key] == rec.TokenID {
				got[key] = rec.Time
			}
		}
		if len(got) == len(want) {
			return got
		}
		select {
		case <-ctx.Done():
			var have []string
			for k := range got {
				have = append(have, k)
			}
			slices.Sort(have)
			t.Fatalf("agents connected with their new tokens: %v; want all of %v", have, want)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
