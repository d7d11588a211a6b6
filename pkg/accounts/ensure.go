package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
)

const fieldManager = "drover-accounts"

// ErrNoNamespace: the namespace of the ServiceAccount an account is to act
// as does not exist, so the account cannot be given the right to.
var ErrNoNamespace = errors.New("the ServiceAccount's namespace does not exist")

// labels are an account's objects' labels; an account for a ServiceAccount
// also names that ServiceAccount's namespace (Sweep finds its RoleBinding
// there).
func labels(req Request, instance string) map[string]string {
	l := downstream.Labels()
	l[downstream.InstanceLabel] = instance
	l[downstream.AccountLabel] = "true"
	l[downstream.AccountUserLabel] = req.UserID
	l[downstream.AccountKindLabel] = req.Kind
	if sa := req.Account.ServiceAccount; sa != nil {
		l[downstream.AccountNamespaceLabel] = sa.Namespace
	}
	return l
}

// ensure applies the account's ServiceAccount, ClusterRole and
// ClusterRoleBinding, and for an account that impersonates a ServiceAccount
// the ClusterRole downstream.AccountNamespaceRole and a RoleBinding of it in
// that ServiceAccount's namespace; then it waits until the cluster's
// authorizer lets the account act as its user (RBAC takes effect through
// informers, a moment after the write).
func ensure(ctx context.Context, cs kubernetes.Interface, name string, req Request, instance string) error {
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	l := labels(req, instance)
	// The ServiceAccount first: it carries the namespace label Sweep needs
	// to find every other object.
	if _, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).Apply(ctx,
		corev1apply.ServiceAccount(name, downstream.Namespace).WithLabels(l).WithAutomountServiceAccountToken(false), opts); err != nil {
		return fmt.Errorf("apply service account %s: %w", name, err)
	}
	subject := rbacv1apply.Subject().WithKind("ServiceAccount").WithName(name).WithNamespace(downstream.Namespace)
	roleRef := func(role string) *rbacv1apply.RoleRefApplyConfiguration {
		return rbacv1apply.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(role)
	}
	role := rbacv1apply.ClusterRole(name).WithLabels(l).WithRules(downstream.ApplyRules(downstream.AccountRules(req.Account))...)
	if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, opts); err != nil {
		return fmt.Errorf("apply cluster role %s: %w", name, err)
	}
	crb := rbacv1apply.ClusterRoleBinding(name).WithLabels(l).WithRoleRef(roleRef(name)).WithSubjects(subject)
	if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, crb, opts); err != nil {
		return fmt.Errorf("apply cluster role binding %s: %w", name, err)
	}
	if sa := req.Account.ServiceAccount; sa != nil {
		nsRole := downstream.AccountNamespaceRole(name)
		r := rbacv1apply.ClusterRole(nsRole).WithLabels(l).WithRules(downstream.ApplyRules(downstream.AccountNamespaceRules(req.Account))...)
		if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, r, opts); err != nil {
			return fmt.Errorf("apply cluster role %s: %w", nsRole, err)
		}
		rb := rbacv1apply.RoleBinding(name, sa.Namespace).WithLabels(l).WithRoleRef(roleRef(nsRole)).WithSubjects(subject)
		if _, err := cs.RbacV1().RoleBindings(sa.Namespace).Apply(ctx, rb, opts); err != nil {
			if apierrors.IsNotFound(err) {
				err = errors.Join(ErrNoNamespace, err)
			}
			return fmt.Errorf("apply role binding %s in namespace %s: %w", name, sa.Namespace, err)
		}
	}
	return effective(ctx, cs, name, req.Account)
}

// effective waits until the account may impersonate its user: users/<user>,
// or for a ServiceAccount serviceaccounts/<name> in its namespace (the
// RoleBinding) and its first cluster-wide rule (the ClusterRoleBinding,
// which takes effect on its own).
func effective(ctx context.Context, cs kubernetes.Interface, name string, a downstream.Account) error {
	var checks []authorizationv1.ResourceAttributes
	if sa := a.ServiceAccount; sa != nil {
		checks = append(checks, authorizationv1.ResourceAttributes{
			Verb: "impersonate", Resource: "serviceaccounts", Namespace: sa.Namespace, Name: sa.Name})
		if rules := downstream.AccountRules(a); len(rules) > 0 {
			checks = append(checks, attributesOf(rules[0]))
		}
	} else {
		checks = append(checks, authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "users", Name: a.User})
	}
	ns := downstream.Namespace
	for _, attrs := range checks {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + ns + ":" + name,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &attrs,
		}}
		if err := waitAllowed(ctx, cs, name, review); err != nil {
			return err
		}
	}
	return nil
}

// attributesOf is a request one of an account's rules allows.
func attributesOf(r rbacv1.PolicyRule) authorizationv1.ResourceAttributes {
	attrs := authorizationv1.ResourceAttributes{Verb: "impersonate", Group: r.APIGroups[0]}
	attrs.Resource, attrs.Subresource, _ = strings.Cut(r.Resources[0], "/")
	if len(r.ResourceNames) > 0 {
		attrs.Name = r.ResourceNames[0]
	} else {
		attrs.Name = "any"
	}
	return attrs
}

// waitAllowed asks review until the cluster allows it.
func waitAllowed(ctx context.Context, cs kubernetes.Interface, name string, review *authorizationv1.SubjectAccessReview) error {
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
