package realnodes

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// acePlugin is a user of drover's credential plugin: its config directory,
// the kubeconfig drover kubeconfig wrote, and its two contexts.
type acePlugin struct {
	dir, kc, viaDrover, direct string
}

// startACEPlugin logs user in with the drover command and writes its
// kubeconfig: no token in it, kubectl runs drover credential. The -ace
// context works straight at the apiserver once the plugin-ace token has
// reached kube-api-auth (within seconds: the server syncs it at once).
func startACEPlugin(ctx context.Context, t *testing.T, user, password, id string, u aceUser) acePlugin {
	t.Helper()
	e := shared
	// The contexts are named as in the server's kubeconfig (package
	// kubeconfig builds both).
	p := acePlugin{dir: filepath.Join(t.TempDir(), "drover"), viaDrover: u.viaDrover, direct: u.direct}
	drover := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, e.Bins.CLI, append([]string{"--config-dir", p.dir}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("drover %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	drover(password+"\n", "login", e.Server.URL, "--ca-checksum", e.Server.CAChecksum, "--username", user, "--password-stdin")
	kc := drover("", "kubeconfig", "--cluster", id)
	if regexp.MustCompile(`(?m)^\s*(token|tokenFile|password):`).MatchString(kc) {
		t.Fatalf("drover kubeconfig holds a token:\n%s", kc)
	}
	p.kc = filepath.Join(t.TempDir(), "plugin-kubeconfig")
	if err := os.WriteFile(p.kc, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for {
		out, stderr, err := kubectlOut(ctx, p.kc, "--context", p.direct, "--request-timeout", "15s", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err == nil && out == user {
			break
		}
		if ctx.Err() != nil || time.Since(began) > time.Minute {
			t.Fatalf("the plugin's -ace context never worked: %q %v %s", out, err, stderr)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the plugin's -ace context worked %v after its first use", time.Since(began).Round(time.Millisecond))
	return p
}

// whileDown: with drover-server down, the -ace context still works, from
// the cached plugin-ace token, even when that token is due for a refresh
// the server cannot give (drover credential says so on stderr); the
// context through Drover fails, saying the server cannot be reached.
func (p acePlugin) whileDown(ctx context.Context, t *testing.T, user string) {
	t.Helper()
	if out, stderr, err := kubectlOut(ctx, p.kc, "--context", p.direct, "--request-timeout", "15s", "get", "ns", "kube-system", "-o", "name"); err != nil {
		t.Errorf("the plugin's -ace context with Drover down: %q %v %s", out, err, stderr)
	}
	// Make the cached token due for a refresh, as hours later: its
	// creation moved back (the cache is the plugin's own file).
	caches, _ := filepath.Glob(filepath.Join(p.dir, "credentials", "*-ace.json"))
	if len(caches) != 1 {
		t.Fatalf("cached -ace credentials: %v", caches)
	}
	b, err := os.ReadFile(caches[0])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["createdAt"] = time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339Nano)
	b, _ = json.Marshal(c)
	if err := os.WriteFile(caches[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := kubectlOut(ctx, p.kc, "--context", p.direct, "--request-timeout", "15s", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if err != nil || out != user || !strings.Contains(stderr, "cannot be reached") {
		t.Errorf("a refresh due with Drover down: %q %v, stderr %q; want %s from the cache, and the plugin saying the server cannot be reached", out, err, stderr, user)
	}
	if _, stderr, err := kubectlOut(ctx, p.kc, "--context", p.viaDrover, "--request-timeout", "10s", "get", "ns", "kube-system"); err == nil {
		t.Error("the plugin's context through Drover worked with Drover down")
	} else if strings.Contains(stderr, "goroutine") {
		t.Errorf("the plugin crashed:\n%s", stderr)
	}
}
