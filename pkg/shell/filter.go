package shell

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"
	"golang.org/x/net/http/httpguts"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/websession"
)

// Path is the shell's websocket, a route of the router that serves
// /v3 (its {id} is the cluster).
const Path = "/v3/clusters/{id}/shell"

// TicketPath is where the console asks for a ticket (package api).
const TicketPath = "/v3/clusters/{id}/shell-tickets"

// Redeemer spends tickets (*Tickets).
type Redeemer interface {
	Redeem(ctx context.Context, ticket string, h Holder) (Target, error)
}

// HolderOf is whom a ticket issued to the caller id for cluster belongs
// to: the one rule both ends (the API issuing, WithShell redeeming) use.
func HolderOf(id authn.Identity, clusterID string) Holder {
	return Holder{SessionID: id.TokenID, UserID: id.UserID, ClusterID: clusterID}
}

// WithShell serves Path after authn.WithSessionAuthentication: a websocket
// upgrade authenticated by the session cookie, from this server's Origin,
// with a ticket issued to that session for that cluster. It redeems the
// ticket and hands next (the proxy chain) the exec the ticket approved, as
// a request authenticated by the session's bearer token; anything else is
// refused and the ticket is not spent.
func WithShell(next http.Handler, tickets Redeemer, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := authn.FromContext(r.Context())
		session, fromCookie := websession.Credential(r)
		if !ok || !caller.Cookie || caller.TokenKind != store.KindSession || !fromCookie {
			apierr.Forbidden(w, "the shell opens from the web console: its session cookie and a ticket (use kubectl exec otherwise)")
			return
		}
		if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
			!httpguts.HeaderValuesContainsToken(r.Header["Connection"], "Upgrade") {
			apierr.BadRequest(w, "the shell is a websocket: connect with a websocket client")
			return
		}
		// The shell runs as the ticket's holder: a request to run it as
		// someone else (kubectl --as) has no place here.
		if impersonation.IdentityShaped(r.Header) {
			apierr.BadRequest(w, "the shell takes no Impersonate-* or X-Remote-* header")
			return
		}
		clusterID := mux.Vars(r)["id"]
		vals := r.URL.Query()["ticket"]
		if !ids.Cluster.Valid(clusterID) || len(vals) != 1 {
			apierr.BadRequest(w, "the shell needs one ticket (POST %s first)", TicketPath)
			return
		}
		target, err := tickets.Redeem(r.Context(), vals[0], HolderOf(caller, clusterID))
		switch {
		case errors.Is(err, ErrInvalid), errors.Is(err, ErrSpent):
			logger.Info("shell ticket refused", "user", caller.UserID, "cluster", clusterID, "err", err)
			apierr.Forbidden(w, "the shell ticket is invalid, expired, used already or not yours: ask for a new one")
			return
		case err != nil:
			logger.Warn("shell ticket not redeemed", "user", caller.UserID, "cluster", clusterID, "err", err)
			if store.Unavailable(err) {
				w.Header().Set("Retry-After", "1")
			}
			apierr.Unavailable(w, "the shell ticket cannot be checked now; retry")
			return
		}
		out := request.Reroute(r, ExecURL(clusterID, target))
		out.Header.Del("Cookie")
		out.Header.Del(websession.CSRFHeader)
		out.Header.Del("Origin") // checked here; the cluster has no use for it
		out.Header.Set("Authorization", "Bearer "+session)
		next.ServeHTTP(w, out)
	})
}

// ExecURL is the proxied exec that t stands for in cluster clusterID: a
// terminal (tty, stdin, stdout; with a tty the apiserver refuses stderr).
func ExecURL(clusterID string, t Target) *url.URL {
	q := url.Values{"command": t.Command, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}}
	if t.Container != "" {
		q.Set("container", t.Container)
	}
	// Namespace and pod are DNS names (Target.Validate): nothing to escape.
	return &url.URL{
		Path:     request.ProxyPrefix + clusterID + "/api/v1/namespaces/" + t.Namespace + "/pods/" + t.Pod + "/exec",
		RawQuery: q.Encode(),
	}
}
