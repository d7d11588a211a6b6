package realnodes

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/images"
	"github.com/drover-dev/drover/test/testbed"
)

// Image names: under a reserved domain, so that nothing could ever pull them.
const (
	pauseImage   = "drover.invalid/pause:e2e"
	agentImage   = "drover.invalid/drover-agent:e2e"
	busyboxImage = "drover.invalid/busybox:e2e"
)

// env is what the tests share: one cluster with two real nodes and one
// server that pods reach through the cluster's link to this namespace.
type env struct {
	dir     string
	bins    harness.Binaries
	cluster *testbed.Cluster
	server  *harness.Server
	admin   string // admin's API token
	direct  string // admin kubeconfig straight to the cluster
	ace     *harness.AuthEndpoint
}

var shared *env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// Never a silent skip: without root these tests fail, at once.
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "realnodes: real nodes need root (network namespaces, cgroups, mounts, iptables): run these tests as root")
		return 1
	}
	dir, err := os.MkdirTemp("", "drover-realnodes-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	began := time.Now()
	e, err := setup(ctx, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realnodes setup:", err)
		if e != nil {
			e.teardown()
		}
		fmt.Fprintln(os.Stderr, "logs kept in", dir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "realnodes: cluster with nodes %v and server at %s ready in %v\n", e.cluster.NodeNames, e.server.URL, time.Since(began).Round(time.Millisecond))
	shared = e
	code := m.Run()
	e.teardown()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "logs kept in", dir)
	}
	return code
}

func setup(ctx context.Context, dir string) (*env, error) {
	e := &env{dir: dir, direct: filepath.Join(dir, "direct-kubeconfig")}
	var err error
	if e.bins, err = harness.Build(ctx, filepath.Join(dir, "bin"), raceEnabled); err != nil {
		return nil, err
	}
	archives, err := buildImages(ctx, filepath.Join(dir, "images"))
	if err != nil {
		return nil, err
	}
	// The apiserver authenticates Drover tokens through the manifest's
	// kube-api-auth DaemonSet: it listens on the control-plane node's
	// loopback, which with real nodes is the cluster's network namespace's,
	// the apiserver's own. The webhook config and the CA it trusts must be
	// there before the apiserver starts; the serving certificate goes in
	// as the Secret the pod mounts (Drover's controller keeps an existing
	// one).
	aceDir := filepath.Join(dir, "ace")
	if err := os.MkdirAll(aceDir, 0o700); err != nil {
		return nil, err
	}
	if e.ace, err = harness.NewAuthEndpointAt(aceDir, fmt.Sprintf("127.0.0.1:%d", manifest.DefaultACEPort)); err != nil {
		return nil, err
	}
	if e.cluster, err = testbed.Start(ctx, testbed.Options{
		Name: "real", Nodes: 2, Images: archives, SandboxImage: pauseImage,
		Logger: slog.New(slog.DiscardHandler), StartTimeout: 3 * time.Minute,
		ExtraAPIServerArgs: e.ace.APIServer,
	}); err != nil {
		return e, err
	}
	if err := e.cluster.WriteKubeconfig(e.direct); err != nil {
		return e, err
	}
	if err := e.ace.InstallSecret(ctx, kubernetes.NewForConfigOrDie(e.cluster.RESTConfig())); err != nil {
		return e, fmt.Errorf("kube-api-auth serving certificate: %w", err)
	}
	listen, err := freeAddr(e.cluster.HostIP)
	if err != nil {
		return e, err
	}
	if e.server, err = harness.StartServer(ctx, harness.ServerOptions{Bin: e.bins.Server, DataDir: filepath.Join(dir, "server"),
		Listen: listen, Args: []string{"--agent-image", agentImage}}); err != nil {
		return e, err
	}
	if e.admin, err = e.server.Login(ctx, "admin", e.server.AdminPassword); err != nil {
		return e, fmt.Errorf("admin login: %w", err)
	}
	return e, nil
}

func (e *env) teardown() {
	if e.server != nil {
		e.server.Stop(10 * time.Second)
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "realnodes: stop cluster:", err)
		}
	}
}

// freeAddr returns a free port on ip (the root namespace's end of the
// cluster's link, where pods reach the server).
func freeAddr(ip string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// buildImages builds the static programs the images hold and writes the
// three archives: pause, the agent (as deploy/docker/Dockerfile.agent
// builds it) and busybox.
func buildImages(ctx context.Context, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	static := func(out, pkg string) error {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = harness.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		return nil
	}
	pauseBin, agentBin := filepath.Join(dir, "pause"), filepath.Join(dir, "drover-agent")
	if err := static(pauseBin, "./test/images/pause"); err != nil {
		return nil, err
	}
	if err := static(agentBin, "./cmd/agent"); err != nil {
		return nil, err
	}
	busybox, err := images.Busybox(ctx, busyboxImage, "/bin/busybox")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range []images.Image{images.Pause(pauseImage, pauseBin), images.Agent(agentImage, agentBin), busybox} {
		path := filepath.Join(dir, strings.ReplaceAll(filepath.Base(img.Name), ":", "_")+".tar")
		if err := images.WriteArchive(path, img); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	return out, nil
}

// kubectl runs the machine's kubectl with kubeconfig and returns its
// standard output (kubectl may warn on stderr, e.g. "Unknown stream id 1,
// discarding message" under load; that goes into the failure message).
func kubectl(ctx context.Context, t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	out, stderr, err := kubectlOut(ctx, kubeconfig, args...)
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s%s", args, err, out, stderr)
	}
	return out
}

// kubectlOut runs the machine's kubectl and returns stdout and stderr
// apart.
func kubectlOut(ctx context.Context, kubeconfig string, args ...string) (string, string, error) {
	cmd := kubectlCmd(ctx, kubeconfig, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return string(out), stderr.String(), err
}
