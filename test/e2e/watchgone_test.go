package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/informer"
	"github.com/drover-dev/drover/test/testbed"
)

// ownCluster is a test bed cluster of a test's own, imported into the
// shared server and served by one cluster agent.
type ownCluster struct {
	*testbed.Cluster
	id     string
	direct string // the cluster's admin kubeconfig (the agent's)
	agent  *harness.Process
}

func importOwnCluster(ctx context.Context, t *testing.T, opts testbed.Options) *ownCluster {
	t.Helper()
	dir := t.TempDir()
	opts.Logger = slog.New(slog.DiscardHandler)
	cl, err := testbed.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Stop() })
	oc := &ownCluster{Cluster: cl, direct: filepath.Join(dir, "direct")}
	if err := cl.WriteKubeconfig(oc.direct); err != nil {
		t.Fatal(err)
	}
	id, reg, err := shared.server.CreateCluster(ctx, shared.adminToken, opts.Name)
	if err != nil {
		t.Fatal(err)
	}
	oc.id = id
	oc.agent, err = harness.StartAgent(harness.AgentOptions{Bin: shared.bins.Agent, Dir: filepath.Join(dir, "agent"),
		ServerURL: shared.server.URL, CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: oc.direct, Kind: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oc.agent.Signal(syscall.SIGCONT); oc.agent.Stop(5 * time.Second) })
	if err := shared.server.WaitConnected(ctx, shared.adminToken, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	return oc
}

// TestWatchGoneRelists: an informer's watch through Drover whose tunnel
// fails (the cluster agent frozen) while the apiserver's history is
// compacted past its resourceVersion: when the agent is back, Drover
// resumes the watch, the apiserver answers 410 Gone, and the informer gets
// that ERROR event as the apiserver sent it, lists again once, and holds
// every object, the ones made during the outage included.
func TestWatchGoneRelists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The watch cache would serve a recent resourceVersion whatever etcd
	// compacted: off for ConfigMaps, their watches are etcd's.
	oc := importOwnCluster(ctx, t, testbed.Options{Name: "e2e-gone", ExtraAPIServerArgs: []string{"--watch-cache-sizes=configmaps#0"}})
	direct := kubernetes.NewForConfigOrDie(oc.RESTConfig())
	const ns = "gone"
	if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	create := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}}
			if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(0, 3)
	cfg, err := clientcmd.BuildConfigFromFlags("", writeKubeconfig(ctx, t, shared.adminToken, []string{oc.id}))
	if err != nil {
		t.Fatal(err)
	}
	in, err := informer.Start(ctx, cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	if n := in.Lists(); n != 1 {
		t.Fatalf("the informer listed %d times to sync", n)
	}

	// Beside the informer, a plain watch from the same point, to see what
	// the client is told.
	list, err := direct.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if err := oc.agent.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	create(3, 6)
	rev, err := oc.CompactEtcd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Drover closes the silent tunnel after about 4 s; the watch then waits
	// for an agent (30 s). The agent, thawed, connects again.
	time.Sleep(6 * time.Second)
	if err := oc.agent.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The plain watch: the three ConfigMaps made during the outage are
	// compacted away, so it ends with the apiserver's 410.
	var last watch.Event
	for ev := range w.ResultChan() {
		last = ev
		if ev.Type == watch.Error {
			break
		}
	}
	if st, ok := last.Object.(*metav1.Status); last.Type != watch.Error || !ok || st.Code != http.StatusGone {
		t.Errorf("the plain watch ended with %s %+v; want an ERROR event with the apiserver's 410", last.Type, last.Object)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		have := 0
		for i := range 6 {
			if in.Has(ns, fmt.Sprintf("cm-%d", i)) {
				have++
			}
		}
		if have == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the informer holds %d of the 6 ConfigMaps (etcd compacted at %d)", have, rev)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := in.Lists(); n != 2 {
		t.Errorf("the informer listed %d times; want 2 (the sync, and once after the 410)", n)
	}
}
