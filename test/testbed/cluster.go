package testbed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/proc"
)

// Options configure Start. The zero value is usable once `make testbed` ran.
type Options struct {
	// Binaries to run; zero means FindBinaries().
	Binaries Binaries
	// Dir is the cluster's working directory (PKI, etcd data, logs). Empty
	// means a fresh os.MkdirTemp directory that Stop removes. A given Dir is
	// kept by Stop, but Start regenerates its pki/ and wipes its etcd/.
	Dir string
	// Logger receives lifecycle events (optional).
	Logger *slog.Logger
	// ExtraAPIServerArgs are appended to the kube-apiserver flags, so they
	// override the defaults, e.g.
	// --authentication-token-webhook-config-file=...
	ExtraAPIServerArgs []string
	// Name of the cluster (kubeconfig cluster/context name); empty means
	// "testbed-N".
	Name string
	// StartTimeout bounds how long one process start may take to become
	// ready; zero means 2 minutes. With Nodes, it also bounds starting all
	// the nodes.
	StartTimeout time.Duration

	// ControllerManager, without Nodes, also runs kube-controller-manager
	// on the loopback cluster (no root needed): namespaces get their
	// "default" ServiceAccount and are finalized after deletion, garbage
	// collection runs; pods are created by their controllers but never run.
	// It needs kube-controller-manager from `make testbed-nodes`. With
	// Nodes it is implied.
	ControllerManager bool

	// Nodes, when above zero, makes a cluster with real nodes: the whole
	// cluster in a network namespace of its own, with controller-manager,
	// scheduler, kube-proxy and this many kubelets, each with its own
	// containerd (see doc.go). It needs root and `make testbed`.
	Nodes int
	// Images are OCI archives (package images) imported into every node's
	// containerd; nothing is ever pulled. Required with Nodes.
	Images []string
	// SandboxImage names the pause image, one of Images. Required with
	// Nodes.
	SandboxImage string
}

// Cluster is one running etcd + kube-apiserver pair on 127.0.0.1.
type Cluster struct {
	Name       string
	URL        string // https://127.0.0.1:<port>
	Host       string // 127.0.0.1:<port>
	CAData     []byte // PEM of the CA that signed the apiserver serving cert
	AdminToken string // bearer token of AdminUser, in group system:masters
	Dir        string

	// With real nodes (Options.Nodes): the network namespace holding the
	// whole cluster (under /run/netns), the root namespace's address on the
	// link into it (where pods reach servers the test runs: listen there),
	// and the kubelets' node names (the first is the control-plane node).
	NetNS     string
	HostIP    string
	NodeNames []string

	nodes     *nodeSet
	log       *slog.Logger
	bins      Binaries
	pki       *apiserverPKI
	removeDir bool
	timeout   time.Duration
	extraArgs []string
	etcdURL   string
	client    *http.Client // trusts CAData, for /readyz

	mu        sync.Mutex
	etcd      *proc.Process
	apiserver *proc.Process
	stopped   bool
	stopErr   error

	// Options.ControllerManager without Nodes (with Nodes, nodes has it).
	controllerManager *proc.Process
}

const (
	maxStartAttempts = 5
	apiserverGrace   = 15 * time.Second
	etcdGrace        = 10 * time.Second
	// ServiceAccountIssuer is the apiserver's --service-account-issuer.
	ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
	// ServiceClusterIPRange is the apiserver's --service-cluster-ip-range
	// (only a flag: nothing ever routes to it).
	ServiceClusterIPRange = "10.96.0.0/16"
)

var clusterSeq atomic.Int64

// Start starts etcd and kube-apiserver on free loopback ports and returns
// once the apiserver's /readyz answers ok. When a process fails because a
// port was taken, it retries with new ports (bounded). On error nothing is
// left running and a temporary Dir is removed; the error includes the tail of
// the failing process's log.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	c := &Cluster{
		Name:      opts.Name,
		Dir:       opts.Dir,
		log:       opts.Logger,
		bins:      opts.Binaries,
		timeout:   opts.StartTimeout,
		extraArgs: append([]string(nil), opts.ExtraAPIServerArgs...),
	}
	if c.Name == "" {
		c.Name = "testbed-" + strconv.FormatInt(clusterSeq.Add(1), 10)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("cluster", c.Name)
	if c.timeout <= 0 {
		c.timeout = 2 * time.Minute
	}
	if c.bins == (Binaries{}) {
		if c.bins, err = FindBinaries(); err != nil {
			return nil, err
		}
	} else if err := c.bins.check(); err != nil {
		return nil, err
	}
	if opts.Nodes > 0 {
		if os.Geteuid() != 0 {
			return nil, errNeedRoot
		}
		// Before the directories: leftovers may still run from them.
		sweepStaleNodes()
	}
	if c.Dir == "" {
		sweepStaleDirs()
		if c.Dir, err = os.MkdirTemp("", tempDirPrefix+c.Name+"-"); err != nil {
			return nil, err
		}
		c.removeDir = true
		if err := writeOwner(c.Dir); err != nil {
			_ = os.RemoveAll(c.Dir)
			return nil, err
		}
	} else if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()

	var pkiOpts pkiOptions
	if opts.Nodes > 0 {
		if c.nodes, err = newNodeSet(ctx, c, opts); err != nil {
			return nil, err
		}
		c.NetNS, c.HostIP, c.NodeNames = c.nodes.net.ns, c.nodes.net.hostIP.String(), c.nodes.nodeNames()
		pkiOpts = pkiOptions{hosts: []string{c.nodes.net.nsIP.String(), KubernetesServiceIP}, nodes: c.NodeNames}
	}
	if c.pki, err = writePKI(filepath.Join(c.Dir, "pki"), c.Name, pkiOpts); err != nil {
		return nil, fmt.Errorf("testbed: generate PKI: %w", err)
	}
	c.CAData = c.pki.caPEM
	c.AdminToken = c.pki.adminToken
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAData)
	c.client = &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true, Proxy: nil},
	}

	began := time.Now()
	for attempt := 1; ; attempt++ {
		err := c.startOnce(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortInUse) || attempt == maxStartAttempts {
			return nil, err
		}
		c.log.Info("testbed: port taken, retrying with new ports", "attempt", attempt, "err", err)
	}
	if c.nodes != nil {
		if err := c.startNodes(ctx); err != nil {
			return nil, err
		}
	} else if opts.ControllerManager {
		if err := c.startControllerManager(ctx); err != nil {
			return nil, err
		}
	}
	c.log.Info("testbed: cluster ready", "url", c.URL, "dir", c.Dir, "took", time.Since(began).Round(time.Millisecond))
	return c, nil
}

// StartT is Start bound to a test: it calls t.Fatal on error and registers
// Stop with t.Cleanup. When the test failed, the cleanup logs the tail of
// both process logs before they are removed.
func StartT(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("testbed.Start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testbed %s: last lines of kube-apiserver.log:\n%s", c.Name, proc.LogTail(c.apiserverLog(), 30))
			t.Logf("testbed %s: last lines of etcd.log:\n%s", c.Name, proc.LogTail(c.etcdLog(), 10))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("testbed %s: Stop: %v", c.Name, err)
		}
	})
	return c
}

var errPortInUse = errors.New("port already in use")

func (c *Cluster) apiserverLog() string { return filepath.Join(c.Dir, "kube-apiserver.log") }
func (c *Cluster) etcdLog() string      { return filepath.Join(c.Dir, "etcd.log") }

// startOnce starts etcd and the apiserver on new ports. On any error both are
// stopped again; errPortInUse is wrapped when a port was taken.
func (c *Cluster) startOnce(ctx context.Context) error {
	etcdPort, peerPort, apiPort := nsEtcdPort, nsEtcdPeerPort, nsAPIServerPort
	if c.nodes == nil {
		ports, err := proc.FreePorts(3)
		if err != nil {
			return err
		}
		etcdPort, peerPort, apiPort = ports[0], ports[1], ports[2]
	}
	dataDir := filepath.Join(c.Dir, "etcd")
	if err := os.RemoveAll(dataDir); err != nil {
		return err
	}
	c.etcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcdArgs := []string{
		"--name=testbed",
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + c.etcdURL,
		"--advertise-client-urls=" + c.etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=testbed=" + peerURL,
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + c.Name,
		// A single throwaway member: no fsync, quick first election.
		"--unsafe-no-fsync=true",
		"--heartbeat-interval=50",
		"--election-timeout=500",
		"--log-level=warn",
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	etcd, err := c.startProcess("etcd", c.bins.Etcd, etcdArgs, c.etcdLog())
	if err != nil {
		return err
	}
	c.etcd = etcd
	// In a cluster's own network namespace, etcd is out of the test's reach:
	// the apiserver's /readyz tells for both.
	if c.nodes == nil {
		if err := c.waitFor(ctx, etcd, c.etcdHealthy); err != nil {
			etcd.Stop(etcdGrace)
			return err
		}
	}

	c.Host = net.JoinHostPort(c.bindAddress(), strconv.Itoa(apiPort))
	c.URL = "https://" + c.Host
	if err := c.startAPIServer(ctx); err != nil {
		etcd.Stop(etcdGrace)
		return err
	}
	return nil
}

// startProcess starts a control-plane process: on this machine's loopback,
// or, with real nodes, inside the cluster's network namespace and cgroup.
func (c *Cluster) startProcess(name, bin string, args []string, logPath string) (*proc.Process, error) {
	if c.nodes != nil {
		return c.nodes.start(name, c.nodes.cgControlPlane(), 0, bin, args, c.Dir, logPath)
	}
	return proc.Start(name, bin, args, c.Dir, logPath)
}

// bindAddress is where the apiserver listens and what it advertises.
func (c *Cluster) bindAddress() string {
	if c.nodes != nil {
		return c.nodes.net.nsIP.String()
	}
	return "127.0.0.1"
}

// authorizationModes: RBAC, and with real nodes the Node authorizer first,
// which gives each kubelet what its node's pods need.
func (c *Cluster) authorizationModes() string {
	if c.nodes != nil {
		return "Node,RBAC"
	}
	return "RBAC"
}

// apiserverArgs are the kube-apiserver flags for the current ports.
func (c *Cluster) apiserverArgs() []string {
	_, port, _ := net.SplitHostPort(c.Host)
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=" + c.bindAddress(),
		"--advertise-address=" + c.bindAddress(),
		"--secure-port=" + port,
		"--cert-dir=" + filepath.Join(c.Dir, "pki"),
		"--tls-cert-file=" + c.pki.servingCert,
		"--tls-private-key-file=" + c.pki.servingKey,
		"--token-auth-file=" + c.pki.tokenFile,
		"--authorization-mode=" + c.authorizationModes(),
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + c.pki.saPub,
		"--service-account-signing-key-file=" + c.pki.saKey,
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		// Fewer controllers and objects to bootstrap: faster start.
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	if c.nodes == nil {
		// The "kubernetes" Endpoints would point at 127.0.0.1, which
		// Endpoints validation rejects; nothing routes to it anyway.
		args = append(args, "--endpoint-reconciler-type=none")
	} else {
		args = append(args,
			"--kubelet-client-certificate="+c.pki.kubeletClientCert,
			"--kubelet-client-key="+c.pki.kubeletClientKey,
			// Node names resolve nowhere: the apiserver dials the kubelets
			// at the node IP (all share it, on their own ports).
			"--kubelet-preferred-address-types=InternalIP",
		)
	}
	return append(args, c.extraArgs...)
}

// startAPIServer starts kube-apiserver on c.Host and waits for /readyz.
// Callers hold c.mu.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	p, err := c.startProcess("kube-apiserver", c.bins.APIServer, c.apiserverArgs(), c.apiserverLog())
	if err != nil {
		return err
	}
	c.apiserver = p
	if err := c.waitFor(ctx, p, c.apiserverReady); err != nil {
		p.Stop(apiserverGrace)
		return err
	}
	return nil
}

// waitFor polls ready until it returns nil, p exits, ctx ends or the start
// timeout passes.
func (c *Cluster) waitFor(ctx context.Context, p *proc.Process, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-p.Done():
			if p.PortInUse() {
				return fmt.Errorf("%w: %w", errPortInUse, p.ExitError())
			}
			return p.ExitError()
		case <-ctx.Done():
			return fmt.Errorf("testbed: %s not ready after %v (%v; last check: %v); last lines of %s:\n%s",
				p.Name, c.timeout, context.Cause(ctx), last, p.LogPath, proc.LogTail(p.LogPath, 40))
		case <-tick.C:
		}
	}
}

func (c *Cluster) etcdHealthy(ctx context.Context) error {
	body, err := c.get(ctx, c.etcdURL+"/health", false)
	if err != nil {
		return err
	}
	if !strings.Contains(body, `"health":"true"`) {
		return fmt.Errorf("etcd /health: %s", body)
	}
	return nil
}

func (c *Cluster) apiserverReady(ctx context.Context) error {
	body, err := c.get(ctx, c.URL+"/readyz", true)
	if err != nil {
		return err
	}
	if strings.TrimSpace(body) != "ok" {
		return fmt.Errorf("/readyz: %s", body)
	}
	return nil
}

// get returns the body of a 200 response; other statuses are errors.
func (c *Cluster) get(ctx context.Context, url string, auth bool) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// RestartAPIServer stops only kube-apiserver and starts it again on the same
// port against the same etcd, returning once /readyz answers ok. If the port
// is briefly unavailable it retries (bounded).
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	return c.RestartAPIServerAfter(ctx, 0)
}

// RestartAPIServerAfter is RestartAPIServer with the apiserver kept down for
// the given time in between, so that an outage is long enough to observe.
func (c *Cluster) RestartAPIServerAfter(ctx context.Context, down time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return fmt.Errorf("testbed: cluster %s is stopped", c.Name)
	}
	began := time.Now()
	c.apiserver.Stop(apiserverGrace)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	var err error
	for attempt := 1; attempt <= maxStartAttempts; attempt++ {
		if err = c.startAPIServer(ctx); err == nil || !errors.Is(err, errPortInUse) {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("testbed: restart kube-apiserver of %s: %w", c.Name, err)
	}
	c.log.Info("testbed: kube-apiserver restarted", "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// Stop stops the nodes (their processes, then whatever is left in their
// cgroups: containers and shims), kube-apiserver, then etcd (SIGTERM,
// SIGKILL after a bound),
// waits for both, and removes Dir if Start created it. It is idempotent and
// safe for concurrent use; later calls return the first call's result.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	c.stopped = true
	if c.nodes != nil {
		c.nodes.stopProcesses()
		// The pods next: kube-apiserver's graceful stop waits for their
		// open requests (the agents' watches and tunnels) otherwise, for
		// its whole grace.
		for _, n := range c.nodes.nodes {
			if err := c.nodes.killNode(n); err != nil {
				c.stopErr = errors.Join(c.stopErr, err)
			}
		}
	}
	if c.controllerManager != nil {
		c.controllerManager.Stop(controllerManagerGrace)
	}
	c.apiserver.Stop(apiserverGrace)
	c.etcd.Stop(etcdGrace)
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
	if c.nodes != nil {
		if err := c.nodes.cleanup(); err != nil {
			c.stopErr = errors.Join(c.stopErr, err)
		}
	}
	if c.nodes != nil {
		if err := unmountUnder(c.Dir); err != nil {
			c.stopErr = errors.Join(c.stopErr, err)
		}
	}
	if c.removeDir {
		if err := os.RemoveAll(c.Dir); err != nil {
			c.stopErr = errors.Join(c.stopErr, fmt.Errorf("testbed: remove %s: %w", c.Dir, err))
		}
	}
	c.log.Info("testbed: cluster stopped", "err", c.stopErr)
	return c.stopErr
}

// PIDs returns the process ids of etcd and kube-apiserver as last started
// (0 for one never started), e.g. to check that nothing outlives Stop.
func (c *Cluster) PIDs() (etcd, apiserver int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.etcd != nil {
		etcd = c.etcd.Pid()
	}
	if c.apiserver != nil {
		apiserver = c.apiserver.Pid()
	}
	return etcd, apiserver
}
