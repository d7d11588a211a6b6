package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/test/harness"
)

// What TestDriverProvisioning needs besides the page: the local driver
// (cmd/driver-local) built and served for the server to download, the
// cluster it provisions seen through the API and on disk, the cluster
// agent the applied Deployment would run, and a safety net for the
// processes a provisioned cluster leaves if the test fails half-way.

// builtDriver is cmd/driver-local built: its path and SHA-256.
type builtDriver struct {
	bin, sum string
	err      error
}

// buildDriver builds cmd/driver-local as dir/driver-local, in the
// background: the result comes on the channel.
func buildDriver(ctx context.Context, dir string) <-chan builtDriver {
	done := make(chan builtDriver, 1)
	go func() {
		bin := filepath.Join(dir, "driver-local")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/driver-local")
		cmd.Dir = harness.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			done <- builtDriver{err: fmt.Errorf("build driver-local: %w\n%s", err, out)}
			return
		}
		b, err := os.ReadFile(bin)
		sum := sha256.Sum256(b)
		done <- builtDriver{bin: bin, sum: hex.EncodeToString(sum[:]), err: err}
	}()
	return done
}

// serveFile serves the file at path over plain http on loopback until t
// ends (an http URL is allowed with a checksum) and returns its URL. The
// file need not be there yet.
func serveFile(t *testing.T, path string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(path)
}

// provisioned is the part of a driver cluster's API view the test reads.
type provisioned struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Tunnel struct {
		Connected bool `json:"connected"`
	} `json:"tunnel"`
	Provisioning *struct {
		Driver  string         `json:"driver"`
		Phase   string         `json:"phase"`
		Message string         `json:"message"`
		Error   string         `json:"error"`
		Config  map[string]any `json:"config"`
	} `json:"provisioning"`
}

// clusterNamed is the cluster called name, as GET /v3/clusters lists it.
func (f *fixture) clusterNamed(ctx context.Context, t *testing.T, name string) (provisioned, bool) {
	t.Helper()
	var list struct{ Items []provisioned }
	if err := f.server.Do(ctx, http.MethodGet, "/v3/clusters", f.adminToken, nil, &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Items {
		if c.Name == name {
			return c, true
		}
	}
	return provisioned{}, false
}

// waitPhase asks the API for the cluster until its provisioning phase is
// want (and, for active, its tunnel is up); phase error ends the wait.
func (f *fixture) waitPhase(ctx context.Context, t *testing.T, id, want string, within time.Duration) provisioned {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var v provisioned
	err := eventually(ctx, 100*time.Millisecond, func() error {
		v = provisioned{}
		if err := f.server.Do(ctx, http.MethodGet, "/v3/clusters/"+id, f.adminToken, nil, &v); err != nil {
			return err
		}
		switch {
		case v.Provisioning == nil:
			return errors.New("no provisioning in the cluster's view")
		case v.Provisioning.Phase == "error":
			return fmt.Errorf("provisioning failed: %s (%s)", v.Provisioning.Message, v.Provisioning.Error)
		case v.Provisioning.Phase != want || (want == "active" && !v.Tunnel.Connected):
			return fmt.Errorf("phase %s (%s), connected %v", v.Provisioning.Phase, v.Provisioning.Message, v.Tunnel.Connected)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cluster %s: want phase %s: %v", id, want, err)
	}
	return v
}

// waitGone asks the API for the cluster until it answers 404.
func (f *fixture) waitGone(ctx context.Context, id string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return eventually(ctx, 200*time.Millisecond, func() error {
		code, err := f.bearerStatus(ctx, "/v3/clusters/"+id, f.adminToken)
		if err == nil && code != http.StatusNotFound {
			err = fmt.Errorf("GET /v3/clusters/%s: %d", id, code)
		}
		return err
	})
}

// clusterDir is where the server's driver named driver keeps the cluster
// id's files: the driver's HOME is <state dir>/home/<driver>, the state
// dir is the server's default, beside its data directory.
func (f *fixture) clusterDir(driver, id string) string {
	return filepath.Join(f.dir, "server-drivers", "home", driver, "clusters", id)
}

// credentialsToken is the registration token in the cluster agent's
// credentials Secret of the cluster the kubeconfig reaches.
func credentialsToken(ctx context.Context, kubeconfig string) (string, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	s, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, manifest.CredentialsSecret, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("the agent's credentials Secret: %w", err)
	}
	return string(s.Data["token"]), nil
}

// startClusterAgent starts the cluster agent the manifest Drover applied
// would run (there is no kubelet here): with the registration token of its
// Secret and, for the in-cluster config, the cluster's admin kubeconfig.
func (f *fixture) startClusterAgent(ctx context.Context, t *testing.T, adminKubeconfig string) *harness.Process {
	t.Helper()
	token, err := credentialsToken(ctx, adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: f.bins.Agent, Dir: filepath.Join(t.TempDir(), "agent"), ServerURL: f.server.URL,
		CAChecksum: f.server.CAChecksum, Token: token, Kubeconfig: adminKubeconfig, Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Stop(5 * time.Second) })
	return agent
}

// pidFile is the process whose pid the file holds, if it runs.
func pidFile(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 1 && alive(pid)
}

// alive reports whether pid runs (exists and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// cmdline is pid's command line, its arguments separated by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// killMentioning kills, by pid, the processes whose command line holds
// dir: the etcd and kube-apiserver of a provisioned cluster outlive the
// driver and the server, so a test that failed before the cluster was
// removed must not leave them running. It returns what it killed.
func killMentioning(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var killed []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cl := cmdline(pid); strings.Contains(cl, dir) {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed = append(killed, fmt.Sprintf("%d: %.100s", pid, cl))
			}
		}
	}
	return killed
}
