package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
)

// Options are the agent's options. Each flag defaults to the environment
// variable the deploy manifests set, as Rancher's agents read them.
type Options struct {
	ServerURL  string
	CAChecksum string
	TokenFile  string
	Kubeconfig string
	Kind       string
	NodeName   string
	// HealthListen serves /healthz and /readyz.
	HealthListen string
	BackoffMax   time.Duration
	TokenTTL     time.Duration
	LogLevel     string
}

// NewOptions returns defaults taken from getenv.
func NewOptions(getenv func(string) string) *Options {
	o := &Options{
		ServerURL:  getenv("CATTLE_SERVER"),
		CAChecksum: getenv("CATTLE_CA_CHECKSUM"),
		TokenFile:  getenv("CATTLE_TOKEN_FILE"),
		Kind:       getenv("CATTLE_AGENT_KIND"),
		NodeName:   getenv("CATTLE_NODE_NAME"),
		BackoffMax: 30 * time.Second,
		TokenTTL:   24 * time.Hour,
		LogLevel:   "info",
	}
	if o.TokenFile == "" {
		o.TokenFile = "/cattle-credentials/token"
	}
	if o.Kind == "" {
		o.Kind = agentapi.KindCluster
	}
	return o
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ServerURL, "server", o.ServerURL, "Drover server URL (env CATTLE_SERVER)")
	fs.StringVar(&o.CAChecksum, "ca-checksum", o.CAChecksum, "SHA-256 of the server's CA PEM (env CATTLE_CA_CHECKSUM)")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile, "file holding the registration token (env CATTLE_TOKEN_FILE)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the downstream cluster (default: in-cluster config)")
	fs.StringVar(&o.Kind, "kind", o.Kind, "cluster or node (env CATTLE_AGENT_KIND)")
	fs.StringVar(&o.NodeName, "node-name", o.NodeName, "this node's name, for node agents (env CATTLE_NODE_NAME)")
	fs.StringVar(&o.HealthListen, "health-listen", o.HealthListen, "host:port for /healthz and /readyz (empty: off)")
	fs.DurationVar(&o.BackoffMax, "backoff-max", o.BackoffMax, "longest wait between reconnect attempts")
	fs.DurationVar(&o.TokenTTL, "token-ttl", o.TokenTTL, "requested lifetime of the controller ServiceAccount token the cluster agent hands the server")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if u, err := url.Parse(o.ServerURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--server %q must be an https URL (CATTLE_SERVER)", o.ServerURL))
	}
	if o.CAChecksum != "" {
		// Either case; the agent compares it in lower case (pkg/agent).
		if _, err := checksum.Parse(o.CAChecksum); err != nil {
			errs = append(errs, fmt.Errorf("--ca-checksum (CATTLE_CA_CHECKSUM) %w", err))
		}
	}
	if o.TokenFile == "" {
		errs = append(errs, errors.New("--token-file is required (CATTLE_TOKEN_FILE)"))
	} else if _, err := os.Stat(o.TokenFile); err != nil {
		errs = append(errs, fmt.Errorf("--token-file: %w", err))
	}
	switch o.Kind {
	case agentapi.KindCluster:
		if o.NodeName != "" {
			errs = append(errs, errors.New("--node-name is for node agents only"))
		}
	case agentapi.KindNode:
		if o.NodeName == "" {
			errs = append(errs, errors.New("node agents need --node-name (CATTLE_NODE_NAME)"))
		} else if len(validation.IsDNS1123Subdomain(o.NodeName)) > 0 {
			// The server refuses any other name (agentapi.AgentParams).
			errs = append(errs, fmt.Errorf("--node-name %q must be a Kubernetes node name (a DNS-1123 subdomain)", o.NodeName))
		}
	default:
		errs = append(errs, fmt.Errorf("--kind %q must be cluster or node", o.Kind))
	}
	if o.HealthListen != "" {
		if _, _, err := net.SplitHostPort(o.HealthListen); err != nil {
			errs = append(errs, fmt.Errorf("--health-listen %q must be host:port", o.HealthListen))
		}
	}
	if o.BackoffMax < time.Second {
		errs = append(errs, errors.New("--backoff-max must be at least 1s"))
	}
	if o.TokenTTL < 10*time.Minute {
		errs = append(errs, errors.New("--token-ttl must be at least 10m (the apiserver's minimum)"))
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", o.LogLevel))
	}
	return errors.Join(errs...)
}
