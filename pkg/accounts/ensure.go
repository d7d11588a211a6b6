package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
)

const fieldManager = "drover-accounts"

// labels are an account's objects' labels.
func labels(req Request, instance string) map[string]string {
	l := downstream.Labels()
	l[downstream.InstanceLabel] = instance
	l[downstream.AccountLabel] = "true"
	l[downstream.AccountUserLabel] = req.UserID
	l[downstream.AccountKindLabel] = req.Kind
	return l
}

// ensure applies the account's ServiceAccount, ClusterRole and
// ClusterRoleBinding, and waits until the cluster's authorizer lets the
// account act as its user (RBAC takes effect through an informer, a moment
// after the write).
func ensure(ctx context.Context, cs kubernetes.Interface, name string, req Request, instance string) error {
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	l := labels(req, instance)
	if _, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).Apply(ctx,
		corev1apply.ServiceAccount(name, downstream.Namespace).WithLabels(l).WithAutomountServiceAccountToken(false), opts); err != nil {
		return fmt.Errorf("apply service account %s: %w", name, err)
	}
	role := rbacv1apply.ClusterRole(name).WithLabels(l).WithRules(downstream.ApplyRules(downstream.AccountRules(req.Account))...)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, opts); err != nil {
		return fmt.Errorf("apply cluster role %s: %w", name, err)
	}
	crb := rbacv1apply.ClusterRoleBinding(name).WithLabels(l).
		WithRoleRef(rbacv1apply.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(name)).
		WithSubjects(rbacv1apply.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(downstream.Namespace))
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, crb, opts); err != nil {
		return fmt.Errorf("apply cluster role binding %s: %w", name, err)
	}
	return effective(ctx, cs, name, req.Account.User)
}

// effective waits until the account may impersonate user.
func effective(ctx context.Context, cs kubernetes.Interface, name, user string) error {
	ns := downstream.Namespace
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + ns + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: "impersonate", Resource: "users", Name: user,
		},
	}}
	wait := 10 * time.Millisecond
	for {
		out, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("check account %s: %w", name, err)
		}
		if out.Status.Allowed {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("account %s did not take effect: %w", name, errors.Join(ctx.Err(), errors.New(out.Status.Reason)))
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// token mints a bound token of the account.
func token(ctx context.Context, cs kubernetes.Interface, name string, ttl time.Duration) (string, time.Time, error) {
	secs := int64(ttl / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}},
		metav1.CreateOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token of account %s: %w", name, err)
	}
	return tr.Status.Token, tr.Status.ExpirationTimestamp.Time, nil
}
