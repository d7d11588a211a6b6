package controller

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

type fakeStore struct {
	bindings []store.Binding
	projects []store.Project
	users    map[string]store.User
	err      error
}

func (f *fakeStore) SaveClusterStatus(context.Context, string, []byte, time.Time) error { return nil }
func (f *fakeStore) SaveClusterStatusFenced(context.Context, string, []byte, time.Time, store.Lease) (bool, error) {
	return true, nil
}
func (f *fakeStore) ClusterScopedTokens(context.Context, string, time.Time) ([]store.ScopedToken, error) {
	return nil, nil
}
func (f *fakeStore) ListBindings(_ context.Context, bf store.BindingFilter) ([]store.Binding, error) {
	var out []store.Binding
	for _, b := range f.bindings {
		if b.ClusterID == bf.ClusterID {
			out = append(out, b)
		}
	}
	return out, f.err
}
func (f *fakeStore) ListProjects(context.Context, string) ([]store.Project, error) {
	return f.projects, f.err
}
func (f *fakeStore) UserByID(_ context.Context, id string) (store.User, error) {
	u, ok := f.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func labelled(binding string) map[string]string {
	l := downstream.Labels()
	if binding != "" {
		l[downstream.BindingLabel] = binding
	}
	return l
}

func userSubject(name string) []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: name}}
}

func existing() []runtime.Object {
	ref := func(name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
	}
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns-a"}},
		// The agent's binding: managed by Drover, but no binding label.
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: downstream.AdminBinding, Labels: labelled("")},
			RoleRef: ref("cluster-admin"), Subjects: []rbacv1.Subject{{Kind: "Group", Name: downstream.AdminGroup}}},
		// Somebody else's.
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, RoleRef: ref("view"), Subjects: userSubject("x")},
		// A removed binding's leftovers.
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "drover-b-gone-cluster-admin", Labels: labelled("b-gone")},
			RoleRef: ref("cluster-admin"), Subjects: userSubject("mallory")},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "drover-b-gone-admin", Namespace: "ns-a", Labels: labelled("b-gone")},
			RoleRef: ref("admin"), Subjects: userSubject("mallory")},
		// A live binding's object with a subject added by hand.
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "drover-b-own-cluster-admin", Labels: labelled("b-own")},
			RoleRef: ref("cluster-admin"), Subjects: append(userSubject("ann"), userSubject("mallory")...)},
	}
}

func testStore() *fakeStore {
	return &fakeStore{
		bindings: []store.Binding{
			{ID: "b-own", Scope: store.ScopeCluster, ClusterID: "c-1", Role: "cluster-owner", Kind: "user", Subject: "u-ann"},
			{ID: "b-ro", Scope: store.ScopeCluster, ClusterID: "c-1", Role: "read-only", Kind: "group", Subject: "ldap:audit"},
			{ID: "b-dev", Scope: store.ScopeProject, ClusterID: "c-1", ProjectID: "p-1", Role: "project-member", Kind: "user", Subject: "u-bob"},
			{ID: "b-off", Scope: store.ScopeCluster, ClusterID: "c-1", Role: "cluster-owner", Kind: "user", Subject: "u-off"},
		},
		projects: []store.Project{{ID: "p-1", ClusterID: "c-1", Name: "web", Namespaces: []string{"ns-a", "ns-missing"}}},
		users: map[string]store.User{
			"u-ann": {ID: "u-ann", Username: "ann"}, "u-bob": {ID: "u-bob", Username: "bob"},
			"u-off": {ID: "u-off", Username: "off", Disabled: true},
		},
	}
}

// state is every ClusterRoleBinding and RoleBinding as "ns/name role subjects".
func state(t *testing.T, cs *fake.Clientset) []string {
	t.Helper()
	var out []string
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range crbs.Items {
		out = append(out, "/"+b.Name+" "+b.RoleRef.Name+" "+subjects(b.Subjects))
	}
	rbs, err := cs.RbacV1().RoleBindings("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rbs.Items {
		out = append(out, b.Namespace+"/"+b.Name+" "+b.RoleRef.Name+" "+subjects(b.Subjects))
	}
	slices.Sort(out)
	return out
}

func subjects(ss []rbacv1.Subject) string {
	var s string
	for _, x := range ss {
		s += x.Kind + ":" + x.Name + ";"
	}
	return s
}

func runReconcile(t *testing.T, st *fakeStore) *fake.Clientset {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cs := fake.NewClientset(existing()...)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = downstream.ManagedByLabel + "=" + downstream.ManagedByValue
	}))
	r := newRBACSync(cs, factory, func() {})
	factory.Start(ctx.Done())
	r.start(ctx)
	defer func() { // informers stop when ctx is done; Shutdown waits for them
		cancel()
		factory.Shutdown()
		r.shutdown()
	}()
	for deadline := time.Now().Add(5 * time.Second); !r.hasSynced(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("informers did not sync")
		}
	}
	c := &clusterController{opts: Options{Store: st, Metrics: metrics.NewServer()}, session: &tunnel.Session{ClusterID: "c-1"}, log: slog.New(slog.DiscardHandler)}
	c.reconcileRBAC(ctx, cs, r)
	return cs
}

func TestReconcileRBAC(t *testing.T) {
	tests := []struct {
		name  string
		store *fakeStore
		want  []string
	}{
		{"applies wanted, deletes removed, fixes tampered, leaves others", testStore(), []string{
			"/drover-admins cluster-admin Group:drover:admins;",
			"/drover-b-own-cluster-admin cluster-admin User:ann;",
			"/drover-b-ro-drover-cluster-member drover-cluster-member Group:ldap:audit;",
			"/drover-b-ro-view view Group:ldap:audit;",
			"/theirs view User:x;",
			// ns-missing does not exist: skipped, not an error.
			"ns-a/drover-b-dev-edit edit User:bob;",
		}},
		{"store error deletes nothing", func() *fakeStore { s := testStore(); s.err = errors.New("disk on fire"); return s }(), []string{
			"/drover-admins cluster-admin Group:drover:admins;",
			"/drover-b-gone-cluster-admin cluster-admin User:mallory;",
			"/drover-b-own-cluster-admin cluster-admin User:ann;User:mallory;",
			"/theirs view User:x;",
			"ns-a/drover-b-gone-admin admin User:mallory;",
		}},
		{"no bindings removes every Drover binding object", &fakeStore{}, []string{
			"/drover-admins cluster-admin Group:drover:admins;",
			"/theirs view User:x;",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := state(t, runReconcile(t, tc.store))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("bindings after reconcile (-want +got):\n%s", diff)
			}
		})
	}
}
