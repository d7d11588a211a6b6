package request

import (
	"net/http"
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
// --append-server-path). The Info in r's context is re-derived in place
// from the new path (the audit entry, which holds it, describes the
// request as served); it is the one time an Info changes after Parse.
// clusterID must be a valid cluster id; ok is false otherwise and r is
// returned unchanged.
func Readdress(r *http.Request, clusterID string) (_ *http.Request, ok bool) {
	if !ids.Cluster.Valid(clusterID) || !strings.HasPrefix(r.URL.Path, "/") || DroverOwned(r.URL.Path) {
		return r, false
	}
	u := *r.URL
	u.Path = ProxyPrefix + clusterID + r.URL.Path
	if r.URL.RawPath != "" {
		u.RawPath = ProxyPrefix + clusterID + r.URL.RawPath
	}
	out := r.Clone(r.Context())
	out.URL = &u
	out.RequestURI = u.RequestURI()
	if info, ok := FromContext(r.Context()); ok {
		parsed := parsePath(out)
		parsed.Client = info.Client
		*info = *parsed
	}
	return out, true
}
