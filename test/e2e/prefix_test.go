package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPathWithoutPrefix: `kubectl proxy` without --append-server-path
// drops the kubeconfig server's path (/k8s/clusters/<id>) and sends the
// bare Kubernetes path with the Drover token: the token's cluster answers,
// its health included, never Drover's own /healthz.
func TestPathWithoutPrefix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})

	cmd := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kc, "proxy", "--port", "0", "--address", "127.0.0.1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("kubectl proxy: %v", err)
	}
	_, addr, ok := strings.Cut(strings.TrimSpace(line), "Starting to serve on ")
	if !ok {
		t.Fatalf("kubectl proxy said %q", line)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The apiserver's verbose health, not Drover's "ok".
	if code, body := get("/healthz?verbose"); code != 200 || !strings.Contains(body, "[+]ping ok") || !strings.Contains(body, "healthz check passed") {
		t.Errorf("GET /healthz?verbose through kubectl proxy: %d %q, want the apiserver's checks", code, body)
	}
	want, err := kubectl(ctx, t, kc, "get", "--raw", "/version")
	if err != nil {
		t.Fatal(err)
	}
	code, body := get("/version")
	var v struct{ GitVersion string }
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.GitVersion == "" || strings.TrimSpace(body) != strings.TrimSpace(want) {
		t.Errorf("GET /version through kubectl proxy: %d %q; through the kubeconfig %q", code, body, want)
	}
	var ns struct{ Metadata struct{ Name string } }
	if code, body := get("/api/v1/namespaces/kube-system"); code != 200 || json.Unmarshal([]byte(body), &ns) != nil || ns.Metadata.Name != "kube-system" {
		t.Errorf("GET a namespace through kubectl proxy: %d %q", code, body)
	}
	// As the user, as with the prefix.
	resp, err := http.Post("http://"+addr+"/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
		strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var review struct {
		Status struct{ UserInfo struct{ Username string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || review.Status.UserInfo.Username != "admin" {
		t.Errorf("SelfSubjectReview through kubectl proxy: %d %v %+v, want user admin", resp.StatusCode, err, review)
	}
}
