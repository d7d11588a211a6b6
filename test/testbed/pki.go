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
}

// servingHosts are the SANs of the apiserver serving certificate.
func servingHosts() []string {
	return []string{
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local",
		"127.0.0.1",
	}
}

// AdminUser is the user name of Cluster.AdminToken (group system:masters).
const AdminUser = "drover-testbed-admin"

// writePKI generates a fresh CA, a serving certificate signed by it, a
// service-account key pair and a static token file with one admin token, and
// writes them (mode 0600) under dir. Everything lasts a week.
func writePKI(dir, clusterName string) (*apiserverPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(7 * 24 * time.Hour)
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "drover-testbed-ca " + clusterName, Now: now, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	srv, err := ca.Issue(pki.CertOptions{CommonName: "kube-apiserver", Usage: pki.ServerAuth, Hosts: servingHosts(),
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
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	p := &apiserverPKI{
		caPEM:       pki.CertPEM(ca.Cert),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
		tokenFile:   filepath.Join(dir, "tokens.csv"),
		adminToken:  hex.EncodeToString(tok),
	}
	files := []struct {
		path string
		data []byte
	}{
		{filepath.Join(dir, "ca.crt"), p.caPEM},
		// Serving chain: leaf then CA, so clients that only trust the CA verify it.
		{p.servingCert, pki.CertPEM(srv.Cert, ca.Cert)},
		{p.servingKey, srvKey},
		{p.saKey, sa.Private},
		{p.saPub, sa.Public},
		// token,user,uid,"group1,group2"
		{p.tokenFile, fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", p.adminToken, AdminUser, AdminUser)},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}
