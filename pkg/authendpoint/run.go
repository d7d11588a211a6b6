package authendpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-dev/drover/pkg/downstream"
)

// RunOptions configure Run.
type RunOptions struct {
	// Config reaches the local apiserver (in-cluster in production).
	Config *rest.Config
	// Listen is where the webhook listens, e.g. 127.0.0.1:6440.
	Listen string
	// TLSCertFile and TLSKeyFile are its serving certificate (in a cluster,
	// the Secret kube-api-auth-tls the Drover controller keeps, whose ca.crt
	// the apiserver's webhook config trusts).
	TLSCertFile, TLSKeyFile string
	Logger                  *slog.Logger
	// Ready, if set, receives the listener's address once serving.
	Ready func(addr string)
}

// Run watches the token Secrets and serves the webhook at /v1/authenticate
// (and /healthz) until ctx is done.
func Run(ctx context.Context, o RunOptions) error {
	cs, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("apiserver client: %w", err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute,
		informers.WithNamespace(downstream.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = downstream.TokenSecretLabel }))
	secrets := factory.Core().V1().Secrets()
	informer := secrets.Informer()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return errors.New("token secrets never synced")
	}
	h := NewHandler(Options{Secrets: secrets.Lister().Secrets(downstream.Namespace), Logger: o.Logger})
	mux := http.NewServeMux()
	mux.Handle("/v1/authenticate", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	pair, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	o.Logger.Info("kube-api-auth serving", "addr", ln.Addr().String())
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
