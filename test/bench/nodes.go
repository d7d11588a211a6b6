package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/realcluster"
)

// The nodes section's workload: one pod in namespace nodesNamespace with a
// container serving a file of random bytes over HTTP (exec and
// port-forward) and a container printing a timestamped line every
// interval (logs -f).
const (
	nodesNamespace = "bench"
	nodesPod       = "stream"
	nodesWeb       = "web"
	nodesTicker    = "ticker"
	nodesPort      = 8080
	nodesFile      = "big"
	// nodesSetupBound bounds the cluster start, the import and the
	// workload. The binaries and images are built first: with an empty Go
	// build cache that took more than 10 minutes on 2 busy cores (load 12).
	nodesSetupBound = 20 * time.Minute
	// nodesMeasureBound bounds the three measurements.
	nodesMeasureBound = 10 * time.Minute
)

// The paths the nodes section compares.
const (
	pathDirect = "direct"
	pathDrover = "Drover"
)

// nodesResult is what the nodes section measured, by path.
type nodesResult struct {
	nodes     []string // the cluster's nodes
	podNode   string   // where the workload pod runs
	agentNode string   // where the cluster agent pod runs
	// started, imported, workload: how long the cluster (with the
	// server, binaries and images), the import and the workload took.
	started, imported, workload time.Duration
	measured                    time.Duration // the three measurements
	// /proc/loadavg at the section's start, before measuring and at the
	// end.
	loadStart, loadMeasure, loadEnd string
	exec                            map[string]*latencies
	forward                         []forwardResult
	logs                            map[string]*latencies
	fileSize                        int64
}

// nodesPath is one way to reach the real-node cluster.
type nodesPath struct {
	name string
	cfg  *rest.Config
	cs   *kubernetes.Clientset
}

// measureNodes brings up a cluster with two real nodes (realcluster: its
// own network namespace, the manifest's agents as pods), imports it the
// real way, starts the workload and measures exec, port-forward and
// logs -f straight to the apiserver with the cluster's admin credentials
// and through Drover with the admin's Drover kubeconfig. Everything it
// starts is stopped when it returns.
func measureNodes(ctx context.Context, o *Options, dir string, log *slog.Logger) (_ *nodesResult, err error) {
	res := &nodesResult{loadStart: loadAvg()}
	began := time.Now()
	setupCtx, cancel := context.WithTimeout(ctx, nodesSetupBound)
	defer cancel()
	dir = filepath.Join(dir, "nodes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	log.Info("nodes: starting a cluster with two real nodes and a server (builds the binaries and images)")
	e, err := realcluster.Start(setupCtx, realcluster.Options{Dir: dir, Name: "bnodes", Logger: log,
		ServerArgs: []string{"--log-level", o.ServerLogLevel}})
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := e.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	res.nodes = e.Cluster.NodeNames
	res.started = time.Since(began)
	log.Info("nodes: cluster ready, importing", "nodes", res.nodes, "took", res.started.Round(time.Millisecond))
	t := time.Now()
	im, err := e.Import(setupCtx, "bench-nodes")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	res.imported = time.Since(t)
	res.agentNode = im.ClusterAgents[0].Spec.NodeName
	droverKC := filepath.Join(dir, "drover-kubeconfig")
	if err := e.Kubeconfig(setupCtx, im.ID, "2h", droverKC); err != nil {
		return nil, fmt.Errorf("the admin's kubeconfig through Drover: %w", err)
	}
	var paths []nodesPath
	for _, p := range []struct{ name, kubeconfig string }{{pathDirect, e.Direct}, {pathDrover, droverKC}} {
		np, err := newNodesPath(p.name, p.kubeconfig)
		if err != nil {
			return nil, err
		}
		paths = append(paths, np)
	}

	log.Info("nodes: imported, starting the workload", "took", res.imported.Round(time.Millisecond))
	t = time.Now()
	res.fileSize = int64(o.NodesForwardMB) << 20
	if res.podNode, err = startWorkload(setupCtx, paths[0].cs, paths, o); err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	res.workload = time.Since(t)
	log.Info("nodes: workload ready, measuring", "node", res.podNode, "took", res.workload.Round(time.Millisecond))

	mctx, cancel := context.WithTimeout(ctx, nodesMeasureBound)
	defer cancel()
	res.loadMeasure = loadAvg()
	t = time.Now()
	if res.exec, err = measureExec(mctx, paths, o.NodesExecRuns); err != nil {
		return nil, err
	}
	if res.forward, err = measureForward(mctx, paths, o, res.fileSize, log); err != nil {
		return nil, err
	}
	if res.logs, err = measureLogs(mctx, paths, o); err != nil {
		return nil, err
	}
	res.measured = time.Since(t)
	res.loadEnd = loadAvg()
	return res, nil
}

// newNodesPath reads a kubeconfig as kubectl would, minus client-go's
// rate limiter and with no overall timeout (logs -f streams).
func newNodesPath(name, kubeconfig string) (nodesPath, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nodesPath{}, fmt.Errorf("%s kubeconfig: %w", name, err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cfg.UserAgent = "drover-bench"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nodesPath{}, err
	}
	return nodesPath{name: name, cfg: cfg, cs: cs}, nil
}

// nodesWorkload is the pod: web writes the file once into an emptyDir,
// then serves it with busybox httpd; ticker prints "tick <seq> <unix time
// with µs>" every interval (busybox date has no %N; ash's $EPOCHREALTIME
// is the clock with microseconds).
func nodesWorkload(o *Options) *corev1.Pod {
	grace := int64(1)
	usleep := fmt.Sprint(o.NodesLogInterval.Microseconds())
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: nodesPod, Namespace: nodesNamespace},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: resource.NewQuantity(int64(o.NodesForwardMB+8)<<20, resource.BinarySI)},
			}}},
			Containers: []corev1.Container{{
				Name: nodesWeb, Image: realcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", fmt.Sprintf(
					"dd if=/dev/urandom of=/data/%[1]s.tmp bs=1048576 count=%[2]d 2>/dev/null && mv /data/%[1]s.tmp /data/%[1]s && exec httpd -f -p %[3]d -h /data",
					nodesFile, o.NodesForwardMB, nodesPort)},
				Ports:        []corev1.ContainerPort{{ContainerPort: nodesPort}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}, {
				Name: nodesTicker, Image: realcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", `i=0; while :; do i=$((i+1)); echo "tick $i $EPOCHREALTIME"; usleep ` + usleep + `; done`},
			}},
		},
	}
}

// startWorkload creates the pod with the direct client and waits until it
// runs, its file is complete, and exec works on every path. It returns
// the pod's node.
func startWorkload(ctx context.Context, cs *kubernetes.Clientset, paths []nodesPath, o *Options) (string, error) {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nodesNamespace}}, metav1.CreateOptions{}); err != nil {
		return "", err
	}
	if _, err := cs.CoreV1().Pods(nodesNamespace).Create(ctx, nodesWorkload(o), metav1.CreateOptions{}); err != nil {
		return "", err
	}
	pods, err := realcluster.WaitReady(ctx, cs, nodesNamespace, "", 1)
	if err != nil {
		return "", err
	}
	// The file is in place once web runs httpd; ask each path until it
	// says so.
	want := fmt.Sprintf("%d", int64(o.NodesForwardMB)<<20)
	for _, p := range paths {
		var last string
		for {
			out, err := execOnce(ctx, p, []string{"stat", "-c", "%s", "/data/" + nodesFile})
			if err == nil && strings.TrimSpace(out) == want {
				break
			}
			last = fmt.Sprintf("%q %v", out, err)
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("the file in the pod through the %s path: want %s bytes, last %s", p.name, want, last)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return pods[0].Spec.NodeName, nil
}
