package tunnel

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rancher/remotedialer"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// Session is one live agent tunnel.
type Session struct {
	ClusterID   string
	Params      agentapi.AgentParams
	ConnectedAt time.Time

	key    string
	dial   remotedialer.Dialer
	dials  prometheus.Counter // nil in tests that build sessions by hand
	pooled *http.Transport    // keep-alive pool for ordinary requests
	single *http.Transport    // one connection per request, for upgrades
	hangup hangup             // closes the tunnel's connection (CloseCluster)
	// tokenID is the registration token the agent connected with; the
	// session ends once it is gone or expired (RecheckTokens).
	tokenID string
}

func newSession(clusterID, key string, p agentapi.AgentParams, rd *remotedialer.Server, now time.Time) (*Session, error) {
	pool, err := agentapi.CertPool(p.CACert)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(p.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	s := &Session{ClusterID: clusterID, Params: p, ConnectedAt: now, key: key, dial: rd.Dialer(key)}
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	s.pooled = s.transport(tlsConfig, false)
	s.single = s.transport(tlsConfig, true)
	return s, nil
}

func (s *Session) transport(tlsConfig *tls.Config, single bool) *http.Transport {
	return &http.Transport{
		DialContext:           s.DialContext,
		TLSClientConfig:       tlsConfig.Clone(),
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		// Larger buffers mean fewer tunnel frames per response.
		ReadBufferSize:    64 << 10,
		WriteBufferSize:   64 << 10,
		DisableKeepAlives: single,
		// Pass Accept-Encoding through as the client sent it: a transport
		// that asks for gzip on its own also inflates the answer itself,
		// which cost most of the server's CPU on uncompressed LISTs.
		DisableCompression: true,
		// HTTP/1.1: upgrades (exec, attach, port-forward) need it, and a
		// pool of tunnel streams moves bulk data better than one h2 stream.
		ForceAttemptHTTP2: false,
	}
}

// DialContext opens a stream through the tunnel to the agent's endpoint.
// Whatever address the caller asks for, only the advertised endpoint is dialed.
func (s *Session) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	if s.dials != nil {
		s.dials.Inc()
	}
	c, err := s.dial(ctx, "tcp", s.Params.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("dial cluster %s through tunnel: %w", s.ClusterID, err)
	}
	return c, nil
}

// Transport returns the round tripper for a request; upgrade requests get a
// connection of their own that is closed if the upgrade is refused.
func (s *Session) Transport(upgrade bool) http.RoundTripper {
	if upgrade {
		return s.single
	}
	return syncRetry{rt: s.pooled}
}

// BaseURL is the downstream apiserver's URL.
func (s *Session) BaseURL() string { return "https://" + s.Params.Endpoint }

// probe asks the agent for an answer; only its arrival matters.
func (s *Session) probe(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.dial(ctx, "tcp", agentapi.ProbeAddress)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(timeout))
	io.Copy(io.Discard, io.LimitReader(c, 1))
}

func (s *Session) close() {
	s.pooled.CloseIdleConnections()
	s.single.CloseIdleConnections()
}

// ControllerConfig is a client config that reaches the cluster through this
// session with the controller's credential, the token the cluster agent
// handed over. Only cluster-agent sessions carry one; for a node-agent
// session it returns nil.
func (s *Session) ControllerConfig() *rest.Config {
	if s.Params.Kind != agentapi.KindCluster || s.Params.Token == "" {
		return nil
	}
	return &rest.Config{
		Host:        s.BaseURL(),
		BearerToken: s.Params.Token,
		Transport:   s.Transport(false),
		QPS:         20,
		Burst:       40,
		Timeout:     10 * time.Second,
		UserAgent:   "drover-controller",
	}
}
