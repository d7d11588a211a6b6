package server

import (
	"log/slog"
	"net/http"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// chain is everything the handler composes.
type chain struct {
	auth   *authn.Authenticator
	api    *api.API
	proxy  *authproxy.Proxy
	tunnel *tunnel.Server
	audit  *audit.Log
	logger *slog.Logger
}

// buildHandler is the one place the request path is composed:
//
//	public:        /healthz /readyz /cacerts /v3/login /v3/login/providers
//	               /v3/login/{provider}/begin /v3/login/{provider}/callback
//	               (rate limited per client address; see pkg/api)
//	agent tunnel:  /v3/connect            (registration token, checked by tunnel)
//	users:         /v3/...                authn → api
//	kubectl:       /k8s/clusters/{id}/... authn → authproxy (impersonation) → tunnel
//
// Outermost: panic recovery, then the audit log (so refusals are recorded
// too; authenticated routes add the identity right after authn).
func buildHandler(c chain) http.Handler {
	r := api.NewRouter()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }
	r.HandleFunc("/healthz", ok).Methods(http.MethodGet)
	r.HandleFunc("/readyz", ok).Methods(http.MethodGet)
	c.api.PublicRoutes(r)
	r.Handle(agentapi.ConnectPath, c.tunnel)

	r.PathPrefix(authproxy.PathPrefix).Handler(authn.WithAuthentication(audit.WithIdentity(c.proxy), c.auth, c.logger))

	authed := api.NewRouter()
	c.api.Routes(authed)
	r.PathPrefix("/v3/").Handler(authn.WithAuthentication(audit.WithIdentity(authed), c.auth, c.logger))

	// The proxy path must keep the client's escaping: match on the raw path.
	r.UseEncodedPath()
	r.SkipClean(true)
	return WithPanicRecovery(audit.WithAudit(r, c.audit), c.logger)
}

// WithPanicRecovery answers a panicking handler with a 500 Status and logs
// it, so no request can take the server down or leak a stack trace.
func WithPanicRecovery(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // the proxy's way of aborting a response; net/http handles it
				}
				logger.Error("handler panic", "path", audit.RedactPath(r.URL.Path), "panic", v)
				apierr.Internal(w)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
