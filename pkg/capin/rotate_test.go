package capin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/pki"
)

// rotationServer serves, over TLS for 127.0.0.1 with a certificate of
// issuer, current at /cacerts and lin at /cacerts/lineage.
func rotationServer(t *testing.T, issuer, current *pki.CA, lin agentapi.Lineage) string {
	t.Helper()
	now := time.Now()
	leaf, err := issuer.Issue(pki.CertOptions{CommonName: "drover-server", Usage: pki.ServerAuth, Hosts: []string{"127.0.0.1"}, Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case agentapi.CACertsPath:
			w.Write(pki.CertPEM(current.Cert))
		case agentapi.CALineagePath:
			w.Write(lin.PEM())
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetchFollowsRotation(t *testing.T) {
	now := time.Now()
	newCA := func() *pki.CA {
		ca, err := pki.NewCA(pki.CAOptions{CommonName: "drover-ca", Now: now, NotAfter: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	old, next, evil := newCA(), newCA(), newCA()
	cross := func(signer, c *pki.CA) *x509.Certificate {
		x, err := pki.CrossSign(signer, c.Cert)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	lin := agentapi.Lineage{CAs: []*x509.Certificate{old.Cert, next.Cert}, Cross: []*x509.Certificate{cross(old, next)}}
	forged := agentapi.Lineage{CAs: []*x509.Certificate{old.Cert, evil.Cert}, Cross: []*x509.Certificate{cross(evil, evil)}}
	prepared := rotationServer(t, old, old, lin)
	finished := rotationServer(t, next, next, lin)
	hijacked := rotationServer(t, evil, evil, forged)
	never := rotationServer(t, old, old, agentapi.Lineage{})
	oldSum := checksum.Of(pki.CertPEM(old.Cert))
	sums := func(pemData []byte) []string {
		certs, err := parseCerts(pemData)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range certs {
			out = append(out, checksum.Of(pki.CertPEM(c)))
		}
		return out
	}
	both := []string{oldSum, checksum.Of(pki.CertPEM(next.Cert))}
	for _, tc := range []struct {
		name    string
		url     string
		pinned  []byte // FetchPinned; nil: Fetch by oldSum
		want    []string
		wantErr error
	}{
		{name: "prepared, by checksum", url: prepared, want: both},
		{name: "prepared, pinned", url: prepared, pinned: pki.CertPEM(old.Cert), want: both},
		{name: "finished, by checksum", url: finished, want: both[1:]},
		{name: "finished, pinned old", url: finished, pinned: pki.CertPEM(old.Cert), want: both[1:]},
		{name: "finished, pinned both", url: finished, pinned: pki.CertPEM(old.Cert, next.Cert), want: both[1:]},
		{name: "never rotated", url: never, want: both[:1]},
		{name: "forged lineage", url: hijacked, wantErr: ErrMismatch},
		{name: "forged lineage, pinned", url: hijacked, pinned: pki.CertPEM(old.Cert), wantErr: ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var err error
			if tc.pinned == nil {
				got, _, err = Fetch(context.Background(), tc.url, oldSum)
			} else {
				got, _, err = FetchPinned(context.Background(), tc.url, tc.pinned)
			}
			if tc.wantErr != nil || err != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if diff := cmp.Diff(tc.want, sums(got)); diff != "" {
				t.Errorf("the CAs to trust (-want +got):\n%s", diff)
			}
		})
	}
}
