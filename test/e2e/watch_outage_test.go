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

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
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

// TestWatchesAcrossOutage: watches through Drover whose tunnel fails (the
// cluster agent frozen) on a real apiserver.
//   - ConfigMaps, whose history etcd compacts during the outage: when the
//     agent is back, Drover resumes the watch, the apiserver answers 410
//     Gone, and an informer gets that ERROR event as the apiserver sent it,
//     lists again once, and holds every object, the ones made during the
//     outage included; a plain watch sees the 410 itself.
//   - Secrets, by a streaming list (sendInitialEvents, the WatchList gate
//     on): resumed after its initial events from the last bookmark, it
//     delivers what was made during the outage, once, without an error.
func TestWatchesAcrossOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The watch cache would serve a recent resourceVersion whatever etcd
	// compacted: off for ConfigMaps, their watches are etcd's.
	oc := importOwnCluster(ctx, t, testbed.Options{Name: "e2e-gone",
		ExtraAPIServerArgs: []string{"--watch-cache-sizes=configmaps#0", "--feature-gates=WatchList=true"}})
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

	secrets := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i)}}
			if _, err := direct.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	secrets(0, 2)
	stream := startStreamingList(ctx, t, cfg, ns)

	if err := oc.agent.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	create(3, 6)
	secrets(2, 4)
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
	secrets(4, 5)
	if diff := cmp.Diff([]string{"s-2", "s-3", "s-4"}, stream.next(t, 3)); diff != "" {
		t.Errorf("the streaming list after the outage (-want +got):\n%s", diff)
	}
}

// streamingList is a streaming list of the Secrets of a namespace through
// Drover, read past its initial events.
type streamingList struct{ w watch.Interface }

func startStreamingList(ctx context.Context, t *testing.T, cfg *rest.Config, ns string) *streamingList {
	t.Helper()
	yes := true
	w, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets(ns).Watch(ctx, metav1.ListOptions{
		SendInitialEvents: &yes, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			t.Fatalf("streaming list: %+v", ev.Object)
		}
		if m, ok := ev.Object.(metav1.Object); ok && ev.Type == watch.Bookmark && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
			return &streamingList{w: w}
		}
	}
	t.Fatal("the streaming list ended before its initial events did")
	return nil
}

// next returns the names of the next n objects added (bookmarks skipped);
// an error or the end of the watch fails the test.
func (s *streamingList) next(t *testing.T, n int) []string {
	t.Helper()
	var names []string
	timeout := time.After(time.Minute)
	for len(names) < n {
		select {
		case ev, ok := <-s.w.ResultChan():
			switch {
			case !ok:
				t.Fatalf("the streaming list ended after %v", names)
			case ev.Type == watch.Error:
				t.Fatalf("the streaming list got an error after %v: %+v", names, ev.Object)
			case ev.Type == watch.Added:
				names = append(names, ev.Object.(metav1.Object).GetName())
			}
		case <-timeout:
			t.Fatalf("the streaming list delivered %v of %d objects", names, n)
		}
	}
	return names
}
