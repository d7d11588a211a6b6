package kubeconfig

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Cluster is one cluster to put in the file.
type Cluster struct {
	ID   string
	Name string
}

// Options say what goes in the file.
type Options struct {
	// ServerURL is Drover's external URL, e.g. https://drover.example.com.
	ServerURL string
	// CAPEM is Drover's CA; empty when the server's certificate is publicly trusted.
	CAPEM    []byte
	Username string
	Token    string
	Clusters []Cluster
	// Current names the cluster id of the current context; empty: the first.
	Current string
}

// Build returns the kubeconfig.
func Build(opts Options) (*clientcmdapi.Config, error) {
	if opts.Token == "" || opts.Username == "" {
		return nil, errors.New("kubeconfig needs a user and a token")
	}
	base, err := url.Parse(opts.ServerURL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("server URL %q must be an https URL", opts.ServerURL)
	}
	if len(opts.Clusters) == 0 {
		return nil, errors.New("kubeconfig needs at least one cluster")
	}
	cfg := clientcmdapi.NewConfig()
	userName := "drover-" + opts.Username
	cfg.AuthInfos[userName] = &clientcmdapi.AuthInfo{Token: opts.Token}
	for _, c := range opts.Clusters {
		name := c.Name
		if name == "" {
			name = c.ID
		}
		if _, dup := cfg.Contexts[name]; dup {
			name = name + "-" + c.ID
		}
		cfg.Clusters[name] = &clientcmdapi.Cluster{
			Server:                   strings.TrimRight(base.String(), "/") + "/k8s/clusters/" + c.ID,
			CertificateAuthorityData: opts.CAPEM,
		}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: userName}
		if cfg.CurrentContext == "" || c.ID == opts.Current {
			cfg.CurrentContext = name
		}
	}
	return cfg, nil
}

// Marshal returns the YAML form.
func Marshal(cfg *clientcmdapi.Config) ([]byte, error) {
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return b, nil
}
