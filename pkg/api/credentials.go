package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/store"
)

// Default lifetimes of the credential plugin's tokens (Options.PluginTTL,
// Options.PluginACETTL).
const (
	DefaultPluginTTL    = 15 * time.Minute
	DefaultPluginACETTL = 8 * time.Hour
)

// AuthEndpointSync is told that a cluster's authorized endpoint must learn
// of a new token now (*controller.Manager).
type AuthEndpointSync interface {
	Kick()
}

type credentialRequest struct {
	// AuthEndpoint asks for the token of the cluster's authorized
	// endpoint, which works while Drover is down: kind plugin-ace, living
	// Options.PluginACETTL. A cluster without one answers 409.
	AuthEndpoint bool `json:"authEndpoint"`
}

// clusterCredential mints, from a login session, the short-lived token the
// drover credential plugin hands kubectl for one cluster (POST
// /v3/clusters/{id}/credentials). Only a login session may: the token ends
// with the session (store.deleteTokens), and its open streams belong to the
// session (authn.Identity.StreamOwner). issue keeps the other rules.
func (a *API) clusterCredential(w http.ResponseWriter, r *http.Request) {
	var req credentialRequest
	if !decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	caller := identity(ctx)
	if caller.TokenKind != store.KindSession {
		apierr.Forbidden(w, "cluster credentials are minted from a login session (drover login); "+
			"with a %s token, use POST /v3/kubeconfig or POST /v3/tokens", caller.TokenKind)
		return
	}
	id := mux.Vars(r)["id"]
	c, err := a.opts.Store.Cluster(ctx, id)
	if err != nil {
		a.storeError(w, "cluster \""+id+"\"", err)
		return
	}
	kind, ttl := store.KindPlugin, a.opts.PluginTTL
	if req.AuthEndpoint {
		// The longer token is for an endpoint that works while Drover is
		// down; without one it would only be a longer-lived token for the
		// proxy.
		if c.AuthEndpointURL == "" {
			apierr.Conflict(w, "cluster %q has no authorized endpoint; ask without authEndpoint", c.ID)
			return
		}
		kind, ttl = store.KindPluginACE, a.opts.PluginACETTL
	}
	secret, rec, ok := a.issue(w, r, kind, c.ID, "drover credential for "+c.Name, ttl)
	if !ok {
		return
	}
	if req.AuthEndpoint && a.opts.AuthEndpoints != nil {
		a.opts.AuthEndpoints.Kick() // the endpoint accepts it within seconds, not at the next resync
	}
	a.opts.Logger.Info("cluster credential issued", "user", caller.Username, "cluster", c.ID, "kind", kind,
		"token_id", rec.ID, "session", caller.TokenID, "expires", rec.ExpiresAt)
	resp := tokenView(rec)
	resp.Token = secret
	writeJSON(w, http.StatusCreated, resp)
}
