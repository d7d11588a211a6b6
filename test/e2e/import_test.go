package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/test/harness"
)

// TestImportAndRotate: the import URL serves a manifest kubectl applies; a
// rotation pushes fresh tokens into the running cluster's Secrets and keeps
// the old ones for the grace period only: after it, an agent still holding
// the old token loses its tunnel and cannot open another.
func TestImportAndRotate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server"),
		Args: []string{"--registration-grace", "3s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(10 * time.Second)
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Cluster      struct{ ID string }
		Registration struct {
			Token, ImportURL, ImportCommand string
		}
	}
	if err := srv.Do(ctx, http.MethodPost, "/v3/clusters", admin, map[string]string{"name": "imported"}, &created); err != nil {
		t.Fatal(err)
	}
	id, reg := created.Cluster.ID, created.Registration
	if !strings.Contains(reg.ImportCommand, "sha256sum -c") || !strings.HasSuffix(reg.ImportURL, ".yaml") {
		t.Errorf("import command %q / url %q", reg.ImportCommand, reg.ImportURL)
	}

	// The manifest, fetched as the import command does, applied with kubectl.
	var yaml []byte
	if err := srv.Do(ctx, http.MethodGet, strings.TrimPrefix(reg.ImportURL, srv.URL), "", nil, &yaml); err != nil {
		t.Fatal(err)
	}
	direct := filepath.Join(shared.dir, "direct-kubeconfig")
	apply := exec.CommandContext(ctx, "kubectl", "--kubeconfig", direct, "apply", "-f", "-")
	apply.Stdin = bytes.NewReader(yaml)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	// Applying it again changes nothing (server-side dry run).
	again := exec.CommandContext(ctx, "kubectl", "--kubeconfig", direct, "apply", "--dry-run=server", "-f", "-")
	again.Stdin = bytes.NewReader(yaml)
	out, err := again.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.Contains(line, "unchanged") {
			t.Errorf("re-applying the manifest would change something: %q", line)
		}
	}
	cs := kubernetes.NewForConfigOrDie(shared.cluster.RESTConfig())
	secretToken := func(name string) string {
		s, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["token"])
	}
	if got := secretToken(manifest.CredentialsSecret); got != reg.Token {
		t.Fatal("the applied Secret does not hold the registration token")
	}
	// An unknown token, or the node token, serves no manifest.
	for _, bad := range []string{"/v3/import/r-nope:x.yaml", "/v3/import/" + secretToken(manifest.NodeCredentialsSecret) + ".yaml"} {
		var apiErr *harness.APIError
		if err := srv.Do(ctx, http.MethodGet, bad, "", nil, nil); !asAPIError(err, &apiErr) || apiErr.Code != 404 {
			t.Errorf("GET %s: %v, want 404", bad, err)
		}
	}

	// The rotation is pushed through the tunnel, and this cluster has no
	// nodes to run the manifest's pods: an agent process with the
	// registration token carries it. That agents pick a rotated token up
	// from their Secret volumes, as pods, is test/realnodes' job.
	agent, err := harness.StartAgent(harness.AgentOptions{Bin: shared.bins.Agent, Dir: filepath.Join(dir, "agents"),
		ServerURL: srv.URL, CAChecksum: srv.CAChecksum, Token: reg.Token, Kubeconfig: direct, Kind: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop(5 * time.Second)
	if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}

	// Rotate: new tokens land in the cluster's Secrets.
	var rot struct {
		Registration   struct{ Token, NodeToken string }
		PushedToAgents bool
	}
	if err := srv.Do(ctx, http.MethodPost, "/v3/clusters/"+id+"/registration-tokens", admin, nil, &rot); err != nil {
		t.Fatal(err)
	}
	if !rot.PushedToAgents {
		t.Fatal("rotation did not reach the connected cluster")
	}
	if secretToken(manifest.CredentialsSecret) != rot.Registration.Token || secretToken(manifest.NodeCredentialsSecret) != rot.Registration.NodeToken {
		t.Fatal("the cluster's Secrets do not hold the rotated tokens")
	}
	if rot.Registration.Token == reg.Token {
		t.Fatal("rotation returned the same token")
	}
	// An agent still holding the old token (its file was never updated)
	// loses its tunnel when the grace ends and is refused when it tries
	// again; the old manifest URL is dead too.
	waitLog(t, srv, "agent's registration token ended; closing its tunnel", id, 1, time.Minute)
	// The refusal names no cluster: the token no longer leads to one.
	waitLog(t, srv, "agent connect refused", "", 1, time.Minute)
	var sessions struct {
		Tunnel struct{ Sessions int } `json:"tunnel"`
	}
	if err := srv.Do(ctx, http.MethodGet, "/v3/clusters/"+id, admin, nil, &sessions); err != nil {
		t.Fatal(err)
	}
	if sessions.Tunnel.Sessions != 0 {
		t.Errorf("%d sessions: an agent with a rotated-out token kept or got a tunnel after the grace", sessions.Tunnel.Sessions)
	}
	if err := srv.Do(ctx, http.MethodGet, strings.TrimPrefix(reg.ImportURL, srv.URL), "", nil, nil); err == nil {
		t.Error("the rotated-out token still serves a manifest after the grace period")
	}
}

func asAPIError(err error, target **harness.APIError) bool {
	e, ok := err.(*harness.APIError)
	if ok {
		*target = e
	}
	return ok
}
