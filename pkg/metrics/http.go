package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/request"
)

type routeKey struct{}

// route is where RecordRoute leaves the matched route's template for
// WithAPIMetrics.
type route struct{ template string }

// WithAPIMetrics counts calls of Drover's own API (request.KindAPI) by the
// template of the route that served them (RecordRoute), method and code,
// and times them; the logins among them are counted by kind and result.
// Nothing a client sends becomes a label: a path that matched no route is
// "unmatched", an unusual method "other". With m nil it adds nothing.
func (m *Server) WithAPIMetrics(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := request.FromContext(r.Context())
		if !ok || info.Kind != request.KindAPI {
			next.ServeHTTP(w, r)
			return
		}
		rt := &route{}
		rec := request.NewRecorder(w)
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)))
		template := rt.template
		if template == "" {
			template = "unmatched"
		}
		method, code := methodLabel(r.Method), rec.Status(r)
		m.APIRequests.WithLabelValues(template, method, CodeLabel(code)).Inc()
		m.APILatency.WithLabelValues(template, method).Observe(time.Since(start).Seconds())
		if kind := loginKind(template); kind != "" {
			m.Logins.WithLabelValues(kind, loginResult(code)).Inc()
		}
	})
}

// RecordRoute is a router middleware (mux.Router.Use) that tells
// WithAPIMetrics which route matched; nested routers overwrite it with the
// more precise template.
func RecordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := r.Context().Value(routeKey{}).(*route); ok {
			if cr := mux.CurrentRoute(r); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					rt.template = t
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loginKind names the routes that log a person in: with a password (local
// users, LDAP, Active Directory) or back from a provider's redirect (OIDC,
// GitHub); "" for any other.
func loginKind(template string) string {
	switch template {
	case "/v3/login":
		return "password"
	case "/v3/login/{provider}/callback":
		return "redirect"
	}
	return ""
}

// loginResult is a login's outcome from its answer.
func loginResult(code int) string {
	switch {
	case code < 400:
		return "ok"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return "refused"
	case code == http.StatusTooManyRequests:
		return "limited"
	case code < 500:
		return "invalid"
	default:
		return "error"
	}
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
