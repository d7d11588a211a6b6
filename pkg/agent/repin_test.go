package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/capin"
	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/pki"
)

// caServer serves ca at /cacerts and lin at /cacerts/lineage over TLS
// for 127.0.0.1 with a certificate of ca.
func caServer(t *testing.T, ca *pki.CA, lin agentapi.Lineage) string {
	t.Helper()
	now := time.Now()
	leaf, err := ca.Issue(pki.CertOptions{CommonName: "drover-server", Usage: pki.ServerAuth, Hosts: []string{"127.0.0.1"}, Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == agentapi.CACertsPath:
			w.Write(pki.CertPEM(ca.Cert))
		case r.URL.Path == agentapi.CALineagePath && len(lin.CAs) > 0:
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

// TestAttackRepinOldKey: the CA was rotated because its key leaked. An
// agent that followed the lineage to the new CA must not, at its next
// repin, go back to trusting the old CA (whoever holds its key serves it
// with no lineage) and hand its registration token and the downstream
// cluster's controller token over.
func TestAttackRepinOldKey(t *testing.T) {
	now := time.Now()
	old, err := pki.NewCA(pki.CAOptions{CommonName: "drover-ca", Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := pki.NewCA(pki.CAOptions{CommonName: "drover-ca", Now: now, NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cross, err := pki.CrossSign(old, next.Cert)
	if err != nil {
		t.Fatal(err)
	}
	finished := caServer(t, next, agentapi.Lineage{CAs: []*x509.Certificate{old.Cert, next.Cert}, Cross: []*x509.Certificate{cross}})
	stolen := caServer(t, old, agentapi.Lineage{})

	a := &Agent{opts: Options{ServerURL: finished, CAChecksum: checksum.Of(pki.CertPEM(old.Cert))}}
	log := slog.New(slog.DiscardHandler)
	if err := a.repin(context.Background(), log); err != nil {
		t.Fatalf("repin to the rotated server: %v", err)
	}
	a.opts.ServerURL = stolen
	if err := a.repin(context.Background(), log); !errors.Is(err, capin.ErrMismatch) {
		t.Errorf("repin to a server of the old, leaked CA after following the rotation = %v, want %v", err, capin.ErrMismatch)
	}
}
