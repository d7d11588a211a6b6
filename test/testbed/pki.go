package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/pkg/pki"
)

// apiserverPKI holds the files a cluster's apiserver needs, all under one
// directory.
type apiserverPKI struct {
	caPEM       []byte
	servingCert string // path, PEM
	servingKey  string // path, PEM
	saKey       string // path, service-account signing key (private, PEM)
	saPub       string // path, service-account verification key (public, PEM)
	tokenFile   string // path, --token-auth-file
	adminToken  string

	// With real nodes: the apiserver's client certificate for kubelets
	// (paths, PEM), and each node's bearer token (user system:node:<name>,
	// group system:nodes) by node name.
	kubeletClientCert string
	kubeletClientKey  string
	nodeTokens        map[string]string
}

// servingHosts are the SANs of the apiserver serving certificate: the
// loopback and in-cluster names, and extra (the address a cluster with real
// nodes binds, the "kubernetes" Service IP).
func servingHosts(extra ...string) []string {
	return append([]string{
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
		"127.0.0.1",
	}, extra...)
}

// AdminUser is the user name of Cluster.AdminToken (group system:masters).
const AdminUser = "drover-testbed-admin"

type pkiFile struct {
	path string
	data []byte
}

// pkiOptions say what writePKI makes besides the defaults.
type pkiOptions struct {
	hosts []string // extra SANs of the serving certificate
	nodes []string // node names: a token each, and a kubelet client certificate
}

// writePKI generates a fresh CA, a serving certificate signed by it, a
// service-account key pair and a static token file with one admin token, and
// writes them (mode 0600) under dir. With nodes, it adds a token per node and
// the apiserver's kubelet client certificate. Everything lasts a week.
func writePKI(dir, clusterName string, opts pkiOptions) (*apiserverPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(7 * 24 * time.Hour)
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "drover-testbed-ca " + clusterName, Now: now, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	srv, err := ca.Issue(pki.CertOptions{CommonName: "kube-apiserver", Usage: pki.ServerAuth, Hosts: servingHosts(opts.hosts...),
		Now: now, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	srvKey, err := pki.ECKeyPEM(srv.Key)
	if err != nil {
		return nil, err
	}
	sa, err := pki.NewServiceAccountKeyPair()
	if err != nil {
		return nil, err
	}
	adminToken, err := newToken()
	if err != nil {
		return nil, err
	}
	p := &apiserverPKI{
		caPEM:       pki.CertPEM(ca.Cert),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
		tokenFile:   filepath.Join(dir, "tokens.csv"),
		adminToken:  adminToken,
		nodeTokens:  map[string]string{},
	}
	// token,user,uid,"group1,group2"
	tokens := fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", p.adminToken, AdminUser, AdminUser)
	for _, n := range opts.nodes {
		if p.nodeTokens[n], err = newToken(); err != nil {
			return nil, err
		}
		tokens = fmt.Appendf(tokens, "%s,system:node:%s,system:node:%s,\"system:nodes\"\n", p.nodeTokens[n], n, n)
	}
	files := []pkiFile{
		{filepath.Join(dir, "ca.crt"), p.caPEM},
		// Serving chain: leaf then CA, so clients that only trust the CA verify it.
		{p.servingCert, pki.CertPEM(srv.Cert, ca.Cert)},
		{p.servingKey, srvKey},
		{p.saKey, sa.Private},
		{p.saPub, sa.Public},
		{p.tokenFile, tokens},
	}
	if len(opts.nodes) > 0 {
		client, err := ca.Issue(pki.CertOptions{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"},
			Usage: pki.ClientAuth, Now: now, NotAfter: notAfter})
		if err != nil {
			return nil, fmt.Errorf("testbed: %w", err)
		}
		key, err := pki.ECKeyPEM(client.Key)
		if err != nil {
			return nil, err
		}
		p.kubeletClientCert, p.kubeletClientKey = filepath.Join(dir, "kubelet-client.crt"), filepath.Join(dir, "kubelet-client.key")
		files = append(files, pkiFile{p.kubeletClientCert, pki.CertPEM(client.Cert)}, pkiFile{p.kubeletClientKey, key})
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func newToken() (string, error) {
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return "", err
	}
	return hex.EncodeToString(tok), nil
}
