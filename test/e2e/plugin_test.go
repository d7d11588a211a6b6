package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/cli"
)

// pluginTTL is the shared server's --plugin-token-ttl (main_test.go): short,
// so that the tests see tokens expire.
const pluginTTL = 10 * time.Second

// TestCredentialPlugin: the machine's kubectl with a kubeconfig from
// drover kubeconfig, whose credentials come from drover credential. The
// file holds no secret; the plugin mints a token of seconds (here) from the
// login session and caches it; two kubectl at once mint one token; a watch
// outlives its token; a request after the expiry gets a fresh one; when
// the session is revoked, kubectl says to log in again.
func TestCredentialPlugin(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv := shared.server
	const user, password = "plugin-user", "plugin-user-password-1234"
	if err := srv.CreateUser(ctx, shared.adminToken, user, password, true); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "drover")
	drover := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runBinary(t, shared.bins.CLI, stdin, append([]string{"--config-dir", dir}, args...)...)
	}
	if code, out, stderr := drover(password+"\n", "login", srv.URL, "--ca-checksum", srv.CAChecksum, "--username", user, "--password-stdin"); code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, out, stderr)
	}
	cfg, err := cli.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	session := cfg.Servers[srv.URL]

	code, kc, stderr := drover("", "kubeconfig", "--cluster", shared.clusterID)
	if code != 0 {
		t.Fatalf("drover kubeconfig: exit %d\n%s", code, stderr)
	}
	if strings.Contains(kc, session.Session) || regexp.MustCompile(`(?m)^\s*(token|tokenFile|password):`).MatchString(kc) {
		t.Errorf("the kubeconfig holds a secret:\n%s", kc)
	}
	var parsed struct {
		CurrentContext string `json:"current-context"`
		Users          []struct {
			User struct {
				Exec struct {
					Command         string   `json:"command"`
					Args            []string `json:"args"`
					InteractiveMode string   `json:"interactiveMode"`
				} `json:"exec"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal([]byte(kc), &parsed); err != nil || len(parsed.Users) != 1 {
		t.Fatalf("kubeconfig: %v\n%s", err, kc)
	}
	if ex := parsed.Users[0].User.Exec; !filepath.IsAbs(ex.Command) || ex.InteractiveMode != "IfAvailable" || parsed.CurrentContext != "e2e" {
		t.Errorf("exec %+v, current context %q; want an absolute command, IfAvailable, context e2e", ex, parsed.CurrentContext)
	}
	kcPath := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kcPath, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	mintedBy := func() int {
		b, _ := os.ReadFile(srv.LogPath)
		n := 0
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(line, "cluster credential issued") && strings.Contains(line, session.SessionID) {
				n++
			}
		}
		return n
	}
	// Two kubectl at once, with no cached token: one is minted.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = kubectl(ctx, t, kcPath, "get", "ns", "kube-system", "-o", "name") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("kubectl through the plugin: %v", err)
		}
	}
	if n := mintedBy(); n != 1 {
		t.Errorf("two kubectl at once minted %d tokens, want 1", n)
	}
	whoami, err := kubectl(ctx, t, kcPath, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil || whoami != user {
		t.Errorf("kubectl auth whoami = %q, %v; want %q", whoami, err, user)
	}

	// A watch that outlives its token: it started with the token just
	// minted and is still served past that token's expiry.
	w := startLineWatch(ctx, t, kcPath, "get", "ns", "-w", "-o", "name")
	w.wait(t, "namespace/kube-system", 30*time.Second)
	firstToken := mintedBy()
	time.Sleep(pluginTTL + 4*time.Second) // past the expiry, and the proxy's 2 s re-check of streams
	ns := fmt.Sprintf("plugin-%d", time.Now().UnixNano())
	if _, err := kubectl(ctx, t, shared.dir+"/direct-kubeconfig", "create", "ns", ns); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "namespace/"+ns, 30*time.Second)
	// A new request after the expiry: a fresh token.
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", ns, "-o", "name"); err != nil {
		t.Fatalf("kubectl after the first token expired: %v", err)
	}
	if n := mintedBy(); n <= firstToken {
		t.Errorf("after the expiry, %d tokens minted in all; want a fresh one past %d", n, firstToken)
	}

	// The session revoked: the watch ends, and kubectl says to log in.
	if err := srv.Do(ctx, http.MethodDelete, "/v3/tokens/"+session.SessionID, shared.adminToken, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.ended(30 * time.Second); err != nil {
		t.Error(err)
	}
	time.Sleep(pluginTTL * 3 / 4) // the cached token is due for a refresh
	_, err = kubectl(ctx, t, kcPath, "get", "ns", "kube-system")
	if err == nil || !strings.Contains(err.Error(), "drover login "+srv.URL) || strings.Contains(err.Error(), "goroutine") {
		t.Errorf("kubectl after the session was revoked: %v; want the plugin saying to run drover login", err)
	}
}

// lineWatch is a running kubectl whose output lines are collected.
type lineWatch struct {
	lines chan string
	done  chan error
}

func startLineWatch(ctx context.Context, t *testing.T, kubeconfig string, args ...string) *lineWatch {
	t.Helper()
	w := &lineWatch{lines: make(chan string, 1000), done: make(chan error, 1)}
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case w.lines <- sc.Text():
			default:
			}
		}
		err := cmd.Wait()
		w.done <- fmt.Errorf("kubectl %v ended: %v: %s", args, err, stderr.String())
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return w
}

// wait fails the test unless the watch prints want within d.
func (w *lineWatch) wait(t *testing.T, want string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l := <-w.lines:
			if l == want {
				return
			}
		case err := <-w.done:
			t.Fatalf("waiting for %q: %v", want, err)
		case <-timeout:
			t.Fatalf("the watch printed no %q in %v", want, d)
		}
	}
}

// ended returns nil once the watch's kubectl exits within d.
func (w *lineWatch) ended(d time.Duration) error {
	select {
	case <-w.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("the watch did not end within %v of the revocation", d)
	}
}
