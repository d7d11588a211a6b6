package harness

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/pki"
)

// AuthEndpoint is the authorized cluster endpoint's setup for a test bed
// cluster: kube-api-auth's address and TLS material, and the apiserver flags
// that make it the authentication webhook. The apiserver must trust the
// webhook's CA before it starts, so this is made first; InstallSecret then
// puts the same certificate where Drover's controller keeps it.
type AuthEndpoint struct {
	Addr      string
	CertFile  string
	KeyFile   string
	TLS       pki.Generated
	APIServer []string // extra kube-apiserver flags
}

// NewAuthEndpoint prepares kube-api-auth's TLS material and webhook config
// in dir, for a kube-api-auth process on a free port of this machine's
// loopback (AuthEndpoint.Start).
func NewAuthEndpoint(dir string) (*AuthEndpoint, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return NewAuthEndpointAt(dir, addr)
}

// NewAuthEndpointAt is NewAuthEndpoint for a kube-api-auth that will listen
// at addr, a loopback address: the port the import manifest's DaemonSet
// listens on, in a real-node cluster's network namespace, where the
// apiserver's loopback is the hostNetwork pod's.
func NewAuthEndpointAt(dir, addr string) (*AuthEndpoint, error) {
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("kube-api-auth address %q: want 127.0.0.1:<port> (its certificate's name)", addr)
	}
	g, err := pki.Generate([]string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		return nil, err
	}
	a := &AuthEndpoint{Addr: addr, TLS: g, CertFile: filepath.Join(dir, "kube-api-auth.crt"), KeyFile: filepath.Join(dir, "kube-api-auth.key")}
	webhook := filepath.Join(dir, "kube-api-auth.webhook.kubeconfig")
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kube-api-auth
  cluster:
    server: "https://%s/v1/authenticate"
    certificate-authority-data: %s
users:
- name: apiserver
contexts:
- name: webhook
  context: {cluster: kube-api-auth, user: apiserver}
current-context: webhook
`, addr, base64.StdEncoding.EncodeToString(g.CACert))
	for path, b := range map[string][]byte{a.CertFile: g.Cert, a.KeyFile: g.Key, webhook: []byte(config)} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	a.APIServer = []string{
		"--authentication-token-webhook-config-file=" + webhook,
		"--authentication-token-webhook-version=v1",
		// The apiserver caches webhook answers; keep that short (it also
		// caches every successful token authentication for 10 s, hard-wired).
		"--authentication-token-webhook-cache-ttl=2s",
	}
	return a, nil
}

// InstallSecret stores the certificate as Secret cattle-system/kube-api-auth-tls,
// as Drover's controller would, so the controller keeps it.
func (a *AuthEndpoint) InstallSecret(ctx context.Context, cs kubernetes.Interface) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: downstream.Namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err := cs.CoreV1().Secrets(downstream.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: downstream.AuthEndpointTLSSecret, Labels: downstream.Labels()},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": a.TLS.Cert, "tls.key": a.TLS.Key, "ca.crt": a.TLS.CACert},
	}, metav1.CreateOptions{})
	return err
}

// Start runs kube-api-auth (`drover-agent auth-endpoint`) as its DaemonSet
// would, with the cluster's kubeconfig standing in for the in-cluster
// config, and waits until it serves.
func (a *AuthEndpoint) Start(ctx context.Context, agentBin, kubeconfig, logPath string) (*Process, error) {
	p, err := Start("kube-api-auth", agentBin, []string{"auth-endpoint", "--listen", a.Addr, "--kubeconfig", kubeconfig,
		"--tls-cert-file", a.CertFile, "--tls-key-file", a.KeyFile}, nil, logPath)
	if err != nil {
		return nil, err
	}
	if _, err := p.WaitLine(ctx, "kube-api-auth serving"); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}
