package testbed

import (
	"bytes"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// RESTConfig returns a new client-go config for the admin user (bearer
// AdminToken, trusting CAData only).
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     c.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: bytes.Clone(c.CAData)},
		// Tests create objects in bursts; the client-go default of 5 QPS
		// only slows them down.
		QPS:   100,
		Burst: 200,
	}
}

// Kubeconfig returns an admin kubeconfig whose cluster, user and current
// context are all named after the cluster.
func (c *Cluster) Kubeconfig() clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{
		Server:                   c.URL,
		CertificateAuthorityData: bytes.Clone(c.CAData),
	}
	cfg.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{Token: c.AdminToken}
	cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name, Namespace: "default"}
	cfg.CurrentContext = c.Name
	return *cfg
}

// WriteKubeconfig writes Kubeconfig to path (mode 0600, parent directories
// created).
func (c *Cluster) WriteKubeconfig(path string) error {
	return clientcmd.WriteToFile(c.Kubeconfig(), path)
}
