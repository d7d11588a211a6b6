package accounts

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
)

// fakeCluster is a fake clientset whose authorizer allows every review
// and records what it was asked.
func fakeCluster(t *testing.T) (*fake.Clientset, func() []authorizationv1.ResourceAttributes) {
	t.Helper()
	cs := fake.NewClientset()
	var mu sync.Mutex
	var asked []authorizationv1.ResourceAttributes
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		mu.Lock()
		asked = append(asked, *sar.Spec.ResourceAttributes)
		mu.Unlock()
		sar.Status.Allowed = true
		return true, sar, nil
	})
	return cs, func() []authorizationv1.ResourceAttributes {
		mu.Lock()
		defer mu.Unlock()
		return append([]authorizationv1.ResourceAttributes(nil), asked...)
	}
}

// TestEnsureAndSweep: an account for a ServiceAccount gets its ClusterRole
// (no user, no serviceaccounts rule), a second ClusterRole with the
// serviceaccounts rule bound by a RoleBinding in that namespace only, and
// the namespace label Sweep uses to delete it all; a plain user's account
// gets neither. Sweep leaves nothing behind.
func TestEnsureAndSweep(t *testing.T) {
	ctx := t.Context()
	cs, asked := fakeCluster(t)
	saReq := Request{ClusterID: "c-1", UserID: "u-1", Kind: KindAs,
		Account: As(impersonation.Request{User: "system:serviceaccount:team-a:bot", UID: "7"}, "bob", "u-1")}
	userReq := Request{ClusterID: "c-1", UserID: "u-1", Kind: KindOwn, Account: Own("bob", "u-1", nil)}
	saName, userName := Name(saReq.Account), Name(userReq.Account)
	for _, req := range []Request{saReq, userReq} {
		if err := ensure(ctx, cs, Name(req.Account), req, "inst-1"); err != nil {
			t.Fatalf("ensure %s: %v", req.Account.User, err)
		}
	}

	// What each account waited for.
	wantAsked := []authorizationv1.ResourceAttributes{
		{Verb: "impersonate", Resource: "serviceaccounts", Namespace: "team-a", Name: "bot"},
		{Verb: "impersonate", Group: "authentication.k8s.io", Resource: "uids", Name: "7"},
		{Verb: "impersonate", Resource: "users", Name: "bob"},
	}
	if diff := cmp.Diff(wantAsked, asked()); diff != "" {
		t.Errorf("reviews (-want +got):\n%s", diff)
	}

	sa, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sa.Labels[downstream.AccountNamespaceLabel]; got != "team-a" {
		t.Errorf("namespace label %q, want team-a", got)
	}
	role, err := cs.RbacV1().ClusterRoles().Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(downstream.AccountRules(saReq.Account), role.Rules); diff != "" {
		t.Errorf("cluster role rules (-want +got):\n%s", diff)
	}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			if res == "users" || res == "serviceaccounts" {
				t.Errorf("the cluster-wide role of a ServiceAccount's account allows %s %v", res, r.ResourceNames)
			}
		}
	}
	nsRole, err := cs.RbacV1().ClusterRoles().Get(ctx, downstream.AccountNamespaceRole(saName), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantNS := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: []string{"bot"}, Verbs: []string{"impersonate"}}}
	if diff := cmp.Diff(wantNS, nsRole.Rules); diff != "" {
		t.Errorf("namespaced rules (-want +got):\n%s", diff)
	}
	rb, err := cs.RbacV1().RoleBindings("team-a").Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRef := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: downstream.AccountNamespaceRole(saName)}
	wantSubj := []rbacv1.Subject{{Kind: "ServiceAccount", Name: saName, Namespace: downstream.Namespace}}
	if diff := cmp.Diff(wantRef, rb.RoleRef); diff != "" {
		t.Errorf("role binding's role (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSubj, rb.Subjects); diff != "" {
		t.Errorf("role binding's subjects (-want +got):\n%s", diff)
	}
	for _, obj := range []metav1.Object{sa, role, nsRole, rb} {
		if obj.GetLabels()[downstream.InstanceLabel] != "inst-1" || obj.GetLabels()[downstream.AccountLabel] != "true" {
			t.Errorf("%s is not labelled as an account: %v", obj.GetName(), obj.GetLabels())
		}
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, downstream.AccountNamespaceRole(userName), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a user's account got a namespaced role (err %v)", err)
	}

	m := New(Options{Logger: slog.New(slog.DiscardHandler), Instance: "inst-1"})
	n, err := m.Sweep(ctx, cs, "c-1", func(context.Context, string, string, string, time.Time) (bool, error) { return false, nil })
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2 deleted", n, err)
	}
	left := map[string][]string{}
	sas, _ := cs.CoreV1().ServiceAccounts("").List(ctx, metav1.ListOptions{})
	for _, o := range sas.Items {
		left["serviceaccounts"] = append(left["serviceaccounts"], o.Name)
	}
	crs, _ := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	for _, o := range crs.Items {
		left["clusterroles"] = append(left["clusterroles"], o.Name)
	}
	crbs, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	for _, o := range crbs.Items {
		left["clusterrolebindings"] = append(left["clusterrolebindings"], o.Name)
	}
	rbs, _ := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	for _, o := range rbs.Items {
		left["rolebindings"] = append(left["rolebindings"], o.Namespace+"/"+o.Name)
	}
	if len(left) != 0 {
		t.Errorf("left after Sweep: %v", left)
	}
}

// TestEnsureNoNamespace: a ServiceAccount in a namespace that does not
// exist cannot be given to an account: ErrNoNamespace, nothing waited for.
func TestEnsureNoNamespace(t *testing.T) {
	cs, asked := fakeCluster(t)
	cs.PrependReactor("patch", "rolebindings", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, a.GetNamespace())
	})
	req := Request{UserID: "u-1", Kind: KindAs, Account: As(impersonation.Request{User: "system:serviceaccount:nowhere:bot"}, "bob", "u-1")}
	err := ensure(t.Context(), cs, Name(req.Account), req, "inst-1")
	if !errors.Is(err, ErrNoNamespace) {
		t.Errorf("ensure = %v, want ErrNoNamespace", err)
	}
	if len(asked()) != 0 {
		t.Errorf("reviews asked: %v", asked())
	}
}
