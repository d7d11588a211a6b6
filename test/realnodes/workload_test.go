package realnodes

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// workload is a Deployment of the busybox image serving an index page.
const workload = `apiVersion: v1
kind: Namespace
metadata:
  name: work
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: work
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
        image: ` + busyboxImage + `
        imagePullPolicy: Never
        command: ["sh", "-c", "echo hello-drover > /www/index.html && exec httpd -f -v -p 8080 -h /www"]
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: counter
  namespace: work
spec:
  restartPolicy: Never
  containers:
  - name: counter
    image: ` + busyboxImage + `
    imagePullPolicy: Never
    command: ["sh", "-c", "sleep 2; for i in 1 2 3 4 5; do echo line $i; sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata:
  name: reader
  namespace: work
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: reader
    image: ` + busyboxImage + `
    imagePullPolicy: Never
    stdin: true
    command:
    - sh
    - -c
    - 'while read l; do echo "got-$l"; if [ "$l" = bye ]; then exit 0; fi; done'
---
apiVersion: v1
kind: Pod
metadata:
  name: reader-spdy
  namespace: work
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: reader
    image: ` + busyboxImage + `
    imagePullPolicy: Never
    stdin: true
    command:
    - sh
    - -c
    - 'while read l; do echo "got-$l"; if [ "$l" = bye ]; then exit 0; fi; done'
`

// kubectlFn builds a kubectl command with a kubeconfig.
type kubectlFn func(ctx context.Context, kubeconfig string, args ...string) *exec.Cmd

// kubectlCmd is kubectl with kubeconfig, forcing the WebSocket protocols
// for the streaming verbs (kubectl's default, made explicit).
func kubectlCmd(ctx context.Context, kubeconfig string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = kubectlEnv()
	return cmd
}

// kubectlSPDY is kubectl with kubeconfig using SPDY for the streaming
// verbs, as kubectl did before WebSockets.
func kubectlSPDY(ctx context.Context, kubeconfig string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false")
	return cmd
}

// kubectlEnv is the environment kubectl runs with.
func kubectlEnv() []string {
	return append(os.Environ(), "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true", "KUBECTL_PORT_FORWARD_WEBSOCKETS=true")
}

func testWorkload(t *testing.T, kc string) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	apply := kubectlCmd(ctx, kc, "apply", "-f", "-")
	apply.Stdin = strings.NewReader(workload)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	kubectl(ctx, t, kc, "-n", "work", "rollout", "status", "deployment/web", "--timeout=120s")
	kubectl(ctx, t, kc, "-n", "work", "wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
	pod := strings.TrimSpace(kubectl(ctx, t, kc, "-n", "work", "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"))

	t.Run("logs -f returns when the container exits", func(t *testing.T) {
		kubectl(ctx, t, kc, "-n", "work", "wait", "--for=jsonpath={.status.phase}=Running", "pod/counter", "--timeout=60s")
		lctx, lcancel := context.WithTimeout(ctx, 60*time.Second)
		defer lcancel()
		began := time.Now()
		out, err := kubectlCmd(lctx, kc, "-n", "work", "logs", "-f", "counter").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl logs -f: %v\n%s", err, out)
		}
		if want := "line 1\nline 2\nline 3\nline 4\nline 5\n"; string(out) != want {
			t.Errorf("logs -f: %q, want %q", out, want)
		}
		t.Logf("logs -f returned after %v", time.Since(began).Round(time.Millisecond))
	})

	t.Run("exec with stdin", func(t *testing.T) { testExecStdin(ctx, t, kubectlCmd, kc, pod) })
	t.Run("port-forward", func(t *testing.T) { testPortForward(ctx, t, kubectlCmd, kc, pod) })

	t.Run("cp both ways", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "big")
		data := make([]byte, 10<<20)
		rand.Read(data)
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(data)
		kubectl(ctx, t, kc, "-n", "work", "cp", src, pod+":/tmp/big")
		inPod := kubectl(ctx, t, kc, "-n", "work", "exec", pod, "--", "sha256sum", "/tmp/big")
		if got, _, _ := strings.Cut(inPod, " "); got != hex.EncodeToString(want[:]) {
			t.Errorf("sha256 in the pod: %q, want %s", inPod, hex.EncodeToString(want[:]))
		}
		back := filepath.Join(dir, "back")
		kubectl(ctx, t, kc, "-n", "work", "cp", pod+":/tmp/big", back)
		got, err := os.ReadFile(back)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != want {
			t.Errorf("copied back %d bytes with another checksum", len(got))
		}
	})

	t.Run("exec -it with a TTY", func(t *testing.T) { testExecTTY(ctx, t, kc, pod) })
	t.Run("attach", func(t *testing.T) { testAttach(ctx, t, kubectlCmd, kc, "reader") })
	t.Run("streams went over WebSocket", func(t *testing.T) { testUpgradesSeen(ctx, t, 0, "websocket") })
	t.Run("SPDY", func(t *testing.T) {
		from := serverLogSize(t)
		t.Run("exec with stdin", func(t *testing.T) { testExecStdin(ctx, t, kubectlSPDY, kc, pod) })
		t.Run("port-forward", func(t *testing.T) { testPortForward(ctx, t, kubectlSPDY, kc, pod) })
		t.Run("attach", func(t *testing.T) { testAttach(ctx, t, kubectlSPDY, kc, "reader-spdy") })
		t.Run("streams went over SPDY", func(t *testing.T) { testUpgradesSeen(ctx, t, from, "SPDY/3.1") })
	})
	t.Run("helm install --wait and uninstall", func(t *testing.T) { testHelm(ctx, t, kc) })
}

// testExecStdin sends 1 MiB to sha256sum in the pod with kubectl exec -i.
func testExecStdin(ctx context.Context, t *testing.T, run kubectlFn, kc, pod string) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	cmd := run(ctx, kc, "-n", "work", "exec", "-i", pod, "--", "sha256sum")
	cmd.Stdin = bytes.NewReader(data)
	// Standard output only: under load kubectl may log "Unknown stream id
	// 1, discarding message" on stderr (client-go's WebSocket reader
	// starting before its streams exist; the sum below shows whether
	// anything of the output was lost).
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl exec -i: %v\n%s%s", err, out, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("kubectl exec -i stderr: %s", stderr.String())
	}
	if got, _, _ := strings.Cut(string(out), " "); got != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 of stdin in the pod: %q, want %s", out, hex.EncodeToString(sum[:]))
	}
}

// testPortForward forwards a local port to the pod's httpd and GETs the
// index page through it.
func testPortForward(ctx context.Context, t *testing.T, run kubectlFn, kc, pod string) {
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	cmd := run(pctx, kc, "-n", "work", "port-forward", "--address", "127.0.0.1", "pod/"+pod, ":8080")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pcancel(); _ = cmd.Wait() }()
	// "Forwarding from 127.0.0.1:PORT -> 8080"
	sc := bufio.NewScanner(stdout)
	var addr string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Forwarding from "); ok {
			addr, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if addr == "" {
		t.Fatalf("port-forward printed no address; stderr: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	for i := range 3 {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("GET %d through port-forward: %v; stderr: %s", i, err, stderr.String())
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello-drover\n" {
			t.Errorf("GET %d: %d %q", i, resp.StatusCode, body)
		}
	}
}
