package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/authendpoint"
)

// AuthEndpointOptions are the options of `drover-agent auth-endpoint`
// (kube-api-auth).
type AuthEndpointOptions struct {
	Listen      string
	Kubeconfig  string
	TLSCertFile string
	TLSKeyFile  string
	LogLevel    string
}

// NewAuthEndpointOptions returns the defaults.
func NewAuthEndpointOptions() *AuthEndpointOptions {
	return &AuthEndpointOptions{Listen: "127.0.0.1:6440", LogLevel: "info",
		TLSCertFile: "/etc/kube-api-auth/tls.crt", TLSKeyFile: "/etc/kube-api-auth/tls.key"}
}

// Flags registers the options on fs.
func (o *AuthEndpointOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Listen, "listen", o.Listen, "host:port of the TokenReview webhook (keep it on loopback: the apiserver calls it on its own node)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the local cluster (default: in-cluster config)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", o.TLSCertFile, "serving certificate (the Secret kube-api-auth-tls)")
	fs.StringVar(&o.TLSKeyFile, "tls-key-file", o.TLSKeyFile, "serving key")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
}

// Validate checks the options.
func (o *AuthEndpointOptions) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q must be host:port", o.Listen))
	}
	if o.TLSCertFile == "" || o.TLSKeyFile == "" {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file are required: the webhook serves only TLS"))
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", o.LogLevel))
	}
	return errors.Join(errs...)
}

func runAuthEndpoint(ctx context.Context, o *AuthEndpointOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var cfg *rest.Config
	var err error
	if o.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("cluster config: %w", err)
	}
	return authendpoint.Run(ctx, authendpoint.RunOptions{
		Config: cfg, Listen: o.Listen, Logger: logger, TLSCertFile: o.TLSCertFile, TLSKeyFile: o.TLSKeyFile,
		Ready: func(addr string) { fmt.Printf("kube-api-auth serving on %s\n", addr) },
	})
}
