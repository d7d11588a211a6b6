package access

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
)

// Decision records that WithClusterAccess let a request through to a
// cluster: later steps (the proxy) check that it is there and names the
// same cluster and credential as the request.
type Decision struct {
	ClusterID string
	TokenID   string
}

type decisionKey struct{}

// NewDecisionContext returns ctx carrying d (WithClusterAccess's own
// record; exported for tests of the steps that check it).
func NewDecisionContext(ctx context.Context, d Decision) context.Context {
	return context.WithValue(ctx, decisionKey{}, d)
}

// DecisionFrom returns the request's access decision, if one was made.
func DecisionFrom(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(Decision)
	return d, ok
}

// WithClusterAccess lets a request for a cluster (request.Info.ClusterID)
// through only when its caller may reach that cluster (Checker.MayReach):
// 404 when the path names no cluster or an admin names one that does not
// exist, 403 out of the credential's scope or without a binding there, 401
// without an identity (authentication must run first), 500 when the store
// cannot answer. The cause goes to the log, never to the client.
func WithClusterAccess(next http.Handler, c *Checker, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ident, ok := authn.FromContext(r.Context())
		if !ok || ident.Username == "" {
			// Fail closed: a wiring mistake must not let anyone through.
			logger.Error("cluster access checked without an identity")
			apierr.Unauthorized(w)
			return
		}
		info, ok := request.FromContext(r.Context())
		if !ok || info.ClusterID == "" {
			apierr.NotFound(w, "no cluster named in path; use %s{cluster-id}/...", request.ProxyPrefix)
			return
		}
		id := info.ClusterID
		v, err := c.MayReach(r.Context(), CallerOf(ident), id)
		if err != nil {
			logger.Error("check cluster access", "cluster", id, "user", ident.UserID, "err", err)
			if store.Unavailable(err) {
				w.Header().Set("Retry-After", "1")
				apierr.Unavailable(w, "the database cannot be reached to check your access to cluster %q; retry", id)
				return
			}
			apierr.Internal(w)
			return
		}
		if v != Allowed {
			Refuse(w, v, ident.Username, id)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewDecisionContext(r.Context(), Decision{ClusterID: id, TokenID: ident.TokenID})))
	})
}

// Refuse answers a request that MayReach did not allow, with the one
// message each verdict gets wherever it is given (the proxy, the API).
func Refuse(w http.ResponseWriter, v Verdict, username, clusterID string) {
	switch v {
	case OutOfScope:
		apierr.Forbidden(w, "this token is scoped to another cluster and may not be used for cluster %q", clusterID)
	case NoSuchCluster:
		apierr.NotFound(w, "cluster %q not found", clusterID)
	default:
		apierr.Forbidden(w, "user %q is not a member of cluster %q; ask a Drover admin for a binding", username, clusterID)
	}
}
