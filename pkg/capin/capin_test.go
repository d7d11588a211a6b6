package capin

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/pki"
)

// pinServer serves caPEM at /cacerts over TLS with a certificate of its own
// CA for 127.0.0.1, and counts the requests it gets.
func pinServer(t *testing.T, caPEM []byte) (*httptest.Server, *atomic.Int32, []byte) {
	t.Helper()
	g, err := pki.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(g.Cert, g.Key)
	if err != nil {
		t.Fatal(err)
	}
	if caPEM == nil {
		caPEM = g.CACert
	}
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/cacerts" || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Write(caPEM)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &hits, g.CACert
}

func TestFetchPinnedCA(t *testing.T) {
	srv, hits, caPEM := pinServer(t, nil)
	lower := checksum.Of(caPEM)
	_, _, otherCA := pinServer(t, nil)
	tests := []struct {
		name    string
		sum     string
		wantErr error // nil: the pin holds
		wantMsg string
		noFetch bool // refused before any request
	}{
		{name: "lower case", sum: lower},
		{name: "upper case", sum: strings.ToUpper(lower)},
		{name: "mixed case", sum: strings.ToUpper(lower[:31]) + lower[31:]},
		{name: "trailing newline", sum: lower + "\n"},
		{name: "another CA's checksum", sum: checksum.Of(otherCA), wantErr: ErrMismatch, wantMsg: "got " + lower},
		{name: "odd length", sum: lower[1:], wantErr: checksum.ErrMalformed, noFetch: true,
			wantMsg: "CA checksum must be 64 hex characters (a SHA-256), not 63"},
		{name: "not hex", sum: "z" + lower[1:], wantErr: checksum.ErrMalformed, noFetch: true,
			wantMsg: "CA checksum must be 64 hex characters (a SHA-256): character 1 is not a hex digit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			_, pool, err := Fetch(context.Background(), srv.URL, tc.sum)
			if tc.wantErr == nil {
				if err != nil || pool == nil {
					t.Fatalf("Fetch = %v, %v; want the pinned CA", pool, err)
				}
				// The pool is the pinned CA: it verifies the server.
				c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
				resp, err := c.Get(srv.URL + "/cacerts")
				if err != nil {
					t.Fatalf("the pinned CA does not verify the server: %v", err)
				}
				resp.Body.Close()
				c.CloseIdleConnections()
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Fetch = %v; want %v containing %q", err, tc.wantErr, tc.wantMsg)
			}
			if got := hits.Load() - before; tc.noFetch && got != 0 {
				t.Errorf("%d requests for a checksum that cannot match", got)
			}
		})
	}
}

// TestFetchPinnedCAChain: a body that matches the checksum is not enough;
// the server's own certificate must chain to it.
func TestFetchPinnedCAChain(t *testing.T) {
	g, err := pki.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The server serves a CA it does not use.
	srv, _, _ := pinServer(t, g.CACert)
	_, _, err = Fetch(context.Background(), srv.URL, strings.ToUpper(checksum.Of(g.CACert)))
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "does not chain") {
		t.Fatalf("Fetch = %v; want ErrMismatch: does not chain", err)
	}
}

func TestFetchPinnedCANoChecksum(t *testing.T) {
	_, pool, err := Fetch(context.Background(), "https://127.0.0.1:1", "")
	if pool != nil || err != nil {
		t.Errorf("Fetch without a checksum = %v, %v; want nil, nil (system roots)", pool, err)
	}
}
