package controller

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/store"
)

// tokenSecretData is what kube-api-auth needs to verify one token.
func tokenSecretData(t store.ScopedToken) map[string][]byte {
	return map[string][]byte{
		downstream.TokenKeyID:        []byte(t.ID),
		downstream.TokenKeySalt:      t.Hashed.Salt,
		downstream.TokenKeyHash:      t.Hashed.Hash,
		downstream.TokenKeyUsername:  []byte(t.User.Username),
		downstream.TokenKeyUID:       []byte(t.User.ID),
		downstream.TokenKeyGroups:    []byte(strings.Join(authn.Groups(t.User), "\n")),
		downstream.TokenKeyExpiresAt: []byte(t.ExpiresAt.UTC().Format(time.RFC3339)),
	}
}

// syncTokens makes the token Secrets in cattle-system exactly the cluster's
// scoped tokens of users who may reach it: missing or changed ones are
// applied; revoked or expired ones, and those of users who lost their last
// binding in the cluster, deleted.
func (c *clusterController) syncTokens(ctx context.Context, cs kubernetes.Interface, existing corev1listers.SecretNamespaceLister) error {
	tokens, err := c.opts.Store.ClusterScopedTokens(ctx, c.session.ClusterID, c.opts.Now())
	if err != nil {
		return err
	}
	want := map[string]map[string][]byte{}
	for _, t := range tokens {
		if c.opts.Reach != nil {
			v, err := c.opts.Reach.MayReach(ctx, access.Caller{UserID: t.User.ID, Admin: t.User.Admin, Disabled: t.User.Disabled}, c.session.ClusterID)
			if err != nil {
				return err
			}
			if v != access.Allowed {
				continue
			}
		}
		want[downstream.TokenSecretPrefix+t.ID] = tokenSecretData(t)
	}
	have, err := existing.List(labels.Everything())
	if err != nil {
		return err
	}
	secrets := cs.CoreV1().Secrets(downstream.Namespace)
	for _, s := range have {
		if _, ok := want[s.Name]; !ok {
			if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete token secret %s: %w", s.Name, err)
			}
		}
	}
	byName := map[string]*corev1.Secret{}
	for _, s := range have {
		byName[s.Name] = s
	}
	secretLabels := downstream.Labels()
	secretLabels[downstream.TokenSecretLabel] = "true"
	for name, data := range want {
		if s, ok := byName[name]; ok && sameData(s.Data, data) {
			continue
		}
		apply := corev1apply.Secret(name, downstream.Namespace).WithLabels(secretLabels).
			WithType(corev1.SecretTypeOpaque).WithData(data)
		if _, err := secrets.Apply(ctx, apply, metav1.ApplyOptions{FieldManager: "drover-controller", Force: true}); err != nil {
			return fmt.Errorf("apply token secret %s: %w", name, err)
		}
	}
	return nil
}

func sameData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
