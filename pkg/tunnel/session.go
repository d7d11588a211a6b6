package tunnel

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rancher/remotedialer"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/flow"
)

// Session is one live agent tunnel.
type Session struct {
	ClusterID   string
	Params      agentapi.AgentParams
	ConnectedAt time.Time
	// AgentVersion is the build version the agent sent
	// (agentapi.VersionHeader); empty for agents that predate it.
	AgentVersion string

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
		DialTLSContext:        s.dialTLS(tlsConfig.Clone()),
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
	c, _, err := s.dialStream(ctx)
	return c, err
}

// dialStream returns a flow-controlled stream (pkg/flow) to the endpoint
// and, under it, the tunnel's own connection.
func (s *Session) dialStream(ctx context.Context) (stream, under net.Conn, err error) {
	if s.dials != nil {
		s.dials.Inc()
	}
	under, err = s.dial(ctx, agentapi.NetworkFlow, s.Params.Endpoint)
	if err != nil {
		return nil, nil, fmt.Errorf("dial cluster %s through tunnel: %w", s.ClusterID, err)
	}
	return flow.New(under), under, nil
}

// handshakeTimeout bounds the TLS handshake with the endpoint.
const handshakeTimeout = 10 * time.Second

// maxDials bounds how often one connection is dialed when the tunnel's
// connection sync cuts it (syncClosed).
const maxDials = 3

// dialTLS returns the transports' TLS dialer. remotedialer's agent sends
// the server the ids of its open streams once a minute, and the server
// closes each of its own that is not in the list ("sync from client"). A
// stream the server opened while that list was on its way is closed too,
// before the agent has seen it: its TLS handshake fails, as the list went
// ahead of the agent's first byte of that stream. As no request has been
// sent on a connection whose handshake failed, it is dialed again, whatever
// the request (a write as well as a read); other handshake failures are
// returned.
func (s *Session) dialTLS(cfg *tls.Config) func(ctx context.Context, _, _ string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		for n := 1; ; n++ {
			c, under, err := s.dialStream(ctx)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, cfg)
			hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
			err = tc.HandshakeContext(hctx)
			cancel()
			if err == nil {
				return tc, nil
			}
			tc.Close()
			if n < maxDials && ctx.Err() == nil && cutBySync(under) {
				continue
			}
			return nil, fmt.Errorf("TLS handshake with cluster %s through tunnel: %w", s.ClusterID, err)
		}
	}
}

// syncClosed is the text of remotedialer's error for a stream its
// connection sync closed (its value is not exported).
const syncClosed = "sync from client"

// cutBySync says whether the tunnel closed under, a closed stream, for the
// connection sync: its read then returns the cause at once.
func cutBySync(under net.Conn) bool {
	_, err := under.Read(nil)
	return err != nil && strings.Contains(err.Error(), syncClosed)
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
	c, err := s.dial(ctx, agentapi.NetworkTCP, agentapi.ProbeAddress)
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
