package realcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
)

// Imported is a cluster created in Drover and imported the way a user
// does it.
type Imported struct {
	ID string
	// SHA256 is the hash of the manifest the import URL served, which is
	// what kubectl applied.
	SHA256 string
	// Size of that manifest in bytes.
	Size int
	// ClusterAgents, NodeAgents and ACE are the Ready pods of the cluster
	// agent Deployment and the node-agent and kube-api-auth DaemonSets.
	ClusterAgents, NodeAgents, ACE []corev1.Pod
	// Ready is how long after `kubectl apply` every pod was Ready.
	Ready time.Duration
	// NodeSessions are the node names of the node agents' tunnel
	// sessions, sorted.
	NodeSessions []string
}

// Import creates cluster name in Drover, fetches its import URL with the
// authorized endpoint's DaemonSet, applies the exact bytes with the
// machine's kubectl and the cluster's own admin credentials, and waits
// for every agent pod to be Ready, the cluster agent's tunnel up and one
// node-agent session per node.
func (e *Env) Import(ctx context.Context, name string) (*Imported, error) {
	var created struct {
		Cluster      struct{ ID string }
		Registration struct{ Token, ImportURL string }
	}
	if err := e.Server.Do(ctx, http.MethodPost, "/v3/clusters", e.Admin, map[string]string{"name": name}, &created); err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	im := &Imported{ID: created.Cluster.ID}
	var served []byte
	if err := e.Server.Do(ctx, http.MethodGet, strings.TrimPrefix(created.Registration.ImportURL, e.Server.URL)+"?authEndpoint=true", "", nil, &served); err != nil {
		return nil, fmt.Errorf("fetch the import manifest: %w", err)
	}
	sum := sha256.Sum256(served)
	im.SHA256, im.Size = hex.EncodeToString(sum[:]), len(served)
	file := filepath.Join(e.Dir, "import-"+im.ID+".yaml")
	if err := os.WriteFile(file, served, 0o600); err != nil {
		return nil, err
	}
	// What kubectl reads is what the server sent, byte for byte.
	applied, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(applied); got != sum {
		return nil, fmt.Errorf("applied manifest sha256 %s, served %s", hex.EncodeToString(got[:]), im.SHA256)
	}
	began := time.Now()
	if out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", e.Direct, "apply", "-f", file).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("kubectl apply: %w\n%s", err, out)
	}
	cs := kubernetes.NewForConfigOrDie(e.Cluster.RESTConfig())
	if im.ClusterAgents, err = WaitPodsReady(ctx, cs, manifest.ClusterAgentName, 1); err != nil {
		return nil, err
	}
	if im.NodeAgents, err = WaitPodsReady(ctx, cs, manifest.NodeAgentName, len(e.Cluster.NodeNames)); err != nil {
		return nil, err
	}
	if im.ACE, err = WaitPodsReady(ctx, cs, manifest.ACEName, 1); err != nil {
		return nil, err
	}
	im.Ready = time.Since(began)
	if err := e.Server.WaitConnected(ctx, e.Admin, im.ID, "cluster"); err != nil {
		return nil, err
	}
	if im.NodeSessions, err = e.WaitNodeSessions(ctx, im.ID, len(e.Cluster.NodeNames)); err != nil {
		return nil, err
	}
	return im, nil
}

// Kubeconfig writes a Drover kubeconfig of the admin for cluster id to
// path.
func (e *Env) Kubeconfig(ctx context.Context, id, ttl, path string) error {
	kc, err := e.Server.Kubeconfig(ctx, e.Admin, []string{id}, ttl)
	if err != nil {
		return err
	}
	return os.WriteFile(path, kc, 0o600)
}

// WaitPodsReady waits for n Ready pods with label app=name in the agents'
// namespace.
func WaitPodsReady(ctx context.Context, cs kubernetes.Interface, name string, n int) ([]corev1.Pod, error) {
	return WaitReady(ctx, cs, downstream.Namespace, "app="+name, n)
}

// WaitReady waits for exactly n Running and Ready pods matching selector
// in namespace ns.
func WaitReady(ctx context.Context, cs kubernetes.Interface, ns, selector string, n int) ([]corev1.Pod, error) {
	var last string
	for {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			var ready []corev1.Pod
			var states []string
			for _, p := range list.Items {
				states = append(states, fmt.Sprintf("%s on %q: %s %s", p.Name, p.Spec.NodeName, p.Status.Phase, PodProblem(p)))
				if p.Status.Phase == corev1.PodRunning && PodReady(p) {
					ready = append(ready, p)
				}
			}
			if len(ready) == n {
				return ready, nil
			}
			last = strings.Join(states, "; ")
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s in %s: %d Ready pods not reached: %s", selector, ns, n, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// PodReady says whether p's Ready condition is true.
func PodReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodProblem summarizes why a pod is not running, for error messages.
func PodProblem(p corev1.Pod) string {
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

// WaitNodeSessions returns the node names of the node agents' sessions of
// cluster id, from the servers' logs ("agent connected", kind=node; every
// replica's), once there are n different ones.
func (e *Env) WaitNodeSessions(ctx context.Context, id string, n int) ([]string, error) {
	logPaths := []string{filepath.Join(e.Server.DataDir, "server.log")}
	if len(e.Replicas) > 0 {
		logPaths = nil
		for _, r := range e.Replicas {
			logPaths = append(logPaths, filepath.Join(r.DataDir, "server.log"))
		}
	}
	for {
		var b []byte
		for _, p := range logPaths {
			one, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			b = append(append(b, one...), '\n')
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
			out := make([]string, 0, len(seen))
			for k := range seen {
				out = append(out, k)
			}
			slices.Sort(out)
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node sessions in the server log: %v, want %d", seen, n)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
