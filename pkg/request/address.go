package request

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/ids"
)

// DroverOwned reports whether path p belongs to Drover whatever token the
// request carries: the proxy's prefix, the JSON API (with the agents'
// connect endpoint and the logins) and the CA bundle. Every other path,
// Drover's /healthz and /readyz included, is addressed by the token: a
// request whose token is scoped to a cluster is that cluster's (Readdress).
func DroverOwned(p string) bool {
	return strings.HasPrefix(p, ProxyPrefix) || strings.HasPrefix(p, APIPrefix) || p == strings.TrimSuffix(APIPrefix, "/") ||
		p == agentapi.CACertsPath
}

// Readdress returns r as the proxied request it stands for: the same
// request under ProxyPrefix/clusterID, with the client's escaping kept. It
// is for a request whose path lacks the prefix but whose token is scoped
// to clusterID (a client that built an absolute URL from the kubeconfig's
// server and lost its path, as `kubectl proxy` does without
// --append-server-path). clusterID must be a valid cluster id; ok is false
// otherwise and r is returned unchanged.
func Readdress(r *http.Request, clusterID string) (_ *http.Request, ok bool) {
	if !ids.Cluster.Valid(clusterID) || !strings.HasPrefix(r.URL.Path, "/") || DroverOwned(r.URL.Path) {
		return r, false
	}
	u := *r.URL
	u.Path = ProxyPrefix + clusterID + r.URL.Path
	if r.URL.RawPath != "" {
		u.RawPath = ProxyPrefix + clusterID + r.URL.RawPath
	}
	return Reroute(r, &u), true
}

// Reroute returns a clone of r addressed to u, and re-derives the Info in
// r's context in place from the new URL (the client's address stays), so
// the audit entry, which holds it, describes the request as served. It is
// for the filters that turn a request into another before the chain that
// serves it (Readdress; package shell's websocket into a proxied exec):
// the only times an Info changes after Parse.
func Reroute(r *http.Request, u *url.URL) *http.Request {
	out := r.Clone(r.Context())
	out.URL = u
	out.RequestURI = u.RequestURI()
	if info, ok := FromContext(r.Context()); ok {
		parsed := parsePath(out)
		parsed.Client = info.Client
		*info = *parsed
	}
	return out
}
