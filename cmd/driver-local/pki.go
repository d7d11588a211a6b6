package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/pkg/pki"
)

// adminUser is the static-token user in group system:masters.
const adminUser = "drover-local-admin"

// writePKI generates the cluster's CA, the apiserver's serving certificate,
// the service-account key pair and the static admin token, all mode 0600
// under dir. The certificates last a year: a local cluster is for testing
// and demos, not for ever.
func writePKI(dir, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	notAfter := now.Add(365 * 24 * time.Hour)
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "drover-local-ca " + name, Now: now, NotAfter: notAfter})
	if err != nil {
		return err
	}
	srv, err := ca.Issue(pki.CertOptions{
		CommonName: "kube-apiserver", Usage: pki.ServerAuth, Now: now, NotAfter: notAfter,
		Hosts: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "127.0.0.1"},
	})
	if err != nil {
		return err
	}
	srvKey, err := pki.ECKeyPEM(srv.Key)
	if err != nil {
		return err
	}
	sa, err := pki.NewServiceAccountKeyPair()
	if err != nil {
		return err
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	token := hex.EncodeToString(tok)
	files := map[string][]byte{
		"ca.crt":        pki.CertPEM(ca.Cert),
		"apiserver.crt": pki.CertPEM(srv.Cert, ca.Cert),
		"apiserver.key": srvKey,
		"sa.key":        sa.Private,
		"sa.pub":        sa.Public,
		"admin.token":   []byte(token + "\n"),
		// token,user,uid,"group1,group2"
		"tokens.csv": fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", token, adminUser, adminUser),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
