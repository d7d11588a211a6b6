package capin

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/pki"
)

// bundleServer serves body at /cacerts (no lineage: 404) over TLS for
// 127.0.0.1 with a certificate of issuer.
func bundleServer(t *testing.T, issuer *pki.CA, body []byte) string {
	t.Helper()
	now := time.Now()
	leaf, err := issuer.Issue(pki.CertOptions{CommonName: "drover-server", Usage: pki.ServerAuth, Hosts: []string{"127.0.0.1"}, Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == agentapi.CACertsPath {
			w.Write(body)
			return
		}
		http.NotFound(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// A man in the middle without any CA key serves the pinned CA first in
// /cacerts, then its own CA, and a certificate of its own CA: FetchPinned
// (the drover command's FollowCA) must not trust the certificates after the
// first, which no pin and no lineage vouches for.
func TestAttackFetchPinnedAppendedCA(t *testing.T) {
	now := time.Now()
	pinned, err := pki.NewCA(pki.CAOptions{CommonName: "drover-ca", Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	evil, err := pki.NewCA(pki.CAOptions{CommonName: "drover-ca", Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		issuer *pki.CA
		body   []byte
	}{
		{name: "pinned then evil, served by evil", issuer: evil, body: pki.CertPEM(pinned.Cert, evil.Cert)},
		{name: "evil then pinned, served by evil", issuer: evil, body: pki.CertPEM(evil.Cert, pinned.Cert)},
		{name: "pinned, evil, pinned, served by evil", issuer: evil, body: pki.CertPEM(pinned.Cert, evil.Cert, pinned.Cert)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := bundleServer(t, tc.issuer, tc.body)
			got, _, err := FetchPinned(context.Background(), url, pki.CertPEM(pinned.Cert))
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("FetchPinned = %q, %v; want %v", got, err, ErrMismatch)
			}
		})
	}
}
