package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/manifest"
)

// ErrNotConnected means the cluster has no cluster agent connected.
var ErrNotConnected = errors.New("cluster is not connected")

// PushRegistration writes new registration tokens into the agents' Secrets
// of a connected cluster. The agents re-read their token file before every
// connection, so they use the new token once the kubelet has refreshed the
// mounted Secret, well inside the previous token's grace period.
func (m *Manager) PushRegistration(ctx context.Context, clusterID, clusterToken, nodeToken string) error {
	// Only through the cluster agent: a node agent must never carry a
	// registration token, even sealed in TLS.
	s, ok := m.opts.Sessions.ClusterAgent(clusterID)
	if !ok {
		return ErrNotConnected
	}
	cs, err := kubernetes.NewForConfig(s.ControllerConfig())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for name, tok := range map[string]string{manifest.CredentialsSecret: clusterToken, manifest.NodeCredentialsSecret: nodeToken} {
		apply := corev1apply.Secret(name, downstream.Namespace).WithLabels(downstream.Labels()).
			WithType(corev1.SecretTypeOpaque).
			WithData(map[string][]byte{"token": []byte(tok), "url": []byte(m.opts.ServerURL)})
		if _, err := cs.CoreV1().Secrets(downstream.Namespace).Apply(ctx, apply,
			metav1.ApplyOptions{FieldManager: "drover-controller", Force: true}); err != nil {
			return fmt.Errorf("update secret %s: %w", name, err)
		}
	}
	return nil
}
