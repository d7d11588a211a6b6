package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// TestAuthorizedClusterEndpoint: a cluster whose apiserver authenticates
// Drover tokens through kube-api-auth keeps serving users as themselves
// while the Drover server is down, and stops at once for a revoked token.
func TestAuthorizedClusterEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// kube-api-auth's address and certificate must be known before the
	// apiserver starts (its webhook config trusts that CA).
	ace, err := harness.NewAuthEndpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := testbed.Start(ctx, testbed.Options{Name: "ace", Logger: slog.New(slog.DiscardHandler), ExtraAPIServerArgs: ace.APIServer})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	direct := filepath.Join(dir, "direct")
	if err := cl.WriteKubeconfig(direct); err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cl.RESTConfig())
	if err := ace.InstallSecret(ctx, cs); err != nil {
		t.Fatal(err)
	}

	// A server of its own: this test kills it.
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(10 * time.Second)
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	id, reg, err := srv.CreateCluster(ctx, admin, "ace")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := harness.StartAgent(harness.AgentOptions{Bin: shared.bins.Agent, Dir: dir, ServerURL: srv.URL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: direct, Kind: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop(5 * time.Second)
	if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	// kube-api-auth, as its DaemonSet runs it: the auth-endpoint mode.
	authEP, err := ace.Start(ctx, shared.bins.Agent, direct, filepath.Join(dir, "kube-api-auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer authEP.Stop(5 * time.Second)

	if err := srv.Do(ctx, http.MethodPut, "/v3/clusters/"+id+"/auth-endpoint", admin,
		map[string]string{"url": cl.URL, "caCert": string(cl.CAData)}, nil); err != nil {
		t.Fatal(err)
	}
	b, err := srv.Kubeconfig(ctx, admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(dir, "kubeconfig")
	writeFile(t, kc, b)
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Contexts["ace-ace"]; !ok {
		t.Fatalf("kubeconfig has no direct context: %v", cfg.Contexts)
	}
	tokenID, _, _ := strings.Cut(cfg.AuthInfos["admin@ace"].Token, ":")

	// The controller syncs the token's hash into cattle-system, and left
	// the existing serving certificate alone.
	synced := time.Now()
	for {
		if _, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, downstream.TokenSecretPrefix+tokenID, metav1.GetOptions{}); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("token secret never synced")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("token hash synced to the cluster %.1fs after the kubeconfig was issued", time.Since(synced).Seconds())

	whoami := func() (string, error) {
		return kubectl(ctx, t, kc, "--context", "ace-ace", "auth", "whoami", "-o",
			"jsonpath={.status.userInfo.username} {.status.userInfo.groups} {.status.userInfo.extra.drover\\.dev/token-id}")
	}
	want := fmt.Sprintf(`admin ["drover:admins","system:authenticated"] ["%s"]`, tokenID)
	if out, err := whoami(); err != nil || out != want {
		t.Fatalf("direct whoami = %q, %v; want %q", out, err, want)
	}

	// Drover down: the direct context still works, as the same user.
	srv.Kill()
	if out, err := whoami(); err != nil || out != want {
		t.Fatalf("direct whoami with Drover down = %q, %v", out, err)
	}
	if _, err := kubectl(ctx, t, kc, "--context", "ace-ace", "get", "ns", "kube-system"); err != nil {
		t.Fatalf("get ns with Drover down: %v", err)
	}
	if _, err := kubectl(ctx, t, kc, "--context", "ace", "get", "ns", "kube-system"); err == nil {
		t.Fatal("the context through Drover worked while Drover was down")
	}

	// Drover back; the token revoked: the direct endpoint refuses it soon.
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Do(ctx, http.MethodDelete, "/v3/tokens/"+tokenID, admin, nil, nil); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for {
		_, err := whoami()
		var kerr *kubectlError
		if errors.As(err, &kerr) && strings.Contains(kerr.stderr, "Unauthorized") {
			break
		}
		if time.Since(revoked) > time.Minute {
			t.Fatalf("revoked token still accepted by the direct endpoint after a minute (last: %v)", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("direct endpoint refused the revoked token %.1fs after revocation", time.Since(revoked).Seconds())
	// kube-apiserver caches every successful token authentication for 10s
	// (TokenSuccessCacheTTL, not a flag), so a token used just before its
	// revocation keeps working that long; Drover's own part (syncing the
	// deletion to kube-api-auth) is immediate. Slack for a loaded CI machine.
	if revokedIn := time.Since(revoked); revokedIn > 15*time.Second {
		t.Errorf("revocation took %v to reach the authorized endpoint; the bound is 10s after the last use", revokedIn)
	}
	s, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, downstream.AuthEndpointTLSSecret, metav1.GetOptions{})
	if err != nil || string(s.Data["ca.crt"]) != string(ace.TLS.CACert) {
		t.Errorf("the controller replaced the existing serving certificate (%v)", err)
	}

	// An expired token is refused too. Its life is long enough to be synced
	// and used on a loaded machine; the test then waits for its expiry
	// (the server's clock) rather than for a fixed time.
	var short struct {
		Token     string
		ExpiresAt time.Time
	}
	if err := srv.Do(ctx, http.MethodPost, "/v3/tokens", admin, map[string]string{"clusterId": id, "ttl": "20s"}, &short); err != nil {
		t.Fatal(err)
	}
	shortKC := filepath.Join(dir, "short")
	cfg.AuthInfos["admin@ace"].Token = short.Token
	if err := clientcmd.WriteToFile(*cfg, shortKC); err != nil {
		t.Fatal(err)
	}
	shortID, _, _ := strings.Cut(short.Token, ":")
	for {
		if _, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, downstream.TokenSecretPrefix+shortID, metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(short.ExpiresAt) || ctx.Err() != nil {
			t.Fatalf("the short-lived token was not synced to the cluster before it expired at %v", short.ExpiresAt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := kubectl(ctx, t, shortKC, "--context", "ace-ace", "get", "ns", "default"); err != nil {
		if time.Now().After(short.ExpiresAt) {
			t.Fatalf("the machine was too slow to use the short-lived token before its expiry: %v", err)
		}
		t.Fatalf("short-lived token before expiry: %v", err)
	}
	// Past its expiry and past the apiserver's 10s success cache.
	time.Sleep(time.Until(short.ExpiresAt) + 11*time.Second)
	_, err = kubectl(ctx, t, shortKC, "--context", "ace-ace", "get", "ns", "default")
	if kerr := (*kubectlError)(nil); !errors.As(err, &kerr) || !strings.Contains(kerr.stderr, "Unauthorized") {
		b, _ := os.ReadFile(authEP.LogPath)
		t.Errorf("expired token through the authorized endpoint: %v, want Unauthorized\n%s", err, b[max(0, len(b)-2000):])
	}
	if log, _ := os.ReadFile(authEP.LogPath); strings.Contains(string(log), strings.SplitN(cfg.AuthInfos["admin@ace"].Token, ":", 2)[1]) {
		t.Error("kube-api-auth logged the token secret")
	}

	aceMembersOnly(ctx, t, srv, admin, id, cs)
}

// aceMembersOnly: only a member of the cluster gets a token scoped to it,
// so only members' tokens reach kube-api-auth; losing the last binding
// removes the member's tokens downstream.
func aceMembersOnly(ctx context.Context, t *testing.T, srv *harness.Server, admin, clusterID string, cs kubernetes.Interface) {
	t.Helper()
	const user = "ace-member"
	if err := srv.CreateUser(ctx, admin, user, "correct-horse-battery", false); err != nil {
		t.Fatal(err)
	}
	session, err := srv.Login(ctx, user, "correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	var scoped struct{ Token string }
	mint := func() error {
		return srv.Do(ctx, http.MethodPost, "/v3/tokens", session, map[string]string{"clusterId": clusterID, "ttl": "1h"}, &scoped)
	}
	var apiErr *harness.APIError
	if err := mint(); !errors.As(err, &apiErr) || apiErr.Code != http.StatusForbidden {
		t.Fatalf("a non-member minted a token scoped to the cluster: %v, want 403", err)
	}
	b, err := srv.CreateBinding(ctx, admin, harness.Binding{Scope: "cluster", ClusterID: clusterID,
		Role: "cluster-member", SubjectKind: "user", Subject: user})
	if err != nil {
		t.Fatal(err)
	}
	if err := mint(); err != nil {
		t.Fatalf("a member could not mint a scoped token: %v", err)
	}
	tokenID, _, _ := strings.Cut(scoped.Token, ":")
	secret := downstream.TokenSecretPrefix + tokenID
	exists := func() bool {
		_, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, secret, metav1.GetOptions{})
		return err == nil
	}
	for !exists() {
		if ctx.Err() != nil {
			t.Fatal("the member's token was never synced to the cluster")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := srv.DeleteBinding(ctx, admin, b.ID); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	for exists() {
		if ctx.Err() != nil {
			t.Fatal("the token of a user who lost the cluster stayed synced to kube-api-auth")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the former member's token left the cluster %.1fs after the binding was deleted", time.Since(removed).Seconds())
}
