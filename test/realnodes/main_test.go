package realnodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-dev/drover/test/realcluster"
)

// The images the tests' manifests name.
const busyboxImage = realcluster.BusyboxImage

// shared is what the tests share: one cluster with two real nodes and one
// server that pods reach through the cluster's link to this namespace.
var shared *realcluster.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// Never a silent skip: without root these tests fail, at once
	// (realcluster.Start says why).
	dir, err := os.MkdirTemp("", "drover-realnodes-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	began := time.Now()
	e, err := realcluster.Start(ctx, realcluster.Options{Dir: dir, Name: "real", Race: raceEnabled,
		ServerArgs: []string{"--registration-grace", registrationGrace.String()}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "realnodes setup:", err)
		fmt.Fprintln(os.Stderr, "logs kept in", dir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "realnodes: cluster with nodes %v and server at %s ready in %v\n", e.Cluster.NodeNames, e.Server.URL, time.Since(began).Round(time.Millisecond))
	shared = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "realnodes:", err)
		code = 1
	}
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "logs kept in", dir)
	}
	return code
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

// userKubeconfig logs user in and writes its Drover kubeconfig for cluster
// id; it returns the file, the config and the login session. Each test
// that needs a second kubeconfig uses a user of its own: a second
// kubeconfig of a user for the same cluster replaces the first's token.
func userKubeconfig(ctx context.Context, t *testing.T, user, password, id string) (string, *clientcmdapi.Config, string) {
	t.Helper()
	session, err := shared.Server.Login(ctx, user, password)
	if err != nil {
		t.Fatal(err)
	}
	b, err := shared.Server.Kubeconfig(ctx, session, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user+"-kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg, session
}
