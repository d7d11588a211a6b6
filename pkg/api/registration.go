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
	"github.com/drover-dev/drover/pkg/ids"
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
// Only a token of the cluster's current generation serves one: a rotated-out
// token keeps its running agents connected until its grace ends, but hands
// out nothing new. Every fetch of a generation carries the same node token
// (nodeToken).
func (a *API) importManifest(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimSuffix(mux.Vars(r)["token"], ".yaml")
	tok, err := token.Parse(raw)
	if err != nil {
		apierr.NotFound(w, "no such import manifest")
		return
	}
	rec, err := a.opts.Store.RegistrationToken(r.Context(), tok.ID)
	if err != nil || !token.Verify(tok, rec.Hashed) || rec.Kind != store.AgentCluster || rec.Superseded ||
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
		node, err := a.nodeToken(r.Context(), tok)
		if err != nil {
			a.opts.Logger.Error("node registration token", "cluster", rec.ClusterID, "token_id", tok.ID, "err", err)
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

// nodePurpose is what a generation's node token is derived for.
const nodePurpose = "registration node token"

// nodeToken returns the node token of the registration generation the
// cluster token parent started, recording it (as parent's child: same
// generation, same expiry) the first time it is asked for. Its secret is
// derived from parent's (token.Derive) rather than stored, sealed or not:
// nothing in the store or the server's keys yields it, only a holder of the
// cluster token (who may connect a node agent with that token anyway) can
// compute it, and every manifest of the generation carries the same one.
func (a *API) nodeToken(ctx context.Context, parent token.Token) (token.Token, error) {
	id, err := ids.Registration.New()
	if err != nil {
		return token.Token{}, err
	}
	h, err := token.Hash(token.Derive(parent, nodePurpose, id))
	if err != nil {
		return token.Token{}, err
	}
	rec, _, err := a.opts.Store.RegistrationChild(ctx, parent.ID, store.RegistrationToken{
		ID: id, Kind: store.AgentNode, Hashed: h, CreatedAt: a.opts.Now().UTC()})
	if err != nil {
		return token.Token{}, err
	}
	node := token.Derive(parent, nodePurpose, rec.ID)
	if !token.Verify(node, rec.Hashed) {
		return token.Token{}, fmt.Errorf("node token %s of registration token %s was not derived from it", rec.ID, parent.ID)
	}
	return node, nil
}

// rotateRegistration starts a new registration generation (a cluster
// token and its node token), pushes it to the cluster's agents if it is
// connected, and ends every earlier generation, node tokens included, after
// the grace period.
func (a *API) rotateRegistration(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if _, err := a.opts.Store.Cluster(r.Context(), id); err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
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
	n, err := a.opts.Store.SupersedeRegistrations(r.Context(), id, reg.TokenID, until)
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
