package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

// CredentialPusher writes new registration tokens into a connected
// cluster's agent Secrets, so running agents pick them up before the old
// ones expire.
type CredentialPusher interface {
	PushRegistration(ctx context.Context, clusterID, clusterToken, nodeToken string) error
}

// importManifest serves /v3/import/{token}.yaml: the agent manifest for the
// cluster the registration token belongs to. Whoever holds the token may
// connect an agent anyway, so the token is the credential for its manifest.
// Each fetch mints a fresh node token (the stored one exists only as a hash).
func (a *API) importManifest(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimSuffix(mux.Vars(r)["token"], ".yaml")
	tok, err := token.Parse(raw)
	if err != nil {
		apierr.NotFound(w, "no such import manifest")
		return
	}
	rec, err := a.opts.Store.RegistrationToken(r.Context(), tok.ID)
	if err != nil || !token.Verify(tok, rec.Hashed) || rec.Kind != store.AgentCluster ||
		(!rec.ExpiresAt.IsZero() && !a.opts.Now().Before(rec.ExpiresAt)) {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.opts.Logger.Error("import manifest", "token_id", tok.ID, "err", err)
		}
		apierr.NotFound(w, "no such import manifest (the registration token is unknown, expired or rotated)")
		return
	}
	opts := manifest.Options{
		ServerURL: a.opts.ServerURL, CAChecksum: a.opts.CASum, Token: raw, Image: a.opts.AgentImage,
		NodeAgent: r.URL.Query().Get("nodeAgent") != "false",
	}
	if r.URL.Query().Get("authEndpoint") == "true" {
		opts.AuthEndpoint = &manifest.ACEOptions{}
	}
	if opts.NodeAgent {
		node, _, err := a.mintRegistrationToken(r, rec.ClusterID, store.AgentNode)
		if err != nil {
			a.opts.Logger.Error("mint node token", "cluster", rec.ClusterID, "err", err)
			apierr.Internal(w)
			return
		}
		opts.NodeToken = node.String()
	}
	b, err := manifest.Render(opts)
	if err != nil {
		a.opts.Logger.Error("render import manifest", "cluster", rec.ClusterID, "err", err)
		apierr.Internal(w)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// rotateRegistration mints a new pair of registration tokens, pushes them
// to the cluster's agents if it is connected, and cuts the previous tokens'
// lifetime to the grace period.
func (a *API) rotateRegistration(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, err := a.opts.Store.Cluster(r.Context(), id); err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	cutoff := a.opts.Now()
	reg, err := a.newRegistration(r, id)
	if err != nil {
		a.opts.Logger.Error("mint registration token", "cluster", id, "err", err)
		apierr.Internal(w)
		return
	}
	pushed := false
	if a.opts.Pusher != nil {
		if err := a.opts.Pusher.PushRegistration(r.Context(), id, reg.Token, reg.NodeToken); err != nil {
			a.opts.Logger.Warn("push registration tokens to cluster", "cluster", id, "err", err)
		} else {
			pushed = true
		}
	}
	until := a.opts.Now().Add(a.opts.RegistrationGrace)
	n, err := a.opts.Store.ExpireRegistrationTokens(r.Context(), id, cutoff, until, reg.TokenID, reg.NodeTokenID)
	if err != nil {
		a.opts.Logger.Error("expire previous registration tokens", "cluster", id, "err", err)
		apierr.Internal(w)
		return
	}
	a.opts.Logger.Info("registration tokens rotated", "cluster", id, "previous", n, "previous_valid_until", until, "pushed", pushed)
	writeJSON(w, http.StatusCreated, map[string]any{
		"registration": reg, "pushedToAgents": pushed, "previousValidUntil": until.UTC().Format(time.RFC3339),
	})
}
