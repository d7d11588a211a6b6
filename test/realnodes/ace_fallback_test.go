package realnodes

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
)

// aceUser is what the authorized endpoint tests know of their user: its
// kubeconfig, the context straight to the apiserver and the one through
// Drover, its login session and kubeconfig token id.
type aceUser struct {
	kc, direct, viaDrover string
	cfg                   *clientcmdapi.Config
	name, session         string
	tokenID               string
}

// whoami runs `kubectl auth whoami` in context ctxName and returns
// "<user> [<token id>]".
func (u aceUser) whoami(ctx context.Context, kc string) (string, string, error) {
	return kubectlOut(ctx, kc, "--context", u.direct, "--request-timeout", "15s", "auth", "whoami", "-o",
		"jsonpath={.status.userInfo.username} {.status.userInfo.extra.drover\\.dev/token-id}")
}

// shortToken mints a token of u's scoped to the cluster that lives ttl and
// writes u's kubeconfig with it; it returns the kubeconfig and the expiry.
func shortToken(ctx context.Context, t *testing.T, u aceUser, id string, ttl time.Duration) (string, time.Time) {
	t.Helper()
	var short struct {
		Token     string
		ExpiresAt time.Time
	}
	if err := shared.Server.Do(ctx, http.MethodPost, "/v3/tokens", u.session,
		map[string]string{"clusterId": id, "ttl": ttl.String()}, &short); err != nil {
		t.Fatal(err)
	}
	cfg := u.cfg.DeepCopy()
	cfg.AuthInfos[cfg.Contexts[u.direct].AuthInfo].Token = short.Token
	// Outlives this subtest: the expiry is checked after later ones.
	path := filepath.Join(shared.Dir, "short-kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	shortID, _, _ := strings.Cut(short.Token, ":")
	waitSynced(ctx, t, shortID, short.ExpiresAt)
	if _, stderr, err := u.whoami(ctx, path); err != nil {
		if time.Now().After(short.ExpiresAt) {
			t.Fatalf("the machine was too slow to use the short-lived token before its expiry: %v %s", err, stderr)
		}
		t.Fatalf("short-lived token before expiry: %v %s", err, stderr)
	}
	return path, short.ExpiresAt
}

// waitSynced waits until the hash of token id is in the cluster (Drover's
// controller syncs it through the tunnel), failing at before.
func waitSynced(ctx context.Context, t *testing.T, id string, before time.Time) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(shared.Cluster.RESTConfig())
	for {
		if _, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, downstream.TokenSecretPrefix+id, metav1.GetOptions{}); err == nil {
			return
		}
		if time.Now().After(before) || ctx.Err() != nil {
			t.Fatalf("token %s was not synced to the cluster before %v", id, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// aceServerDown: with drover-server killed, the context straight to the
// apiserver still works as the same user (the kube-api-auth pod answers the
// apiserver), the context through Drover does not; then the server comes
// back on the same address and the agent pods reconnect.
func aceServerDown(ctx context.Context, t *testing.T, u aceUser, want, id string, alsoWhileDown func(*testing.T)) {
	e := shared
	e.Server.Kill()
	down := time.Now()
	if out, stderr, err := u.whoami(ctx, u.kc); err != nil || out != want {
		t.Errorf("whoami straight to the apiserver with Drover down = %q, %v %s; want %q", out, err, stderr, want)
	}
	if _, stderr, err := kubectlOut(ctx, u.kc, "--context", u.direct, "get", "ns", "kube-system"); err != nil {
		t.Errorf("get ns straight to the apiserver with Drover down: %v %s", err, stderr)
	}
	if _, _, err := kubectlOut(ctx, u.kc, "--context", u.viaDrover, "--request-timeout", "5s", "get", "ns", "kube-system"); err == nil {
		t.Error("the context through Drover worked while Drover was down")
	}
	alsoWhileDown(t)
	if err := e.Server.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Server.WaitConnected(ctx, e.Admin, id, "cluster"); err != nil {
		t.Fatal(err)
	}
	t.Logf("server killed, restarted, and the cluster agent pod's tunnel back %v after the kill", time.Since(down).Round(time.Millisecond))
}

// aceRevoked: a revoked token is refused straight at the apiserver once its
// 10 s success cache has passed; the controller left the serving
// certificate the test installed alone.
func aceRevoked(ctx context.Context, t *testing.T, u aceUser) {
	e := shared
	if err := e.Server.Do(ctx, http.MethodDelete, "/v3/tokens/"+u.tokenID, e.Admin, nil, nil); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for {
		_, stderr, err := u.whoami(ctx, u.kc)
		if err != nil && strings.Contains(stderr, "Unauthorized") {
			break
		}
		if time.Since(revoked) > time.Minute {
			t.Fatalf("revoked token still accepted straight at the apiserver after a minute (last: %v %s)", err, stderr)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// kube-apiserver caches a successful token review for 10s
	// (TokenSuccessCacheTTL, not a flag); Drover's part (the deletion
	// synced to kube-api-auth) is immediate. Slack for a loaded machine.
	revokedIn := time.Since(revoked)
	t.Logf("the apiserver refused the revoked token %v after the revocation", revokedIn.Round(time.Millisecond))
	if revokedIn > 15*time.Second {
		t.Errorf("revocation took %v to reach the authorized endpoint; the bound is 10s after the last use", revokedIn)
	}
	cs := kubernetes.NewForConfigOrDie(e.Cluster.RESTConfig())
	s, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, downstream.AuthEndpointTLSSecret, metav1.GetOptions{})
	if err != nil || string(s.Data["ca.crt"]) != string(e.ACE.TLS.CACert) {
		t.Errorf("the controller replaced the existing serving certificate (%v)", err)
	}
}

// aceExpired: past its expiry (and the apiserver's success cache), a
// token is refused straight at the apiserver.
func aceExpired(ctx context.Context, t *testing.T, u aceUser, kc string, expires time.Time) {
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(time.Until(expires) + 11*time.Second):
	}
	if _, stderr, err := u.whoami(ctx, kc); err == nil || !strings.Contains(stderr, "Unauthorized") {
		t.Errorf("expired token straight at the apiserver: %v %s, want Unauthorized", err, stderr)
	}
}

// aceMembersOnly: only a member of the cluster gets a token scoped to it,
// so only members' tokens reach kube-api-auth; losing the last binding
// removes the member's tokens from the cluster.
func aceMembersOnly(ctx context.Context, t *testing.T, id string) {
	e := shared
	const user, password = "ace-member", "correct-horse-battery"
	if err := e.Server.CreateUser(ctx, e.Admin, user, password, false); err != nil {
		t.Fatal(err)
	}
	session, err := e.Server.Login(ctx, user, password)
	if err != nil {
		t.Fatal(err)
	}
	var scoped struct{ Token string }
	mint := func() error {
		return e.Server.Do(ctx, http.MethodPost, "/v3/tokens", session, map[string]string{"clusterId": id, "ttl": "1h"}, &scoped)
	}
	var apiErr *harness.APIError
	if err := mint(); !errors.As(err, &apiErr) || apiErr.Code != http.StatusForbidden {
		t.Fatalf("a non-member minted a token scoped to the cluster: %v, want 403", err)
	}
	b, err := e.Server.CreateBinding(ctx, e.Admin, harness.Binding{Scope: "cluster", ClusterID: id,
		Role: "cluster-member", SubjectKind: "user", Subject: user})
	if err != nil {
		t.Fatal(err)
	}
	if err := mint(); err != nil {
		t.Fatalf("a member could not mint a scoped token: %v", err)
	}
	tokenID, _, _ := strings.Cut(scoped.Token, ":")
	waitSynced(ctx, t, tokenID, time.Now().Add(time.Minute))
	if err := e.Server.DeleteBinding(ctx, e.Admin, b.ID); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	cs := kubernetes.NewForConfigOrDie(e.Cluster.RESTConfig())
	for {
		_, err := cs.CoreV1().Secrets(downstream.Namespace).Get(ctx, downstream.TokenSecretPrefix+tokenID, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the token of a user who lost the cluster stayed synced to kube-api-auth")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the former member's token left the cluster %v after the binding was deleted", time.Since(removed).Round(time.Millisecond))
}
