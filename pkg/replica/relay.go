package replica

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"time"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/connlimit"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/request"
)

// Headers a replica sets on a relayed request. WithPeer removes both from
// every request, whoever sent them.
const (
	// PeerHeader carries the sending replica's peer credential.
	PeerHeader = "Drover-Peer"
	// PeerClientHeader names the client's address as the sending replica
	// saw it; believed only with a valid PeerHeader.
	PeerClientHeader = "Drover-Peer-Client"
)

// Relay sends requests to the replica holding their cluster's tunnel.
type Relay struct {
	reg       *Registry
	index     *Index
	log       *slog.Logger
	metrics   *metrics.Server
	transport http.RoundTripper
}

// RelayOptions configure a Relay.
type RelayOptions struct {
	Registry *Registry
	Index    *Index
	Logger   *slog.Logger
	Metrics  *metrics.Server
	// CAPEM is the service's CA: peers' serving certificates are verified
	// against it, and nothing else.
	CAPEM []byte
}

// NewRelay returns a Relay.
func NewRelay(o RelayOptions) (*Relay, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(o.CAPEM) {
		return nil, errors.New("replica: no CA certificate to verify peers with")
	}
	tr := &http.Transport{
		Proxy:       nil, // peers are reached directly, never through $HTTPS_PROXY
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		// HTTP/1.1 (no ForceAttemptHTTP2): upgrades (exec, attach,
		// port-forward) pass through as they are.
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // watches and long requests answer late
	}
	return &Relay{reg: o.Registry, index: o.Index, log: o.Logger, metrics: o.Metrics, transport: tr}, nil
}

type peerKey struct{}

// claimedKey marks a request that carried a peer credential, valid or not.
type claimedKey struct{}

// PeerFrom returns the id of the replica a request was relayed from.
func PeerFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(peerKey{}).(string)
	return id, ok
}

// WithPeer removes the peer headers from every request and, when they
// carry a live peer's credential, records the peer in the context, takes
// the client's address from it, and takes the connection out of its
// address's cap (package connlimit: a replica carries many users'
// requests from one address). An invalid credential is ignored: the
// request goes on as anyone's, but is not relayed (a replica this one does
// not know yet may have sent it: relaying it could send it back). Put it
// right inside request.WithRequestInfo.
func (rl *Relay) WithPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, client := r.Header.Get(PeerHeader), r.Header.Get(PeerClientHeader)
		r.Header.Del(PeerHeader)
		r.Header.Del(PeerClientHeader)
		if raw == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), claimedKey{}, true)
		id, ok := rl.reg.verifyPeer(ctx, raw)
		if !ok {
			rl.log.Debug("a request carried a peer credential that is no live replica's; ignored", "remote", r.RemoteAddr)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		if id == rl.reg.ID() {
			rl.log.Warn("a request this replica relayed came back to it: its --peer-url must reach this replica alone, "+
				"not a load balancer", "peer_url", rl.reg.URL())
		}
		connlimit.LeaveAddressCap(ctx)
		if info, ok := request.FromContext(ctx); ok {
			if ap, err := netip.ParseAddr(client); err == nil {
				info.Client = ap.Unmap()
			}
		}
		rl.metrics.Relayed.WithLabelValues("in").Inc()
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, peerKey{}, id)))
	})
}

// WithRelay sends a kubectl request for a cluster whose tunnel this
// replica does not hold to the replica that holds it, with the client's
// credential and the peer credential; anything else (a request that
// carried a peer credential, valid or not; a cluster whose tunnel is here
// or nowhere) goes on here. Put it
// after authentication and the access check, before anything that needs
// the tunnel.
func (rl *Relay) WithRelay(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := request.FromContext(r.Context())
		if claimed, _ := r.Context().Value(claimedKey{}).(bool); claimed || !ok || info.ClusterID == "" {
			next.ServeHTTP(w, r)
			return
		}
		h, relay, err := rl.index.route(r.Context(), info.ClusterID)
		if err != nil && len(rl.index.local.Holding(info.ClusterID)) == 0 {
			// Nothing here to serve it with, and no way to find who has it.
			rl.log.Warn("find the replica holding the cluster's tunnel", "cluster", info.ClusterID, "err", err)
			w.Header().Set("Retry-After", "1")
			apierr.Unavailable(w, "the database cannot be reached to find the server replica holding cluster %q's tunnel; retry", info.ClusterID)
			return
		}
		if !relay {
			next.ServeHTTP(w, r)
			return
		}
		target, err := url.Parse(h.URL)
		if err != nil {
			rl.log.Error("a replica's URL", "replica", h.ReplicaID, "err", err)
			apierr.Unavailable(w, "the cluster's tunnel is on another server replica that cannot be reached")
			return
		}
		rl.metrics.Relayed.WithLabelValues("out").Inc()
		client := ""
		if info.Client.IsValid() {
			client = info.Client.String()
		}
		(&httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Host = ""
				pr.Out.Header.Set(PeerHeader, rl.reg.credential())
				if client != "" {
					pr.Out.Header.Set(PeerClientHeader, client)
				}
			},
			Transport:     rl.transport,
			FlushInterval: -1,
			ErrorLog:      slog.NewLogLogger(rl.log.Handler(), slog.LevelDebug),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if errors.Is(err, context.Canceled) {
					return // the client went away
				}
				rl.log.Warn("relay to the replica holding the cluster's tunnel", "cluster", info.ClusterID, "replica", h.ReplicaID, "err", err)
				w.Header().Set("Retry-After", "1")
				apierr.Unavailable(w, "the server replica holding the cluster's tunnel did not answer; retry")
			},
		}).ServeHTTP(w, r)
	})
}
