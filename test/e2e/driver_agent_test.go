package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/test/harness"
)

// buildDriverLocal builds cmd/driver-local as dir/driver-local, the name
// --driver-dir looks for. It is built without -race: it is not what the
// tests race-check, and the build stays lean.
func buildDriverLocal(ctx context.Context, t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "driver-local")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/driver-local")
	cmd.Dir = harness.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build driver-local: %v\n%s", err, out)
	}
	return bin
}

// startAgentFromDeployment starts the cluster agent exactly as the
// Deployment Drover applied says (there is no kubelet here): its args and
// environment, the token from the Secret it mounts, and, standing in for the
// in-cluster config, the cluster's admin kubeconfig. The health port moves
// to a free loopback port, as a pod's own network would keep it private.
func startAgentFromDeployment(ctx context.Context, t *testing.T, adminKubeconfig, dir string) *harness.Process {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	dep, err := cs.AppsV1().Deployments(downstream.Namespace).Get(ctx, manifest.ClusterAgentName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the applied Deployment: %v", err)
	}
	sec, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, manifest.CredentialsSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the applied Secret: %v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, sec.Data["token"], 0o600); err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	var env []string
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("env %s comes from %v; this stand-in only knows values", e.Name, e.ValueFrom)
		}
		v := e.Value
		if e.Name == "CATTLE_TOKEN_FILE" {
			if v != manifest.TokenFile {
				t.Fatalf("CATTLE_TOKEN_FILE = %q, want the mounted Secret %q", v, manifest.TokenFile)
			}
			v = tokenFile
		}
		env = append(env, e.Name+"="+v)
	}
	args := append([]string(nil), c.Args...)
	for i := range args {
		if args[i] == "--health-listen" && i+1 < len(args) {
			addr, err := harness.FreeAddr()
			if err != nil {
				t.Fatal(err)
			}
			args[i+1] = addr
		}
	}
	args = append(args, "--kubeconfig", adminKubeconfig)
	p, err := harness.Start("agent-provisioned", shared.bins.Agent, args, env, filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// alive reports whether pid runs (a zombie does not: this sandbox's pid 1
// may never reap the orphans a driver leaves when it exits).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}

// processesMentioning lists the live processes whose command line or
// environment contains any of subs. The environment is what ties a driver
// to the server that launched it (its HOME is under the server's data dir):
// its command line names only a temporary directory, alike for every
// server's drivers, and other test runs on the machine have theirs.
func processesMentioning(subs ...string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		for _, s := range subs {
			if strings.Contains(cmd, s) || bytes.Contains(environ, []byte(s)) {
				out = append(out, fmt.Sprintf("%d: %.200s", pid, cmd))
				break
			}
		}
	}
	return out
}

// childrenOf lists the live children of pid (a stopped driver is reaped:
// it is not one).
func childrenOf(pid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || !alive(child) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, fmt.Sprintf("%d: %.200s", child, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	return out
}

// killMentioning kills what processesMentioning finds: the test's safety
// net when it fails before Remove.
func killMentioning(subs ...string) {
	for _, p := range processesMentioning(subs...) {
		pid, _ := strconv.Atoi(strings.SplitN(p, ":", 2)[0])
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
