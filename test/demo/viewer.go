package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/harness"
)

// viewer is the demo's second user: not an admin, read-only on the demo
// cluster through a Drover binding.
type viewer struct {
	Username   string
	Password   string
	Kubeconfig string
}

// addViewer creates the viewer user, binds it read-only on the cluster,
// writes its kubeconfig to dir/kubeconfig-viewer and waits until the
// cluster's RBAC (reconciled by Drover's controller) lets it list
// namespaces.
func addViewer(ctx context.Context, s *harness.Server, admin, clusterID, dir string, ttl time.Duration) (viewer, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return viewer{}, err
	}
	v := viewer{Username: "viewer", Password: base64.RawURLEncoding.EncodeToString(b),
		Kubeconfig: filepath.Join(dir, "kubeconfig-viewer")}
	if err := s.CreateUser(ctx, admin, v.Username, v.Password, false); err != nil {
		return viewer{}, fmt.Errorf("create user %s: %w", v.Username, err)
	}
	if err := s.Do(ctx, "POST", "/v3/bindings", admin, map[string]string{
		"scope": "cluster", "clusterId": clusterID, "role": "read-only", "subjectKind": "user", "subject": v.Username,
	}, nil); err != nil {
		return viewer{}, fmt.Errorf("bind %s read-only: %w", v.Username, err)
	}
	tok, err := s.Login(ctx, v.Username, v.Password)
	if err != nil {
		return viewer{}, fmt.Errorf("log in as %s: %w", v.Username, err)
	}
	kc, err := s.Kubeconfig(ctx, tok, []string{clusterID}, ttl.String())
	if err != nil {
		return viewer{}, fmt.Errorf("kubeconfig for %s: %w", v.Username, err)
	}
	if err := os.WriteFile(v.Kubeconfig, kc, 0o600); err != nil {
		return viewer{}, err
	}
	return v, waitCanList(ctx, v.Kubeconfig)
}

// waitCanList polls until the kubeconfig's user may list namespaces.
func waitCanList(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the viewer cannot list namespaces after 30s: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// aceContext returns the name of the kubeconfig's authorized endpoint
// context ("<cluster>-ace": straight to the apiserver).
func aceContext(kubeconfig string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return "", err
	}
	for name := range cfg.Contexts {
		if strings.HasSuffix(name, "-ace") {
			return name, nil
		}
	}
	return "", fmt.Errorf("%s has no authorized endpoint context", kubeconfig)
}

// waitACE polls until the apiserver, asked straight through the
// kubeconfig's context, takes its Drover token (Drover's controller syncs
// the token's hash into the cluster, where kube-api-auth reads it).
func waitACE(ctx context.Context, kubeconfig, name string) error {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		_, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the apiserver does not take the Drover token through context %s after 1m: %w", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
