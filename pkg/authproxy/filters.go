package authproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// plan is what the proxy's steps decided for one request, in the order
// pkg/server's chain runs them; each step fills its own fields and the
// proxy refuses a request whose plan is not complete.
type plan struct {
	// identity is who the cluster will see (WithClientIdentity); nested
	// when it is an identity the client asked for (kubectl --as).
	identity impersonation.Identity
	asked    *impersonation.Request
	// session carries the request (WithClusterSession).
	session *tunnel.Session
	// approved: the cluster allowed the nested identity (WithNestedApproval).
	approved bool
}

type planKey struct{}

func planFrom(ctx context.Context) (*plan, bool) {
	p, ok := ctx.Value(planKey{}).(*plan)
	return p, ok && p != nil
}

// WithClientIdentity decides who the cluster will see: the caller, or the
// identity the client asked for with canonical Impersonate-User/Group
// headers (approved later by WithNestedApproval). Any other identity-shaped
// header is refused with 400 (impersonation.ParseRequest), as is an
// identity that cannot be sent unchanged as header values (403).
func (p *Proxy) WithClientIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ident, ok := authn.FromContext(r.Context())
		if !ok || ident.Username == "" {
			p.opts.Logger.Error("proxy step reached without an identity")
			apierr.Unauthorized(w)
			return
		}
		asked, err := impersonation.ParseRequest(r.Header)
		if err != nil {
			var re *impersonation.RequestError
			if !errors.As(err, &re) {
				re = &impersonation.RequestError{Code: http.StatusBadRequest, Message: "identity headers refused"}
			}
			p.opts.Logger.Info("refused client identity headers", "user", ident.Username, "reason", re.Message)
			apierr.Write(w, re.Code, statusReason(re.Code), re.Message)
			return
		}
		if asked != nil && p.opts.NoteImpersonation != nil {
			p.opts.NoteImpersonation(r.Context(), asked.User, asked.Groups)
		}
		id := impersonation.Identity{
			User:   ident.Username,
			Groups: ident.Groups,
			Extra: map[string][]string{
				downstream.ExtraTokenID: {ident.TokenID},
				downstream.ExtraUserID:  {ident.UserID},
			},
		}
		if asked != nil {
			id = impersonation.Identity{
				User:   asked.User,
				Groups: asked.Groups,
				Extra: map[string][]string{
					downstream.ExtraTokenID:      {ident.TokenID},
					downstream.ExtraUserID:       {ident.UserID},
					downstream.ExtraOriginalUser: {ident.Username},
				},
			}
		}
		// Set would refuse it too (and the transport then refuses the
		// request); refusing here answers with a clear message and asks the
		// cluster nothing.
		if err := id.Validate(); err != nil {
			dec, _ := access.DecisionFrom(r.Context())
			p.opts.Logger.Warn("identity cannot be forwarded", "cluster", dec.ClusterID, "user", ident.Username, "err", err)
			apierr.Forbidden(w, "your identity cannot be forwarded to cluster %q: a user or group name is empty, "+
				"has leading or trailing whitespace or a character not allowed in an HTTP header; ask a Drover admin", dec.ClusterID)
			return
		}
		ctx := context.WithValue(r.Context(), planKey{}, &plan{identity: id, asked: asked})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// WithClusterSession picks the tunnel session that will carry the request
// (the cluster agent's, else a node agent's), or answers 503 saying since
// when the cluster has had no agent.
func (p *Proxy) WithClusterSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pl, clusterID, ok := p.planAndCluster(w, r)
		if !ok {
			return
		}
		sess, ok := p.opts.Sessions.Session(clusterID)
		if !ok {
			msg := fmt.Sprintf("cluster %q is not connected", clusterID)
			if st := p.opts.Sessions.Status(clusterID); st.DisconnectedAt != nil {
				msg += "; no agent connected since " + st.DisconnectedAt.UTC().Format(time.RFC3339)
			}
			apierr.Unavailable(w, "%s", msg)
			return
		}
		pl.session = sess
		next.ServeHTTP(w, r)
	})
}

// WithNestedApproval asks the target cluster whether the caller may act as
// the identity it asked for (see the package doc), and lets the request on
// only if every review allows it. Requests without --as pass untouched.
func (p *Proxy) WithNestedApproval(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pl, _, ok := p.planAndCluster(w, r)
		if !ok {
			return
		}
		if pl.asked != nil {
			if pl.session == nil {
				p.opts.Logger.Error("nested impersonation step reached without a session", "err", errIncomplete)
				apierr.Internal(w)
				return
			}
			ident, _ := authn.FromContext(r.Context())
			if !p.approveNested(w, r, pl.session, ident, pl.asked) {
				return
			}
			pl.approved = true
		}
		next.ServeHTTP(w, r)
	})
}
