package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/test/proc"
)

// ControlPlaneLabel marks the control-plane node (Cluster.NodeNames[0]),
// set through the API once the node registered.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// Fixed ports inside a cluster's network namespace (its own port space, so
// clusters never collide).
const (
	nsEtcdPort         = 2379
	nsEtcdPeerPort     = 2380
	nsAPIServerPort    = 6443
	nsFirstKubeletPort = 10250
	nodeGrace          = 10 * time.Second
)

// namePrefix starts the name of every network namespace and cgroup a test
// process makes: namePrefix<pid>-<seq>, so a sweep can tell whose it is.
const namePrefix = "drover-tb-"

var runSeq atomic.Int64

// nodeSet is the part of a Cluster that only clusters with real nodes have.
type nodeSet struct {
	id           string // <pid>-<seq>
	net          network
	hier         []string // cgroup hierarchies
	cgroup       string   // namePrefix+id: everything of the cluster runs below
	images       []string
	sandboxImage string
	nodes        []*node

	controllerManager, scheduler, kubeProxy *proc.Process
}

// node is one kubelet with its own containerd, mount namespace, directory,
// cgroups, port and pod subnet.
type node struct {
	name        string
	index       int // 1-based
	dir         string
	sock        string // containerd's socket
	kubeletPort int
	podSubnet   string

	holder, containerd, kubelet *proc.Process
}

func (n *node) cgRuntime(s *nodeSet) string {
	return s.cgroup + "/node" + strconv.Itoa(n.index) + "-runtime"
}
func (n *node) cgKubelet(s *nodeSet) string {
	return s.cgroup + "/node" + strconv.Itoa(n.index) + "-kubelet"
}
func (n *node) cgPods(s *nodeSet) string  { return s.cgroup + "/node" + strconv.Itoa(n.index) + "-pods" }
func (s *nodeSet) cgControlPlane() string { return s.cgroup + "/control-plane" }

// errNeedRoot is returned at once when a cluster with real nodes is asked for
// without root: it never skips.
var errNeedRoot = errors.New("testbed: clusters with real nodes need root (network namespaces, cgroups, mounts, iptables); run the tests as root")

// newNodeSet checks what real nodes need and creates the network namespace
// and the cgroups. On error, whatever it made is removed again.
func newNodeSet(ctx context.Context, c *Cluster, opts Options) (_ *nodeSet, err error) {
	if os.Geteuid() != 0 {
		return nil, errNeedRoot
	}
	if err := c.bins.checkNodes(); err != nil {
		return nil, err
	}
	if opts.SandboxImage == "" || len(opts.Images) == 0 {
		return nil, errors.New("testbed: real nodes need Images (OCI archives) and the SandboxImage among them")
	}
	sweepStaleNodes()
	seq := runSeq.Add(1)
	s := &nodeSet{
		id:           fmt.Sprintf("%d-%d", os.Getpid(), seq),
		images:       opts.Images,
		sandboxImage: opts.SandboxImage,
	}
	s.cgroup = namePrefix + s.id
	s.net = network{ns: s.cgroup, hostLink: fmt.Sprintf("dtb%x-%d", os.Getpid(), seq)}
	if s.hier, err = cgroupHierarchies(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.cleanup()
		}
	}()
	if s.net.hostIP, s.net.nsIP, err = pickLinkSubnet(ctx); err != nil {
		return nil, err
	}
	if err := setupNetwork(ctx, &s.net); err != nil {
		return nil, err
	}
	for i := 1; i <= opts.Nodes; i++ {
		n := &node{
			name:        fmt.Sprintf("%s-node%d", c.Name, i),
			index:       i,
			dir:         filepath.Join(c.Dir, "node"+strconv.Itoa(i)),
			kubeletPort: nsFirstKubeletPort + 100*(i-1),
			podSubnet:   fmt.Sprintf("10.244.%d.0/24", i),
		}
		n.sock = filepath.Join(n.dir, "containerd.sock")
		s.nodes = append(s.nodes, n)
	}
	for _, cg := range s.cgroups() {
		if err := makeCgroup(s.hier, cg); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *nodeSet) cgroups() []string {
	out := []string{s.cgControlPlane()}
	for _, n := range s.nodes {
		out = append(out, n.cgRuntime(s), n.cgKubelet(s), n.cgPods(s))
	}
	return out
}

func (s *nodeSet) nodeNames() []string {
	var out []string
	for _, n := range s.nodes {
		out = append(out, n.name)
	}
	return out
}

// start runs bin in the cluster's network namespace (and in the mount
// namespace of process mountPID, when not 0), inside cgroup cg.
func (s *nodeSet) start(name, cg string, mountPID int, bin string, args []string, dir, logPath string) (*proc.Process, error) {
	argv := []string{"-c", joinScript(s.hier, cg), "sh", nsenterBin, "--net=/run/netns/" + s.net.ns}
	if mountPID != 0 {
		argv = append(argv, fmt.Sprintf("--mount=/proc/%d/ns/mnt", mountPID))
	}
	argv = append(append(argv, "--", bin), args...)
	return proc.Start(name, "/bin/sh", argv, dir, logPath)
}

// startNodes starts, once the apiserver is ready: controller-manager,
// scheduler and kube-proxy; then per node its mount namespace, containerd
// (with the images imported) and kubelet; it returns once every node is
// Ready, the first one labelled control-plane, and kube-proxy has written
// the "kubernetes" Service's rules.
func (c *Cluster) startNodes(ctx context.Context) error {
	s := c.nodes
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	admin := filepath.Join(c.Dir, "admin.kubeconfig")
	if err := writeKubeconfig(admin, c.URL, c.CAData, c.AdminToken); err != nil {
		return err
	}
	caFile := filepath.Join(c.Dir, "pki", "ca.crt")
	var err error
	if s.controllerManager, err = s.start("kube-controller-manager", s.cgControlPlane(), 0, c.bins.ControllerManager, []string{
		"--kubeconfig=" + admin, "--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file=" + c.pki.saKey, "--root-ca-file=" + caFile,
		"--cluster-cidr=" + PodCIDR, "--service-cluster-ip-range=" + ServiceClusterIPRange, "--v=1",
	}, c.Dir, filepath.Join(c.Dir, "kube-controller-manager.log")); err != nil {
		return err
	}
	if s.scheduler, err = s.start("kube-scheduler", s.cgControlPlane(), 0, c.bins.Scheduler, []string{
		"--kubeconfig=" + admin, "--secure-port=0", "--leader-elect=false", "--v=1",
	}, c.Dir, filepath.Join(c.Dir, "kube-scheduler.log")); err != nil {
		return err
	}
	// One kube-proxy for the namespace all nodes share: two would rewrite
	// the same tables. Conntrack limits are the machine's, left alone.
	if s.kubeProxy, err = s.start("kube-proxy", s.cgControlPlane(), 0, c.bins.KubeProxy, []string{
		"--kubeconfig=" + admin, "--hostname-override=" + s.nodes[0].name, "--proxy-mode=iptables",
		"--cluster-cidr=" + PodCIDR, "--masquerade-all", "--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		"--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256", "--v=1",
	}, c.Dir, filepath.Join(c.Dir, "kube-proxy.log")); err != nil {
		return err
	}
	for _, n := range s.nodes {
		if err := c.startNode(ctx, n, caFile); err != nil {
			return fmt.Errorf("testbed: node %s: %w", n.name, err)
		}
	}
	if err := c.waitNodesReady(ctx); err != nil {
		return err
	}
	return c.waitServiceRules(ctx)
}

func (c *Cluster) startNode(ctx context.Context, n *node, caFile string) error {
	s := c.nodes
	for _, d := range []string{n.dir, filepath.Join(n.dir, "cni"), filepath.Join(n.dir, "kubelet")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	sysctlDir := filepath.Join(n.dir, "sysctl")
	if err := writeTunables(sysctlDir); err != nil {
		return err
	}
	holderLog := filepath.Join(n.dir, "mounts.log")
	var err error
	if n.holder, err = s.start("mounts-"+n.name, n.cgRuntime(s), 0, unshareBin,
		[]string{"--mount", "--propagation", "slave", "--", "/bin/sh", "-c", holderScript(sysctlDir)}, n.dir, holderLog); err != nil {
		return err
	}
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	if err := waitUntil(ctx, n.holder, func(context.Context) error {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", n.holder.Pid()))
		if err != nil || ns == own || !strings.Contains(proc.LogTail(holderLog, 3), holderReady) {
			return errors.New("mount namespace not set up yet")
		}
		return nil
	}); err != nil {
		return err
	}

	cni, err := cniConfig(n)
	if err != nil {
		return err
	}
	files := []pkiFile{
		{filepath.Join(n.dir, "containerd.toml"), []byte(containerdConfig(n, s.sandboxImage))},
		{filepath.Join(n.dir, "cni", "10-drover.conflist"), cni},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return err
		}
	}
	if n.containerd, err = s.start("containerd-"+n.name, n.cgRuntime(s), n.holder.Pid(), containerdBin,
		[]string{"--config", files[0].path}, n.dir, filepath.Join(n.dir, "containerd.log")); err != nil {
		return err
	}
	if err := waitUntil(ctx, n.containerd, func(ctx context.Context) error {
		return exec.CommandContext(ctx, ctrBin, "--address", n.sock, "version").Run()
	}); err != nil {
		return err
	}
	for _, img := range s.images {
		if err := run(ctx, ctrBin, "--address", n.sock, "--namespace", "k8s.io", "images", "import", img); err != nil {
			return err
		}
	}

	kcfg, err := kubeletConfig(n, s.net.nsIP.String(), caFile, "/"+n.cgPods(s))
	if err != nil {
		return err
	}
	kubeletConf := filepath.Join(n.dir, "kubelet.yaml")
	kubeconfig := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := os.WriteFile(kubeletConf, kcfg, 0o600); err != nil {
		return err
	}
	if err := writeKubeconfig(kubeconfig, c.URL, c.CAData, c.pki.nodeTokens[n.name]); err != nil {
		return err
	}
	n.kubelet, err = s.start("kubelet-"+n.name, n.cgKubelet(s), n.holder.Pid(), c.bins.Kubelet, []string{
		"--config=" + kubeletConf, "--kubeconfig=" + kubeconfig, "--hostname-override=" + n.name,
		"--node-ip=" + s.net.nsIP.String(), "--root-dir=" + filepath.Join(n.dir, "kubelet"), "--v=1",
	}, n.dir, filepath.Join(n.dir, "kubelet.log"))
	return err
}

// waitNodesReady waits for every node to be Ready and labels the first
// one as the control-plane node.
func (c *Cluster) waitNodesReady(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	for _, n := range c.nodes.nodes {
		if err := waitUntil(ctx, n.kubelet, func(ctx context.Context) error {
			node, err := cs.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("node %s not Ready", n.name)
		}); err != nil {
			return err
		}
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:""}}}`, ControlPlaneLabel)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, c.nodes.nodes[0].name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("testbed: label the control-plane node: %w", err)
	}
	return nil
}

// waitServiceRules waits until kube-proxy translates the "kubernetes"
// Service, which pods use to reach the apiserver.
func (c *Cluster) waitServiceRules(ctx context.Context) error {
	return waitUntil(ctx, c.nodes.kubeProxy, func(ctx context.Context) error {
		out, err := exec.CommandContext(ctx, ipBin, "netns", "exec", c.nodes.net.ns, iptablesBin, "-w", "-t", "nat", "-S", "KUBE-SERVICES").CombinedOutput()
		if err != nil || !strings.Contains(string(out), KubernetesServiceIP+"/32") {
			return fmt.Errorf("no rule for %s yet: %v %s", KubernetesServiceIP, err, strings.TrimSpace(string(out)))
		}
		return nil
	})
}

// waitUntil polls ready every 200ms until it returns nil, p exits or ctx
// ends.
func waitUntil(ctx context.Context, p *proc.Process, ready func(context.Context) error) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		last := ready(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-p.Done():
			return p.ExitError()
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready (%w; last check: %v); last lines of %s:\n%s",
				p.Name, context.Cause(ctx), last, p.LogPath, proc.LogTail(p.LogPath, 40))
		case <-tick.C:
		}
	}
}

// stopProcesses stops the node and control-plane processes this set
// started, gently (kubelets first), in parallel per kind.
func (s *nodeSet) stopProcesses() {
	var kubelets, runtimes, holders []*proc.Process
	for _, n := range s.nodes {
		kubelets = append(kubelets, n.kubelet)
		runtimes = append(runtimes, n.containerd)
		holders = append(holders, n.holder)
	}
	for _, group := range [][]*proc.Process{kubelets, {s.kubeProxy, s.scheduler, s.controllerManager}, runtimes, holders} {
		stopAll(group, nodeGrace)
	}
}

func stopAll(ps []*proc.Process, grace time.Duration) {
	done := make(chan struct{}, len(ps))
	for _, p := range ps {
		go func() {
			p.Stop(grace)
			done <- struct{}{}
		}()
	}
	for range ps {
		<-done
	}
}

// cleanup kills whatever is left in the cluster's cgroups (containers and
// containerd shims; the mount namespaces, with every mount made in them,
// die with their last process), removes the cgroups and the network
// namespace (with its iptables rules and both ends of the veth pair).
func (s *nodeSet) cleanup() error {
	var errs []error
	if s.hier != nil {
		errs = append(errs, removeCgroup(s.hier, s.cgroup, 30*time.Second))
	}
	if s.net.ns != "" {
		errs = append(errs, deleteNetwork(s.net.ns))
	}
	return errors.Join(errs...)
}

// StopNode kills node name's kubelet, containerd, containers and their
// shims at once (SIGKILL), as when the machine loses power: its pods stop
// answering while the apiserver still lists them. Stop cleans up as usual.
func (c *Cluster) StopNode(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes == nil || c.stopped {
		return errors.New("testbed: StopNode needs a running cluster with nodes")
	}
	s := c.nodes
	i := slices.IndexFunc(s.nodes, func(n *node) bool { return n.name == name })
	if i < 0 {
		return fmt.Errorf("testbed: no node %q", name)
	}
	return s.killNode(s.nodes[i])
}

// killNode SIGKILLs everything in node n's kubelet, runtime and pod
// cgroups (containerd shims included) until nothing is left.
func (s *nodeSet) killNode(n *node) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pids []int
		for _, cg := range []string{n.cgKubelet(s), n.cgRuntime(s), n.cgPods(s)} {
			pids = append(pids, cgroupProcs(s.hier, cg)...)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testbed: processes %v of node %s survive SIGKILL", pids, n.name)
		}
		for _, pid := range pids {
			if pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
