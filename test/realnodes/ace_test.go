package realnodes

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/token"
)

// testAuthEndpoint (flow 6): with the cluster's authorized endpoint enabled
// in Drover, a Drover user's kubeconfig context "<name>-ace" goes straight
// to the apiserver, which authenticates the Drover token through its
// webhook: the import manifest's kube-api-auth pod (hostNetwork, on the
// control-plane node). A wrong secret for the same token id is refused, and
// the pod's log shows that review: the apiserver called that pod. With
// drover-server killed the context still works as the same user; a revoked
// token is refused within the apiserver's cache time; only members' tokens
// reach the cluster. It returns the check that a short token it minted is
// refused once expired, to run after other tests (its expiry passes
// meanwhile).
func testAuthEndpoint(t *testing.T, id string) (expired func(*testing.T)) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	e := shared
	if err := e.Server.Do(ctx, http.MethodPut, "/v3/clusters/"+id+"/auth-endpoint", e.Admin,
		map[string]string{"url": e.Cluster.URL, "caCert": string(e.Cluster.CAData)}, nil); err != nil {
		t.Fatal(err)
	}
	// A user of its own: a second kubeconfig of a user for the same cluster
	// replaces the token of the first, which the fault tests still use.
	const user, password = "ace-user", "ace-user-password-1234"
	if err := e.Server.CreateUser(ctx, e.Admin, user, password, true); err != nil {
		t.Fatal(err)
	}
	kc, cfg, tok := userKubeconfig(ctx, t, user, password, id)
	var direct, viaDrover string
	for name, c := range cfg.Contexts {
		if strings.HasSuffix(name, "-ace") {
			direct = name
			if got := cfg.Clusters[c.Cluster].Server; got != e.Cluster.URL {
				t.Errorf("context %s goes to %q, want the apiserver %q", name, got, e.Cluster.URL)
			}
		} else {
			viaDrover = name
		}
	}
	if direct == "" || viaDrover == "" {
		t.Fatalf("kubeconfig has no authorized endpoint context or none through Drover: %v", cfg.Contexts)
	}
	userToken := cfg.AuthInfos[cfg.Contexts[direct].AuthInfo].Token
	tokenID, _, _ := strings.Cut(userToken, ":")

	// The token's hash reaches cattle-system through the tunnel (Drover's
	// controller); until then kube-api-auth refuses it.
	issued := time.Now()
	whoami := []string{"--context", direct, "auth", "whoami", "-o",
		"jsonpath={.status.userInfo.username} {.status.userInfo.extra.drover\\.dev/token-id}"}
	var out []byte
	var err error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
		out, err = kubectlCmd(cctx, kc, whoami...).CombinedOutput()
		ccancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if diff := cmp.Diff(user+` ["`+tokenID+`"]`, string(out)); err != nil || diff != "" {
		t.Fatalf("kubectl auth whoami straight to the apiserver: %v (-want +got):\n%s", err, diff)
	}
	t.Logf("the apiserver took the Drover token %v after the kubeconfig was issued", time.Since(issued).Round(time.Millisecond))
	kubectl(ctx, t, kc, "--context", direct, "get", "ns", "kube-system")

	// The same token id with another secret: the apiserver asks the
	// webhook, kube-api-auth refuses it and logs why.
	fresh, err := token.New(ids.Token)
	if err != nil {
		t.Fatal(err)
	}
	wrong := token.Token{ID: tokenID, Secret: fresh.Secret}.String()
	cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
	out, err = kubectlCmd(cctx, kc, "--context", direct, "--token", wrong, "get", "ns", "kube-system").CombinedOutput()
	ccancel()
	if err == nil || !strings.Contains(strings.ToLower(string(out)), "unauthorized") {
		t.Fatalf("a wrong secret straight to the apiserver: %v, want Unauthorized\n%s", err, out)
	}
	cs := kubernetes.NewForConfigOrDie(e.Cluster.RESTConfig())
	pods, err := cs.CoreV1().Pods(downstream.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + manifest.ACEName})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("kube-api-auth pods: %v, %v", pods, err)
	}
	want := "token " + tokenID + ": wrong secret"
	for {
		log := kubectl(ctx, t, e.Direct, "-n", downstream.Namespace, "logs", pods.Items[0].Name)
		if strings.Contains(log, want) {
			if strings.Contains(log, fresh.Secret) || strings.Contains(log, strings.SplitN(userToken, ":", 2)[1]) {
				t.Error("kube-api-auth logged a token secret")
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("kube-api-auth pod %s never logged %q:\n%s", pods.Items[0].Name, want, log)
		}
		time.Sleep(200 * time.Millisecond)
	}

	u := aceUser{kc: kc, direct: direct, viaDrover: viaDrover, cfg: cfg, name: user, session: tok, tokenID: tokenID}
	// Minted now, checked last: its expiry passes while the rest runs.
	shortKC, expires := shortToken(ctx, t, u, id, 20*time.Second)
	plugin := startACEPlugin(ctx, t, user, password, id, u)
	t.Run("drover-server down", func(t *testing.T) {
		aceServerDown(ctx, t, u, user+` ["`+tokenID+`"]`, id, func(t *testing.T) { plugin.whileDown(ctx, t, user) })
	})
	t.Run("revoked token refused", func(t *testing.T) { aceRevoked(ctx, t, u) })
	t.Run("members only", func(t *testing.T) { aceMembersOnly(ctx, t, id) })
	if log := kubectl(ctx, t, e.Direct, "-n", downstream.Namespace, "logs", pods.Items[0].Name); strings.Contains(log, strings.SplitN(userToken, ":", 2)[1]) {
		t.Error("kube-api-auth logged a token secret")
	}
	// The short token expires while the next tests run.
	return func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		aceExpired(ctx, t, u, shortKC, expires)
	}
}
