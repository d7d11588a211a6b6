package realnodes

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/test/realcluster"
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
	t.Run("console shell", func(t *testing.T) { testConsoleShell(t, kubeconfig, id) })
	var expired func(*testing.T)
	t.Run("authorized endpoint", func(t *testing.T) { expired = testAuthEndpoint(t, id) })
	t.Run("rotate registration tokens", func(t *testing.T) { testRotate(t, id) })
	if expired != nil {
		t.Run("authorized endpoint: expired token refused", expired)
	}
	// An upgraded server rolls its agent build out (it restarts the server
	// twice and leaves the cluster on a second agent build).
	t.Run("agent roll-out", func(t *testing.T) { testRollout(t, kubeconfig, id) })
	// Last: these break and mend the tunnels.
	t.Run("faults", func(t *testing.T) { testFaults(t, kubeconfig, id) })
}

// importCluster imports a cluster as a user does (realcluster.Import:
// the exact bytes the import URL serves, applied with the cluster's own
// admin credentials), checks where the pods run and what the tunnel
// sessions say, and returns a Drover kubeconfig for it and its id.
func importCluster(t *testing.T) (string, string) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	e := shared
	im, err := e.Import(ctx, "real")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("import manifest: %d bytes, sha256 %s; agent and kube-api-auth pods ready %v after apply",
		im.Size, im.SHA256, im.Ready.Round(time.Millisecond))
	if got := im.ACE[0].Spec.NodeName; got != e.Cluster.NodeNames[0] || !im.ACE[0].Spec.HostNetwork {
		t.Errorf("kube-api-auth pod on node %q (hostNetwork %v), want the control-plane node %q on the host network",
			got, im.ACE[0].Spec.HostNetwork, e.Cluster.NodeNames[0])
	}
	for _, p := range slices.Concat(im.ClusterAgents, im.NodeAgents, im.ACE) {
		if img := p.Spec.Containers[0].Image; img != realcluster.AgentImage {
			t.Errorf("pod %s runs image %q, want %q", p.Name, img, realcluster.AgentImage)
		}
	}
	var podNodes []string
	for _, p := range im.NodeAgents {
		podNodes = append(podNodes, p.Spec.NodeName)
	}
	slices.Sort(podNodes)
	if diff := cmp.Diff(e.Cluster.NodeNames, podNodes); diff != "" {
		t.Errorf("node agent pods' nodes (-want +got):\n%s", diff)
	}
	// The node agents' tunnel sessions carry the kubelets' node names.
	if diff := cmp.Diff(e.Cluster.NodeNames, im.NodeSessions); diff != "" {
		t.Errorf("node tunnel sessions (-want +got):\n%s", diff)
	}
	path := filepath.Join(e.Dir, "drover-kubeconfig")
	if err := e.Kubeconfig(ctx, im.ID, "1h", path); err != nil {
		t.Fatal(err)
	}
	return path, im.ID
}

// waitPodsReady waits for n Ready pods with label app=name in the agents'
// namespace.
func waitPodsReady(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string, n int) []corev1.Pod {
	t.Helper()
	pods, err := realcluster.WaitPodsReady(ctx, cs, name, n)
	if err != nil {
		t.Fatal(err)
	}
	return pods
}
