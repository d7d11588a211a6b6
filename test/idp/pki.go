package idp

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/pkg/pki"
)

// tlsFiles are a fresh CA and a serving certificate for 127.0.0.1 and
// localhost signed by it, written under a directory.
type tlsFiles struct {
	caPEM    []byte
	caFile   string
	certFile string // leaf then CA
	keyFile  string
}

// writeTLS generates a CA and a serving certificate (ECDSA P-256, a week)
// for name and writes them (mode 0600) under dir. The key is PKCS#8, which
// both OpenLDAP (GnuTLS) and Go read.
func writeTLS(dir, name string) (*tlsFiles, error) {
	now := time.Now()
	notAfter := now.Add(7 * 24 * time.Hour)
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "drover-idp-ca " + name, Now: now, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	leaf, err := ca.Issue(pki.CertOptions{CommonName: name, Usage: pki.ServerAuth, Hosts: []string{"localhost", "127.0.0.1"},
		Now: now, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	key, err := pki.PKCS8KeyPEM(leaf.Key)
	if err != nil {
		return nil, err
	}
	f := &tlsFiles{
		caPEM:    pki.CertPEM(ca.Cert),
		caFile:   filepath.Join(dir, name+"-ca.crt"),
		certFile: filepath.Join(dir, name+".crt"),
		keyFile:  filepath.Join(dir, name+".key"),
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.caFile, f.caPEM},
		{f.certFile, pki.CertPEM(leaf.Cert, ca.Cert)},
		{f.keyFile, key},
	} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}
