package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-dev/drover/test/harness"
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

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: e2e-apply
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
`

func TestApplyAndWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})

	if _, err := kubectl(ctx, t, kc, "create", "namespace", "e2e-apply"); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// The watch runs through Drover while the create happens; it must see
	// the event as it happens, not when the stream ends.
	watchCtx, stopWatch := context.WithTimeout(ctx, time.Minute)
	defer stopWatch()
	watch := exec.CommandContext(watchCtx, "kubectl", "--kubeconfig", kc, "-n", "e2e-apply",
		"get", "deployments", "-w", "-o", "name")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	watch.Stderr = &stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer watch.Wait()
	defer stopWatch()
	seen := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			n, err := stdout.Read(buf)
			acc += string(buf[:n])
			if strings.Contains(acc, "deployment.apps/web") {
				seen <- acc
				return
			}
			if err != nil {
				seen <- acc
				return
			}
		}
	}()
	time.Sleep(time.Second) // let the watch establish before the create

	manifest := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(manifest, []byte(deployment), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(ctx, t, kc, "apply", "-f", manifest)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !strings.Contains(out, "deployment.apps/web created") {
		t.Errorf("apply output = %q", out)
	}
	select {
	case got := <-seen:
		if !strings.Contains(got, "deployment.apps/web") {
			t.Fatalf("watch ended without the create; output %q, stderr %q", got, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("watch did not see the create within 30s; stderr %q", stderr.String())
	}

	// The object really is downstream: read it straight from the apiserver.
	direct := filepath.Join(shared.dir, "direct-kubeconfig")
	out, err = kubectl(ctx, t, direct, "-n", "e2e-apply", "get", "deployment", "web", "-o", "jsonpath={.metadata.managedFields[0].manager}")
	if err != nil {
		t.Fatalf("direct get: %v", err)
	}
	if out != "kubectl-client-side-apply" {
		t.Errorf("field manager = %q", out)
	}
}

func TestNonAdminForbiddenDownstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := shared.server.CreateUser(ctx, shared.adminToken, "bob", "correct-horse-battery", false); err != nil {
		t.Fatalf("create user: %v", err)
	}
	bob, err := shared.server.Login(ctx, "bob", "correct-horse-battery")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	// Bob holds no binding in the cluster: Drover issues no kubeconfig for
	// it...
	_, err = shared.server.Kubeconfig(ctx, bob, []string{shared.clusterID}, "1h")
	var apiErr *harness.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 403 || !strings.Contains(apiErr.Body, `user \"bob\" is not a member`) {
		t.Errorf("kubeconfig for a non-member: %v, want 403 not a member", err)
	}
	// ...and its proxy refuses him before anything reaches the cluster,
	// whatever token he brings.
	kc := handKubeconfig(t, bob)
	_, err = kubectl(ctx, t, kc, "get", "ns")
	var kerr *kubectlError
	if !errors.As(err, &kerr) {
		t.Fatalf("get ns as bob succeeded or failed oddly: %v", err)
	}
	// kubectl fails at discovery and cannot decode the Status there, so it
	// prints "Forbidden: unknown"; the answer itself names the reason.
	if !strings.Contains(kerr.stderr, "Error from server (Forbidden)") {
		t.Errorf("stderr = %q, want a Forbidden error", kerr.stderr)
	}
	var raw []byte
	err = shared.server.Do(ctx, "GET", "/k8s/clusters/"+shared.clusterID+"/api/v1/namespaces", bob, nil, &raw)
	want := fmt.Sprintf(`user \"bob\" is not a member of cluster \"%s\"`, shared.clusterID)
	if !errors.As(err, &apiErr) || apiErr.Code != 403 || !strings.Contains(apiErr.Body, want) || !strings.Contains(apiErr.Body, `"kind":"Status"`) {
		t.Errorf("list namespaces as bob: %v, want 403 Status containing %s", err, want)
	}
}

// handKubeconfig writes a kubeconfig for the shared cluster by hand, for a
// bearer token Drover would not put in one.
func handKubeconfig(t *testing.T, bearer string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: shared.server.URL + "/k8s/clusters/" + shared.clusterID,
		CertificateAuthorityData: shared.server.CAPEM}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: bearer}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRefusedUpgradeThroughRealAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})
	_, err := kubectl(ctx, t, kc, "exec", "-n", "default", "no-such-pod", "--", "true")
	var kerr *kubectlError
	if !errors.As(err, &kerr) {
		t.Fatalf("exec into a missing pod: %v", err)
	}
	if want := `pods "no-such-pod" not found`; !strings.Contains(kerr.stderr, want) {
		t.Errorf("stderr = %q, want %q", kerr.stderr, want)
	}
}

func TestRevokedKubeconfigToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})
	if _, err := kubectl(ctx, t, kc, "get", "ns", "default"); err != nil {
		t.Fatalf("before revoke: %v", err)
	}
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(cfg.AuthInfos["admin@e2e"].Token, ":")
	if err := shared.server.Do(ctx, "DELETE", "/v3/tokens/"+id, shared.adminToken, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = kubectl(ctx, t, kc, "get", "ns", "default")
	var kerr *kubectlError
	if !errors.As(err, &kerr) || !strings.Contains(kerr.stderr, "Unauthorized") {
		t.Fatalf("after revoke: err %v, want Unauthorized", err)
	}
}

func TestRevokeEndsOpenWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(cfg.AuthInfos["admin@e2e"].Token, ":")
	watch := startKubectlWatch(ctx, t, kc, "get", "ns", "-w")
	// Revoked once kubectl has printed the list and so moves on to the
	// watch: a fixed wait could end, on a loaded machine, before kubectl
	// connected, and the test would pass with no open watch to end.
	watch.waitListed(t, 30*time.Second)
	time.Sleep(200 * time.Millisecond) // the watch request follows the list at once
	select {
	case err := <-watch.ended:
		t.Fatalf("watch ended before the revocation: %v %s", err, watch.stderr.String())
	default:
	}
	if err := shared.server.Do(ctx, "DELETE", "/v3/tokens/"+id, shared.adminToken, nil, nil); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	select {
	case <-watch.ended:
		t.Logf("the open watch ended %v after its token was revoked", time.Since(revoked).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		watch.cmd.Process.Kill()
		t.Fatal("the watch outlived its revoked token by 5s")
	}
	_, err = kubectl(ctx, t, kc, "get", "ns", "default")
	var kerr *kubectlError
	if !errors.As(err, &kerr) || !strings.Contains(kerr.stderr, "Unauthorized") {
		t.Fatalf("next call after revoke: %v, want Unauthorized", err)
	}
}

func TestSessionJWT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := shared.server.Login(ctx, "admin", shared.server.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(s, ".") != 2 {
		t.Fatalf("login did not return a JWT: %d dots", strings.Count(s, "."))
	}
	var me struct{ Username, TokenID string }
	if err := shared.server.Do(ctx, "GET", "/v3/users/me", s, nil, &me); err != nil || me.Username != "admin" {
		t.Fatalf("me with the session JWT: %+v %v", me, err)
	}
	// Flip one character of the signature: refused.
	forged := s[:len(s)-2] + map[bool]string{true: "A", false: "B"}[s[len(s)-2] != 'A'] + s[len(s)-1:]
	var apiErr *harness.APIError
	if err := shared.server.Do(ctx, "GET", "/v3/users/me", forged, nil, nil); !errors.As(err, &apiErr) || apiErr.Code != 401 {
		t.Errorf("forged JWT: %v, want 401", err)
	}
	if err := shared.server.Do(ctx, "POST", "/v3/logout", s, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := shared.server.Do(ctx, "GET", "/v3/users/me", s, nil, nil); !errors.As(err, &apiErr) || apiErr.Code != 401 {
		t.Errorf("JWT after logout: %v, want 401", err)
	}
}

// kubectlWatch is a running `kubectl get -w`. kubectl prints the current
// list first and opens the watch right after; the first line of output is
// the sign that it is about to.
type kubectlWatch struct {
	cmd    *exec.Cmd
	listed chan bool  // one value: whether a first line came
	ended  chan error // kubectl's exit, once its output is read
	stderr bytes.Buffer
}

func startKubectlWatch(ctx context.Context, t *testing.T, kubeconfig string, args ...string) *kubectlWatch {
	t.Helper()
	w := &kubectlWatch{listed: make(chan bool, 1), ended: make(chan error, 1)}
	w.cmd = exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	w.cmd.Stderr = &w.stderr
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(out)
		_, err := r.ReadString('\n')
		w.listed <- err == nil
		io.Copy(io.Discard, r)
		w.ended <- w.cmd.Wait()
	}()
	return w
}

// waitListed fails the test unless kubectl printed its list within d.
func (w *kubectlWatch) waitListed(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ok := <-w.listed:
		if !ok {
			t.Fatalf("kubectl %v ended before printing the list", w.cmd.Args[1:])
		}
	case <-time.After(d):
		t.Fatalf("kubectl %v printed no list in %v", w.cmd.Args[1:], d)
	}
}
