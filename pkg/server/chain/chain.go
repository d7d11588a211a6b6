package chain

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/connlimit"
	"github.com/drover-dev/drover/pkg/console"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/tracing"
)

// Handlers is everything the request path is composed of.
type Handlers struct {
	Logger *slog.Logger
	// Audit receives one entry per request; nil: none.
	Audit *audit.Log
	Auth  authn.TokenAuthenticator
	// Access decides who may reach which cluster.
	Access *access.Checker
	// Proxy serves the clusters; nil: none (tests of the API alone).
	Proxy *authproxy.Proxy
	// Connect is the agents' tunnel endpoint (package tunnel); nil: none.
	Connect http.Handler
	// API is Drover's JSON API (*api.API); nil: none (tests of the proxy
	// alone).
	API API
	// Client says whose forwarding headers name the client (the trusted
	// proxies); zero: nobody's, the peer is the client.
	Client request.ClientOptions
	// Body bounds the time request bodies may take; zero: the defaults.
	Body connlimit.BodyOptions
	// Metrics counts the API's calls and logins; nil: not counted.
	Metrics *metrics.Server
	// Replicas relays kubectl requests to the server replica holding the
	// cluster's tunnel (package replica); nil: a server alone.
	Replicas Relayer
	// Ready says whether /readyz answers 200 (false: 503, a replica
	// draining before it stops); nil: always.
	Ready func() bool
	// Tracer makes the spans of the request path; nil: no traces, and no
	// tracing filter in the chain.
	Tracer *tracing.Tracer
	// FromPeer says which verified peer replica relayed a request (the
	// only trace context a request may bring); nil: none.
	FromPeer func(context.Context) (string, bool)
	// Console serves the web console's page and assets (package
	// console) at console.Paths and console.AssetsPrefix; nil: none.
	Console http.Handler
	// Shell redeems the console's shell tickets (package shell) at
	// shell.Path; nil: no shell.
	Shell shell.Redeemer
}

// Relayer is the relay between server replicas: WithPeer recognises (and
// strips) a peer's credential on every request, WithRelay sends a request
// on to the replica holding its cluster's tunnel.
type Relayer interface {
	WithPeer(next http.Handler) http.Handler
	WithRelay(next http.Handler) http.Handler
}

// API registers the JSON API's routes: PublicRoutes need no credential,
// Routes run after authentication.
type API interface {
	PublicRoutes(r *mux.Router)
	Routes(r *access.Routes)
}

// NewHandler is the one place the request path is composed. Outermost
// first, for every request:
//
//	connlimit.WithBodyDeadline  a body must keep coming (Handlers.Body), or
//	                           its reads fail; lifted at its end
//	WithPanicRecovery        a panic answers 500, never a stack trace
//	request.WithRequestInfo  what the request is about, parsed once,
//	                         including the client's address (Handlers.Client)
//	Relayer.WithPeer         replicas only: a peer replica's credential
//	                         removed from the request and, if valid, the
//	                         request marked as relayed (the client address
//	                         the peer names believed, the connection out of
//	                         its address's cap); valid or not, such a
//	                         request is never relayed again
//	tracing.WithServerSpan   with --trace-endpoint only: the request's span
//	                         (a trace context only from a verified peer)
//	metrics.WithAPIMetrics   API calls by route template, method and code;
//	                         logins by kind and result
//	audit.WithAudit          one entry per request, refusals included
//	authn.WithClusterAddress a path that is not Drover's own with a token
//	                         scoped to a cluster is that cluster's: put
//	                         under /k8s/clusters/{id} (an unverifiable
//	                         token there: 401)
//	router:
//	  console  / /index.html /favicon.ico /assets/...  (package console;
//	           no credential read)
//	  public   /healthz /readyz /cacerts /v3/login /v3/login/providers
//	           /v3/login/{provider}/begin|callback /v3/import/{token}
//	           (the logins rate limited per user and client address; see pkg/api)
//	  agents   /v3/connect   registration token, checked by pkg/tunnel
//	  shell    /v3/clusters/{id}/shell   shellChain (a websocket; the
//	           console's shell into a pod)
//	  users    /v3/...       apiChain
//	  kubectl  /k8s/clusters/{id}/...   proxyChain
//
// Tests that need the request path use this function rather than composing
// their own.
func NewHandler(h Handlers) http.Handler {
	r := NewRouter()
	// Routes match the path as the client escaped it (the proxy must keep
	// the client's escaping, and an escaped slash is no separator), never
	// cleaned. Before any route: mux copies the setting into each route as
	// it is made.
	r.UseEncodedPath()
	r.SkipClean(true)
	// First: most requests are kubectl's, and the router tries its routes
	// in order (no other route's path starts with the prefix).
	if h.Proxy != nil {
		r.PathPrefix(request.ProxyPrefix).Handler(proxyChain(h))
	}
	ok := func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }
	r.HandleFunc("/healthz", ok).Methods(http.MethodGet)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if h.Ready != nil && !h.Ready() {
			apierr.Unavailable(w, "draining: this server is stopping")
			return
		}
		ok(w, r)
	}).Methods(http.MethodGet)
	if h.API != nil {
		h.API.PublicRoutes(r)
	}
	if h.Console != nil {
		for _, p := range console.Paths {
			r.Handle(p, h.Console).Methods(http.MethodGet, http.MethodHead)
		}
		r.PathPrefix(console.AssetsPrefix).Handler(h.Console).Methods(http.MethodGet, http.MethodHead)
	}
	if h.Connect != nil {
		r.Handle(agentapi.ConnectPath, h.Connect)
	}
	if h.Proxy != nil && h.Shell != nil {
		r.Handle(shell.Path, shellChain(h)).Methods(http.MethodGet)
	}
	if h.API != nil {
		r.PathPrefix(request.APIPrefix).Handler(apiChain(h))
	}
	r.Use(metrics.RecordRoute)

	var handler http.Handler = r
	if h.Proxy != nil {
		handler = authn.WithClusterAddress(handler, h.Auth, h.Logger)
	}
	handler = audit.WithAudit(handler, h.Audit)
	handler = h.Metrics.WithAPIMetrics(handler)
	handler = h.Tracer.WithServerSpan(handler, h.FromPeer)
	if h.Replicas != nil {
		handler = h.Replicas.WithPeer(handler)
	}
	handler = request.WithRequestInfo(handler, h.Client)
	handler = WithPanicRecovery(handler, h.Logger)
	handler = connlimit.WithBodyDeadline(handler, h.Body)
	return handler
}

// proxyChain is the path of a kubectl request, outermost first:
//
//	authn.WithAuthentication      bearer token → Identity, or 401
//	audit.WithIdentity            the identity into the audit entry
//	access.WithClusterAccess      may this caller reach the cluster in the
//	                              path (scope, membership, existence), or 403/404
//	Relayer.WithRelay             replicas only: the cluster's tunnel is on
//	                              another replica: relayed there, with the
//	                              caller's credential, to run this chain again
//	Proxy.WithClientIdentity      who the cluster will see: the caller, or a
//	                              canonical --as request; other identity headers 400
//	Proxy.WithClusterSession      the cluster's tunnel session, or 503
//	Proxy.WithNestedApproval      --as only: SubjectAccessReviews in the cluster, or 403
//	Proxy.WithDownstreamCredential a token of the impersonation account of
//	                              exactly that identity (pkg/accounts), or 403/503
//	Proxy                         checks every step above ran, then forwards
//	                              (strip, impersonate, verify, tunnel)
//
// With --trace-endpoint, each step that can wait (authentication, access,
// relay, session, nested, credential) has a span of its own (tracing.Step)
// and the forwarded request a client span (authproxy.Options.Tracer).
func proxyChain(h Handlers) http.Handler {
	tr := h.Tracer
	var handler http.Handler = h.Proxy
	handler = tr.Step("drover credential", h.Proxy.WithDownstreamCredential, handler)
	handler = tr.Step("drover nested", h.Proxy.WithNestedApproval, handler)
	handler = tr.Step("drover session", h.Proxy.WithClusterSession, handler)
	handler = h.Proxy.WithClientIdentity(handler)
	if h.Replicas != nil {
		handler = tr.Step("drover relay", func(next http.Handler) http.Handler {
			return tr.WithPropagation(h.Replicas.WithRelay(next))
		}, handler)
	}
	handler = tr.Step("drover access", func(next http.Handler) http.Handler {
		return access.WithClusterAccess(next, h.Access, h.Logger)
	}, handler)
	handler = tr.WithIdentity(handler)
	handler = audit.WithIdentity(handler)
	handler = tr.Step("drover authn", func(next http.Handler) http.Handler {
		return authn.WithAuthentication(next, h.Auth, h.Logger)
	}, handler)
	return handler
}

// apiChain is the path of an authenticated API call, outermost first:
//
//	authn.WithSessionAuthentication
//	                           bearer token → Identity, or else the
//	                           console's session cookie: a state-changing
//	                           request (or a websocket) from another Origin
//	                           or without the CSRF token 403 (package
//	                           websession), then → Identity; or 401
//	audit.WithIdentity         the identity into the audit entry
//	router                     the matched route, then
//	  access.Routes.WithScope  does the route admit this credential? a
//	                           token scoped to one cluster reaches almost
//	                           nothing; a route that declared no scope
//	                           refuses everyone (403)
//	  API handler              checks its own role (pkg/api)
func apiChain(h Handlers) http.Handler {
	routes := access.NewRoutes(NewRouter())
	h.API.Routes(routes)
	routes.Router().Use(metrics.RecordRoute, routes.WithScope(h.Logger))
	var handler http.Handler = routes.Router()
	handler = h.Tracer.WithIdentity(handler)
	handler = audit.WithIdentity(handler)
	handler = h.Tracer.Step("drover authn", func(next http.Handler) http.Handler {
		return authn.WithSessionAuthentication(next, h.Auth, h.Logger)
	}, handler)
	return handler
}

// shellChain is the path of the console's shell websocket, outermost
// first:
//
//	authn.WithSessionAuthentication  the session cookie, after the Origin
//	                                 check (websession.Check), or 401/403
//	audit.WithIdentity               the identity into the audit entry
//	shell.WithShell                  a websocket with a ticket issued to this
//	                                 session for this cluster, spent here; the
//	                                 request becomes the exec it approved, with
//	                                 the session as its bearer token
//	proxyChain                       all of it, from authentication on, as
//	                                 for a kubectl exec
func shellChain(h Handlers) http.Handler {
	handler := shell.WithShell(proxyChain(h), h.Shell, h.Logger)
	handler = audit.WithIdentity(handler)
	return authn.WithSessionAuthentication(handler, h.Auth, h.Logger)
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
				logger.Error("handler panic", "path", request.LogPath(r), "panic", v)
				apierr.Internal(w)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// NewRouter returns a router whose misses are answered as the API answers
// everything: a metav1.Status (404, 405).
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierr.NotFound(w, "no such path %q", request.RedactPath(r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierr.MethodNotAllowed(w, "%s is not allowed on %s", r.Method, request.RedactPath(r.URL.Path))
	})
	return r
}
