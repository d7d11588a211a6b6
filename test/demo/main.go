// Command demo runs Drover on this machine for a person to try: the server,
// one real downstream cluster (kube-apiserver and etcd from `make testbed`)
// and a cluster agent started the way its Deployment starts it (environment
// and a token file). It writes kubeconfigs for the admin through Drover,
// for a read-only second user ("viewer") through Drover, and straight to
// the apiserver, prints how to use them and "demo ready", and
// runs until SIGINT or SIGTERM; then it stops the agent, the server and the
// cluster, in that order, and leaves nothing running. Logs stay in the demo
// directory (`make clean` removes it).
//
// Run it with `make demo`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

func main() {
	opts := NewOptions(harness.RepoRoot())
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	opts.Flags(fs)
	fs.Parse(os.Args[1:])
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "demo: invalid options:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "demo: interrupted during start-up; everything was stopped")
			os.Exit(130)
		}
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// demo is what run started; stop undoes it in reverse order.
type demo struct {
	cluster *testbed.Cluster
	server  *harness.Server
	agent   *harness.Process
	node    *harness.Process
	ace     *harness.Process
}

func (d *demo) stop(log *slog.Logger) {
	if d.ace != nil {
		d.ace.Stop(5 * time.Second)
		log.Info("kube-api-auth stopped")
	}
	if d.node != nil {
		d.node.Stop(5 * time.Second)
		log.Info("node agent stopped")
	}
	if d.agent != nil {
		d.agent.Stop(5 * time.Second)
		log.Info("agent stopped")
	}
	if d.server != nil {
		d.server.Stop(10 * time.Second)
		log.Info("server stopped")
	}
	if d.cluster != nil {
		if err := d.cluster.Stop(); err != nil {
			log.Warn("stop cluster", "err", err)
		}
		log.Info("cluster stopped")
	}
}

func run(ctx context.Context, o *Options, out io.Writer) (err error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := os.RemoveAll(o.Dir); err != nil {
		return fmt.Errorf("wipe %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	d := &demo{}
	defer d.stop(log)

	log.Info("building drover-server and drover-agent")
	bins, err := harness.Build(ctx, filepath.Join(o.Dir, "bin"), false)
	if err != nil {
		return err
	}
	log.Info("starting the downstream cluster (etcd, kube-apiserver)")
	// The authorized cluster endpoint: the apiserver authenticates Drover
	// tokens through kube-api-auth, so the demo-ace context works even with
	// the server down.
	ace, err := harness.NewAuthEndpoint(o.Dir)
	if err != nil {
		return err
	}
	if d.cluster, err = testbed.Start(ctx, testbed.Options{Name: "demo", Dir: filepath.Join(o.Dir, "cluster"), Logger: log,
		ExtraAPIServerArgs: ace.APIServer}); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	directKubeconfig := filepath.Join(o.Dir, "direct-kubeconfig")
	if err := d.cluster.WriteKubeconfig(directKubeconfig); err != nil {
		return err
	}
	direct := kubernetes.NewForConfigOrDie(d.cluster.RESTConfig())
	if err := ace.InstallSecret(ctx, direct); err != nil {
		return fmt.Errorf("kube-api-auth certificate: %w", err)
	}
	// The testbed runs no kube-controller-manager, whose aggregation
	// controller fills the view/edit/admin roles that Drover's roles bind.
	if err := harness.AggregateClusterRoles(ctx, direct); err != nil {
		return err
	}

	log.Info("starting drover-server")
	logLevel := []string{"--log-level", o.LogLevel}
	if d.server, err = harness.StartServer(ctx, harness.ServerOptions{
		Bin: bins.Server, DataDir: filepath.Join(o.Dir, "server"), Listen: o.Listen, Args: logLevel,
	}); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	admin, err := d.server.Login(ctx, "admin", d.server.AdminPassword)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	clusterID, reg, err := d.server.CreateCluster(ctx, admin, "demo")
	if err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	serverURL := reg.ServerURL
	if serverURL == "" {
		serverURL = d.server.URL
	}
	log.Info("starting drover-agent", "cluster", clusterID)
	if d.agent, err = harness.StartAgent(harness.AgentOptions{
		Bin: bins.Agent, Dir: filepath.Join(o.Dir, "agent"), ServerURL: serverURL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: directKubeconfig,
		Kind: "cluster", Args: logLevel,
	}); err != nil {
		return fmt.Errorf("start agent: %w", err)
	}
	if err := d.server.WaitConnected(ctx, admin, clusterID, "cluster"); err != nil {
		return fmt.Errorf("%w (agent log: %s)", err, d.agent.LogPath)
	}
	log.Info("starting a node agent (the fallback tunnel)")
	if d.node, err = harness.StartAgent(harness.AgentOptions{
		Bin: bins.Agent, Dir: filepath.Join(o.Dir, "agent"), ServerURL: serverURL,
		CAChecksum: reg.CAChecksum, Token: reg.NodeToken, Kubeconfig: directKubeconfig,
		Kind: "node", NodeName: "demo-node", Args: logLevel,
	}); err != nil {
		return fmt.Errorf("start node agent: %w", err)
	}
	log.Info("starting kube-api-auth and enabling the authorized cluster endpoint")
	if d.ace, err = ace.Start(ctx, bins.Agent, directKubeconfig, filepath.Join(o.Dir, "kube-api-auth.log")); err != nil {
		return fmt.Errorf("start kube-api-auth: %w", err)
	}
	if err := d.server.Do(ctx, "PUT", "/v3/clusters/"+clusterID+"/auth-endpoint", admin,
		map[string]string{"url": d.cluster.URL, "caCert": string(d.cluster.CAData)}, nil); err != nil {
		return fmt.Errorf("enable the authorized endpoint: %w", err)
	}
	kc, err := d.server.Kubeconfig(ctx, admin, []string{clusterID}, o.KubeconfigTTL.String())
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	kubeconfig := filepath.Join(o.Dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	log.Info("creating the read-only user viewer")
	view, err := addViewer(ctx, d.server, admin, clusterID, o.Dir, o.KubeconfigTTL)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, `
Drover demo
  server:      %s
  admin login: username admin, password %s
  cluster:     %q (id %s), cluster agent and node agent "demo-node" connected

Through Drover:
  export KUBECONFIG=%s
  kubectl get ns
  kubectl auth whoami
  kubectl create configmap hello --from-literal=from=drover && kubectl get cm hello -o yaml

Straight to the apiserver as the same Drover user (the authorized cluster
endpoint; works with the server stopped):
  kubectl --context demo-ace auth whoami

As %q, a second user (not an admin) bound read-only on the cluster
(password %s):
  kubectl --kubeconfig %s get pods -A                 # allowed
  kubectl --kubeconfig %s create namespace nope       # forbidden

Straight to the apiserver as its own admin, for comparison:
  kubectl --kubeconfig %s get ns

The server's JSON API (log in first):
  curl --cacert %s -d '{"username":"admin","password":"<password>"}' %s/v3/login

Logs: %s/{server/server.log,agent/*.log,cluster/*.log}
Ctrl-C stops the agent, the server and the cluster.
demo ready
`, d.server.URL, d.server.AdminPassword, "demo", clusterID, kubeconfig,
		view.Username, view.Password, view.Kubeconfig, view.Kubeconfig, directKubeconfig,
		filepath.Join(d.server.DataDir, "tls", "ca.crt"), d.server.URL, o.Dir)

	select {
	case <-ctx.Done():
		log.Info("signal received, stopping")
		return nil
	case <-d.server.Done():
		_, exitErr := d.server.Exited()
		return fmt.Errorf("drover-server exited: %v (log %s)", exitErr, d.server.LogPath)
	case <-d.ace.Done():
		_, exitErr := d.ace.Exited()
		return fmt.Errorf("kube-api-auth exited: %v", exitErr)
	case <-d.node.Done():
		_, exitErr := d.node.Exited()
		return fmt.Errorf("node agent exited: %v (log %s)", exitErr, d.node.LogPath)
	case <-d.agent.Done():
		_, exitErr := d.agent.Exited()
		return fmt.Errorf("drover-agent exited: %v (log %s)", exitErr, d.agent.LogPath)
	}
}
