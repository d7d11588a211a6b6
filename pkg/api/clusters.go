package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/kubeconfig"
	"github.com/drover-dev/drover/pkg/provision"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// dnsLabelRule is what a cluster, project or driver name must be: a DNS-1123
// label (validation.IsDNS1123Label), as Kubernetes names most things.
const dnsLabelRule = "name must be a DNS label: 1-63 of a-z 0-9 -, starting and ending with a letter or digit"

type clusterView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	CreatedAt time.Time     `json:"createdAt"`
	State     string        `json:"state"` // "active", "unhealthy" or "disconnected"
	Tunnel    tunnel.Status `json:"tunnel"`
	// LastSeen is when status was last gathered through the tunnel.
	LastSeen *time.Time `json:"lastSeen,omitempty"`
	// Status is the last status the cluster controller gathered (see
	// package controller), kept while the cluster is disconnected.
	Status json.RawMessage `json:"status,omitempty"`
	// AuthEndpoint is the authorized cluster endpoint, when enabled.
	AuthEndpoint *authEndpoint `json:"authEndpoint,omitempty"`
	// Provisioning is set for clusters a driver made (see drivers.go).
	Provisioning *provision.View `json:"provisioning,omitempty"`
}

// authEndpoint locates a cluster's apiserver for direct access.
type authEndpoint struct {
	URL    string `json:"url"`
	CACert string `json:"caCert,omitempty"`
}

func (a *API) view(ctx context.Context, c store.Cluster) clusterView {
	st := a.opts.Tunnel.Status(c.ID)
	v := clusterView{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, State: "disconnected", Tunnel: st}
	if c.AuthEndpointURL != "" {
		v.AuthEndpoint = &authEndpoint{URL: request.RedactURL(c.AuthEndpointURL), CACert: c.AuthEndpointCA}
	}
	if raw, at, err := a.opts.Store.ClusterStatus(ctx, c.ID); err == nil {
		v.Status, v.LastSeen = a.visibleStatus(ctx, c.ID, raw), &at
	} else if !errors.Is(err, store.ErrNotFound) {
		a.opts.Logger.Warn("read cluster status", "cluster", c.ID, "err", err)
	}
	v.Provisioning = a.provisioningView(ctx, c.ID)
	if st.Connected {
		v.State = "active"
		var health struct {
			APIServer struct{ Ready bool } `json:"apiServer"`
		}
		if v.Status != nil && json.Unmarshal(v.Status, &health) == nil && !health.APIServer.Ready {
			v.State = "unhealthy"
		}
	}
	return v
}

func (a *API) listClusters(w http.ResponseWriter, r *http.Request) {
	out, err := a.callerClusters(r.Context())
	if err != nil {
		a.storeError(w, "clusters", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// callerClusters are the views of the clusters the caller may see: what
// GET /v3/clusters answers and every live view sends.
func (a *API) callerClusters(ctx context.Context) ([]clusterView, error) {
	cs, err := a.opts.Store.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	visible, err := a.visibleClusters(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]clusterView, 0, len(cs))
	for _, c := range cs {
		if visible(c.ID) {
			out = append(out, a.view(ctx, c))
		}
	}
	return out, nil
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	c, err := a.opts.Store.Cluster(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	visible, err := a.visibleClusters(r.Context())
	if err != nil {
		a.storeError(w, "clusters", err)
		return
	}
	if !visible(c.ID) {
		a.forbidMember(w, r, c.ID)
		return
	}
	writeJSON(w, http.StatusOK, a.view(r.Context(), c))
}

// visibleClusters says which clusters the caller may see: those it may
// reach (access.Checker.Reachable).
func (a *API) visibleClusters(ctx context.Context) (func(clusterID string) bool, error) {
	return a.opts.Reach.Reachable(ctx, access.CallerOf(identity(ctx)))
}

type createClusterRequest struct {
	Name string `json:"name"`
}

// registration is what agents need to connect: one token for the cluster
// agent, another for node agents, so a node agent cannot pose as the
// cluster agent.
type registration struct {
	Token       string     `json:"token"`
	TokenID     string     `json:"tokenId"`
	NodeToken   string     `json:"nodeToken"`
	NodeTokenID string     `json:"nodeTokenId"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	ServerURL   string     `json:"serverUrl"`
	CAChecksum  string     `json:"caChecksum"`
	Command     string     `json:"command"`
	// ImportURL serves the agent manifest; ImportCommand applies it after
	// checking the server's CA against its checksum.
	ImportURL     string `json:"importUrl"`
	ImportCommand string `json:"importCommand"`
	// Warning says what stands in the way of agents elsewhere (a
	// loopback server URL).
	Warning string `json:"warning,omitempty"`
}

func (a *API) createCluster(w http.ResponseWriter, r *http.Request) {
	var req createClusterRequest
	if !decode(w, r, &req) {
		return
	}
	if len(validation.IsDNS1123Label(req.Name)) > 0 {
		apierr.Invalid(w, dnsLabelRule)
		return
	}
	var c store.Cluster
	var err error
	for range 5 { // a 5-character id can collide; try again
		var id string
		if id, err = ids.Cluster.New(); err != nil {
			break
		}
		c = store.Cluster{ID: id, Name: req.Name, CreatedAt: a.opts.Now().UTC()}
		if err = a.opts.Store.CreateCluster(r.Context(), c); err == nil || !errors.Is(err, store.ErrConflict) {
			break
		}
		if _, lookErr := a.opts.Store.Cluster(r.Context(), id); lookErr != nil {
			break // the conflict was the name, not the id
		}
	}
	if err != nil {
		a.storeError(w, fmt.Sprintf("cluster named %q", req.Name), err)
		return
	}
	reg, err := a.newRegistration(r, c.ID)
	if err != nil {
		a.opts.Logger.Error("mint registration token", "cluster", c.ID, "err", err)
		apierr.Internal(w)
		return
	}
	a.opts.Logger.Info("cluster created", "cluster", c.ID, "name", c.Name, "by", identity(r.Context()).Username)
	writeJSON(w, http.StatusCreated, map[string]any{"cluster": a.view(r.Context(), c), "registration": reg})
}

func (a *API) deleteCluster(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	removed, err := a.opts.Store.RemoveCluster(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	a.ClusterRemoved(id, removed.Tokens)
	a.opts.Logger.Info("cluster deleted", "cluster", id, "by", identity(r.Context()).Username, "token_ids", removed.Tokens)
	w.WriteHeader(http.StatusNoContent)
}

// ClusterRemoved makes the deletion of a cluster (RemoveCluster, by this
// API or by the provisioning controller) hold at once on this server: the
// tokens scoped to it leave the caches (their open streams end), its agents'
// tunnel sessions close, which stops its controller (they cannot reconnect:
// their registration tokens went with the cluster), the credentials cached
// for its identities are dropped (a cluster imported again under the same
// id never gets them), and every cached access answer is dropped.
func (a *API) ClusterRemoved(clusterID string, tokenIDs []string) {
	for _, id := range tokenIDs {
		a.opts.Tokens.Invalidate(id)
	}
	a.opts.Tunnel.CloseCluster(clusterID)
	if a.opts.Credentials != nil {
		a.opts.Credentials.Forget(clusterID)
	}
	a.accessChanged()
}

// newRegistration starts a new registration generation of the cluster: a
// cluster token and, minted through it, the generation's node token.
func (a *API) newRegistration(r *http.Request, clusterID string) (registration, error) {
	tok, rec, err := a.mintRegistrationToken(r, clusterID)
	if err != nil {
		return registration{}, err
	}
	node, err := a.nodeToken(r.Context(), tok)
	if err != nil {
		return registration{}, err
	}
	reg := registration{
		Token: tok.String(), TokenID: tok.ID, NodeToken: node.String(), NodeTokenID: node.ID,
		ServerURL: a.opts.ServerURL, CAChecksum: a.opts.CASum,
		Command: fmt.Sprintf("printf %%s '%s' > token && drover-agent --server %s --ca-checksum %s --token-file token --kubeconfig ~/.kube/config",
			tok.String(), a.opts.ServerURL, a.opts.CASum),
	}
	if !rec.ExpiresAt.IsZero() {
		reg.ExpiresAt = &rec.ExpiresAt
	}
	if u, err := url.Parse(a.opts.ServerURL); err == nil {
		if LoopbackHost(u.Hostname()) {
			reg.Warning = "the server URL " + a.opts.ServerURL + " is a loopback address: agents in a cluster on another machine " +
				"(or in pods) would connect to themselves; start drover-server with --server-url set to the address they reach it by"
		}
	}
	reg.ImportURL = a.opts.ServerURL + "/v3/import/" + tok.String() + ".yaml"
	reg.ImportCommand = fmt.Sprintf("curl -sfk %s/cacerts -o drover-ca.pem && echo '%s  drover-ca.pem' | sha256sum -c - && "+
		"curl -sf --cacert drover-ca.pem %s | kubectl apply -f -", a.opts.ServerURL, a.opts.CASum, reg.ImportURL)
	return reg, nil
}

// LoopbackHost says whether host (a name or an address; empty is every
// interface, not loopback) reaches this machine only.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// mintRegistrationToken mints the cluster token that starts a new
// registration generation.
func (a *API) mintRegistrationToken(r *http.Request, clusterID string) (token.Token, store.RegistrationToken, error) {
	tok, err := token.New(ids.Registration)
	if err != nil {
		return token.Token{}, store.RegistrationToken{}, err
	}
	h, err := token.Hash(tok)
	if err != nil {
		return token.Token{}, store.RegistrationToken{}, err
	}
	now := a.opts.Now().UTC()
	rec := store.RegistrationToken{ID: tok.ID, ClusterID: clusterID, Kind: store.AgentCluster, Hashed: h, CreatedAt: now}
	if a.opts.RegistrationTTL > 0 {
		rec.ExpiresAt = now.Add(a.opts.RegistrationTTL)
	}
	if err := a.opts.Store.CreateRegistrationToken(r.Context(), rec); err != nil {
		return token.Token{}, store.RegistrationToken{}, err
	}
	return tok, rec, nil
}

type authEndpointRequest struct {
	// URL is the https URL users reach the apiserver at; empty disables.
	URL    string `json:"url"`
	CACert string `json:"caCert"`
}

func (a *API) setAuthEndpoint(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	var req authEndpointRequest
	if !decode(w, r, &req) {
		return
	}
	if req.URL != "" {
		u, err := url.Parse(req.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			apierr.Invalid(w, "url must be the https URL of the cluster's apiserver")
			return
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			// It goes into every member's kubeconfig.
			apierr.Invalid(w, "url must not hold credentials, a query or a fragment")
			return
		}
		if req.CACert != "" {
			if _, err := agentapi.CertPool([]byte(req.CACert)); err != nil {
				apierr.Invalid(w, "caCert: %v", err)
				return
			}
		}
	} else if req.CACert != "" {
		apierr.Invalid(w, "caCert without url")
		return
	}
	if err := a.opts.Store.SetAuthEndpoint(r.Context(), id, req.URL, req.CACert); err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	c, err := a.opts.Store.Cluster(r.Context(), id)
	if err != nil {
		a.storeError(w, fmt.Sprintf("cluster %q", id), err)
		return
	}
	writeJSON(w, http.StatusOK, a.view(r.Context(), c))
}

// maxKubeconfigClusters bounds the clusters (and so the tokens minted) of
// one kubeconfig request.
const maxKubeconfigClusters = 50

type kubeconfigRequest struct {
	// Clusters limits the file to these ids; empty means every cluster the
	// caller may use.
	Clusters []string `json:"clusters"`
	TTL      string   `json:"ttl"`
}

func (a *API) kubeconfig(w http.ResponseWriter, r *http.Request) {
	var req kubeconfigRequest
	if !decode(w, r, &req) {
		return
	}
	ttl, err := a.ttl(req.TTL, a.opts.KubeconfigTTL)
	if err != nil {
		apierr.Invalid(w, "%v", err)
		return
	}
	caller := identity(r.Context())
	all, err := a.opts.Store.ListClusters(r.Context())
	if err != nil {
		a.storeError(w, "clusters", err)
		return
	}
	visible, err := a.visibleClusters(r.Context())
	if err != nil {
		a.storeError(w, "clusters", err)
		return
	}
	byID := map[string]store.Cluster{}
	for _, c := range all {
		byID[c.ID] = c
	}
	// The current context: the first cluster asked for, else the first
	// connected one (never a disconnected one by the accident of its name).
	current := ""
	if len(req.Clusters) > 0 {
		current = req.Clusters[0]
	}
	var picked []store.Cluster
	if len(req.Clusters) == 0 {
		for _, c := range all {
			if visible(c.ID) {
				picked = append(picked, c)
			}
		}
	}
	slices.Sort(req.Clusters)
	req.Clusters = slices.Compact(req.Clusters)
	if n := max(len(req.Clusters), len(picked)); n > maxKubeconfigClusters {
		apierr.Invalid(w, "a kubeconfig holds at most %d clusters (one token each) and this one would hold %d; "+
			"name the clusters you need in \"clusters\"", maxKubeconfigClusters, n)
		return
	}
	for _, id := range req.Clusters {
		c, ok := byID[id]
		if !ok {
			apierr.NotFound(w, "cluster %q not found", id)
			return
		}
		if !visible(id) {
			a.forbidMember(w, r, id)
			return
		}
		picked = append(picked, c)
	}
	if len(picked) == 0 {
		if caller.Admin {
			apierr.NotFound(w, "no cluster to put in a kubeconfig; create or import one first")
		} else {
			apierr.NotFound(w, "user %q is a member of no cluster; ask a Drover admin for a binding", caller.Username)
		}
		return
	}
	// One token per cluster, scoped to it: a token taken from this file
	// opens no other cluster, and each can be revoked on its own. Scoped
	// tokens are also what the authorized cluster endpoint can check.
	entries := make([]kubeconfig.Cluster, 0, len(picked))
	ids := make([]string, 0, len(picked))
	for _, c := range picked {
		secret, rec, ok := a.issue(w, r, store.KindKubeconfig, c.ID, "kubeconfig for "+c.Name, ttl)
		if !ok {
			return
		}
		ids = append(ids, rec.ID)
		entries = append(entries, kubeconfig.Cluster{ID: c.ID, Name: c.Name, Token: secret,
			DirectURL: c.AuthEndpointURL, DirectCA: []byte(c.AuthEndpointCA)})
	}
	if current == "" {
		for _, c := range picked {
			if a.opts.Tunnel.Status(c.ID).Connected {
				current = c.ID
				break
			}
		}
	}
	trust := a.opts.CATrustPEM
	if len(trust) == 0 {
		trust = a.opts.CAPEM
	}
	cfg, err := kubeconfig.Build(kubeconfig.Options{
		ServerURL: a.opts.ServerURL, CAPEM: trust, Username: caller.Username, Clusters: entries, Current: current,
	})
	if err == nil {
		var b []byte
		if b, err = kubeconfig.Marshal(cfg); err == nil {
			a.opts.Logger.Info("kubeconfig issued", "user", caller.Username, "token_ids", ids)
			w.Header().Set("Content-Type", "application/yaml")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Disposition", `attachment; filename="kubeconfig"`)
			w.Write(b)
			return
		}
	}
	a.opts.Logger.Error("build kubeconfig", "err", err)
	apierr.Internal(w)
}
