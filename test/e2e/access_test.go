package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
)

// The namespaces of the permission matrix: one in a project, one outside.
const (
	nsIn  = "acc-in"
	nsOut = "acc-out"
)

type column string

const (
	colNamespaces column = "namespaces"     // cluster-scoped
	colIn         column = "configmaps-in"  // namespaced, inside the project
	colOut        column = "configmaps-out" // namespaced, outside the project
)

var verbs = []string{"get", "list", "create", "delete", "watch"}

// do runs one verb on one column. Writes are server-side dry runs: the
// apiserver authorizes them exactly like real ones and changes nothing, so
// every cell starts from the same state.
func do(ctx context.Context, cs kubernetes.Interface, col column, verb string) error {
	dry := []string{metav1.DryRunAll}
	if col == colNamespaces {
		nss := cs.CoreV1().Namespaces()
		switch verb {
		case "get":
			_, err := nss.Get(ctx, nsOut, metav1.GetOptions{})
			return err
		case "list":
			_, err := nss.List(ctx, metav1.ListOptions{})
			return err
		case "create":
			_, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acc-dry"}}, metav1.CreateOptions{DryRun: dry})
			return err
		case "delete":
			return nss.Delete(ctx, nsOut, metav1.DeleteOptions{DryRun: dry})
		case "watch":
			w, err := nss.Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		}
	}
	ns := nsIn
	if col == colOut {
		ns = nsOut
	}
	cms := cs.CoreV1().ConfigMaps(ns)
	switch verb {
	case "get":
		_, err := cms.Get(ctx, "cm", metav1.GetOptions{})
		return err
	case "list":
		_, err := cms.List(ctx, metav1.ListOptions{})
		return err
	case "create":
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "acc-dry"}}, metav1.CreateOptions{DryRun: dry})
		return err
	case "delete":
		return cms.Delete(ctx, "cm", metav1.DeleteOptions{DryRun: dry})
	case "watch":
		w, err := cms.Watch(ctx, metav1.ListOptions{})
		if err == nil {
			w.Stop()
		}
		return err
	}
	return fmt.Errorf("unknown verb %q", verb)
}

// allow lists the allowed verbs per column; absent means denied.
type allow map[column][]string

var (
	all  = []string{"get", "list", "create", "delete", "watch"}
	read = []string{"get", "list", "watch"}
)

type matrixRole struct {
	name string // user name suffix and subtest name
	// binding is nil for the global admin and for the user without any.
	binding *harness.Binding
	allowed allow
	// nonMember: Drover itself refuses with 403.
	nonMember bool
}

func directClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(shared.dir, "direct-kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// proxyClient returns a client through Drover for a new user; it uses the
// user's kubeconfig when Drover issues one, its session token otherwise.
func proxyClient(ctx context.Context, t *testing.T, user string, admin bool) (kubernetes.Interface, string) {
	t.Helper()
	if err := shared.server.CreateUser(ctx, shared.adminToken, user, "correct-horse-battery", admin); err != nil {
		t.Fatalf("create user %s: %v", user, err)
	}
	tok, err := shared.server.Login(ctx, user, "correct-horse-battery")
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	cs, err := kubernetes.NewForConfig(shared.server.ProxyConfig(shared.clusterID, tok))
	if err != nil {
		t.Fatal(err)
	}
	return cs, tok
}

// kubeconfigClient is a client from the kubeconfig Drover issues.
func kubeconfigClient(ctx context.Context, t *testing.T, bearer string) (kubernetes.Interface, error) {
	t.Helper()
	b, err := shared.server.Kubeconfig(ctx, bearer, []string{shared.clusterID}, "1h")
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return kubernetes.NewForConfig(cfg)
}

// waitBindingObjects waits until the downstream objects of the given
// bindings exist and returns how long that took.
func waitBindingObjects(ctx context.Context, t *testing.T, direct kubernetes.Interface, ids []string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		missing := []string{}
		for _, id := range ids {
			sel := metav1.ListOptions{LabelSelector: downstream.BindingLabel + "=" + id}
			crbs, err1 := direct.RbacV1().ClusterRoleBindings().List(ctx, sel)
			rbs, err2 := direct.RbacV1().RoleBindings("").List(ctx, sel)
			if err1 != nil || err2 != nil || len(crbs.Items)+len(rbs.Items) == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("downstream objects of bindings %v never appeared", missing)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestAccessMatrix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	direct := directClient(t)
	if err := harness.AggregateClusterRoles(ctx, direct); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{nsIn, nsOut} {
		if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
		t.Cleanup(func() { direct.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create configmap in %s: %v", ns, err)
		}
	}
	projectID, err := shared.server.CreateProject(ctx, shared.adminToken, shared.clusterID, "acc", []string{nsIn})
	if err != nil {
		t.Fatal(err)
	}
	cluster := func(role string) *harness.Binding {
		return &harness.Binding{Scope: "cluster", ClusterID: shared.clusterID, Role: role, SubjectKind: "user"}
	}
	project := func(role string) *harness.Binding {
		return &harness.Binding{Scope: "project", ProjectID: projectID, Role: role, SubjectKind: "user"}
	}
	roles := []matrixRole{
		{name: "global-admin", allowed: allow{colNamespaces: all, colIn: all, colOut: all}},
		{name: "cluster-owner", binding: cluster("cluster-owner"), allowed: allow{colNamespaces: all, colIn: all, colOut: all}},
		{name: "cluster-member", binding: cluster("cluster-member"), allowed: allow{colNamespaces: read}},
		{name: "cluster-read-only", binding: cluster("read-only"), allowed: allow{colNamespaces: read, colIn: read, colOut: read}},
		{name: "project-owner", binding: project("project-owner"), allowed: allow{colIn: all}},
		{name: "project-member", binding: project("project-member"), allowed: allow{colIn: all}},
		{name: "project-read-only", binding: project("read-only"), allowed: allow{colIn: read}},
		{name: "no-binding", nonMember: true},
	}
	clients := map[string]kubernetes.Interface{}
	var ids []string
	for _, r := range roles {
		user := "acc-" + r.name
		cs, tok := proxyClient(ctx, t, user, r.name == "global-admin")
		if r.binding != nil {
			b := *r.binding
			b.Subject = user // by username; Drover stores the id
			got, err := shared.server.CreateBinding(ctx, shared.adminToken, b)
			if err != nil {
				t.Fatalf("bind %s: %v", user, err)
			}
			ids = append(ids, got.ID)
		}
		if r.nonMember {
			// Drover issues no kubeconfig for a cluster the user is not a
			// member of; its session token is refused by the proxy below.
			_, err := kubeconfigClient(ctx, t, tok)
			var apiErr *harness.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != 403 || !strings.Contains(apiErr.Body, "is not a member") {
				t.Errorf("kubeconfig for a non-member: %v, want 403 not a member", err)
			}
			clients[r.name] = cs
			continue
		}
		if clients[r.name], err = kubeconfigClient(ctx, t, tok); err != nil {
			t.Fatalf("kubeconfig for %s: %v", user, err)
		}
	}
	t.Logf("downstream objects of %d new bindings present %v after the last was created",
		len(ids), waitBindingObjects(ctx, t, direct, ids))

	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			for _, col := range []column{colNamespaces, colIn, colOut} {
				for _, verb := range verbs {
					want := false
					for _, v := range r.allowed[col] {
						want = want || v == verb
					}
					t.Run(fmt.Sprintf("%s/%s", col, verb), func(t *testing.T) {
						err := do(ctx, clients[r.name], col, verb)
						switch {
						case want && err != nil:
							t.Fatalf("want allowed, got %v", err)
						case !want && err == nil:
							t.Fatal("want denied, got allowed")
						case !want && !apierrors.IsForbidden(err):
							t.Fatalf("want 403, got %v", err)
						case !want && r.nonMember && !strings.Contains(err.Error(), "is not a member of cluster"):
							t.Fatalf("want Drover's non-member refusal, got %v", err)
						case !want && !r.nonMember && !strings.Contains(err.Error(), `User "acc-`+r.name+`" cannot`):
							t.Fatalf("want the apiserver's RBAC refusal naming the user, got %v", err)
						}
					})
				}
			}
		})
	}
}

// TestAccessRemovalRemovesAccess: deleting a binding takes the access away
// downstream, not only in Drover. The user keeps another binding, so
// Drover still forwards and the downstream apiserver is what must refuse.
func TestAccessRemovalRemovesAccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	direct := directClient(t)
	if err := harness.AggregateClusterRoles(ctx, direct); err != nil {
		t.Fatal(err)
	}
	const ns = "acc-revoke"
	if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	projectID, err := shared.server.CreateProject(ctx, shared.adminToken, shared.clusterID, "acc-revoke", []string{ns})
	if err != nil {
		t.Fatal(err)
	}
	const user = "acc-revokee"
	cs, _ := proxyClient(ctx, t, user, false)
	keep, err := shared.server.CreateBinding(ctx, shared.adminToken, harness.Binding{Scope: "cluster", ClusterID: shared.clusterID,
		Role: "cluster-member", SubjectKind: "user", Subject: user})
	if err != nil {
		t.Fatal(err)
	}
	granted := time.Now()
	pm, err := shared.server.CreateBinding(ctx, shared.adminToken, harness.Binding{Scope: "project", ProjectID: projectID,
		Role: "project-member", SubjectKind: "user", Subject: user})
	if err != nil {
		t.Fatal(err)
	}
	waitBindingObjects(ctx, t, direct, []string{keep.ID, pm.ID})
	for {
		if _, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("project-member never got access")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("grant: project-member can list configmaps %v after the binding was created", time.Since(granted))

	removed := time.Now()
	if err := shared.server.DeleteBinding(ctx, shared.adminToken, pm.ID); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for {
		_, lastErr = cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if lastErr != nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("access never went away")
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(removed)
	t.Logf("revoke: the apiserver denies %v after the binding was deleted", took)
	if !apierrors.IsForbidden(lastErr) || !strings.Contains(lastErr.Error(), `User "`+user+`" cannot list resource "configmaps"`) {
		t.Errorf("after removal: %v, want the apiserver's RBAC refusal", lastErr)
	}
	// The reconcile is immediate (the API kicks the controller); the round
	// interval (5 s) bounds it.
	if took > 5*time.Second {
		t.Errorf("access removed after %v, want within the 5s round", took)
	}
	rbs, err := direct.RbacV1().RoleBindings(ns).List(ctx, metav1.ListOptions{LabelSelector: downstream.BindingLabel + "=" + pm.ID})
	if err != nil || len(rbs.Items) != 0 {
		t.Errorf("role bindings of the removed binding: %v %v", rbs, err)
	}
	// The other binding still works: a member still reads namespaces.
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("the remaining cluster-member binding: %v", err)
	}

	// Removing the last binding ends the user's open watch: they are no
	// longer a member of the cluster at all.
	w, err := cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch as a cluster member: %v", err)
	}
	defer w.Stop()
	time.Sleep(300 * time.Millisecond) // the watch is open and tracked
	removed = time.Now()
	if err := shared.server.DeleteBinding(ctx, shared.adminToken, keep.ID); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		for range w.ResultChan() {
		}
		close(ended)
	}()
	select {
	case <-ended:
		t.Logf("the open watch ended %v after the user's last binding was deleted", time.Since(removed).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("the watch outlived the user's last binding by 5s")
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), "is not a member of cluster") {
		t.Errorf("after the last binding went: %v, want Drover's 403", err)
	}
}

// TestAccessGroupBinding: a group binding becomes a Group subject
// downstream, and gives nothing to a user outside the group. (Local users
// have no groups; members of a group are tested with LDAP.)
func TestAccessGroupBinding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	direct := directClient(t)
	const user = "acc-outsider"
	cs, _ := proxyClient(ctx, t, user, false)
	if _, err := shared.server.CreateBinding(ctx, shared.adminToken, harness.Binding{Scope: "cluster", ClusterID: shared.clusterID,
		Role: "cluster-member", SubjectKind: "user", Subject: user}); err != nil {
		t.Fatal(err)
	}
	g, err := shared.server.CreateBinding(ctx, shared.adminToken, harness.Binding{Scope: "cluster", ClusterID: shared.clusterID,
		Role: "cluster-owner", SubjectKind: "group", Subject: "acc:operators"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.server.DeleteBinding(context.Background(), shared.adminToken, g.ID) })
	waitBindingObjects(ctx, t, direct, []string{g.ID})
	crb, err := direct.RbacV1().ClusterRoleBindings().Get(ctx, "drover-"+g.ID+"-cluster-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Kind != "Group" || crb.Subjects[0].Name != "acc:operators" {
		t.Errorf("subjects = %+v, want the group only", crb.Subjects)
	}
	if err := do(ctx, cs, colNamespaces, "create"); !apierrors.IsForbidden(err) {
		t.Errorf("a user outside the group creates a namespace: %v, want 403", err)
	}
}
