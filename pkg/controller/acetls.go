package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/pki"
)

// ensureAuthEndpointTLS creates kube-api-auth's serving certificate once.
// An existing Secret is left alone: the apiserver's webhook config trusts
// its CA, so replacing it would lock users out of the authorized endpoint.
func (c *clusterController) ensureAuthEndpointTLS(ctx context.Context, cs kubernetes.Interface) error {
	secrets := cs.CoreV1().Secrets(downstream.Namespace)
	if _, err := secrets.Get(ctx, downstream.AuthEndpointTLSSecret, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	g, err := pki.Generate([]string{"127.0.0.1", "localhost", "::1"}, c.opts.Now())
	if err != nil {
		return err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: downstream.AuthEndpointTLSSecret, Namespace: downstream.Namespace, Labels: downstream.Labels()},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": g.Cert, "tls.key": g.Key, "ca.crt": g.CACert},
	}
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s: %w", downstream.AuthEndpointTLSSecret, err)
	}
	c.log.Info("created the authorized endpoint's serving certificate", "secret", downstream.AuthEndpointTLSSecret)
	return nil
}
