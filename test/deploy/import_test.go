package deploy

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// TestImportManifestOnRealCluster applies the import manifest to a real
// apiserver with kubectl, as a user would, then runs the real agent binary
// with nothing but the ServiceAccount token the manifest's RBAC covers, and
// waits for the tunnel: if a right the agent needs is missing, it never
// connects. It also checks rights the agents must not have, and that the
// plain server manifests apply.
func TestImportManifestOnRealCluster(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl is required on PATH (see `make tools`)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	// Kept when the test fails, for the processes' logs.
	dir, err := os.MkdirTemp("", "drover-deploy-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})

	bins, err := harness.Build(ctx, filepath.Join(dir, "bin"), false)
	if err != nil {
		t.Fatal(err)
	}
	cluster := testbed.StartT(t, testbed.Options{Name: "import", Logger: slog.New(slog.DiscardHandler)})
	adminKC := filepath.Join(dir, "admin-kubeconfig")
	if err := cluster.WriteKubeconfig(adminKC); err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: bins.Server, DataDir: filepath.Join(dir, "server")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(10 * time.Second) })
	adminToken, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	clusterID, reg, err := srv.CreateCluster(ctx, adminToken, "imported")
	if err != nil {
		t.Fatal(err)
	}

	m, err := manifest.Render(manifest.Options{
		ServerURL: srv.URL, CAChecksum: reg.CAChecksum, Token: reg.Token,
		Image:     "registry.invalid/drover-agent:test",
		NodeAgent: true, NodeToken: reg.NodeToken,
		AuthEndpoint: &manifest.ACEOptions{},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifestFile := filepath.Join(dir, "import.yaml")
	if err := os.WriteFile(manifestFile, m, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlRun(ctx, adminKC, "apply", "-f", manifestFile); err != nil {
		t.Fatalf("kubectl apply the import manifest: %v\n%s", err, out)
	}
	// Applying again changes nothing and must not fail.
	if out, err := kubectlRun(ctx, adminKC, "apply", "-f", manifestFile); err != nil {
		t.Fatalf("kubectl apply the import manifest again: %v\n%s", err, out)
	}

	ns := downstream.Namespace
	clusterAgent := saClient(ctx, t, cluster, admin, manifest.ClusterAgentServiceAccount)
	nodeAgent := saClient(ctx, t, cluster, admin, manifest.NodeAgentServiceAccount)
	aceClient := saClient(ctx, t, cluster, admin, manifest.ACEServiceAccount)

	// The cluster agent, on the cattle SA's rights only, with the token the
	// manifest's Secret holds.
	startAgent := func(kind, node string) *harness.Process {
		t.Helper()
		sa, secret := manifest.ClusterAgentServiceAccount, manifest.CredentialsSecret
		if kind == "node" {
			sa, secret = manifest.NodeAgentServiceAccount, manifest.NodeCredentialsSecret
		}
		s, err := admin.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := harness.StartAgent(harness.AgentOptions{
			Bin: bins.Agent, Dir: filepath.Join(dir, "agents"), ServerURL: string(s.Data["url"]),
			CAChecksum: reg.CAChecksum, Token: string(s.Data["token"]),
			Kubeconfig: saKubeconfig(ctx, t, cluster, admin, sa, dir), Kind: kind, NodeName: node,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(5 * time.Second) })
		return p
	}
	waitConnected := func(via string, p *harness.Process) {
		t.Helper()
		if err := srv.WaitConnected(ctx, adminToken, clusterID, via); err != nil {
			b, _ := os.ReadFile(p.LogPath)
			t.Fatalf("%v\n%s log:\n%s", err, p.Name, tail(string(b), 40))
		}
	}

	ca := startAgent("cluster", "")
	waitConnected("cluster", ca)
	if _, err := admin.RbacV1().ClusterRoleBindings().Get(ctx, downstream.AdminBinding, metav1.GetOptions{}); err != nil {
		t.Errorf("the agent did not bind Drover admins: %v", err)
	}
	// The roles the agent applied carry every restriction of their rules
	// (resourceNames included).
	if r, err := admin.RbacV1().Roles(ns).Get(ctx, downstream.ControllerRole, metav1.GetOptions{}); err != nil {
		t.Errorf("controller role: %v", err)
	} else if diff := cmp.Diff(downstream.ControllerNamespaceRules(), r.Rules); diff != "" {
		t.Errorf("controller role as applied (-want +got):\n%s", diff)
	}
	if r, err := admin.RbacV1().ClusterRoles().Get(ctx, downstream.ControllerClusterRole, metav1.GetOptions{}); err != nil {
		t.Errorf("controller cluster role: %v", err)
	} else if diff := cmp.Diff(downstream.ControllerRules(), r.Rules); diff != "" {
		t.Errorf("controller cluster role as applied (-want +got):\n%s", diff)
	}

	// What the cluster agent must not be able to do, even though it manages
	// RBAC objects.
	self := rbacv1apply.Subject().WithKind("ServiceAccount").WithName(manifest.ClusterAgentServiceAccount).WithNamespace(ns)
	// (The testbed's aggregated roles such as admin are empty: it runs no
	// controller-manager. So the role to bind is made here.)
	if err := applyCR(ctx, admin, "drover-test-secrets", rbacv1apply.PolicyRule().
		WithAPIGroups("").WithResources("secrets").WithVerbs("get", "list")); err != nil {
		t.Fatal(err)
	}
	forbidden(t, "cluster agent binds itself to a role it does not hold",
		applyCRB(ctx, clusterAgent, "drover-test-secrets", "drover-test-secrets", self))
	forbidden(t, "cluster agent writes a role with rights it lacks", applyCR(ctx, clusterAgent, "drover-test-pods",
		rbacv1apply.PolicyRule().WithAPIGroups("").WithResources("pods").WithVerbs("get")))
	forbidden(t, "cluster agent writes rules into cluster-admin", applyCR(ctx, clusterAgent, "cluster-admin",
		rbacv1apply.PolicyRule().WithAPIGroups("").WithResources("pods").WithVerbs("get")))
	forbidden(t, "cluster agent reads kube-system secrets", listSecrets(ctx, clusterAgent, "kube-system"))
	forbidden(t, "cluster agent creates a namespace", createNamespace(ctx, clusterAgent, "drover-test"))
	forbidden(t, "cluster agent mints a token for itself", createToken(ctx, clusterAgent, manifest.ClusterAgentServiceAccount))
	// Token Secrets are the server controller's business, not the agent's.
	forbidden(t, "cluster agent lists cattle-system secrets", listSecrets(ctx, clusterAgent, ns))

	// The node agent: the fallback tunnel, on its own, smaller rights.
	if err := ca.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitConnected("node", startAgent("node", "node-1"))
	// A node agent carries bytes: its identity holds no right at all.
	forbidden(t, "node agent writes a ClusterRole", applyCR(ctx, nodeAgent, "drover-test-imp",
		rbacv1apply.PolicyRule().WithAPIGroups("").WithResources("users").WithVerbs("impersonate")))
	forbidden(t, "node agent reads cattle-system secrets", listSecrets(ctx, nodeAgent, ns))
	forbidden(t, "node agent mints a token for the cluster agent", createToken(ctx, nodeAgent, manifest.ClusterAgentServiceAccount))
	forbidden(t, "node agent mints a token for the controller", createToken(ctx, nodeAgent, downstream.ControllerServiceAccount))
	forbidden(t, "node agent mints a token for the old impersonator", createToken(ctx, nodeAgent, downstream.LegacyImpersonator))

	// A restarted cluster agent re-applies everything: the update path, where
	// RBAC checks escalation again.
	waitConnected("cluster", startAgent("cluster", ""))

	// kube-api-auth, the real binary on its own rights: it serves once its
	// informer has listed the token Secrets. It reads Secrets in its
	// namespace and nothing else.
	tlsMat, err := pki.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "ace.crt"), filepath.Join(dir, "ace.key")
	if err := os.WriteFile(certFile, tlsMat.Cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, tlsMat.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	ace, err := harness.Start("kube-api-auth", bins.Agent,
		[]string{"auth-endpoint", "--listen", "127.0.0.1:0", "--tls-cert-file", certFile, "--tls-key-file", keyFile,
			"--kubeconfig", saKubeconfig(ctx, t, cluster, admin, manifest.ACEServiceAccount, dir)},
		nil, filepath.Join(dir, "agents", "kube-api-auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ace.Stop(5 * time.Second) })
	waitCtx, waitCancel := context.WithTimeout(ctx, time.Minute)
	defer waitCancel()
	if _, err := ace.WaitLine(waitCtx, "kube-api-auth serving"); err != nil {
		b, _ := os.ReadFile(ace.LogPath)
		t.Fatalf("kube-api-auth did not serve: %v\n%s", err, tail(string(b), 20))
	}
	allowed(t, "kube-api-auth lists cattle-system secrets", listSecrets(ctx, aceClient, ns))
	forbidden(t, "kube-api-auth lists kube-system secrets", listSecrets(ctx, aceClient, "kube-system"))
	forbidden(t, "kube-api-auth writes a ClusterRole", applyCR(ctx, aceClient, "drover-test-ace",
		rbacv1apply.PolicyRule().WithAPIGroups("").WithResources("secrets").WithVerbs("get")))

	// The server's plain manifests are valid for a real apiserver too.
	serverYAML := filepath.Join(harness.RepoRoot(), serverManifest)
	if out, err := kubectlRun(ctx, adminKC, "apply", "-f", serverYAML); err != nil {
		t.Fatalf("kubectl apply %s: %v\n%s", serverManifest, err, out)
	}
}

func kubectlRun(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// saToken mints a token for a ServiceAccount of the manifest, as the
// kubelet would for its pod.
func saToken(ctx context.Context, t *testing.T, admin kubernetes.Interface, sa string) string {
	t.Helper()
	secs := int64(3600)
	tr, err := admin.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa, err)
	}
	return tr.Status.Token
}

func saClient(ctx context.Context, t *testing.T, c *testbed.Cluster, admin kubernetes.Interface, sa string) kubernetes.Interface {
	t.Helper()
	cfg := c.RESTConfig()
	cfg.BearerToken = saToken(ctx, t, admin, sa)
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// saKubeconfig writes a kubeconfig holding only sa's token.
func saKubeconfig(ctx context.Context, t *testing.T, c *testbed.Cluster, admin kubernetes.Interface, sa, dir string) string {
	t.Helper()
	kc := c.Kubeconfig()
	kc.AuthInfos[c.Name].Token = saToken(ctx, t, admin, sa)
	path := filepath.Join(dir, sa+"-kubeconfig")
	if err := clientcmd.WriteToFile(kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

var applyOpts = metav1.ApplyOptions{FieldManager: "drover-deploy-test", Force: true}

func applyCRB(ctx context.Context, cs kubernetes.Interface, name, role string, subject *rbacv1apply.SubjectApplyConfiguration) error {
	_, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, rbacv1apply.ClusterRoleBinding(name).
		WithRoleRef(rbacv1apply.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(role)).
		WithSubjects(subject), applyOpts)
	return err
}

func applyCR(ctx context.Context, cs kubernetes.Interface, name string, rule *rbacv1apply.PolicyRuleApplyConfiguration) error {
	_, err := cs.RbacV1().ClusterRoles().Apply(ctx, rbacv1apply.ClusterRole(name).WithRules(rule), applyOpts)
	return err
}

func listSecrets(ctx context.Context, cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	return err
}

func createNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Namespaces().Apply(ctx, corev1apply.Namespace(name), applyOpts)
	return err
}

func createToken(ctx context.Context, cs kubernetes.Interface, sa string) error {
	secs := int64(600)
	_, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	return err
}

func forbidden(t *testing.T, what string, err error) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: got %v, want Forbidden", what, err)
	}
}

func allowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
