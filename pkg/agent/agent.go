package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/capin"
	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/flow"
	"github.com/drover-dev/drover/pkg/token"
)

// Options configure an agent.
type Options struct {
	ServerURL  string
	CAChecksum string
	// TokenFile holds the registration token; it is re-read before every
	// connect so a rotated token takes effect without a restart, and every
	// TokenPoll while a tunnel is open: a changed, well-formed token makes
	// the agent reconnect with it at once (a rotation then moves each agent
	// as soon as the kubelet updates its Secret volume, one by one, rather
	// than all of a cluster's agents together when the old token's grace
	// ends and the server closes their tunnels).
	TokenFile string
	// TokenPoll is how often TokenFile is read while a tunnel is open
	// (default 10s).
	TokenPoll time.Duration
	// Kubeconfig is used instead of the in-cluster config when set.
	Kubeconfig string
	Kind       string // agentapi.KindCluster or agentapi.KindNode
	NodeName   string
	// Version is this agent's build version (package version), sent in
	// agentapi.VersionHeader at every connect: the server's roll-out waits
	// for the version it ships. Empty sends none.
	Version string
	// HealthListen serves /healthz, /readyz and /metrics when set (e.g. ":8090").
	HealthListen string
	// Metrics records the agent's metrics; nil: a fresh registry.
	Metrics *Metrics

	BackoffMin time.Duration
	BackoffMax time.Duration
	// RefusedBackoff is how long the agent waits after the server refused
	// its tunnel for good (a RefusedError that is Permanent: a token that
	// is not valid, say) before it tries again, unless the token file
	// changes first (default 5m).
	RefusedBackoff time.Duration
	// TokenTTL is the requested lifetime of the controller token the cluster
	// agent hands over.
	TokenTTL time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

// Agent is a running agent.
type Agent struct {
	opts     Options
	cs       kubernetes.Interface
	endpoint string
	apiCA    []byte
	serverCA *tls.Config
	// trust is what the last pin accepted (PEM): the CAs the agent
	// trusts from then on, narrowed as it follows a CA rotation, so that
	// a rotated-away CA (its key maybe leaked) is not trusted again.
	trust []byte
	// ready is true while a tunnel is open.
	ready atomic.Bool
}

// Run pins the server, prepares the downstream cluster and keeps the tunnel
// open until ctx is done. It returns an error only for what retrying cannot
// fix (bad configuration, CA mismatch).
func Run(ctx context.Context, opts Options) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = 250 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.RefusedBackoff <= 0 {
		opts.RefusedBackoff = 5 * time.Minute
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 24 * time.Hour
	}
	if opts.TokenPoll <= 0 {
		opts.TokenPoll = 10 * time.Second
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	cfg, err := restConfig(opts.Kubeconfig)
	if err != nil {
		return err
	}
	endpoint, ca, err := endpointOf(cfg)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("apiserver client: %w", err)
	}
	a := &Agent{opts: opts, cs: cs, endpoint: endpoint, apiCA: ca}
	log := opts.Logger.With("kind", opts.Kind, "node", opts.NodeName)
	if opts.HealthListen != "" {
		stop, err := a.serveHealth(opts.HealthListen, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	b := backoff{min: opts.BackoffMin, max: opts.BackoffMax}
	// Pin the server first; a mismatch is fatal, an unreachable server is not.
	for {
		trust, pool, err := capin.Fetch(ctx, opts.ServerURL, opts.CAChecksum)
		if err == nil {
			a.serverCA = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			a.trust = trust
			break
		}
		if errors.Is(err, capin.ErrMismatch) || errors.Is(err, checksum.ErrMalformed) {
			return err
		}
		log.Warn("server not reachable yet", "err", err)
		if !b.sleep(ctx) {
			return nil
		}
	}
	if opts.Kind == agentapi.KindCluster {
		for {
			err := ensureDownstream(ctx, cs)
			if err == nil {
				break
			}
			log.Warn("prepare downstream cluster", "err", err)
			if !b.sleep(ctx) {
				return nil
			}
		}
	}
	b.reset()
	var sa saToken
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		// Only the cluster agent hands over a credential; a node agent
		// carries bytes and holds no right to mint one.
		if opts.Kind == agentapi.KindCluster && (sa.value == "" || !opts.Now().Before(sa.renewAt())) {
			if sa, err = requestToken(ctx, cs, opts.TokenTTL, opts.Now()); err != nil {
				log.Warn("controller token", "err", err)
				sa = saToken{}
				b.sleep(ctx)
				continue
			}
		}
		// The pin again before each tunnel: a CA rotation (the server's CA
		// lineage) is followed from the pinned CA.
		if err := a.repin(ctx, log); err != nil {
			return err
		}
		connected, regToken, err := a.connectOnce(ctx, sa, log)
		a.ready.Store(false)
		opts.Metrics.Connected.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			b.reset()
		}
		var refused *RefusedError
		switch {
		case errors.As(err, &refused):
			opts.Metrics.Refusals.WithLabelValues(strconv.Itoa(refused.Code)).Inc()
			if refused.Permanent() {
				log.Error("the server refuses this agent's tunnel; waiting before trying again, or until the token file changes",
					"status", refused.Code, "message", refused.Message, "hint", refused.Hint(), "retry_in", opts.RefusedBackoff.String())
				a.waitRefused(ctx, regToken)
				b.reset()
				continue
			}
			log.Warn("the server refused the tunnel for now", "status", refused.Code, "message", refused.Message)
		case err != nil:
			log.Warn("tunnel closed", "err", err)
		}
		b.sleep(ctx)
	}
}

// repin fetches the server's CA again and trusts what the pin (followed
// through a CA rotation) accepts. A mismatch is fatal, as at start; a
// server out of reach is not (the tunnel's dial says so). The pin is what
// the last one accepted, not the checksum again: once the agent followed a
// finished rotation, the old CA is no longer trusted by this process (its
// key may be why the CA was rotated). A restart starts from the checksum.
func (a *Agent) repin(ctx context.Context, log *slog.Logger) error {
	if a.opts.CAChecksum == "" {
		return nil
	}
	var trust []byte
	var pool *x509.CertPool
	var err error
	if a.trust != nil {
		trust, pool, err = capin.FetchPinned(ctx, a.opts.ServerURL, a.trust)
	} else {
		trust, pool, err = capin.Fetch(ctx, a.opts.ServerURL, a.opts.CAChecksum)
	}
	switch {
	case err == nil:
		a.serverCA = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		a.trust = trust
	case errors.Is(err, capin.ErrMismatch):
		return err
	case ctx.Err() == nil:
		log.Warn("server CA not fetched again; keeping the one pinned", "err", err)
	}
	return nil
}

// waitRefused waits RefusedBackoff after a permanent refusal of token, or
// less when the token file gets another well-formed token (a rotation
// reaching the pod, an import manifest applied again), or until ctx ends.
func (a *Agent) waitRefused(ctx context.Context, token string) {
	wait, cancel := context.WithTimeout(ctx, a.opts.RefusedBackoff)
	defer cancel()
	go a.watchToken(wait, token, cancel)
	<-wait.Done()
}

// connectOnce opens one tunnel session and serves it until it ends or the
// controller token it handed over is due for renewal. It returns whether
// the tunnel opened and the registration token it used ("" when the file
// held none).
func (a *Agent) connectOnce(ctx context.Context, sa saToken, log *slog.Logger) (bool, string, error) {
	raw, err := os.ReadFile(a.opts.TokenFile)
	if err != nil {
		return false, "", fmt.Errorf("read registration token: %w", err)
	}
	regToken := strings.TrimSpace(string(raw))
	if _, err := token.Parse(regToken); err != nil {
		return false, "", fmt.Errorf("registration token in %s: %w", a.opts.TokenFile, err)
	}
	params, err := agentapi.AgentParams{
		Protocol: agentapi.Protocol, Kind: a.opts.Kind, Node: a.opts.NodeName, Endpoint: a.endpoint, CACert: a.apiCA, Token: sa.value,
	}.Encode()
	if err != nil {
		return false, "", err
	}
	headers := http.Header{}
	headers.Set("Authorization", "Bearer "+regToken)
	headers.Set(agentapi.ParamsHeader, params)
	if a.opts.Version != "" {
		headers.Set(agentapi.VersionHeader, a.opts.Version)
	}

	sessCtx, cancel := context.WithCancel(ctx)
	if sa.value != "" {
		// Re-open the tunnel with a fresh credential at 80% of its life.
		sessCtx, cancel = context.WithDeadline(ctx, sa.renewAt())
	}
	defer cancel()
	var rotated atomic.Bool
	go a.watchToken(sessCtx, regToken, func() { rotated.Store(true); cancel() })
	dialer := &websocket.Dialer{
		TLSClientConfig:  a.serverCA.Clone(),
		HandshakeTimeout: 10 * time.Second,
		Proxy:            http.ProxyFromEnvironment,
		ReadBufferSize:   64 << 10,
		WriteBufferSize:  64 << 10,
		// A tunnel that hears nothing (not even the answers to its pings) is
		// closed, so a frozen or vanished server is noticed within the bound.
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return agentapi.WatchIdle(c, agentapi.AgentIdleTimeout, func() {
				log.Warn("tunnel silent, closing it", "idle", agentapi.AgentIdleTimeout)
			}), nil
		},
	}
	connected := false
	onConnect := func() {
		connected = true
		a.ready.Store(true)
		a.opts.Metrics.Connects.Inc()
		a.opts.Metrics.Connected.Set(1)
		log.Info("tunnel open", "server", a.opts.ServerURL)
	}
	err = openTunnel(sessCtx, wsURL(a.opts.ServerURL), headers, dialer, a.dialEndpoint(log), onConnect)
	switch {
	case ctx.Err() != nil:
	case rotated.Load():
		log.Info("registration token changed; reconnecting with the new one")
		err = nil
	case err == nil && sessCtx.Err() != nil:
		log.Info("renewing tunnel for a fresh controller token")
	}
	return connected, regToken, err
}

// watchToken reads the token file every TokenPoll until ctx ends and calls
// changed once if it holds a well-formed token other than current. A file
// being rewritten (empty, half-written, missing) is not a change: the next
// read decides.
func (a *Agent) watchToken(ctx context.Context, current string, changed func()) {
	t := time.NewTicker(a.opts.TokenPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		raw, err := os.ReadFile(a.opts.TokenFile)
		if err != nil {
			continue
		}
		tok := strings.TrimSpace(string(raw))
		if tok == current {
			continue
		}
		if _, err := token.Parse(tok); err != nil {
			continue
		}
		changed()
		return
	}
}

// allowTCP lets the server open streams of the networks it knows. Which
// address is enforced by dialEndpoint: refusing here would make remotedialer
// end the whole tunnel.
func allowTCP(proto, _ string) bool {
	return proto == agentapi.NetworkTCP || proto == agentapi.NetworkFlow
}

// dialEndpoint dials only the apiserver endpoint; anything else is refused.
func (a *Agent) dialEndpoint(log *slog.Logger) remotedialer.Dialer {
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if address == agentapi.ProbeAddress {
			a.opts.Metrics.Dials.WithLabelValues("probe").Inc()
			return nil, errors.New("liveness probe")
		}
		if !allowTCP(network, address) || address != a.endpoint {
			a.opts.Metrics.Dials.WithLabelValues("refused").Inc()
			log.Warn("refused a dial outside the agent's policy", "network", network, "address", address)
			return nil, fmt.Errorf("agent policy: dial to %s refused", address)
		}
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			a.opts.Metrics.Dials.WithLabelValues("error").Inc()
			return nil, err
		}
		a.opts.Metrics.Dials.WithLabelValues("ok").Inc()
		if network == agentapi.NetworkFlow {
			return flow.Bridge(c), nil
		}
		return c, nil
	}
}

func wsURL(serverURL string) string {
	return "wss://" + strings.TrimPrefix(strings.TrimRight(serverURL, "/"), "https://") + agentapi.ConnectPath
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig: %w", err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster config (set --kubeconfig outside a cluster): %w", err)
	}
	return cfg, nil
}

// backoff is capped exponential backoff with jitter: each wait is drawn
// from [d/2, d], so a fleet restarted together spreads out.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

// sleep waits the next backoff; false if ctx ended first.
func (b *backoff) sleep(ctx context.Context) bool {
	t := time.NewTimer(b.next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
