package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/downstream"
)

const fieldManager = "drover-agent"

// endpointOf returns the apiserver's host:port and CA bundle from a rest
// config. A config without a CA is refused: the server must verify the
// apiserver it talks to.
func endpointOf(cfg *rest.Config) (string, []byte, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		// rest.Config allows a bare host:port.
		u, err = url.Parse("https://" + cfg.Host)
		if err != nil {
			return "", nil, fmt.Errorf("apiserver address %q: %w", cfg.Host, err)
		}
	}
	if u.Scheme != "https" {
		return "", nil, fmt.Errorf("apiserver address %q is not https", cfg.Host)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		if ca, err = os.ReadFile(cfg.CAFile); err != nil {
			return "", nil, fmt.Errorf("read apiserver CA: %w", err)
		}
	}
	if len(ca) == 0 || cfg.Insecure {
		return "", nil, errors.New("the apiserver config has no CA; the agent needs one to hand the server")
	}
	return net.JoinHostPort(host, port), ca, nil
}

// ensureDownstream applies Drover's objects in the downstream cluster.
func ensureDownstream(ctx context.Context, cs kubernetes.Interface) error {
	labels := downstream.Labels()
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}

	if _, err := cs.CoreV1().Namespaces().Apply(ctx,
		corev1apply.Namespace(downstream.Namespace).WithLabels(labels), opts); err != nil {
		return fmt.Errorf("apply namespace %s: %w", downstream.Namespace, err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).Apply(ctx,
		corev1apply.ServiceAccount(downstream.ControllerServiceAccount, downstream.Namespace).
			WithLabels(labels).WithAutomountServiceAccountToken(false), opts); err != nil {
		return fmt.Errorf("apply service account: %w", err)
	}
	for name, rules := range map[string][]rbacv1.PolicyRule{
		downstream.ControllerClusterRole: downstream.ControllerRules(),
		// Bound by the server's controller for Drover's cluster-member and
		// read-only roles.
		downstream.ClusterMemberRole: downstream.ClusterMemberRules(),
	} {
		role := rbacv1apply.ClusterRole(name).WithLabels(labels).WithRules(downstream.ApplyRules(rules)...)
		if _, err := cs.RbacV1().ClusterRoles().Apply(ctx, role, opts); err != nil {
			return fmt.Errorf("apply cluster role %s: %w", name, err)
		}
	}
	bindings := []struct {
		name, role string
		subject    *rbacv1apply.SubjectApplyConfiguration
	}{
		{downstream.ControllerBinding, downstream.ControllerClusterRole, controllerSubject()},
		{downstream.AdminBinding, "cluster-admin", rbacv1apply.Subject().
			WithKind("Group").WithAPIGroup("rbac.authorization.k8s.io").WithName(downstream.AdminGroup)},
	}
	// The controller's rights in cattle-system: the authorized endpoint's
	// token Secrets, the impersonation accounts, deleting legacy objects.
	role := rbacv1apply.Role(downstream.ControllerRole, downstream.Namespace).WithLabels(labels).
		WithRules(downstream.ApplyRules(downstream.ControllerNamespaceRules())...)
	if _, err := cs.RbacV1().Roles(downstream.Namespace).Apply(ctx, role, opts); err != nil {
		return fmt.Errorf("apply role %s: %w", downstream.ControllerRole, err)
	}
	rb := rbacv1apply.RoleBinding(downstream.ControllerRole, downstream.Namespace).WithLabels(labels).
		WithRoleRef(rbacv1apply.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("Role").WithName(downstream.ControllerRole)).
		WithSubjects(controllerSubject())
	if _, err := cs.RbacV1().RoleBindings(downstream.Namespace).Apply(ctx, rb, opts); err != nil {
		return fmt.Errorf("apply role binding %s: %w", downstream.ControllerRole, err)
	}
	for _, b := range bindings {
		crb := rbacv1apply.ClusterRoleBinding(b.name).WithLabels(labels).
			WithRoleRef(rbacv1apply.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName(b.role)).
			WithSubjects(b.subject)
		if _, err := cs.RbacV1().ClusterRoleBindings().Apply(ctx, crb, opts); err != nil {
			return fmt.Errorf("apply cluster role binding %s: %w", b.name, err)
		}
	}
	return nil
}

// controllerSubject is the controller's ServiceAccount as a binding subject.
func controllerSubject() *rbacv1apply.SubjectApplyConfiguration {
	return rbacv1apply.Subject().WithKind("ServiceAccount").WithName(downstream.ControllerServiceAccount).
		WithNamespace(downstream.Namespace)
}

// saToken is a bound ServiceAccount token with its lifetime.
type saToken struct {
	value     string
	issued    time.Time
	expiresAt time.Time
}

// renewAt is when a token should be replaced: after 80% of its life.
func (t saToken) renewAt() time.Time {
	return t.issued.Add(t.expiresAt.Sub(t.issued) * 4 / 5)
}

// requestToken asks the apiserver for a token of the controller's account,
// the credential the cluster agent hands the server.
func requestToken(ctx context.Context, cs kubernetes.Interface, ttl time.Duration, now time.Time) (saToken, error) {
	secs := int64(ttl / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx,
		downstream.ControllerServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}},
		metav1.CreateOptions{})
	if err != nil {
		return saToken{}, fmt.Errorf("request token for %s/%s: %w", downstream.Namespace, downstream.ControllerServiceAccount, err)
	}
	return saToken{value: tr.Status.Token, issued: now, expiresAt: tr.Status.ExpirationTimestamp.Time}, nil
}
