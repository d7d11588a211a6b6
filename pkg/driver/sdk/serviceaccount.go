package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ServiceAccountOptions configure GenerateServiceAccountToken; the zero
// value is what Drover expects.
type ServiceAccountOptions struct {
	// Namespace and Name of the ServiceAccount; default kube-system and
	// drover-provisioner.
	Namespace, Name string
	// TTL of the token; default 24 h. Drover needs it only to apply its
	// agent manifest after Create and Update, each of which is followed by a
	// fresh PostCheck, so a short life is enough.
	TTL time.Duration
}

// GenerateServiceAccountToken does PostCheck's usual job: it makes sure a
// ServiceAccount bound to cluster-admin exists and returns a token for it,
// requested through the TokenRequest API (so no token controller is needed
// and the token expires). Objects that exist already are reused.
func GenerateServiceAccountToken(ctx context.Context, cs kubernetes.Interface, o ServiceAccountOptions) (string, error) {
	if o.Namespace == "" {
		o.Namespace = "kube-system"
	}
	if o.Name == "" {
		o.Name = "drover-provisioner"
	}
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "drover"}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create namespace %s: %w", o.Namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels}}
	if _, err := cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create service account %s/%s: %w", o.Namespace, o.Name, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: o.Name, Namespace: o.Namespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create cluster role binding %s: %w", o.Name, err)
	}
	secs := int64(o.TTL / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(o.Namespace).CreateToken(ctx, o.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request a token for %s/%s: %w", o.Namespace, o.Name, err)
	}
	if tr.Status.Token == "" {
		return "", errors.New("the apiserver returned an empty token")
	}
	return tr.Status.Token, nil
}
