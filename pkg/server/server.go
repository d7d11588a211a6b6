package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/connlimit"
	"github.com/drover-dev/drover/pkg/console"
	"github.com/drover-dev/drover/pkg/controller"
	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/notify"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/provision"
	"github.com/drover-dev/drover/pkg/replica"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/rollout"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/session"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tracing"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// MaxHeaderBytes bounds a request's headers.
const MaxHeaderBytes = 64 << 10

// Config is everything the server needs; cmd/server fills it from flags.
type Config struct {
	DataDir string
	// PeerURL is where other server replicas on the same database reach
	// this one (https; its host goes into the serving certificate). Used
	// with Database only.
	PeerURL string
	// Database is the PostgreSQL database of the store; no URL: the
	// embedded SQLite store in DataDir.
	Database store.PostgresOptions
	Listen   string // host:port
	// MetricsListen serves /metrics (Prometheus) on its own plain-HTTP
	// listener when set; keep it on loopback or a private network.
	MetricsListen string
	ServerURL     string   // external https URL agents and kubeconfigs use
	Hostnames     []string // SANs of a generated serving certificate
	TLS           pki.Files

	AdminUsername string
	// BootstrapPasswordFile, when set, holds the first admin's password
	// (package local's ReadPassword: one trailing newline trimmed); it is
	// read on the first start only, and then nothing about the password is
	// printed. Empty: a random password, printed once to Stdout.
	BootstrapPasswordFile string
	SessionTTL            time.Duration
	KubeconfigTTL         time.Duration
	MaxTokenTTL           time.Duration
	// PluginTTL and PluginACETTL: see api.Options.
	PluginTTL, PluginACETTL time.Duration
	RegistrationTTL         time.Duration
	// RegistrationGrace keeps rotated-out registration tokens valid this long.
	RegistrationGrace time.Duration
	// AgentImage is what import manifests run.
	AgentImage string
	// Rollout rolls the agent image out to connected clusters (package
	// rollout; its Logger, Now and Metrics are the server's).
	Rollout rollout.Options
	// Audit says where the audit log goes (opened once the data
	// directory is ours; an empty path is DefaultFile in it) and how.
	Audit audit.Options
	// MaxRequestsPerUser bounds one user's requests open through the
	// proxy at once (0: authproxy.DefaultMaxRequestsPerUser).
	MaxRequestsPerUser int
	// Tracing configures OpenTelemetry traces of the request path (off
	// without an endpoint).
	Tracing tracing.Options
	// DriverDir holds built-in cluster drivers (driver-<name>); empty: none.
	DriverDir string
	// SecretsKeyFile is the key that seals provisioned clusters'
	// credentials; empty: <DataDir>/secrets.key, made on first start.
	SecretsKeyFile string
	// DriverAnswerTimeout bounds how long a started driver may take to
	// answer (0: 10 s).
	DriverAnswerTimeout time.Duration
	// DriverStateDir holds the drivers' own files, outside DataDir (empty:
	// <DataDir>-drivers).
	DriverStateDir string
	// DriverSandbox confines drivers when the server runs as root. DataDir,
	// the secrets key and the TLS files are hidden from them whatever its
	// Hide says.
	DriverSandbox driver.SandboxOptions
	// AllowUnsandboxedDrivers lets a server that is not root run drivers as
	// its own user; without it such a server refuses them.
	AllowUnsandboxedDrivers bool
	// GroupRefreshInterval is how old provider users' groups may get
	// before they are read again from their provider; 0: never.
	GroupRefreshInterval time.Duration
	// Conns caps connections (package connlimit); its TrustedProxies,
	// Metrics and Logger are set here. Zero caps: the defaults.
	Conns connlimit.Options
	// Client says whose forwarding header names the client.
	Client request.ClientOptions
	// Body bounds the time request bodies may take; zero: the defaults.
	Body connlimit.BodyOptions

	Logger *slog.Logger
	// Stdout receives the one-time bootstrap password and the ready line.
	Stdout io.Writer
	Now    func() time.Time
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	lns, err := bind(cfg)
	if err != nil {
		return err
	}
	defer lns.close()
	unlock, err := openDataDir(cfg.DataDir, cfg.Logger)
	if err != nil {
		return err
	}
	defer unlock()
	if cfg.Audit.Path == "" {
		cfg.Audit.Path = filepath.Join(cfg.DataDir, audit.DefaultFile)
	}
	auditLog, closeAudit, err := audit.Open(cfg.Audit, cfg.Stdout)
	if err != nil {
		return err
	}
	defer closeAudit()
	st, err := openStore(ctx, cfg.DataDir, cfg.Database, cfg.Logger)
	if err != nil {
		return err
	}
	defer st.Close()
	sealer, err := loadSealer(cfg)
	if err != nil {
		return err
	}
	sessionOpts := session.Options{Dir: cfg.DataDir, TTL: cfg.SessionTTL, RotateEvery: 7 * 24 * time.Hour, Now: cfg.Now}
	hosts, err := joinService(ctx, cfg, st, sealer, &sessionOpts)
	if err != nil {
		return err
	}
	mat, err := pki.LoadOrCreate(filepath.Join(cfg.DataDir, "tls"), hosts, cfg.TLS, cfg.Now())
	if err == nil && mat.Renewed != "" {
		cfg.Logger.Info("serving certificate issued anew", "reason", mat.Renewed)
	}
	if err == nil && mat.Rotation.Next != "" {
		cfg.Logger.Warn("a CA rotation is prepared: kubeconfigs and the drover command trust both CAs, agents learn the next one; "+
			"finish it with drover-server rotate-ca finish", "ca_checksum", mat.Checksum(), "next_ca_checksum", mat.Rotation.Next)
	}
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	localUsers, err := local.New(st, local.Options{Now: cfg.Now})
	if err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, st, localUsers, cfg); err != nil {
		return err
	}

	keys, err := session.Open(sessionOpts)
	if err != nil {
		return err
	}
	// Replicas sharing the keys learn of one another's rotation within a
	// minute (and at once for a token signed with a key they do not know).
	keysEvery := time.Hour
	if sessionOpts.Shared != nil {
		keysEvery = time.Minute
	}
	go maintainKeys(ctx, keys, cfg.Logger, keysEvery)
	m := metrics.NewServer()
	auth := authn.New(authn.Options{Store: st, Logger: cfg.Logger, Now: cfg.Now, Sessions: keys})
	defer auth.Wait() // before the store closes
	var rep *replicas // set before anything serves
	// draining: a replica on its way out answers /readyz 503 (drain).
	var draining atomic.Bool
	// changes wakes the console's live views (tunnels, statuses,
	// revocations, access, and every change made through the API).
	changes := notify.New()
	tun := tunnel.New(tunnel.Options{Store: st, Logger: cfg.Logger, Now: cfg.Now, Metrics: m,
		Admit: func(r *http.Request) error { return connlimit.MoveToAgents(r.Context()) },
		Changed: func(clusterID string) {
			if rep != nil {
				rep.index.Changed(clusterID)
			}
			changes.Notify()
		}})
	if rep, err = startReplica(ctx, cfg, st, tun, mat, m); err != nil {
		return err
	}
	tracer, stopTracing, err := startTracing(ctx, cfg)
	if err != nil {
		return err
	}
	defer stopTracing()
	streams := authproxy.NewStreams(st, 2*time.Second, cfg.Now, cfg.Logger)
	checker := access.NewChecker(access.CheckerOptions{Store: st, Now: cfg.Now})
	accts := accounts.New(accounts.Options{Agents: tun, Logger: cfg.Logger, Now: cfg.Now, Instance: mat.Instance()[:32]})
	ro := cfg.Rollout
	ro.Logger, ro.Now, ro.Metrics = cfg.Logger, cfg.Now, m
	ctrl := controller.New(controller.Options{Sessions: tun, Store: statusNotifier{Store: st, changes: changes}, Reach: checker, Accounts: accts, Leases: rep.controllerLeases(),
		Logger: cfg.Logger, Now: cfg.Now, ServerURL: cfg.ServerURL, Metrics: m, Rollout: rollout.New(ro)})
	m.WatchStore(st.Stats)
	// The provisioning controller's cluster deletions hold at once as the
	// API's do; apiHandler is set below, before anything runs.
	var apiHandler *api.API
	removed := func(clusterID string, tokenIDs []string) { apiHandler.ClusterRemoved(clusterID, tokenIDs) }
	drivers, prov, err := newProvisioning(cfg, st, tun, sealer, mat.Checksum(), removed)
	if err != nil {
		return err
	}
	tokens := revoker{auth: auth, streams: streams, ctrl: ctrl, changes: changes}
	access := accessListener{auth: auth, checker: checker, ctrl: ctrl, recheck: make(chan struct{}, 1), changes: changes}
	// Replicas tell one another of each revocation and access change, and
	// apply the others' here (package replica).
	tokens.bus = rep.listen(ctx, st, replica.Apply{Revoked: tokens.local, AccessChanged: access.local,
		ClusterRemoved: func(id string) { tun.CloseCluster(id); accts.Forget(id) }}, cfg.Logger)
	access.bus = tokens.bus
	go access.recheckStreams(ctx, streams, st, cfg.Logger)
	authProviders := registry.New(registry.Options{Store: st, Sealer: sealer, Logger: cfg.Logger, Now: cfg.Now, Spent: rep.spent(st),
		Tokens: tokens, Access: access, MaxStale: maxStale(cfg.GroupRefreshInterval)})
	// One ticket issuer for both ends of the console's shell: the API
	// issues, the chain redeems; spent in the store every replica shares.
	shellTickets := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st, Now: cfg.Now})
	apiHandler = api.New(api.Options{
		Store: st, Tokens: tokens, Tunnel: rep.tunnels(tun), CAPEM: mat.CAPEM, CASum: mat.Checksum(), CATrustPEM: mat.TrustPEM, CALineagePEM: mat.LineagePEM,
		ServerURL: cfg.ServerURL, Logger: cfg.Logger, Now: cfg.Now,
		SessionTTL: cfg.SessionTTL, KubeconfigTTL: cfg.KubeconfigTTL,
		MaxTokenTTL: cfg.MaxTokenTTL, RegistrationTTL: cfg.RegistrationTTL,
		RegistrationGrace: cfg.RegistrationGrace, AgentImage: cfg.AgentImage, Pusher: ctrl, Sessions: keys,
		Drivers: drivers, Provisioning: prov, Access: access, Reach: checker, Providers: authProviders, Local: localUsers,
		Credentials: accts, PluginTTL: cfg.PluginTTL, PluginACETTL: cfg.PluginACETTL, AuthEndpoints: ctrl, Changes: changes,
		LoginsPerAddress:     rep.loginLimit(st, "login-address", api.DefaultLoginsPerAddress, cfg.Logger),
		LoginsPerUserAddress: rep.loginLimit(st, "login-user-address", api.DefaultLoginsPerUserAddress, cfg.Logger),
		LoginsPerUser:        rep.loginLimit(st, "login-user", api.DefaultLoginsPerUser, cfg.Logger),
		// GET /v3/audit reads the file the log above writes (its queries
		// answer 404 when it goes to stdout or is off).
		Audit: audit.NewReader(cfg.Audit),
		Shell: shellTickets,
	})
	handler := chain.NewHandler(chain.Handlers{
		Client:  cfg.Client,
		Body:    cfg.Body,
		Metrics: m,
		Logger:  cfg.Logger,
		Audit:   auditLog,
		Auth:    auth,
		Access:  checker,
		Connect: tun,
		Proxy: authproxy.New(authproxy.Options{Sessions: tun, Credentials: accts, Logger: cfg.Logger, Metrics: m,
			Streams: streams, NoteImpersonation: audit.SetImpersonation, MaxRequestsPerUser: cfg.MaxRequestsPerUser,
			Tracer: forwardTracer(tracer)}),
		Tracer: tracer, FromPeer: replica.PeerFrom,
		API:      apiHandler,
		Replicas: rep.relayer(),
		Ready:    func() bool { return !draining.Load() },
		Console:  console.New(),
		Shell:    shellTickets,
	})

	conns := cfg.Conns
	conns.TrustedProxies, conns.Metrics, conns.Logger = cfg.Client.TrustedProxies, m, cfg.Logger
	ln := connlimit.NewListener(lns.main, conns)
	srv := &http.Server{
		Handler: handler,
		// No ReadTimeout: it would end watches, logs and exec sessions.
		// Headers have ReadHeaderTimeout, bodies the chain's
		// connlimit.WithBodyDeadline, idle connections IdleTimeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// HTTP/1.1 answers 431 past it; HTTP/2 advertises it as
		// SETTINGS_MAX_HEADER_LIST_SIZE, answers 431 a little past it and
		// closes the connection far past it (test/e2e TestLimits).
		MaxHeaderBytes: MaxHeaderBytes,
		ConnContext:    ln.ConnContext,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			// The Keeper issues the certificate anew before it expires.
			GetCertificate: mat.Keeper.GetCertificate,
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"h2", "http/1.1"},
		},
	}
	go rep.once(ctx, "token-gc", func(ctx context.Context) { gcTokens(ctx, st, cfg) })
	go renewCertificate(ctx, mat.Keeper, cfg)
	go tun.RecheckTokens(ctx, 5*time.Second) // agents of ended registration tokens lose their tunnels
	if cfg.GroupRefreshInterval > 0 {
		go rep.once(ctx, "group-refresh", func(ctx context.Context) { authProviders.RunRefresh(ctx, cfg.GroupRefreshInterval) })
	} else {
		authProviders.RunRefresh(ctx, 0) // says it is off
	}
	go streams.Run(ctx)
	if lns.metrics != nil {
		defer serveMetrics(lns.metrics, m, cfg.Logger)()
	}
	ctrlCtx, stopCtrl := context.WithCancel(ctx)
	ctrlDone := make(chan struct{})
	go func() { ctrl.Run(ctrlCtx); close(ctrlDone) }()
	defer func() { stopCtrl(); <-ctrlDone }()
	provDone := make(chan struct{})
	go func() { rep.once(ctrlCtx, "provisioning", prov.Run); close(provDone) }()
	defer func() { stopCtrl(); <-provDone }()

	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(cfg.Stdout, "Drover is serving at %s (listening on %s)\nCA checksum: %s\n",
		cfg.ServerURL, ln.Addr(), mat.Checksum())
	cfg.Logger.Info("serving", "url", cfg.ServerURL, "addr", ln.Addr().String(), "ca_checksum", mat.Checksum())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	rep.drain(&draining, tun, cfg.Logger)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// renewCertificate issues the serving certificate anew when it is due
// (pki.Keeper), checking twice a day, until ctx ends.
func renewCertificate(ctx context.Context, k *pki.Keeper, cfg Config) {
	t := time.NewTicker(12 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if why, err := k.Renew(cfg.Now()); err != nil {
			cfg.Logger.Error("issue the serving certificate anew", "err", err)
		} else if why != "" {
			cfg.Logger.Info("serving certificate issued anew from the same CA", "reason", why)
		}
	}
}

func gcTokens(ctx context.Context, st *store.Store, cfg Config) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if n, err := st.DeleteExpiredTokens(ctx, cfg.Now()); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("delete expired tokens", "err", err)
		} else if n > 0 {
			cfg.Logger.Info("deleted expired tokens", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maintainKeys rotates the session signing key when due and drops retired
// keys, hourly.
func maintainKeys(ctx context.Context, keys *session.Keys, logger *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := keys.Maintain(); err != nil {
				logger.Error("session keys", "err", err)
			}
		}
	}
}

// loadSealer returns the sealer of what Drover stores encrypted (provisioned
// clusters' credentials, auth provider configurations, users' refresh
// credentials), with the key of --secrets-key-file.
func loadSealer(cfg Config) (*seal.Sealer, error) {
	return seal.LoadOrCreate(secretsKeyFile(cfg))
}

// secretsKeyFile is --secrets-key-file or its default.
func secretsKeyFile(cfg Config) string {
	if cfg.SecretsKeyFile != "" {
		return cfg.SecretsKeyFile
	}
	return filepath.Join(cfg.DataDir, "secrets.key")
}

// maxStale is how long groups that could not be refreshed stay in use: four
// refresh intervals, at least a day, so that an outage of the identity
// provider does not take everyone's access at once, yet a user deleted there
// (which some issuers answer like an outage) loses its groups in bounded time.
func maxStale(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return max(4*interval, 24*time.Hour)
}

// newProvisioning builds the cluster driver registry and the provisioning
// controller (packages driver and provision) with the sealer for what the
// controller stores.
func newProvisioning(cfg Config, st *store.Store, tun *tunnel.Server, sealer *seal.Sealer, caSum string,
	removed func(clusterID string, tokenIDs []string)) (*driver.Registry, *provision.Controller, error) {
	stateDir := cfg.DriverStateDir
	if stateDir == "" {
		stateDir = filepath.Clean(cfg.DataDir) + "-drivers"
	}
	sb := cfg.DriverSandbox
	sb.Hide = append(append([]string{}, sb.Hide...), cfg.DataDir, secretsKeyFile(cfg))
	for _, f := range []string{cfg.TLS.Key, cfg.TLS.Cert, cfg.TLS.CACert} {
		if f != "" {
			sb.Hide = append(sb.Hide, f)
		}
	}
	reg, err := driver.New(driver.Options{Dir: filepath.Join(cfg.DataDir, "drivers"), StateDir: stateDir,
		Sandbox: sb, AllowUnsandboxed: cfg.AllowUnsandboxedDrivers, BuiltinDir: cfg.DriverDir, Store: st,
		Logger: cfg.Logger, AnswerTimeout: cfg.DriverAnswerTimeout, Now: cfg.Now})
	if err != nil {
		return nil, nil, err
	}
	prov := provision.New(provision.Options{Store: st, Drivers: reg, Sealer: sealer, Tunnels: tun, Logger: cfg.Logger,
		Now: cfg.Now, ServerURL: cfg.ServerURL, CAChecksum: caSum, AgentImage: cfg.AgentImage,
		RegistrationTTL: cfg.RegistrationTTL, RegistrationGrace: cfg.RegistrationGrace, Removed: removed})
	return reg, prov, nil
}
