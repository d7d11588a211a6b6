package authproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
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
	// account is the impersonation account of identity, credential a token
	// of it (WithDownstreamCredential).
	account    accounts.Request
	credential string
}

type planKey struct{}

func planFrom(ctx context.Context) (*plan, bool) {
	p, ok := ctx.Value(planKey{}).(*plan)
	return p, ok && p != nil
}

// WithClientIdentity decides who the cluster will see: the caller, or the
// identity the client asked for with canonical Impersonate-User, -Group,
// -Uid and -Extra-* headers (approved later by WithNestedApproval), with
// Drover's extras added. Any other identity-shaped header is refused with
// 400 (impersonation.ParseRequest), a forged drover.dev/ extra and an
// identity accounts.Check refuses with 403 (the cluster is not asked), as
// is an identity that cannot be sent unchanged as header values.
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
			// The request's extras, then Drover's: the client cannot supply
			// those (ParseRequest refuses the drover.dev/ space) and they
			// win all the same.
			extra := make(map[string][]string, len(asked.Extra)+3)
			for k, vs := range asked.Extra {
				extra[k] = vs
			}
			extra[downstream.ExtraTokenID] = []string{ident.TokenID}
			extra[downstream.ExtraUserID] = []string{ident.UserID}
			extra[downstream.ExtraOriginalUser] = []string{ident.Username}
			id = impersonation.Identity{User: asked.User, Groups: asked.Groups, UID: asked.UID, Extra: extra}
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
		dec, _ := access.DecisionFrom(r.Context())
		acct := accounts.Request{ClusterID: dec.ClusterID, UserID: ident.UserID, Admin: ident.Admin,
			Kind: accounts.KindOwn, Account: accounts.Own(ident.Username, ident.UserID, ident.Groups)}
		if asked != nil {
			acct.Kind, acct.Account = accounts.KindAs, accounts.As(*asked, ident.Username, ident.UserID)
			// Never ask the cluster about an identity Drover would not
			// forward whatever it answered.
			if err := accounts.Check(acct.Account, ident.Admin); err != nil {
				p.opts.Logger.Info("refused a nested impersonation Drover never forwards", "user", ident.Username, "err", err)
				reason := "system and Drover identities are reserved"
				var rf *accounts.Refusal
				if errors.As(err, &rf) {
					reason = rf.Reason
				}
				groups := ""
				if len(asked.Groups) > 0 {
					groups = fmt.Sprintf(" with groups %q", asked.Groups)
				}
				apierr.Forbidden(w, "Drover never acts as %q%s: %s", asked.User, groups, reason)
				return
			}
		}
		ctx := context.WithValue(r.Context(), planKey{}, &plan{identity: id, asked: asked, account: acct})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// reconnectGrace is how long after a cluster's last agent left a 503 says
// Retry-After: an agent reconnects within a second or two (it moved to
// another server replica, or this server restarted), and client-go retries
// such answers by itself.
const reconnectGrace = 10 * time.Second

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
			st := p.opts.Sessions.Status(clusterID)
			switch {
			case st.Refused != "":
				msg += "; its agent was refused: " + st.Refused
			case st.Sessions > 0:
				msg += "; its node agents report another apiserver than its cluster agent last did, " +
					"so they carry nothing until a cluster agent connects"
			case st.DisconnectedAt != nil:
				msg += "; no agent connected since " + st.DisconnectedAt.UTC().Format(time.RFC3339)
				if time.Since(*st.DisconnectedAt) < reconnectGrace {
					// It left moments ago, as an agent does when it moves
					// to another server replica: clients may retry.
					w.Header().Set("Retry-After", "1")
				}
			default:
				msg += "; no agent has connected since the server started " +
					"(node agents carry traffic only for a cluster whose cluster agent has connected)"
			}
			apierr.Unavailable(w, "%s", msg)
			return
		}
		pl.session = sess
		next.ServeHTTP(w, r)
	})
}

// WithDownstreamCredential gets the credential the request is forwarded
// with: a token of the impersonation account of exactly the identity the
// cluster will see (package accounts). Refused identities get 403; without
// a cached credential and without a cluster agent to prepare one, 503.
func (p *Proxy) WithDownstreamCredential(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pl, clusterID, ok := p.planAndCluster(w, r)
		if !ok {
			return
		}
		if pl.asked != nil && !pl.approved {
			p.opts.Logger.Error("credential step reached before nested approval", "err", errIncomplete)
			apierr.Internal(w)
			return
		}
		if p.opts.Credentials == nil {
			p.opts.Logger.Error("proxy has no credential source", "err", errIncomplete)
			apierr.Internal(w)
			return
		}
		tok, err := p.opts.Credentials.Credential(r.Context(), pl.account)
		switch {
		case err == nil:
			pl.credential = tok
			next.ServeHTTP(w, r)
		case errors.Is(err, accounts.ErrRefused):
			p.opts.Logger.Warn("identity refused for an impersonation account", "cluster", clusterID, "err", err)
			apierr.Forbidden(w, "Drover never forwards this identity to cluster %q", clusterID)
		case errors.Is(err, accounts.ErrNoNamespace):
			ns := ""
			if sa := pl.account.Account.ServiceAccount; sa != nil {
				ns = sa.Namespace
			}
			apierr.NotFound(w, "namespace %q does not exist in cluster %q: Drover can act as a ServiceAccount only in an existing namespace", ns, clusterID)
		case errors.Is(err, accounts.ErrNoClusterAgent):
			apierr.Unavailable(w, "cluster %q has no cluster agent connected, and no credential was prepared for you "+
				"while it was: node agents carry requests only with one; try again when the cluster agent is back", clusterID)
		case r.Context().Err() != nil:
		default:
			p.opts.Logger.Warn("prepare the downstream credential", "cluster", clusterID, "user", pl.account.UserID, "err", err)
			apierr.Unavailable(w, "could not prepare your credential in cluster %q; try again", clusterID)
		}
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
			// Reviews carry the controller's credential: only through
			// the cluster agent.
			agent, ok := p.opts.Sessions.ClusterAgent(pl.account.ClusterID)
			if !ok {
				apierr.Unavailable(w, "cluster %q has no cluster agent connected to check the impersonation; try again when it is back",
					pl.account.ClusterID)
				return
			}
			ident, _ := authn.FromContext(r.Context())
			if !p.approveNested(w, r, agent, ident, pl.asked) {
				return
			}
			pl.approved = true
		}
		next.ServeHTTP(w, r)
	})
}
