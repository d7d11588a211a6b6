package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/shell"
)

// ShellTickets issues the console's shell tickets (*shell.Tickets).
type ShellTickets interface {
	Issue(h shell.Holder, t shell.Target) (ticket string, expires time.Time, err error)
}

type shellTicketResponse struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// shellTicket is POST /v3/clusters/{id}/shell-tickets: a single-use ticket
// for the console's shell websocket (package shell), issued to the
// caller's cookie session for one exec in a cluster it may reach. Whether
// the user may exec in that pod is the cluster's to decide when the shell
// opens.
func (a *API) shellTicket(w http.ResponseWriter, r *http.Request) {
	caller := identity(r.Context())
	if a.opts.Shell == nil {
		apierr.NotFound(w, "this server has no shell")
		return
	}
	if !caller.Cookie {
		apierr.Forbidden(w, "shell tickets are for the web console's session; other clients use kubectl exec")
		return
	}
	clusterID := mux.Vars(r)["id"]
	v, err := a.opts.Reach.MayReach(r.Context(), access.CallerOf(caller), clusterID)
	if err != nil {
		a.storeError(w, "clusters", err)
		return
	}
	if v != access.Allowed {
		access.Refuse(w, v, caller.Username, clusterID)
		return
	}
	var req shell.Target
	if !decode(w, r, &req) {
		return
	}
	if errs := req.Validate(); len(errs) > 0 {
		apierr.InvalidFields(w, "the shell's target is not valid", errs)
		return
	}
	ticket, expires, err := a.opts.Shell.Issue(shell.HolderOf(caller, clusterID), req)
	if err != nil {
		a.opts.Logger.Error("shell ticket", "err", err)
		apierr.Internal(w)
		return
	}
	writeJSON(w, http.StatusCreated, shellTicketResponse{Ticket: ticket, ExpiresAt: expires.UTC()})
}
