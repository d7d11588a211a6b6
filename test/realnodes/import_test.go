package realnodes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
)

// TestImportAndStream: the import manifest, applied as a user does, runs
// the agents as pods on both nodes, and then the streaming kubectl verbs work
// through Drover's kubeconfig to real kubelets.
func TestImportAndStream(t *testing.T) {
	var kubeconfig, id string
	if !t.Run("import", func(t *testing.T) { kubeconfig, id = importCluster(t) }) {
		return
	}
	if !t.Run("workload", func(t *testing.T) { testWorkload(t, kubeconfig) }) {
		return
	}
	t.Run("access", func(t *testing.T) { testAccess(t, kubeconfig, id) })
	t.Run("authorized endpoint", func(t *testing.T) { testAuthEndpoint(t, id) })
	// Last: these break and mend the tunnels.
	t.Run("faults", func(t *testing.T) { testFaults(t, kubeconfig, id) })
}

// importCluster creates a cluster in Drover, applies the exact bytes its
// import URL serves with the cluster's own admin credentials, waits for the
// agent pods and the tunnel, and returns a Drover kubeconfig for it and
// its id.
func importCluster(t *testing.T) (string, string) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	e := shared
	var created struct {
		Cluster      struct{ ID string }
		Registration struct{ Token, ImportURL string }
	}
	if err := e.server.Do(ctx, http.MethodPost, "/v3/clusters", e.admin, map[string]string{"name": "real"}, &created); err != nil {
		t.Fatal(err)
	}
	id, reg := created.Cluster.ID, created.Registration
	// With the authorized endpoint's kube-api-auth DaemonSet.
	var served []byte
	if err := e.server.Do(ctx, http.MethodGet, strings.TrimPrefix(reg.ImportURL, e.server.URL)+"?authEndpoint=true", "", nil, &served); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(served)
	file := filepath.Join(t.TempDir(), "import.yaml")
	if err := os.WriteFile(file, served, 0o600); err != nil {
		t.Fatal(err)
	}
	// What kubectl reads is what the server sent, byte for byte.
	applied, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(applied); got != sum {
		t.Fatalf("applied manifest sha256 %s, served %s", hex.EncodeToString(got[:]), hex.EncodeToString(sum[:]))
	}
	t.Logf("import manifest: %d bytes, sha256 %s", len(served), hex.EncodeToString(sum[:]))
	began := time.Now()
	kubectl(ctx, t, e.direct, "apply", "-f", file)

	cs := kubernetes.NewForConfigOrDie(e.cluster.RESTConfig())
	agents := waitPodsReady(ctx, t, cs, manifest.ClusterAgentName, 1)
	nodeAgents := waitPodsReady(ctx, t, cs, manifest.NodeAgentName, len(e.cluster.NodeNames))
	ace := waitPodsReady(ctx, t, cs, manifest.ACEName, 1)
	t.Logf("agent and kube-api-auth pods ready %v after apply", time.Since(began).Round(time.Millisecond))
	if got := ace[0].Spec.NodeName; got != e.cluster.NodeNames[0] || !ace[0].Spec.HostNetwork {
		t.Errorf("kube-api-auth pod on node %q (hostNetwork %v), want the control-plane node %q on the host network",
			got, ace[0].Spec.HostNetwork, e.cluster.NodeNames[0])
	}
	for _, p := range append(append(agents, nodeAgents...), ace...) {
		if img := p.Spec.Containers[0].Image; img != agentImage {
			t.Errorf("pod %s runs image %q, want %q", p.Name, img, agentImage)
		}
	}
	var podNodes []string
	for _, p := range nodeAgents {
		podNodes = append(podNodes, p.Spec.NodeName)
	}
	slices.Sort(podNodes)
	if diff := cmp.Diff(e.cluster.NodeNames, podNodes); diff != "" {
		t.Errorf("node agent pods' nodes (-want +got):\n%s", diff)
	}
	if err := e.server.WaitConnected(ctx, e.admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	// The node agents' tunnel sessions carry the kubelets' node names.
	if diff := cmp.Diff(e.cluster.NodeNames, waitNodeSessions(ctx, t, id, len(e.cluster.NodeNames))); diff != "" {
		t.Errorf("node tunnel sessions (-want +got):\n%s", diff)
	}

	kc, err := e.server.Kubeconfig(ctx, e.admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "drover-kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, id
}

// waitPodsReady waits for n Ready pods with label app=name in the agents'
// namespace.
func waitPodsReady(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string, n int) []corev1.Pod {
	t.Helper()
	var last string
	for {
		list, err := cs.CoreV1().Pods(downstream.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err == nil {
			var ready []corev1.Pod
			var states []string
			for _, p := range list.Items {
				states = append(states, fmt.Sprintf("%s on %q: %s %s", p.Name, p.Spec.NodeName, p.Status.Phase, podProblem(p)))
				if p.Status.Phase == corev1.PodRunning && podReady(p) {
					ready = append(ready, p)
				}
			}
			if len(ready) == n {
				return ready
			}
			last = strings.Join(states, "; ")
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d Ready pods not reached: %s", name, n, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podProblem summarizes why a pod is not running, for failure messages.
func podProblem(p corev1.Pod) string {
	var out []string
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil:
			out = append(out, fmt.Sprintf("%s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message))
		case c.State.Terminated != nil:
			out = append(out, fmt.Sprintf("%s terminated: %s %d", c.Name, c.State.Terminated.Reason, c.State.Terminated.ExitCode))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			out = append(out, string(c.Type)+": "+c.Message)
		}
	}
	return strings.Join(out, ", ")
}

// waitNodeSessions returns the node names of the node agents' sessions of
// cluster id, from the server's log ("agent connected", kind=node), once
// there are n different ones.
func waitNodeSessions(ctx context.Context, t *testing.T, id string, n int) []string {
	t.Helper()
	logPath := filepath.Join(shared.server.DataDir, "server.log")
	for {
		b, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, line := range bytes.Split(b, []byte("\n")) {
			var rec struct{ Msg, Cluster, Kind, Node string }
			if json.Unmarshal(line, &rec) != nil {
				continue
			}
			if rec.Msg == "agent connected" && rec.Cluster == id && rec.Kind == "node" {
				seen[rec.Node] = true
			}
		}
		if len(seen) >= n {
			var out []string
			for k := range seen {
				out = append(out, k)
			}
			slices.Sort(out)
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node sessions in the server log: %v, want %d", seen, n)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
