package realcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/test/haproxy"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/postgres"
	"github.com/drover-dev/drover/test/testbed"
)

// Options say what Start brings up.
type Options struct {
	// Dir holds the binaries, images, cluster, server data and logs; it
	// must exist.
	Dir string
	// Name names the test-bed cluster (unique per run is testbed's job).
	Name string
	// Race builds the server and agent binaries with the race detector.
	Race bool
	// Logger gets the test bed's progress; nil discards it.
	Logger *slog.Logger
	// Port is the server's port on the cluster's host address (the root
	// namespace's end of its link, where pods and this machine reach it);
	// 0 picks a free one.
	Port int
	// ServerArgs are extra drover-server flags.
	ServerArgs []string
	// Images are OCI archives imported into every node beside the four
	// BuildImages writes (e.g. the upstream e2e test images).
	Images []string
	// Replicas, when more than 1, runs that many servers on a PostgreSQL
	// of their own behind HAProxy, which takes Port: agents and users reach
	// the servers through it.
	Replicas int
}

// Env is a running cluster with two real nodes and a server, with the
// admin logged in. Nothing is imported yet (Import does that).
type Env struct {
	Dir     string
	Bins    harness.Binaries
	Cluster *testbed.Cluster
	// Server is the server, or with replicas the load balancer in front of
	// them (its Process, DataDir and log are the first replica's).
	Server *harness.Server
	// Replicas are the servers behind the load balancer (with
	// Options.Replicas); Postgres and LB are what they run on.
	Replicas []*harness.Server
	Postgres *postgres.Server
	LB       *haproxy.LB
	// Admin is the server admin's API token.
	Admin string
	// Direct is a kubeconfig straight to the cluster as its own admin.
	Direct string
	// ACE is the authorized cluster endpoint the apiserver calls: the
	// manifest's kube-api-auth pod on the control-plane node.
	ACE *harness.AuthEndpoint
}

// Start builds what it needs and starts the cluster and the server. On
// error it stops what it started; the logs stay in o.Dir.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	if err := CheckRoot(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Env{Dir: o.Dir, Direct: filepath.Join(o.Dir, "direct-kubeconfig")}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	if e.Bins, err = harness.Build(ctx, filepath.Join(o.Dir, "bin"), o.Race); err != nil {
		return nil, err
	}
	archives, err := BuildImages(ctx, filepath.Join(o.Dir, "images"))
	if err != nil {
		return nil, err
	}
	// The apiserver authenticates Drover tokens through the manifest's
	// kube-api-auth DaemonSet: it listens on the control-plane node's
	// loopback, which with real nodes is the cluster's network namespace's,
	// the apiserver's own. The webhook config and the CA it trusts must be
	// there before the apiserver starts; the serving certificate goes in as
	// the Secret the pod mounts (Drover's controller keeps an existing one).
	aceDir := filepath.Join(o.Dir, "ace")
	if err := os.MkdirAll(aceDir, 0o700); err != nil {
		return nil, err
	}
	if e.ACE, err = harness.NewAuthEndpointAt(aceDir, fmt.Sprintf("127.0.0.1:%d", manifest.DefaultACEPort)); err != nil {
		return nil, err
	}
	if e.Cluster, err = testbed.Start(ctx, testbed.Options{
		Name: o.Name, Dir: filepath.Join(o.Dir, "cluster"), Nodes: 2, Images: append(archives, o.Images...), SandboxImage: PauseImage,
		Logger: o.Logger, StartTimeout: 3 * time.Minute, ExtraAPIServerArgs: e.ACE.APIServer,
	}); err != nil {
		return nil, err
	}
	if err := e.Cluster.WriteKubeconfig(e.Direct); err != nil {
		return nil, err
	}
	if err := e.ACE.InstallSecret(ctx, kubernetes.NewForConfigOrDie(e.Cluster.RESTConfig())); err != nil {
		return nil, fmt.Errorf("kube-api-auth serving certificate: %w", err)
	}
	listen := net.JoinHostPort(e.Cluster.HostIP, fmt.Sprint(o.Port))
	if o.Port == 0 {
		if listen, err = freeAddr(e.Cluster.HostIP); err != nil {
			return nil, err
		}
	}
	args := append([]string{"--agent-image", AgentImage}, o.ServerArgs...)
	if o.Replicas > 1 {
		if err := e.startReplicas(ctx, o, listen, args); err != nil {
			return nil, err
		}
	} else if e.Server, err = harness.StartServer(ctx, harness.ServerOptions{Bin: e.Bins.Server, DataDir: filepath.Join(o.Dir, "server"),
		Listen: listen, Args: args}); err != nil {
		return nil, err
	}
	if e.Admin, err = e.Server.Login(ctx, "admin", e.Server.AdminPassword); err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	return e, nil
}

// Stop stops the server and the cluster; it leaves nothing running.
func (e *Env) Stop() error {
	if e.Server != nil && len(e.Replicas) == 0 {
		e.Server.Stop(10 * time.Second)
	}
	for _, r := range e.Replicas {
		r.Stop(10 * time.Second)
	}
	e.LB.Stop()
	e.Postgres.Stop()
	if e.Cluster != nil {
		if err := e.Cluster.Stop(); err != nil {
			return fmt.Errorf("stop cluster: %w", err)
		}
	}
	return nil
}

// CheckRoot returns the error Start fails with when not run as root, so
// that a caller can fail at once, before it does anything else.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("real nodes need root (network namespaces, cgroups, mounts, iptables): run as root")
	}
	return nil
}

// freeAddr returns a free port on ip.
func freeAddr(ip string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
