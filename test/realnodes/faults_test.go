package realnodes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
)

// testFaults breaks the cluster agent's tunnel the ways a real cluster
// does, with a client busy through Drover, and checks that the node agents
// carry on and the cluster agent takes over again.
func testFaults(t *testing.T, kc, id string) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(shared.Cluster.RESTConfig())
	pod := webPod(ctx, t, kc)
	full := func(via string, n int) bool { return via == "cluster" && n == 1+len(shared.Cluster.NodeNames) }
	waitTunnel(ctx, t, id, full)

	t.Run("cluster agent pod deleted under load", func(t *testing.T) {
		old := waitPodsReady(ctx, t, cs, manifest.ClusterAgentName, 1)[0]
		from := serverLogSize(t)
		watch := startWatch(ctx, t, kc, "watch-deleted", 3)
		informer := startInformer(ctx, t, kc, "watch-deleted")
		l := startLoad(ctx, t, id)
		l.waitOK(ctx, t)
		deleted := time.Now()
		kubectl(ctx, t, shared.Direct, "-n", downstream.Namespace, "delete", "pod", old.Name, "--wait=false")
		toNode := waitTunnel(ctx, t, id, func(via string, _ int) bool { return via == "node" })
		watch.create(ctx, t, 3, 6) // while the node agents carry the cluster
		// A new exec while the cluster agent is away.
		out, stderr, err := kubectlOut(ctx, kc, "-n", "work", "exec", pod, "--", "echo", "carried")
		if err != nil || strings.TrimSpace(out) != "carried" {
			t.Errorf("kubectl exec with the cluster agent gone: %v\n%s%s", err, out, stderr)
		}
		execVia := lastExecVia(t, from)
		waitTunnel(ctx, t, id, full)
		back := time.Since(deleted)
		total, failed, gap, errs := l.finish()
		// The open kubectl get -w never noticed: every ConfigMap once, in
		// order, and it still runs.
		watch.create(ctx, t, 6, 9)
		watch.expect(ctx, t, 3, 9)
		watch.running(t)
		informer.expect(ctx, t, "watch-deleted", 9)
		resumedWatches(t, from)
		newPod := waitPodsReady(ctx, t, cs, manifest.ClusterAgentName, 1)[0]
		if newPod.Name == old.Name {
			t.Errorf("cluster agent pod %s was not replaced", old.Name)
		}
		viaNode := 0
		for _, p := range proxiedSince(t, from) {
			if p.Via == "node" {
				viaNode++
			}
		}
		t.Logf("cluster agent pod deleted: tunnel via node agents after %v, cluster agent %s back after %v; exec meanwhile via %q; "+
			"%d GETs, %d failed %v, longest gap without a success %v; %d requests carried by node agents",
			toNode.Round(time.Millisecond), newPod.Name, back.Round(time.Millisecond), execVia,
			total, failed, errs, gap.Round(time.Millisecond), viaNode)
		if viaNode == 0 {
			t.Error("no request was carried by a node agent while the cluster agent was away")
		}
		if gap > 10*time.Second {
			t.Errorf("no GET succeeded for %v (goal: 2s)", gap)
		}
	})

	t.Run("frozen cluster agent: bypassed, exec ends, watch and logs -f go on", func(t *testing.T) {
		agent := waitPodsReady(ctx, t, cs, manifest.ClusterAgentName, 1)[0]
		// Streams open on the cluster agent's tunnel: an exec, a logs -f.
		cat := startCat(ctx, t, kubectlCmd, kc, pod)
		ticker := startTicker(ctx, t, kc)
		from := serverLogSize(t)
		watch := startWatch(ctx, t, kc, "watch-frozen", 3)
		ctr := ctrCmd(t, agent)
		if out, err := ctr(ctx, "pause").CombinedOutput(); err != nil {
			t.Fatalf("ctr tasks pause: %v\n%s", err, out)
		}
		frozen := time.Now()
		resumed := false
		defer func() {
			if !resumed {
				ctr(context.Background(), "resume").Run()
			}
		}()
		watch.create(ctx, t, 3, 6) // while the agent is frozen
		detected := waitTunnel(ctx, t, id, func(via string, _ int) bool { return via == "node" })
		execErr := cat.waitEnd(t, 20*time.Second, true)
		if !strings.Contains(execErr, "exec cannot resume") {
			t.Errorf("the exec on the frozen tunnel ended with %q; want kubectl to say it cannot resume", execErr)
		}
		execEnded := time.Since(frozen)
		// The followed log goes on through a node agent: every line once.
		ticker.expect(ctx, t, 10)
		out, stderr, err := kubectlOut(ctx, kc, "-n", "work", "exec", pod, "--", "echo", "bypassed")
		if err != nil || strings.TrimSpace(out) != "bypassed" {
			t.Errorf("kubectl exec with the cluster agent frozen: %v\n%s%s", err, out, stderr)
		}
		if out, err := ctr(ctx, "resume").CombinedOutput(); err != nil {
			t.Fatalf("ctr tasks resume: %v\n%s", err, out)
		}
		resumed = true
		back := waitTunnel(ctx, t, id, full)
		watch.create(ctx, t, 6, 9)
		watch.expect(ctx, t, 3, 9)
		watch.running(t)
		resumedWatches(t, from)
		t.Logf("cluster agent frozen: tunnel via node agents after %v; open exec ended after %v (%v); logs -f went on (tick-%d); resumed agent back in %v",
			detected.Round(time.Millisecond), execEnded.Round(time.Millisecond), execErr, ticker.next, back.Round(time.Millisecond))
		// 4 s of silence plus the watcher's tick, plus slack under -race.
		if detected > 10*time.Second {
			t.Errorf("frozen tunnel bypassed after %v; the bound is about 4.5s", detected)
		}
	})

	// Last: the node does not come back.
	t.Run("node of the cluster agent stopped: the other node's agent carries on", func(t *testing.T) {
		agent := waitPodsReady(ctx, t, cs, manifest.ClusterAgentName, 1)[0]
		down := agent.Spec.NodeName
		other := shared.Cluster.NodeNames[0]
		if other == down {
			other = shared.Cluster.NodeNames[1]
		}
		from := serverLogSize(t)
		l := startLoad(ctx, t, id)
		l.waitOK(ctx, t)
		stopped := time.Now()
		if err := shared.Cluster.StopNode(down); err != nil {
			t.Fatal(err)
		}
		killed := time.Since(stopped)
		// Only the other node's node agent is left.
		left := waitTunnel(ctx, t, id, func(via string, n int) bool { return via == "node" && n == 1 })
		kubectl(ctx, t, kc, "-n", "work", "get", "pods")
		total, failed, gap, errs := l.finish()
		var nodes []string
		for _, p := range proxiedSince(t, from) {
			if p.Via == "node" && p.Code == http.StatusOK && !slices.Contains(nodes, p.Node) {
				nodes = append(nodes, p.Node)
			}
		}
		t.Logf("node %s stopped (kill took %v): one session left after %v; %d GETs, %d failed %v, longest gap %v; answered via node agents of %v",
			down, killed.Round(time.Millisecond), left.Round(time.Millisecond), total, failed, errs, gap.Round(time.Millisecond), nodes)
		if !slices.Equal(nodes, []string{other}) {
			t.Errorf("requests answered through node agents of %v, want only %s's", nodes, other)
		}
		if gap > 10*time.Second {
			t.Errorf("no GET succeeded for %v", gap)
		}
	})
}

// ctrCmd returns a builder of `ctr tasks <verb>` for the pod's container,
// through the containerd of the pod's node.
func ctrCmd(t *testing.T, p corev1.Pod) func(ctx context.Context, verb string) *exec.Cmd {
	t.Helper()
	i := slices.Index(shared.Cluster.NodeNames, p.Spec.NodeName)
	if i < 0 || len(p.Status.ContainerStatuses) == 0 {
		t.Fatalf("pod %s: node %q, %d container statuses", p.Name, p.Spec.NodeName, len(p.Status.ContainerStatuses))
	}
	_, cid, ok := strings.Cut(p.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok {
		t.Fatalf("pod %s: container id %q", p.Name, p.Status.ContainerStatuses[0].ContainerID)
	}
	sock := filepath.Join(shared.Cluster.Dir, fmt.Sprintf("node%d", i+1), "containerd.sock")
	return func(ctx context.Context, verb string) *exec.Cmd {
		return exec.CommandContext(ctx, "ctr", "--address", sock, "--namespace", "k8s.io", "tasks", verb, cid)
	}
}

// lastExecVia is the tunnel kind of the last exec proxied after offset from.
func lastExecVia(t *testing.T, from int64) string {
	t.Helper()
	via := ""
	for _, p := range proxiedSince(t, from) {
		if p.Subresource == "exec" {
			via = p.Via
		}
	}
	return via
}

// waitTunnel polls the cluster's tunnel state until ok accepts it and
// returns how long that took.
func waitTunnel(ctx context.Context, t *testing.T, id string, ok func(via string, sessions int) bool) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	for {
		var c struct {
			Tunnel struct {
				Via      string `json:"via"`
				Sessions int    `json:"sessions"`
			} `json:"tunnel"`
		}
		err := shared.Server.Do(ctx, http.MethodGet, "/v3/clusters/"+id, shared.Admin, nil, &c)
		if err == nil && ok(c.Tunnel.Via, c.Tunnel.Sessions) {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tunnel state never matched; last %+v, err %v", c.Tunnel, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// load sends GETs through Drover back to back until finished.
type load struct {
	mu      sync.Mutex
	results []result
	stop    context.CancelFunc
	done    chan struct{}
}

type result struct {
	at  time.Time
	ok  bool
	err string
}

func startLoad(ctx context.Context, t *testing.T, id string) *load {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(shared.Server.CAPEM)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	ctx, cancel := context.WithCancel(ctx)
	l := &load{stop: cancel, done: make(chan struct{})}
	t.Cleanup(cancel)
	url := shared.Server.URL + "/k8s/clusters/" + id + "/api/v1/namespaces/default"
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+shared.Admin)
			resp, err := client.Do(req)
			r := result{at: time.Now()}
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				r.ok = resp.StatusCode == 200
				if !r.ok {
					r.err = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
				}
			} else if ctx.Err() == nil {
				r.err = err.Error()
			} else {
				return
			}
			l.mu.Lock()
			l.results = append(l.results, r)
			l.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return l
}

// waitOK waits for the load's first success.
func (l *load) waitOK(ctx context.Context, t *testing.T) {
	t.Helper()
	for {
		l.mu.Lock()
		ok := slices.ContainsFunc(l.results, func(r result) bool { return r.ok })
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no GET through Drover succeeded")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// finish stops the load and summarises it: the longest time between two
// successes (or from the last success to the end).
func (l *load) finish() (total, failed int, gap time.Duration, errs []string) {
	l.stop()
	<-l.done
	var last time.Time
	for _, r := range l.results {
		total++
		if !r.ok {
			failed++
			if len(errs) < 5 {
				errs = append(errs, r.err)
			}
			continue
		}
		if !last.IsZero() {
			gap = max(gap, r.at.Sub(last))
		}
		last = r.at
	}
	return
}

// resumedWatches logs the server's "watch resumed" lines after offset from
// and fails if there is none.
func resumedWatches(t *testing.T, from int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shared.Server.DataDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(b[min(from, int64(len(b))):], []byte("\n")) {
		if bytes.Contains(line, []byte(`"msg":"watch resumed"`)) {
			n++
			t.Logf("server: %s", line)
		}
	}
	if n == 0 {
		t.Error("the server log has no \"watch resumed\" line")
	}
}
