package realnodes

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The chart testHelm installs: a Deployment of the busybox image serving
// HTTP, Ready once its port answers, and a Service in front of it.
var helloChart = map[string]string{
	"Chart.yaml": `apiVersion: v2
name: hello
version: 0.1.0
`,
	"values.yaml": `image: ` + busyboxImage + `
`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {{ .Values.image }}
        imagePullPolicy: Never
        command: ["httpd", "-f", "-p", "8080"]
        ports:
        - containerPort: 8080
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
`,
	"templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports:
  - port: 80
    targetPort: 8080
`,
}

// helmBin is the pinned helm: $HELM as the Makefile exports it, else where
// `make helm` puts it.
func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		h = filepath.Join(home, ".cache", "drover", "tools", "helm-v3.19.5", "helm")
	}
	if _, err := os.Stat(h); err != nil {
		t.Fatalf("helm at %s: %v: run `make helm` or set $HELM", h, err)
	}
	return h
}

// testHelm installs the chart through Drover with --wait, checks what it
// made and uninstalls it with --wait.
func testHelm(ctx context.Context, t *testing.T, kc string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	chart := filepath.Join(dir, "hello")
	for name, body := range helloChart {
		path := filepath.Join(chart, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := helmBin(t)
	helm := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kc, "--namespace", "charts"}, args...)...)
		// A private helm home: neither the machine's helm config nor its
		// repositories play a part.
		cmd.Env = append(os.Environ(),
			"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
			"HELM_DATA_HOME="+filepath.Join(dir, "data"),
		)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return string(out)
	}

	began := time.Now()
	helm("install", "hello", chart, "--create-namespace", "--wait", "--timeout", "90s")
	t.Logf("helm install --wait took %v", time.Since(began).Round(time.Millisecond))
	if got := kubectl(ctx, t, kc, "-n", "charts", "get", "deployment/hello-web", "-o", "jsonpath={.status.readyReplicas}"); got != "1" {
		t.Errorf("ready replicas after helm install --wait: %q, want 1", got)
	}
	if got := kubectl(ctx, t, kc, "-n", "charts", "get", "endpointslices", "-l", "kubernetes.io/service-name=hello-web",
		"-o", "jsonpath={.items[*].endpoints[*].addresses[*]}"); got == "" {
		t.Error("the chart's Service has no endpoint after helm install --wait")
	}
	var status struct{ Info struct{ Status string } }
	if err := json.Unmarshal([]byte(helm("status", "hello", "-o", "json")), &status); err != nil {
		t.Errorf("helm status -o json: %v", err)
	} else if status.Info.Status != "deployed" {
		t.Errorf("helm status: %q, want deployed", status.Info.Status)
	}

	began = time.Now()
	helm("uninstall", "hello", "--wait", "--timeout", "60s")
	t.Logf("helm uninstall --wait took %v", time.Since(began).Round(time.Millisecond))
	if got := kubectl(ctx, t, kc, "-n", "charts", "get", "deployment,service", "--ignore-not-found", "-o", "name"); got != "" {
		t.Errorf("left after helm uninstall --wait: %q", got)
	}
}
