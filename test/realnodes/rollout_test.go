package realnodes

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/rollout"
	"github.com/drover-dev/drover/test/realcluster"
)

// rolloutView is what the test reads of a cluster's view.
type rolloutView struct {
	Tunnel struct {
		Connected    bool   `json:"connected"`
		Via          string `json:"via"`
		AgentVersion string `json:"agentVersion"`
	} `json:"tunnel"`
	Status struct {
		Agent *rollout.State `json:"agent"`
	} `json:"status"`
}

func clusterRollout(ctx context.Context, t *testing.T, id string) (rolloutView, error) {
	t.Helper()
	var v rolloutView
	err := shared.Server.Do(ctx, http.MethodGet, "/v3/clusters/"+id, shared.Admin, nil, &v)
	return v, err
}

// waitRollout polls the cluster's view until ok accepts it; it returns
// the view, when it first showed PhaseRolling and when ok accepted it.
func waitRollout(ctx context.Context, t *testing.T, id string, ok func(rolloutView) bool) (rolloutView, time.Time, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var rolling time.Time
	var last rolloutView
	var err error
	for {
		last, err = clusterRollout(ctx, t, id)
		if err == nil && last.Status.Agent != nil && last.Status.Agent.Phase == rollout.PhaseRolling && rolling.IsZero() {
			rolling = time.Now()
			t.Logf("rolling: %+v", *last.Status.Agent)
		}
		if err == nil && ok(last) {
			return last, rolling, time.Now()
		}
		select {
		case <-ctx.Done():
			agent := "none"
			if last.Status.Agent != nil {
				agent = fmtState(*last.Status.Agent)
			}
			t.Fatalf("cluster %s: roll-out state never matched; tunnel %+v, agent %s, err %v", id, last.Tunnel, agent, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func fmtState(s rollout.State) string {
	return "phase=" + s.Phase + " image=" + s.Image + " nodeImage=" + s.NodeImage + " target=" + s.Target + " reason=" + s.Reason
}

// agentImages returns the images of the Ready agent pods, by workload.
func agentImages(ctx context.Context, t *testing.T, cs kubernetes.Interface, nodes int) (string, []string) {
	t.Helper()
	cluster := waitPodsReady(ctx, t, cs, manifest.ClusterAgentName, 1)
	node := waitPodsReady(ctx, t, cs, manifest.NodeAgentName, nodes)
	var nodeImages []string
	for _, p := range node {
		nodeImages = append(nodeImages, p.Spec.Containers[0].Image)
	}
	return cluster[0].Spec.Containers[0].Image, nodeImages
}

func allAre(images []string, want string) bool {
	for _, i := range images {
		if i != want {
			return false
		}
	}
	return len(images) > 0
}

// testRollout: an upgraded server ships another agent build and rolls both
// agent workloads to it through the tunnel, while GETs through Drover go
// on; the new cluster agent reconnects reporting the new version. Then a
// server that ships an image no node can pull: the roll is rolled back to
// the previous build after the timeout, the cluster stays connected and
// its status says why.
func testRollout(t *testing.T, kc, id string) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(shared.Cluster.RESTConfig())
	nodes := len(shared.Cluster.NodeNames)
	base := shared.Server.Args()

	v, err := clusterRollout(ctx, t, id)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tunnel.AgentVersion != realcluster.AgentVersion || v.Status.Agent == nil || v.Status.Agent.Phase != rollout.PhaseUpToDate {
		t.Fatalf("before the upgrade: tunnel %+v, agent %+v; want agent version %s, UpToDate", v.Tunnel, v.Status.Agent, realcluster.AgentVersion)
	}

	t.Run("upgrade", func(t *testing.T) {
		began := time.Now()
		if err := shared.Server.RestartWith(ctx, append(base, "--agent-image", realcluster.AgentImageB,
			"--agent-version", realcluster.AgentVersionB)); err != nil {
			t.Fatal(err)
		}
		if err := shared.Server.WaitConnected(ctx, shared.Admin, id, "cluster"); err != nil {
			t.Fatal(err)
		}
		restarted := time.Since(began)
		load := startLoad(ctx, t, id)
		load.waitOK(ctx, t)
		v, rolling, done := waitRollout(ctx, t, id, func(v rolloutView) bool {
			return v.Status.Agent != nil && v.Status.Agent.Phase == rollout.PhaseUpToDate && v.Status.Agent.Image == realcluster.AgentImageB &&
				v.Tunnel.AgentVersion == realcluster.AgentVersionB
		})
		total, failed, gap, errs := load.finish()
		image, nodeImages := agentImages(ctx, t, cs, nodes)
		t.Logf("server restarted with %s in %v; roll-out seen in flight after %v, done %v later (cluster agent reports %s, via %s); "+
			"%d GETs through Drover meanwhile, %d failed %v, longest gap without a success %v",
			realcluster.AgentImageB, restarted.Round(time.Millisecond), rolling.Sub(began).Round(time.Millisecond),
			done.Sub(rolling).Round(time.Millisecond), v.Tunnel.AgentVersion, v.Tunnel.Via, total, failed, errs, gap.Round(time.Millisecond))
		if rolling.IsZero() {
			t.Error("the roll-out was never seen in flight")
		}
		if image != realcluster.AgentImageB || !allAre(nodeImages, realcluster.AgentImageB) {
			t.Errorf("agent pods run %s and %v, want %s", image, nodeImages, realcluster.AgentImageB)
		}
		if gap > 10*time.Second {
			t.Errorf("GETs through Drover stopped for %v during the roll-out", gap)
		}
		if out := kubectl(ctx, t, kc, "get", "pods", "-n", "cattle-system", "-l", "app="+manifest.ClusterAgentName, "-o", "name"); !strings.Contains(out, "pod/") {
			t.Errorf("kubectl through Drover after the roll-out: %q", out)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("image that cannot run: rolled back", func(t *testing.T) {
		began := time.Now()
		if err := shared.Server.RestartWith(ctx, append(base, "--agent-image", realcluster.MissingAgentImage,
			"--agent-version", "e2e-missing", "--agent-rollout-timeout", "15s")); err != nil {
			t.Fatal(err)
		}
		if err := shared.Server.WaitConnected(ctx, shared.Admin, id, "cluster"); err != nil {
			t.Fatal(err)
		}
		v, rolling, back := waitRollout(ctx, t, id, func(v rolloutView) bool {
			return v.Status.Agent != nil && v.Status.Agent.Phase == rollout.PhaseRolledBack
		})
		image, nodeImages := agentImages(ctx, t, cs, nodes)
		ready := time.Now()
		if err := shared.Server.WaitConnected(ctx, shared.Admin, id, "cluster"); err != nil {
			t.Fatal(err)
		}
		st := *v.Status.Agent
		t.Logf("server restarted with %s; in flight after %v, rolled back %v later, agent pods ready on %s again %v after that; reason: %s",
			realcluster.MissingAgentImage, rolling.Sub(began).Round(time.Millisecond), back.Sub(rolling).Round(time.Millisecond),
			image, ready.Sub(back).Round(time.Millisecond), st.Reason)
		if st.Image != realcluster.AgentImageB || st.NodeImage != realcluster.AgentImageB || st.Target != realcluster.MissingAgentImage {
			t.Errorf("rolled-back state %+v, want images %s, target %s", st, realcluster.AgentImageB, realcluster.MissingAgentImage)
		}
		if !strings.Contains(st.Reason, "did not connect within 15s") || !strings.Contains(st.Reason, "ErrImagePull") && !strings.Contains(st.Reason, "ImagePullBackOff") {
			t.Errorf("reason %q does not say the image could not be pulled", st.Reason)
		}
		if image != realcluster.AgentImageB || !allAre(nodeImages, realcluster.AgentImageB) {
			t.Errorf("agent pods run %s and %v after the roll-back, want %s", image, nodeImages, realcluster.AgentImageB)
		}
		if v, err := clusterRollout(ctx, t, id); err != nil || !v.Tunnel.Connected || v.Tunnel.AgentVersion != realcluster.AgentVersionB {
			t.Errorf("after the roll-back: tunnel %+v, err %v; want connected, agent version %s", v.Tunnel, err, realcluster.AgentVersionB)
		}
		kubectl(ctx, t, kc, "get", "nodes")
		// The server keeps shipping that image: it is not tried again here
		// (the state is the annotation on the Deployment; see
		// docs/operations.md to clear it).
		out := kubectl(ctx, t, shared.Direct, "get", "deployment", "-n", "cattle-system", manifest.ClusterAgentName,
			"-o", "jsonpath={.metadata.annotations.rollout\\.drover\\.dev/failed}")
		if out != realcluster.MissingAgentImage {
			t.Errorf("failed annotation %q, want %q", out, realcluster.MissingAgentImage)
		}
	})
}
