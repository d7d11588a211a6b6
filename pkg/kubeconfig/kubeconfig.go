package kubeconfig

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Cluster is one cluster to put in the file, with the token for it.
type Cluster struct {
	ID   string
	Name string
	// Token is this cluster's dedicated token (scoped to it).
	Token string
	// DirectURL and DirectCA, when set, add a second context that reaches
	// the cluster's apiserver directly (the authorized cluster endpoint),
	// with the same token.
	DirectURL string
	DirectCA  []byte
}

// Options say what goes in the file.
type Options struct {
	// ServerURL is Drover's external URL, e.g. https://drover.example.com.
	ServerURL string
	// CAPEM is Drover's CA; empty when the server's certificate is publicly trusted.
	CAPEM    []byte
	Username string
	Clusters []Cluster
	// Current names the cluster id of the current context; empty: the first.
	Current string
	// Exec, when set, gives each context's user an exec credential plugin
	// (ace: for the "-ace" context) in place of a token: the file then
	// holds no secret, and the clusters need no Token.
	Exec func(clusterID string, ace bool) *clientcmdapi.ExecConfig
}

// Build returns the kubeconfig: per cluster a context named after it
// through Drover, a user entry "<username>@<context>" with that cluster's
// token, and "<context>-ace" when the cluster has an authorized endpoint.
func Build(opts Options) (*clientcmdapi.Config, error) {
	if opts.Username == "" {
		return nil, errors.New("kubeconfig needs a user")
	}
	base, err := url.Parse(opts.ServerURL)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("server URL %q must be an https URL", opts.ServerURL)
	}
	if len(opts.Clusters) == 0 {
		return nil, errors.New("kubeconfig needs at least one cluster")
	}
	cfg := clientcmdapi.NewConfig()
	add := func(name, server string, ca []byte, user string) {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	}
	for _, c := range opts.Clusters {
		if c.Token == "" && opts.Exec == nil {
			return nil, fmt.Errorf("cluster %s has no token", c.ID)
		}
		name := c.Name
		if name == "" {
			name = c.ID
		}
		// A name is free when neither it nor, with an authorized endpoint,
		// its "-ace" context is taken: a context must never take the
		// place of another cluster's.
		taken := func(name string) bool {
			_, dup := cfg.Contexts[name]
			_, dupACE := cfg.Contexts[name+"-ace"]
			return dup || c.DirectURL != "" && dupACE
		}
		if taken(name) {
			name = name + "-" + c.ID
		}
		if taken(name) {
			return nil, fmt.Errorf("cluster %s: no free context name for %q", c.ID, c.Name)
		}
		user := opts.Username + "@" + name
		if opts.Exec == nil {
			cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: c.Token}
		} else {
			cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Exec: opts.Exec(c.ID, false)}
		}
		add(name, strings.TrimRight(base.String(), "/")+"/k8s/clusters/"+c.ID, opts.CAPEM, user)
		if c.DirectURL != "" {
			aceUser := user
			if opts.Exec != nil {
				aceUser = opts.Username + "@" + name + "-ace"
				cfg.AuthInfos[aceUser] = &clientcmdapi.AuthInfo{Exec: opts.Exec(c.ID, true)}
			}
			add(name+"-ace", c.DirectURL, c.DirectCA, aceUser)
		}
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
