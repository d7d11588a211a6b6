package access

import (
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
)

// Scope is which credentials a route of the API admits. Every route
// declares one when it is registered (Routes.Handle); WithScope, the one
// filter that enforces it, refuses every request to a route that declared
// none (default deny).
type Scope uint8

// Scopes. A credential scoped to one cluster (every kubeconfig token; the
// same token is presented to that cluster's apiserver through the -ace
// context) may use the proxy for its own cluster (checked by MayReach) and
// the routes marked AnyCredential, OwnCluster or OwnToken below; nothing
// else: no minting, no kubeconfigs, no changes to anyone's tokens, users,
// bindings or providers.
const (
	unclassified Scope = iota
	// Unscoped admits only credentials not limited to one cluster (login
	// sessions, unscoped API tokens).
	Unscoped
	// AnyCredential admits every credential (GET /v3/users/me).
	AnyCredential
	// OwnCluster admits a scoped credential only when the route's {id} is
	// its own cluster (GET /v3/clusters/{id}).
	OwnCluster
	// OwnToken admits a scoped credential only when the route's {id} is the
	// credential itself (DELETE /v3/tokens/{id}: revoking itself).
	OwnToken
)

// Routes is a router on which every route declares the credentials it
// admits.
type Routes struct {
	router *mux.Router
	scopes map[*mux.Route]Scope
}

// NewRoutes returns Routes registering on r.
func NewRoutes(r *mux.Router) *Routes {
	return &Routes{router: r, scopes: map[*mux.Route]Scope{}}
}

// Handle registers h for method and path, admitting the credentials of
// scope s.
func (rs *Routes) Handle(method, path string, s Scope, h http.HandlerFunc) {
	rs.scopes[rs.router.HandleFunc(path, h).Methods(method)] = s
}

// ScopeOf returns the scope a route declared (for tests that walk them).
func (rs *Routes) ScopeOf(route *mux.Route) (Scope, bool) {
	s, ok := rs.scopes[route]
	return s, ok && s != unclassified
}

// Router is the router the routes are registered on.
func (rs *Routes) Router() *mux.Router { return rs.router }

// WithScope is the router's middleware that enforces each matched route's
// scope against the request's credential (authentication must run
// before). A route that declared no scope refuses everyone.
func (rs *Routes) WithScope(logger *slog.Logger) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ident, ok := authn.FromContext(r.Context())
			if !ok {
				logger.Error("route scope checked without an identity")
				apierr.Unauthorized(w)
				return
			}
			route := mux.CurrentRoute(r)
			s, ok := rs.scopes[route]
			if !ok || s == unclassified {
				logger.Error("request to a route that declared no scope: refused", "method", r.Method)
				apierr.Forbidden(w, "this route admits no credential")
				return
			}
			if !Admits(s, ident, mux.Vars(r)["id"]) {
				apierr.Forbidden(w, "this token is scoped to cluster %q: it may only reach that cluster (through %s%s/), "+
					"read /v3/users/me and /v3/clusters/%s, and revoke itself", ident.ClusterID, request.ProxyPrefix, ident.ClusterID, ident.ClusterID)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Admits says whether a route of scope s admits the credential, with id the
// route's {id} (if any).
func Admits(s Scope, ident authn.Identity, id string) bool {
	if ident.ClusterID == "" {
		return s != unclassified
	}
	switch s {
	case AnyCredential:
		return true
	case OwnCluster:
		return id != "" && id == ident.ClusterID
	case OwnToken:
		return id != "" && id == ident.TokenID
	}
	return false
}
