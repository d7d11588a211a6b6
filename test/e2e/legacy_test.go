package e2e

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// TestLegacyRBACRemoved: a cluster imported by the previous version still
// holds its objects: the drover-impersonator account that could impersonate
// any user or group (system:masters included), its role and binding, and
// the node agents' Role that let every node mint its tokens. Once a current
// cluster agent connects, the controller deletes them all, and users are
// served through their own impersonation accounts.
func TestLegacyRBACRemoved(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cl := testbed.StartT(t, testbed.Options{Name: "e2e-legacy", Logger: slog.New(slog.DiscardHandler)})
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cl.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(cl.RESTConfig())
	ns := downstream.Namespace
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: downstream.Labels()}
	}
	create := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("create legacy %s: %v", what, err)
		}
	}
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	create("namespace", err)
	// As the previous version's agent applied them.
	_, err = admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(downstream.LegacyImpersonator)}, metav1.CreateOptions{})
	create("service account", err)
	cr := meta(downstream.LegacyImpersonator)
	cr.Namespace = ""
	_, err = admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: cr, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"users", "groups"}, Verbs: []string{"impersonate"}}}}, metav1.CreateOptions{})
	create("cluster role", err)
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: cr,
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: downstream.LegacyImpersonator},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: downstream.LegacyImpersonator, Namespace: ns}}}, metav1.CreateOptions{})
	create("cluster role binding", err)
	_, err = admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: meta(downstream.LegacyNodeAgent), Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"},
			ResourceNames: []string{downstream.LegacyImpersonator}}}}, metav1.CreateOptions{})
	create("role", err)
	_, err = admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta(downstream.LegacyNodeAgent),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: downstream.LegacyNodeAgent},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "cattle-node", Namespace: ns}}}, metav1.CreateOptions{})
	create("role binding", err)

	srv := shared.server
	id, reg, err := srv.CreateCluster(ctx, shared.adminToken, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Do(context.Background(), "DELETE", "/v3/clusters/"+id, shared.adminToken, nil, nil)
	ag, err := harness.StartAgent(harness.AgentOptions{Bin: shared.bins.Agent, Dir: t.TempDir(), ServerURL: srv.URL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: kc, Kind: agentapi.KindCluster})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Stop(5 * time.Second)
	if err := srv.WaitConnected(ctx, shared.adminToken, id, agentapi.KindCluster); err != nil {
		t.Fatal(err)
	}
	gone := map[string]func() error{
		"service account " + downstream.LegacyImpersonator: func() error {
			_, err := admin.CoreV1().ServiceAccounts(ns).Get(ctx, downstream.LegacyImpersonator, metav1.GetOptions{})
			return err
		},
		"cluster role " + downstream.LegacyImpersonator: func() error {
			_, err := admin.RbacV1().ClusterRoles().Get(ctx, downstream.LegacyImpersonator, metav1.GetOptions{})
			return err
		},
		"cluster role binding " + downstream.LegacyImpersonator: func() error {
			_, err := admin.RbacV1().ClusterRoleBindings().Get(ctx, downstream.LegacyImpersonator, metav1.GetOptions{})
			return err
		},
		"role " + downstream.LegacyNodeAgent: func() error {
			_, err := admin.RbacV1().Roles(ns).Get(ctx, downstream.LegacyNodeAgent, metav1.GetOptions{})
			return err
		},
		"role binding " + downstream.LegacyNodeAgent: func() error {
			_, err := admin.RbacV1().RoleBindings(ns).Get(ctx, downstream.LegacyNodeAgent, metav1.GetOptions{})
			return err
		},
	}
	start := time.Now()
	for what, get := range gone {
		for {
			err := get()
			if apierrors.IsNotFound(err) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("legacy %s still there: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("legacy objects deleted %.1fs after the agent connected", time.Since(start).Seconds())

	// The admin is served, through an account of its own.
	kcb, err := srv.Kubeconfig(ctx, shared.adminToken, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "drover-kubeconfig")
	writeFile(t, path, kcb)
	if out, err := kubectl(ctx, t, path, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); err != nil || out != "admin" {
		t.Fatalf("whoami through Drover: %q, %v", out, err)
	}
	accts, err := admin.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{LabelSelector: downstream.AccountLabel + "=true"})
	if err != nil || len(accts.Items) != 1 {
		t.Fatalf("impersonation accounts: %v, %v; want the admin's one", accts, err)
	}
}
