package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/connlimit"
	"github.com/drover-dev/drover/pkg/driver"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/tracing"
)

// Options are the server's command-line options.
type Options struct {
	DataDir       string
	Listen        string
	MetricsListen string
	ServerURL     string
	// AllowLoopbackServerURL lets a server that listens for others give
	// agents a loopback URL (a port-forward, a sidecar).
	AllowLoopbackServerURL bool
	Hostnames              string
	TLSCert                string
	TLSKey                 string
	CACert                 string
	AdminUsername          string
	// BootstrapPasswordFile holds the first admin's password (a mounted
	// Secret); empty: a random one, printed once.
	BootstrapPasswordFile string
	SessionTTL            time.Duration
	KubeconfigTTL         time.Duration
	MaxTokenTTL           time.Duration
	// PluginTTL and PluginACETTL are the lifetimes of the drover credential
	// plugin's tokens for the proxy and the authorized cluster endpoint.
	PluginTTL       time.Duration
	PluginACETTL    time.Duration
	RegistrationTTL time.Duration
	// RegistrationGrace keeps rotated-out registration tokens valid.
	RegistrationGrace time.Duration
	AgentImage        string
	AuditLog          string
	AuditLevel        string
	AuditFormat       string
	AuditMaxSize      int // MiB
	AuditMaxBackups   int
	// MaxRequestsPerUser bounds one user's requests open through the proxy.
	MaxRequestsPerUser int
	// TraceEndpoint, TraceCAFile and TraceSampleRatio configure the
	// OpenTelemetry traces of the request path (off without an endpoint).
	TraceEndpoint, TraceCAFile string
	TraceSampleRatio           float64
	LogLevel                   string

	// Cluster drivers: built-in drivers, the key sealing what provisioned
	// clusters' drivers return, and how long a started driver may take to
	// answer.
	DriverDir           string
	SecretsKeyFile      string
	DriverAnswerTimeout time.Duration
	// Where drivers keep their files (outside the data dir; default
	// <data-dir>-drivers), the user a root server runs them as, what they
	// may read besides (comma-separated paths), and whether a server that
	// is not root may run them unsandboxed.
	DriverStateDir          string
	DriverUID               int
	DriverGID               int
	DriverShare             string
	AllowUnsandboxedDrivers bool

	// GroupRefreshInterval is how old auth provider users' groups may get
	// before the server reads them again; 0 disables the refresh.
	GroupRefreshInterval time.Duration

	// Database is where the store lives (default: SQLite in DataDir).
	Database DatabaseOptions
	// Rollout rolls AgentImage out to connected clusters (rollout.go).
	Rollout RolloutOptions
	// PeerURL is where the other server replicas on the database reach
	// this one.
	PeerURL string

	// Limits of what one client may hold (package connlimit), and whose
	// word is taken for the client's address (package request).
	MaxConnections           int
	MaxConnectionsPerAddress int
	MaxAgentConnections      int
	TrustedProxies           string // comma-separated CIDRs or addresses
	ClientAddressHeader      string
	RequestBodyTimeout       time.Duration
	RequestBodyMinRate       int64
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		DataDir:            "data",
		Listen:             "127.0.0.1:8443",
		AdminUsername:      "admin",
		SessionTTL:         16 * time.Hour,
		KubeconfigTTL:      30 * 24 * time.Hour,
		MaxTokenTTL:        90 * 24 * time.Hour,
		PluginTTL:          api.DefaultPluginTTL,
		PluginACETTL:       api.DefaultPluginACETTL,
		RegistrationTTL:    0,
		RegistrationGrace:  time.Hour,
		AgentImage:         "ghcr.io/drover-dev/drover-agent:v0.1.0",
		AuditLevel:         "all",
		AuditFormat:        "drover",
		AuditMaxSize:       audit.DefaultMaxBytes >> 20,
		AuditMaxBackups:    audit.DefaultBackups,
		MaxRequestsPerUser: authproxy.DefaultMaxRequestsPerUser,
		TraceSampleRatio:   1,
		LogLevel:           "info",

		DriverAnswerTimeout:  10 * time.Second,
		DriverUID:            driver.DefaultUID,
		DriverGID:            driver.DefaultGID,
		GroupRefreshInterval: time.Hour,

		MaxConnections:           connlimit.DefaultMaxConns,
		MaxConnectionsPerAddress: connlimit.DefaultMaxConnsPerAddress,
		MaxAgentConnections:      connlimit.DefaultMaxAgentConns,
		ClientAddressHeader:      request.HeaderXForwardedFor,
		RequestBodyTimeout:       connlimit.DefaultBodyTimeout,
		RequestBodyMinRate:       connlimit.DefaultBodyMinRate,
		Rollout:                  NewRolloutOptions(),
	}
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "directory for the SQLite store (unless --database-url), the keys and generated TLS material")
	o.Database.Flags(fs)
	fs.StringVar(&o.PeerURL, "peer-url", o.PeerURL, "with --database-url: the https URL other server replicas reach this one by, e.g. https://$(POD_IP):8443 "+
		"(default https://<listen> when --listen names an address)")
	fs.StringVar(&o.Listen, "listen", o.Listen, "host:port to serve HTTPS on")
	fs.StringVar(&o.MetricsListen, "metrics-listen", o.MetricsListen, "host:port for Prometheus /metrics over plain HTTP (empty: off)")
	fs.StringVar(&o.ServerURL, "server-url", o.ServerURL, "external https URL of this server, which agents and users reach it by (default https://<listen>)")
	fs.BoolVar(&o.AllowLoopbackServerURL, "allow-loopback-server-url", o.AllowLoopbackServerURL, "allow a loopback --server-url while listening on other addresses (agents that reach the server through a local port-forward or sidecar)")
	fs.StringVar(&o.Hostnames, "hostnames", o.Hostnames, "comma-separated extra DNS names/IPs for a generated serving certificate")
	fs.StringVar(&o.TLSCert, "tls-cert", o.TLSCert, "serving certificate (PEM); with --tls-key and --ca-cert, replaces the generated one")
	fs.StringVar(&o.TLSKey, "tls-key", o.TLSKey, "serving certificate key (PEM)")
	fs.StringVar(&o.CACert, "ca-cert", o.CACert, "CA that signed --tls-cert (PEM); served at /cacerts for agents to pin")
	fs.StringVar(&o.AdminUsername, "admin-username", o.AdminUsername, "name of the admin created on first start")
	fs.StringVar(&o.BootstrapPasswordFile, "bootstrap-password-file", o.BootstrapPasswordFile, "file holding the password of the admin created on first start (12-72 bytes, one trailing newline trimmed; e.g. a mounted Secret): then nothing about it is printed (default: a random password, printed once)")
	fs.DurationVar(&o.SessionTTL, "session-ttl", o.SessionTTL, "lifetime of a login session token")
	fs.DurationVar(&o.KubeconfigTTL, "kubeconfig-ttl", o.KubeconfigTTL, "default lifetime of kubeconfig and API tokens")
	fs.DurationVar(&o.MaxTokenTTL, "max-token-ttl", o.MaxTokenTTL, "longest lifetime a user may request for a token")
	fs.DurationVar(&o.PluginTTL, "plugin-token-ttl", o.PluginTTL, "lifetime of the cluster tokens the drover credential plugin hands kubectl (10s-1h; never past the login session)")
	fs.DurationVar(&o.PluginACETTL, "plugin-ace-token-ttl", o.PluginACETTL, "lifetime of the tokens the drover credential plugin keeps for a cluster's authorized endpoint, which work while the server is down (at least --plugin-token-ttl, at most --max-token-ttl; never past the login session)")
	fs.DurationVar(&o.RegistrationTTL, "registration-ttl", o.RegistrationTTL, "lifetime of agent registration tokens (0: no expiry)")
	fs.DurationVar(&o.RegistrationGrace, "registration-grace", o.RegistrationGrace, "how long rotated-out registration tokens stay valid")
	fs.StringVar(&o.AgentImage, "agent-image", o.AgentImage, "image the import manifests run for the agents, and that connected clusters' agents are rolled to (--agent-rollout)")
	o.Rollout.Flags(fs)
	fs.StringVar(&o.DriverDir, "driver-dir", o.DriverDir, "directory of built-in cluster drivers (executables named driver-<name>); empty: none")
	fs.StringVar(&o.SecretsKeyFile, "secrets-key-file", o.SecretsKeyFile, "key sealing stored secrets: provisioned clusters' credentials, auth provider configs, refresh credentials (default <data-dir>/secrets.key, made on first start)")
	fs.DurationVar(&o.DriverAnswerTimeout, "driver-answer-timeout", o.DriverAnswerTimeout, "how long a started cluster driver may take to answer")
	fs.StringVar(&o.DriverStateDir, "driver-state-dir", o.DriverStateDir, "directory for the cluster drivers' own files (their HOME and run directories); outside --data-dir when the server runs as root (default <data-dir>-drivers)")
	fs.IntVar(&o.DriverUID, "driver-uid", o.DriverUID, "uid a root server runs cluster drivers as, sandboxed (no passwd entry needed; use an id no one else has)")
	fs.IntVar(&o.DriverGID, "driver-gid", o.DriverGID, "gid a root server runs cluster drivers as")
	fs.StringVar(&o.DriverShare, "driver-share", o.DriverShare, "comma-separated files or directories sandboxed cluster drivers may read, at the same path, read-only (e.g. the local driver's etcd and kube-apiserver)")
	fs.BoolVar(&o.AllowUnsandboxedDrivers, "allow-unsandboxed-drivers", o.AllowUnsandboxedDrivers, "when the server does not run as root, run cluster drivers anyway, as its own user: they can then read its keys and database (without this they are refused)")
	fs.DurationVar(&o.GroupRefreshInterval, "group-refresh-interval", o.GroupRefreshInterval, "re-read auth provider users' groups once they are this old (0: never; admins can force it with POST /v3/users/{id}/refresh)")
	fs.StringVar(&o.AuditLog, "audit-log", o.AuditLog, "file to append the audit log to, rotated by size (default <data-dir>/audit.log); - for stdout")
	fs.StringVar(&o.AuditLevel, "audit-level", o.AuditLevel, "none (no audit log), writes (changes and refusals) or all")
	fs.StringVar(&o.AuditFormat, "audit-format", o.AuditFormat, "drover (Drover's JSON lines) or kubernetes (audit.k8s.io/v1 Events, as kube-apiserver writes them)")
	fs.IntVar(&o.AuditMaxSize, "audit-max-size", o.AuditMaxSize, "MiB an audit log file may reach before it is rotated")
	fs.IntVar(&o.AuditMaxBackups, "audit-max-backups", o.AuditMaxBackups, "rotated audit log files kept (audit.log.1 ...); 0: none")
	fs.IntVar(&o.MaxRequestsPerUser, "max-requests-per-user", o.MaxRequestsPerUser, "most requests one user may have open through the proxy at once (watches, logs and exec sessions included); more get 429")
	fs.StringVar(&o.TraceEndpoint, "trace-endpoint", o.TraceEndpoint, "OTLP/HTTP URL to send OpenTelemetry traces of the request path to (e.g. http://127.0.0.1:4318); empty: no traces. Collector headers come from $OTEL_EXPORTER_OTLP_HEADERS")
	fs.StringVar(&o.TraceCAFile, "trace-ca-file", o.TraceCAFile, "CA certificates (PEM) an https --trace-endpoint is verified with (default: the system's)")
	fs.Float64Var(&o.TraceSampleRatio, "trace-sample-ratio", o.TraceSampleRatio, "share of requests traced, in (0, 1]")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error")
	fs.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "most connections open at once, agent tunnels aside; more are closed as they come")
	fs.IntVar(&o.MaxConnectionsPerAddress, "max-connections-per-address", o.MaxConnectionsPerAddress, "most connections of one client address (an IPv6 /64) at once, agent tunnels and --trusted-proxies aside")
	fs.IntVar(&o.MaxAgentConnections, "max-agent-connections", o.MaxAgentConnections, "most agent tunnels at once, counted apart from other connections")
	fs.StringVar(&o.TrustedProxies, "trusted-proxies", o.TrustedProxies, "comma-separated CIDRs or addresses of load balancers whose --client-address-header names the client (empty: none; the peer is the client)")
	fs.StringVar(&o.ClientAddressHeader, "client-address-header", o.ClientAddressHeader, "the header --trusted-proxies append the client's address to: X-Forwarded-For or Forwarded")
	fs.DurationVar(&o.RequestBodyTimeout, "request-body-timeout", o.RequestBodyTimeout, "time every request body gets before --request-body-min-rate applies")
	fs.Int64Var(&o.RequestBodyMinRate, "request-body-min-rate", o.RequestBodyMinRate, "slowest request body allowed past --request-body-timeout, in bytes per second")
}

// Validate checks the options and fills derived defaults.
func (o *Options) Validate() error {
	var errs []error
	if o.DriverAnswerTimeout <= 0 {
		errs = append(errs, errors.New("--driver-answer-timeout must be positive"))
	}
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	} else if o.DriverStateDir == "" {
		o.DriverStateDir = filepath.Clean(o.DataDir) + "-drivers"
	}
	if o.DriverUID <= 0 || o.DriverGID <= 0 {
		errs = append(errs, errors.New("--driver-uid and --driver-gid must be positive: drivers never run as root"))
	}

	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("--listen %q must be host:port", o.Listen))
	}
	if o.ServerURL == "" && err == nil {
		h := host
		if h == "" || h == "0.0.0.0" || h == "::" {
			h = "localhost"
		}
		o.ServerURL = "https://" + net.JoinHostPort(h, port)
	}
	if u, err := url.Parse(o.ServerURL); err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("--server-url %q must be an https URL with no path", o.ServerURL))
	} else if err == nil && !api.LoopbackHost(host) && api.LoopbackHost(u.Hostname()) && !o.AllowLoopbackServerURL {
		errs = append(errs, fmt.Errorf("--server-url %s is a loopback address, but the server listens on %s for others: "+
			"agents and users elsewhere would connect to themselves; set --server-url to the address they reach the server by "+
			"(or --allow-loopback-server-url)", o.ServerURL, o.Listen))
	}
	if o.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(o.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen %q must be host:port", o.MetricsListen))
		}
	}
	set := 0
	for _, f := range []string{o.TLSCert, o.TLSKey, o.CACert} {
		if f != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		errs = append(errs, errors.New("--tls-cert, --tls-key and --ca-cert go together"))
	}
	for name, d := range map[string]time.Duration{"--session-ttl": o.SessionTTL, "--kubeconfig-ttl": o.KubeconfigTTL, "--max-token-ttl": o.MaxTokenTTL} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if o.KubeconfigTTL > o.MaxTokenTTL {
		errs = append(errs, errors.New("--kubeconfig-ttl must not exceed --max-token-ttl"))
	}
	if o.PluginTTL < 10*time.Second || o.PluginTTL > time.Hour {
		errs = append(errs, errors.New("--plugin-token-ttl must be between 10s and 1h"))
	}
	if o.PluginACETTL < o.PluginTTL || o.PluginACETTL > o.MaxTokenTTL {
		errs = append(errs, errors.New("--plugin-ace-token-ttl must be at least --plugin-token-ttl and at most --max-token-ttl"))
	}
	if o.RegistrationGrace < 0 {
		errs = append(errs, errors.New("--registration-grace must not be negative"))
	}
	if o.AgentImage == "" {
		errs = append(errs, errors.New("--agent-image must not be empty"))
	}
	if err := o.Rollout.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.Database.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.validatePeerURL(); err != nil {
		errs = append(errs, err)
	}
	if o.GroupRefreshInterval != 0 && o.GroupRefreshInterval < time.Minute {
		errs = append(errs, errors.New("--group-refresh-interval must be 0 (off) or at least 1m"))
	}
	if o.RegistrationTTL < 0 {
		errs = append(errs, errors.New("--registration-ttl must not be negative"))
	}
	if _, err := audit.ParseLevel(o.AuditLevel); err != nil {
		errs = append(errs, fmt.Errorf("--audit-level: %w", err))
	}
	if _, err := audit.ParseFormat(o.AuditFormat); err != nil {
		errs = append(errs, fmt.Errorf("--audit-format: %w", err))
	}
	if o.AuditMaxSize < 1 || o.AuditMaxBackups < 0 {
		errs = append(errs, errors.New("--audit-max-size must be at least 1 (MiB) and --audit-max-backups not negative"))
	}
	if o.MaxRequestsPerUser < 1 {
		errs = append(errs, errors.New("--max-requests-per-user must be at least 1"))
	}
	if o.TraceEndpoint != "" {
		if _, err := tracing.ParseEndpoint(o.TraceEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("--trace-endpoint: %w", err))
		}
	}
	if !(o.TraceSampleRatio > 0 && o.TraceSampleRatio <= 1) {
		errs = append(errs, errors.New("--trace-sample-ratio must be more than 0 and at most 1"))
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", o.LogLevel))
	}
	return errors.Join(append(errs, o.validateLimits()...)...)
}

// validateLimits checks the connection, body and client address options.
func (o *Options) validateLimits() []error {
	var errs []error
	for name, n := range map[string]int64{"--max-connections": int64(o.MaxConnections),
		"--max-connections-per-address": int64(o.MaxConnectionsPerAddress), "--max-agent-connections": int64(o.MaxAgentConnections),
		"--request-body-min-rate": o.RequestBodyMinRate} {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if o.RequestBodyTimeout <= 0 {
		errs = append(errs, errors.New("--request-body-timeout must be positive"))
	}
	if _, err := o.trustedProxies(); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	switch http.CanonicalHeaderKey(o.ClientAddressHeader) {
	case request.HeaderXForwardedFor, request.HeaderForwarded:
	default:
		errs = append(errs, fmt.Errorf("--client-address-header %q must be X-Forwarded-For or Forwarded", o.ClientAddressHeader))
	}
	return errs
}

func (o *Options) trustedProxies() ([]netip.Prefix, error) {
	return request.ParsePrefixes(strings.Split(o.TrustedProxies, ","))
}

// limits are the connection and body limits and the client address rule
// the options set (valid options only).
func (o *Options) limits() (connlimit.Options, connlimit.BodyOptions, request.ClientOptions) {
	proxies, _ := o.trustedProxies()
	return connlimit.Options{MaxConns: o.MaxConnections, MaxConnsPerAddress: o.MaxConnectionsPerAddress,
			MaxAgentConns: o.MaxAgentConnections},
		connlimit.BodyOptions{Timeout: o.RequestBodyTimeout, MinRate: o.RequestBodyMinRate},
		request.ClientOptions{TrustedProxies: proxies, Header: http.CanonicalHeaderKey(o.ClientAddressHeader)}
}

// audit is the audit log the options name (Validate checked the words).
func (o *Options) audit() audit.Options {
	level, _ := audit.ParseLevel(o.AuditLevel)
	format, _ := audit.ParseFormat(o.AuditFormat)
	return audit.Options{Path: o.AuditLog, Level: level, Format: format,
		MaxBytes: int64(o.AuditMaxSize) << 20, Backups: o.AuditMaxBackups}
}

// driverSandbox is how a root server confines drivers: the server's files
// it names (key, TLS, audit log) are hidden from them.
func (o *Options) driverSandbox() driver.SandboxOptions {
	sb := driver.SandboxOptions{UID: o.DriverUID, GID: o.DriverGID}
	for _, p := range strings.Split(o.DriverShare, ",") {
		if p = strings.TrimSpace(p); p != "" {
			sb.Share = append(sb.Share, p)
		}
	}
	for _, p := range []string{o.DataDir, o.SecretsKeyFile, o.TLSCert, o.TLSKey, o.CACert, o.AuditLog, o.BootstrapPasswordFile} {
		if p != "" && p != "-" {
			sb.Hide = append(sb.Hide, p)
		}
	}
	return sb
}

// hostnames returns the SANs for a generated certificate.
// LoopbackOnly says whether the server is reachable from this machine only
// (it listens on loopback, and its URL is loopback): fine for a trial, not
// for agents in real clusters.
func (o *Options) LoopbackOnly() bool {
	host, _, err := net.SplitHostPort(o.Listen)
	u, uerr := url.Parse(o.ServerURL)
	return err == nil && uerr == nil && api.LoopbackHost(host) && api.LoopbackHost(u.Hostname())
}

func (o *Options) hostnames() []string {
	out := []string{"localhost", "127.0.0.1", "::1"}
	if u, err := url.Parse(o.ServerURL); err == nil {
		out = append(out, u.Hostname())
	}
	if h, err := os.Hostname(); err == nil {
		out = append(out, h)
	}
	for _, h := range strings.Split(o.Hostnames, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, h := range out {
		if !seen[h] {
			seen[h] = true
			uniq = append(uniq, h)
		}
	}
	return uniq
}

// validatePeerURL defaults --peer-url to the listen address on a database
// server and checks it.
func (o *Options) validatePeerURL() error {
	if o.Database.URL == "" {
		if o.PeerURL != "" {
			return errors.New("--peer-url needs --database-url: a server on SQLite has no peers")
		}
		return nil
	}
	if o.PeerURL == "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil // --listen's own error says it
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			return fmt.Errorf("--peer-url is required with --database-url when --listen %s names no address: "+
				"the URL the other server replicas reach this one by, e.g. https://$(POD_IP)%s", o.Listen, ":"+port)
		}
		o.PeerURL = "https://" + net.JoinHostPort(host, port)
	}
	if u, err := url.Parse(o.PeerURL); err != nil || u.Scheme != "https" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") ||
		u.User != nil || u.RawQuery != "" {
		return fmt.Errorf("--peer-url %q must be an https URL with no path", o.PeerURL)
	}
	return nil
}

func (o *Options) tlsFiles() pki.Files {
	return pki.Files{CACert: o.CACert, Cert: o.TLSCert, Key: o.TLSKey}
}
