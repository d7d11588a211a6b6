package capin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
)

// ErrMismatch means the server's CA is not the one the caller was told to
// trust. It is fatal: retrying cannot fix it and must not send a credential.
var ErrMismatch = errors.New("the server's CA does not match the configured CA checksum")

// Fetch downloads the server's CA and checks it against sum (in either
// case: both sides are compared in checksum's lower-case form), returning
// the CAs to trust as PEM and as a pool. It returns nils (system roots)
// when sum is empty.
//
// The download itself cannot be verified yet: that is what the checksum is
// for. So the request carries no credential, certificate verification is
// replaced by the pin (the body's hash must match, and the very certificate
// the server presented must chain to the pinned CA for the server's name).
//
// After a CA rotation the server serves a CA that sum does not name: it is
// accepted when the server's CA lineage (agentapi.Lineage) proves it by a
// chain of signatures from the pinned CA. While a rotation is prepared the
// lineage also names the next CA, which is trusted with the current one.
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
	return fetch(ctx, serverURL, func(got string, _ []*x509.Certificate, lin agentapi.Lineage) ([]*x509.Certificate, error) {
		if got == want {
			return nil, nil
		}
		if followed := lin.FollowChecksum(want); len(followed) > 0 {
			return followed, nil
		}
		return nil, fmt.Errorf("%w: got %s", ErrMismatch, got)
	})
}

// FetchPinned is Fetch for a client that keeps the CAs it trusts
// (pinnedPEM, as a former Fetch returned them): the server's CA must be one
// of them or proven by one of them through the lineage.
func FetchPinned(ctx context.Context, serverURL string, pinnedPEM []byte) ([]byte, *x509.CertPool, error) {
	pinned, err := parseCerts(pinnedPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("the pinned CA: %w", err)
	}
	return fetch(ctx, serverURL, func(got string, served []*x509.Certificate, lin agentapi.Lineage) ([]*x509.Certificate, error) {
		current := served[0]
		if slices.ContainsFunc(pinned, current.Equal) {
			// Nothing vouches for the rest of the body: it is not hashed
			// against a pin, as Fetch's is. Only the pinned CAs of it are
			// trusted (or the lineage from the current one), never a
			// certificate a man in the middle appended.
			if followed := lin.Follow([]*x509.Certificate{current}); len(followed) > 0 {
				return followed, nil
			}
			return pinnedOf(served, pinned), nil
		}
		if followed := lin.Follow(pinned); len(followed) > 0 {
			return followed, nil
		}
		return nil, fmt.Errorf("%w: got %s", ErrMismatch, got)
	})
}

// FetchConfirmed is Fetch for a person who has no checksum yet: confirm
// is shown the checksum of the CA the server serves (a person compares
// it with what the server's administrator published, or accepts it
// explicitly) and returns nil to trust it. Everything else is as Fetch: no
// credential, the certificate of the very connection chains to the CA.
func FetchConfirmed(ctx context.Context, serverURL string, confirm func(sum string) error) ([]byte, *x509.CertPool, error) {
	return fetch(ctx, serverURL, func(sum string, _ []*x509.Certificate, _ agentapi.Lineage) ([]*x509.Certificate, error) {
		return nil, confirm(sum)
	})
}

// accept decides whether the server's CA (served[0]; served is the
// bundle /cacerts holds, sum its checksum) is trusted: nil error to trust
// it. It returns the CAs to trust from served[0] on (those of the lineage
// it followed, in lineage order) or nil when the whole bundle is trusted
// as it is, which only a check of sum itself may decide.
type accept func(sum string, served []*x509.Certificate, lin agentapi.Lineage) ([]*x509.Certificate, error)

// fetch downloads the CA and the lineage, has check accept the CA, and
// verifies the connection's certificate against what is trusted: the
// current CA and the ones the lineage names after it (a prepared
// rotation's next CA).
func fetch(ctx context.Context, serverURL string, check accept) ([]byte, *x509.CertPool, error) {
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
	body, state, err := get(ctx, client, serverURL, agentapi.CACertsPath)
	if err != nil {
		return nil, nil, err
	}
	certs, err := parseCerts(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	current := certs[0]
	// The lineage is checked link by link by signature: where it comes
	// from does not matter. A server without one (older, or never
	// rotated) answers 404.
	var lin agentapi.Lineage
	if raw, _, err := get(ctx, client, serverURL, agentapi.CALineagePath); err == nil {
		if lin, err = agentapi.ParseLineage(raw); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrMismatch, err)
		}
	}
	sum := checksum.Of(body)
	followed, err := check(sum, certs, lin)
	if err != nil {
		return nil, nil, err
	}
	if followed == nil {
		followed = lin.Follow([]*x509.Certificate{current})
	}
	trust := after(followed, current)
	if trust == nil {
		if followed != nil {
			// The lineage vouches for CAs, but not for the one served.
			return nil, nil, fmt.Errorf("%w: got %s, which the server's CA lineage does not prove", ErrMismatch, sum)
		}
		trust = certs
	}
	pool := x509.NewCertPool()
	var trustPEM []byte
	for _, c := range trust {
		pool.AddCert(c)
		trustPEM = append(trustPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if state == nil || len(state.PeerCertificates) == 0 {
		return nil, nil, fmt.Errorf("%w: the server presented no certificate", ErrMismatch)
	}
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := state.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, DNSName: u.Hostname(),
	}); err != nil {
		return nil, nil, fmt.Errorf("%w: the server's certificate does not chain to it: %v", ErrMismatch, err)
	}
	if slices.EqualFunc(trust, certs, (*x509.Certificate).Equal) {
		// No rotation: the bundle as served (a pin stored before compares
		// equal byte for byte).
		trustPEM = body
	}
	return trustPEM, pool, nil
}

// pinnedOf returns the CAs of served that pinned holds, in served's
// order.
func pinnedOf(served, pinned []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range served {
		if slices.ContainsFunc(pinned, c.Equal) {
			out = append(out, c)
		}
	}
	return out
}

// after returns the CAs of followed from current on; nil when current is
// not one of them.
func after(followed []*x509.Certificate, current *x509.Certificate) []*x509.Certificate {
	for i, c := range followed {
		if c.Equal(current) {
			return followed[i:]
		}
	}
	return nil
}

// get fetches path of the server and returns the body and the state of
// the connection it came on.
func get(ctx context.Context, client *http.Client, serverURL, path string) ([]byte, *tls.ConnectionState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(serverURL, "/")+path, nil)
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
	return body, resp.TLS, nil
}

// parseCerts parses a PEM bundle that must hold at least one certificate.
func parseCerts(pemData []byte) ([]*x509.Certificate, error) {
	if _, err := agentapi.CertPool(pemData); err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for rest := pemData; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
