package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubectl runs the machine's kubectl with a kubeconfig and returns stdout;
// stderr is included in the error.
func kubectl(ctx context.Context, t *testing.T, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), &kubectlError{err: err, stderr: errb.String()}
	}
	return out.String(), nil
}

type kubectlError struct {
	err    error
	stderr string
}

func (e *kubectlError) Error() string { return e.err.Error() + ": " + e.stderr }

// writeKubeconfig asks Drover for a kubeconfig with the given bearer token.
func writeKubeconfig(ctx context.Context, t *testing.T, bearer string, clusters []string) string {
	t.Helper()
	b, err := shared.server.Kubeconfig(ctx, bearer, clusters, "1h")
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubectlThroughDrover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})

	out, err := kubectl(ctx, t, kc, "get", "ns", "-o", "name")
	if err != nil {
		t.Fatalf("get ns: %v", err)
	}
	for _, ns := range []string{"namespace/default", "namespace/kube-system", "namespace/cattle-system"} {
		if !strings.Contains(out, ns) {
			t.Errorf("get ns output lacks %s:\n%s", ns, out)
		}
	}

	out, err = kubectl(ctx, t, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
	if err != nil {
		t.Fatalf("auth whoami: %v", err)
	}
	if want := `admin ["drover:admins","system:authenticated"]`; out != want {
		t.Errorf("auth whoami = %q, want %q", out, want)
	}
}
