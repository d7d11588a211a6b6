package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/ratelimit"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// Invalidator drops cached tokens the moment they are revoked.
type Invalidator interface {
	Invalidate(tokenID string)
}

// Tunnels reports the state of clusters' agent tunnels and ends a deleted
// cluster's (*tunnel.Server).
type Tunnels interface {
	Status(clusterID string) tunnel.Status
	// CloseCluster closes every tunnel session of the cluster (and so ends
	// its controller) and says how many there were.
	CloseCluster(clusterID string) int
}

// CredentialCache holds the credentials Drover minted in clusters for the
// identities it impersonates (*accounts.Manager): a deleted cluster's are
// dropped at once.
type CredentialCache interface {
	Forget(clusterID string)
}

// Options configure the API.
type Options struct {
	Store  *store.Store
	Tokens Invalidator
	Tunnel Tunnels
	CAPEM  []byte
	CASum  string
	// CATrustPEM is what kubeconfigs embed: CAPEM, and the next CA while a
	// CA rotation is prepared; empty: CAPEM.
	CATrustPEM []byte
	// CALineagePEM is the CA lineage served at agentapi.CALineagePath
	// (404 when empty: the CA was never rotated).
	CALineagePEM []byte
	ServerURL    string
	Logger       *slog.Logger
	Now          func() time.Time

	SessionTTL      time.Duration // login sessions
	KubeconfigTTL   time.Duration // default for kubeconfig and API tokens
	MaxTokenTTL     time.Duration // cap for any requested TTL
	RegistrationTTL time.Duration // agent registration tokens; 0: no expiry
	// RegistrationGrace is how long the previous tokens stay valid after a
	// rotation.
	RegistrationGrace time.Duration
	// AgentImage is the image import manifests run.
	AgentImage string
	// Pusher writes rotated tokens into connected clusters; nil: nobody does.
	Pusher CredentialPusher
	// Sessions signs login session JWTs; nil: sessions are opaque tokens.
	Sessions SessionSigner
	// Drivers are the cluster drivers and Provisioning runs the clusters
	// they make; nil: no drivers (POST /v3/clusters imports only).
	Drivers      DriverRegistry
	Provisioning Provisioner
	// Access hears of every change to bindings, projects, users' groups
	// and users' state, so caches drop stale answers and clusters are
	// reconciled now; nil: nobody listens.
	Access AccessListener
	// MaxLiveTokens bounds the unexpired tokens one user may hold (default
	// 1000).
	MaxLiveTokens int
	// Reach decides who may reach which cluster (package access); nil: a
	// checker of its own on Store.
	Reach Reacher
	// Providers are the configured auth providers (see providers.go); nil:
	// local users only.
	Providers ProviderSource
	// Login attempts are limited per client address, per (user, client
	// address) and per user (see limits.go); nil: in this process's
	// memory, DefaultLoginsPerAddress, DefaultLoginsPerUserAddress and
	// DefaultLoginsPerUser a minute (with that burst).
	LoginsPerAddress, LoginsPerUserAddress, LoginsPerUser LoginLimiter
	// Local are Drover's own users (*local.Provider): their login and
	// passwords. Required.
	Local LocalUsers
	// Credentials are the per-identity credentials cached for each
	// cluster's proxy (*accounts.Manager); nil: none are cached.
	Credentials CredentialCache
	// PluginTTL and PluginACETTL are the lifetimes of the credential
	// plugin's tokens for the proxy and for the authorized endpoint
	// (default DefaultPluginTTL, DefaultPluginACETTL; never past their
	// session).
	PluginTTL, PluginACETTL time.Duration
	// AuthEndpoints are told of a new plugin-ace token; nil: they learn at
	// the next resync.
	AuthEndpoints AuthEndpointSync
	// Changes wakes the live views (GET /v3/watch/clusters); nil: they
	// re-read every few seconds only.
	Changes Changes
	// Audit reads this server's audit log for GET /v3/audit
	// (*audit.Reader); nil: the log is not kept in a file (404).
	Audit AuditReader
	// Shell issues the console's shell tickets; nil: no shell.
	Shell ShellTickets
}

// LocalUsers log in, create and hash the passwords of Drover's own users;
// *local.Provider is one.
type LocalUsers interface {
	Authenticate(ctx context.Context, username, password string) (store.User, error)
	CreateUser(ctx context.Context, u local.NewUser) (store.User, error)
	Hash(password string) ([]byte, error)
}

// Reacher is the one owner of who may reach which cluster (access.Checker).
type Reacher interface {
	MayReach(ctx context.Context, caller access.Caller, clusterID string) (access.Verdict, error)
	Reachable(ctx context.Context, caller access.Caller) (func(clusterID string) bool, error)
	// ReadableNamespaces says whose events of a cluster's status the
	// caller may see.
	ReadableNamespaces(ctx context.Context, caller access.Caller, clusterID string) (access.Namespaces, error)
}

// AccessListener is told that who-may-do-what changed.
type AccessListener interface {
	AccessChanged()
}

func (a *API) accessChanged() {
	if a.opts.Access != nil {
		a.opts.Access.AccessChanged()
	}
}

// SessionSigner issues session JWTs.
type SessionSigner interface {
	Sign(userID, sessionID string) (string, time.Time, error)
}

// API serves /v3.
type API struct {
	opts    Options
	watches *watchLimit
}

// New returns the API.
func New(opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PluginTTL <= 0 {
		opts.PluginTTL = DefaultPluginTTL
	}
	if opts.PluginACETTL <= 0 {
		opts.PluginACETTL = DefaultPluginACETTL
	}
	if opts.MaxLiveTokens <= 0 {
		opts.MaxLiveTokens = defaultMaxLiveTokens
	}
	if opts.Reach == nil {
		opts.Reach = access.NewChecker(access.CheckerOptions{Store: opts.Store, Now: opts.Now})
	}
	for _, l := range []struct {
		limiter *LoginLimiter
		burst   int
	}{{&opts.LoginsPerAddress, DefaultLoginsPerAddress}, {&opts.LoginsPerUserAddress, DefaultLoginsPerUserAddress},
		{&opts.LoginsPerUser, DefaultLoginsPerUser}} {
		if *l.limiter == nil {
			*l.limiter = ratelimit.New(ratelimit.Options{Burst: l.burst, Per: time.Minute, Now: opts.Now})
		}
	}
	return &API{opts: opts, watches: &watchLimit{}}
}

// PublicRoutes registers what needs no token.
func (a *API) PublicRoutes(r *mux.Router) {
	r.HandleFunc("/v3/login", a.login).Methods(http.MethodPost)
	r.HandleFunc(agentapi.CACertsPath, a.cacerts).Methods(http.MethodGet)
	r.HandleFunc(agentapi.CALineagePath, a.caLineage).Methods(http.MethodGet)
	r.HandleFunc("/v3/import/{token}", a.importManifest).Methods(http.MethodGet)
	a.providerPublicRoutes(r)
}

// Routes registers the authenticated API on r, each route with the
// credentials it admits (access.Scope); the chain wraps r with
// authentication and the scope filter.
func (a *API) Routes(r *access.Routes) {
	r.Handle(http.MethodPost, "/v3/logout", access.Unscoped, a.logout)
	r.Handle(http.MethodGet, "/v3/users/me", access.AnyCredential, a.me)
	r.Handle(http.MethodPost, "/v3/users/me/password", access.Unscoped, a.changeOwnPassword)
	r.Handle(http.MethodGet, "/v3/users", access.Unscoped, a.admin(a.listUsers))
	r.Handle(http.MethodPost, "/v3/users", access.Unscoped, a.admin(a.createUser))
	r.Handle(http.MethodGet, "/v3/clusters", access.Unscoped, a.listClusters)
	r.Handle(http.MethodPost, "/v3/clusters", access.Unscoped, a.admin(a.createClusterWithDriver))
	r.Handle(http.MethodGet, "/v3/clusters/{id}", access.OwnCluster, a.getCluster)
	r.Handle(http.MethodDelete, "/v3/clusters/{id}", access.Unscoped, a.admin(a.deleteClusterWithDriver))
	r.Handle(http.MethodPut, "/v3/clusters/{id}", access.Unscoped, a.admin(a.updateCluster))
	r.Handle(http.MethodPost, "/v3/clusters/{id}/etcd-snapshots", access.Unscoped, a.admin(a.saveSnapshot))
	r.Handle(http.MethodPost, "/v3/clusters/{id}/etcd-snapshots/{name}/restore", access.Unscoped, a.admin(a.restoreSnapshot))
	r.Handle(http.MethodDelete, "/v3/clusters/{id}/etcd-snapshots/{name}", access.Unscoped, a.admin(a.removeSnapshot))
	r.Handle(http.MethodGet, "/v3/drivers", access.Unscoped, a.listDrivers)
	r.Handle(http.MethodPost, "/v3/drivers", access.Unscoped, a.admin(a.installDriver))
	r.Handle(http.MethodGet, "/v3/drivers/{name}", access.Unscoped, a.getDriver)
	r.Handle(http.MethodDelete, "/v3/drivers/{name}", access.Unscoped, a.admin(a.deleteDriver))
	r.Handle(http.MethodGet, "/v3/drivers/{name}/schema", access.Unscoped, a.driverSchema)
	r.Handle(http.MethodPost, "/v3/clusters/{id}/registration-tokens", access.Unscoped, a.admin(a.rotateRegistration))
	r.Handle(http.MethodPut, "/v3/clusters/{id}/auth-endpoint", access.Unscoped, a.admin(a.setAuthEndpoint))
	r.Handle(http.MethodGet, "/v3/tokens", access.Unscoped, a.listTokens)
	r.Handle(http.MethodPost, "/v3/tokens", access.Unscoped, a.createToken)
	r.Handle(http.MethodDelete, "/v3/tokens/{id}", access.OwnToken, a.deleteToken)
	r.Handle(http.MethodPost, "/v3/kubeconfig", access.Unscoped, a.kubeconfig)
	r.Handle(http.MethodPost, "/v3/clusters/{id}/credentials", access.Unscoped, a.clusterCredential)
	r.Handle(http.MethodPost, shell.TicketPath, access.Unscoped, a.shellTicket)
	a.accessRoutes(r)
	a.providerRoutes(r)
	a.watchRoutes(r)
	a.auditRoutes(r)
}

// admin wraps a handler that only global admins may call.
func (a *API) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := authn.FromContext(r.Context())
		if !ok {
			apierr.Unauthorized(w)
			return
		}
		// Scoped credentials never get here: every admin route is
		// access.Unscoped (pkg/access, enforced by the chain).
		if !id.Admin {
			apierr.Forbidden(w, "only Drover admins may %s %s", r.Method, request.RedactPath(r.URL.Path))
			return
		}
		h(w, r)
	}
}

func (a *API) cacerts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(a.opts.CAPEM)
}

// caLineage serves the CA lineage: public, every link is checked by
// signature (agentapi.Lineage).
func (a *API) caLineage(w http.ResponseWriter, r *http.Request) {
	if len(a.opts.CALineagePEM) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(a.opts.CALineagePEM)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// storeError answers an error from the store.
func (a *API) storeError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		apierr.NotFound(w, "%s not found", what)
	case errors.Is(err, store.ErrConflict):
		apierr.AlreadyExists(w, "%s already exists", what)
	default:
		a.opts.Logger.Error("store", "what", what, "err", err)
		apierr.Internal(w)
	}
}

// ttl validates a requested TTL string against the server's cap.
func (a *API) ttl(requested string, def time.Duration) (time.Duration, error) {
	if requested == "" {
		return def, nil
	}
	d, err := time.ParseDuration(requested)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf(`ttl %q must be a positive duration such as "24h"`, requested)
	}
	if d > a.opts.MaxTokenTTL {
		return 0, fmt.Errorf("ttl %s is longer than the server's maximum %s", d, a.opts.MaxTokenTTL)
	}
	return d, nil
}

func identity(ctx context.Context) authn.Identity {
	id, _ := authn.FromContext(ctx)
	return id
}
