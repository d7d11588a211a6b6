package capin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
)

// ErrMismatch means the server's CA is not the one the caller was told to
// trust. It is fatal: retrying cannot fix it and must not send a credential.
var ErrMismatch = errors.New("the server's CA does not match the configured CA checksum")

// Fetch downloads the server's CA bundle and checks it against sum (in
// either case: both sides are compared in checksum's lower-case form),
// returning the bundle as PEM and as a pool. It returns nils (system roots)
// when sum is empty.
//
// The download itself cannot be verified yet: that is what the checksum is
// for. So the request carries no credential, certificate verification is
// replaced by the pin (the body's hash must match, and the very certificate
// the server presented must chain to the pinned CA for the server's name).
func Fetch(ctx context.Context, serverURL, sum string) ([]byte, *x509.CertPool, error) {
	if sum == "" {
		return nil, nil, nil
	}
	// Before any request: a checksum that cannot match anything is as
	// fatal as a mismatch (checksum.ErrMalformed).
	want, err := checksum.Parse(sum)
	if err != nil {
		return nil, nil, fmt.Errorf("CA checksum %w", err)
	}
	return fetch(ctx, serverURL, func(got string) error {
		if got != want {
			return fmt.Errorf("%w: got %s", ErrMismatch, got)
		}
		return nil
	})
}

// FetchConfirmed is Fetch for a person who has no checksum yet: confirm
// is shown the checksum of the bundle the server serves (a person compares
// it with what the server's administrator published, or accepts it
// explicitly) and returns nil to trust it. Everything else is as Fetch: no
// credential, the certificate of the very connection chains to the bundle.
func FetchConfirmed(ctx context.Context, serverURL string, confirm func(sum string) error) ([]byte, *x509.CertPool, error) {
	return fetch(ctx, serverURL, confirm)
}

// fetch downloads the bundle, has check accept its checksum, and verifies
// the connection's certificate against it.
func fetch(ctx context.Context, serverURL string, check func(sum string) error) ([]byte, *x509.CertPool, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, nil, fmt.Errorf("server URL: %w", err)
	}
	client := &http.Client{
		Timeout: 15 * time.Second,
		// The pin covers this connection only: a redirect would be checked
		// on another one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			// Verification is done below, by pin, on the same connection.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // pinned below
			Proxy:           http.ProxyFromEnvironment,
		},
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(serverURL, "/")+agentapi.CACertsPath, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch server CA: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 3 {
		return nil, nil, fmt.Errorf("%w: the server redirected the CA download (HTTP %d)", ErrMismatch, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetch server CA: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch server CA: %w", err)
	}
	pool, err := agentapi.CertPool(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return nil, nil, fmt.Errorf("%w: the server presented no certificate", ErrMismatch)
	}
	inter := x509.NewCertPool()
	for _, c := range resp.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := resp.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, DNSName: u.Hostname(),
	}); err != nil {
		return nil, nil, fmt.Errorf("%w: the server's certificate does not chain to it: %v", ErrMismatch, err)
	}
	// Last: a person asked to confirm sees only a bundle the connection
	// chains to.
	if err := check(checksum.Of(body)); err != nil {
		return nil, nil, err
	}
	return body, pool, nil
}
