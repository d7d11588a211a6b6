package providers

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"
)

// TLSConfig returns the client TLS configuration for a provider: TLS 1.2 or
// newer, verifying the server against caPEM when given (the system roots
// otherwise) and, when serverName is not empty, for that name instead of
// the dialled host. Verification is never turned off.
func TLSConfig(caPEM []byte, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("CA data holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// HTTPClient returns a client for talking to an identity provider: the given
// CA, a timeout for each request (dial, TLS, headers and body), the proxy
// from the environment (which never applies to loopback), and no redirects
// (a token must never follow one to another host).
func HTTPClient(caPEM []byte, timeout time.Duration) (*http.Client, error) {
	tlsCfg, err := TLSConfig(caPEM, "")
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}
