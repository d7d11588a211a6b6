package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/agent"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/server"
	"github.com/drover-dev/drover/test/fake"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// env is one cluster, one server and one cluster agent, and clients for
// both paths.
type env struct {
	log       *slog.Logger
	cluster   *testbed.Cluster
	api       *harness.Server // the server's API; its Process is nil in-process
	clusterID string
	// procs are the processes whose CPU time is accounted.
	procs          []proc
	direct, drover target
	// directImp sends the apiserver what the Drover path sends it (the
	// impersonator ServiceAccount's token, Impersonate-* headers), straight:
	// the apiserver's share of Drover's cost.
	directImp target
	stops     []func() // run in reverse order by stop

	// What the sections after the throughput comparison need (process
	// mode only).
	dir              string
	bins             harness.Binaries
	admin            string // a Drover admin session token
	reg              harness.Registration
	directKubeconfig string
	agent            *harness.Process      // the cluster agent; replaced when restarted
	metricsURL       string                // the server's /metrics
	droverCfg        *rest.Config          // the Drover path, from the server's kubeconfig
	ace              *harness.AuthEndpoint // when the ACE section runs
}

func (e *env) stop() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
	e.stops = nil
}

// startEnv starts everything under dir. In process mode the server and the
// agent are the real binaries, started by the harness the way the e2e tests
// and a Deployment start them; in-process they run in this process under
// pprof labels "side=server" and "side=agent". On error, what was started
// is stopped.
func startEnv(ctx context.Context, o *Options, dir string, log *slog.Logger) (_ *env, err error) {
	inProcess := o.CPUProfileDir != ""
	e := &env{log: log, dir: dir, procs: []proc{{name: "client", pid: os.Getpid()}}}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	var bins harness.Binaries
	if !inProcess {
		log.Info("building drover-server and drover-agent")
		if bins, err = harness.Build(ctx, filepath.Join(dir, "bin"), false); err != nil {
			return nil, err
		}
		e.bins = bins
	}
	clusterOpts := testbed.Options{Name: "bench", Dir: filepath.Join(dir, "cluster")}
	if o.runs(secACE) {
		// The webhook's address and CA must be in the apiserver's flags
		// from the start. Only Drover tokens reach the webhook: the token
		// file (admin) and ServiceAccount authenticators come first.
		if e.ace, err = harness.NewAuthEndpoint(dir); err != nil {
			return nil, err
		}
		clusterOpts.ExtraAPIServerArgs = e.ace.APIServer
	}
	log.Info("starting the cluster (etcd, kube-apiserver)", "webhook", e.ace != nil)
	if e.cluster, err = testbed.Start(ctx, clusterOpts); err != nil {
		return nil, err
	}
	e.stops = append(e.stops, func() { _ = e.cluster.Stop() })
	etcdPID, apiPID := e.cluster.PIDs()
	e.procs = append(e.procs, proc{name: "kube-apiserver", pid: apiPID}, proc{name: "etcd", pid: etcdPID})
	directKubeconfig := filepath.Join(dir, "direct-kubeconfig")
	if err := e.cluster.WriteKubeconfig(directKubeconfig); err != nil {
		return nil, err
	}
	e.directKubeconfig = directKubeconfig
	if e.ace != nil {
		// Before the agent connects: the cluster controller would otherwise
		// make a serving certificate the apiserver does not trust.
		cs, err := kubernetes.NewForConfig(e.cluster.RESTConfig())
		if err != nil {
			return nil, err
		}
		if err := e.ace.InstallSecret(ctx, cs); err != nil {
			return nil, fmt.Errorf("kube-api-auth's certificate: %w", err)
		}
	}

	log.Info("starting drover-server", "in_process", inProcess)
	if inProcess {
		e.api, err = e.startServerInProcess(ctx, filepath.Join(dir, "server"))
	} else {
		var maddr string
		if maddr, err = harness.FreeAddr(); err != nil {
			return nil, err
		}
		e.metricsURL = "http://" + maddr + "/metrics"
		e.api, err = harness.StartServer(ctx, harness.ServerOptions{
			Bin: bins.Server, DataDir: filepath.Join(dir, "server"), LogLevel: o.ServerLogLevel,
			Args: []string{"--metrics-listen", maddr},
		})
		if err == nil {
			e.stops = append(e.stops, func() { e.api.Stop(10 * time.Second) })
			e.procs = append(e.procs, proc{name: "drover-server", pid: e.api.PID()})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	admin, err := e.api.Login(ctx, "admin", e.api.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	e.admin = admin
	var reg harness.Registration
	if e.clusterID, reg, err = e.api.CreateCluster(ctx, admin, "bench"); err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	e.reg = reg

	log.Info("starting drover-agent", "cluster", e.clusterID)
	if inProcess {
		err = e.startAgentInProcess(ctx, filepath.Join(dir, "agent"), reg, directKubeconfig)
	} else {
		e.stops = append(e.stops, func() {
			if e.agent != nil {
				e.agent.Signal(syscall.SIGCONT) // in case it was left frozen
				e.agent.Stop(5 * time.Second)
			}
		})
		if err = e.startAgent(o, agentapi.KindCluster, ""); err == nil {
			e.procs = append(e.procs, proc{name: "drover-agent", pid: e.agent.PID()})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	if err := e.api.WaitConnected(ctx, admin, e.clusterID, agentapi.KindCluster); err != nil {
		return nil, err
	}

	kc, err := e.api.Kubeconfig(ctx, admin, []string{e.clusterID}, "2h")
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kc, 0o600); err != nil {
		return nil, err
	}
	droverCfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		return nil, fmt.Errorf("parse the server's kubeconfig: %w", err)
	}
	if e.direct, err = newTarget(pathDirect, e.cluster.RESTConfig()); err != nil {
		return nil, err
	}
	e.droverCfg = droverCfg
	if e.drover, err = newTarget(pathDrover, droverCfg); err != nil {
		return nil, err
	}
	// What the Drover path sends the apiserver, sent straight: a token of
	// the admin's impersonation account (made by Drover's first request)
	// and the same Impersonate-* headers.
	me, err := e.api.Me(ctx, admin)
	if err != nil {
		return nil, err
	}
	if _, err := e.drover.clients[encGzip].Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("first request through Drover: %w", err)
	}
	cs, err := kubernetes.NewForConfig(e.cluster.RESTConfig())
	if err != nil {
		return nil, err
	}
	ttl := int64(2 * 3600)
	account := accounts.Name(accounts.Own("admin", me.ID, []string{downstream.AdminGroup}))
	tr, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx, account,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token of the admin's impersonation account: %w", err)
	}
	imp := e.cluster.RESTConfig()
	imp.BearerToken = tr.Status.Token
	imp.Impersonate = rest.ImpersonationConfig{
		UserName: "admin",
		Groups:   []string{downstream.AdminGroup, "system:authenticated"},
		Extra: map[string][]string{
			downstream.ExtraTokenID: {"t-bench"},
			downstream.ExtraUserID:  {me.ID},
		},
	}
	if e.directImp, err = newTarget(pathDirectImp, imp); err != nil {
		return nil, err
	}
	return e, nil
}

// startAgent starts an agent of the bench cluster as the e2e tests do: a
// cluster agent becomes e.agent; a node agent (nodeName set, node token) is
// stopped with the environment unless stopped before.
func (e *env) startAgent(o *Options, kind, nodeName string) error {
	tok := e.reg.Token
	if kind == agentapi.KindNode {
		tok = e.reg.NodeToken
	}
	p, err := harness.StartAgent(harness.AgentOptions{
		Bin: e.bins.Agent, Dir: filepath.Join(e.dir, "agent"), ServerURL: e.api.URL,
		CAChecksum: e.reg.CAChecksum, Token: tok, Kubeconfig: e.directKubeconfig,
		Kind: kind, NodeName: nodeName, Args: []string{"--log-level", o.ServerLogLevel},
	})
	if err != nil {
		return err
	}
	if kind == agentapi.KindCluster {
		e.agent = p
	} else {
		e.stops = append(e.stops, func() { p.Stop(5 * time.Second) })
	}
	return nil
}

// The ways a client can ask for the bulk LIST.
const (
	// encGzip is client-go's and kubectl's default: the transport sends
	// Accept-Encoding: gzip and decodes the answer.
	encGzip = "gzip"
	// encIdentity is client-go with DisableCompression (kubectl
	// --disable-compression): no Accept-Encoding header at all.
	encIdentity = "identity"
	// encIdentityHeader sends an explicit Accept-Encoding: identity. Not
	// something kubectl does; it shows what the Drover path would do if its
	// transport to the apiserver did not add gzip by itself.
	encIdentityHeader = "identity-header"
)

// pathDirectImp is the direct path with what the Drover path sends the
// apiserver (pathDirect and pathDrover are in nodes.go).
const pathDirectImp = "direct+imp"

// target is one way to reach the cluster, with a client per encoding.
type target struct {
	name    string
	clients map[string]*kubernetes.Clientset
}

func newTarget(name string, base *rest.Config) (target, error) {
	t := target{name: name, clients: map[string]*kubernetes.Clientset{}}
	for _, enc := range []string{encGzip, encIdentity, encIdentityHeader} {
		cs, err := kubernetes.NewForConfig(benchConfig(base, enc))
		if err != nil {
			return target{}, err
		}
		t.clients[enc] = cs
	}
	return t, nil
}

// benchConfig is base as kubectl would use it, minus client-go's rate
// limiter (which would cap the numbers), asking for enc.
func benchConfig(base *rest.Config, enc string) *rest.Config {
	c := rest.CopyConfig(base)
	c.QPS = -1 // no client-side rate limiting
	c.Burst = 0
	c.Timeout = 2 * time.Minute
	c.UserAgent = "drover-bench"
	c.DisableCompression = enc != encGzip
	if enc == encIdentityHeader {
		c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
				req = req.Clone(req.Context())
				req.Header.Set("Accept-Encoding", "identity")
				return rt.RoundTrip(req)
			})
		}
	}
	return c
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// startServerInProcess runs pkg/server.Run in a goroutine labelled
// side=server and returns once it serves.
func (e *env) startServerInProcess(ctx context.Context, dataDir string) (*harness.Server, error) {
	// remotedialer logs through logrus, as in cmd/server.
	logrus.SetLevel(logrus.WarnLevel)
	listen, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dataDir, "server.log"))
	if err != nil {
		return nil, err
	}
	out := &fake.Buffer{}
	cfg := server.Config{
		DataDir: dataDir, Listen: listen, ServerURL: "https://" + listen,
		Hostnames:     []string{"localhost", "127.0.0.1"},
		AdminUsername: "admin", SessionTTL: 16 * time.Hour, KubeconfigTTL: 24 * time.Hour,
		MaxTokenTTL: 90 * 24 * time.Hour,
		Logger:      slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Stdout:      out,
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go pprof.Do(runCtx, pprof.Labels("side", "server"), func(ctx context.Context) { done <- server.Run(ctx, cfg) })
	e.stops = append(e.stops, func() {
		cancel()
		if err := <-done; err != nil {
			e.log.Warn("in-process server", "err", err)
		}
		logFile.Close()
	})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), "CA checksum:") {
		select {
		case err := <-done:
			done <- err // for the stop function
			return nil, fmt.Errorf("server.Run: %v", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	s := &harness.Server{URL: cfg.ServerURL, Listen: listen, DataDir: dataDir}
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "password: "); ok {
			s.AdminPassword = v
		}
	}
	if s.CAPEM, err = os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt")); err != nil {
		return nil, err
	}
	s.CAChecksum = checksum.Of(s.CAPEM)
	return s, nil
}

// startAgentInProcess runs pkg/agent.Run in a goroutine labelled side=agent.
func (e *env) startAgentInProcess(ctx context.Context, dir string, reg harness.Registration, kubeconfig string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(reg.Token+"\n"), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	opts := agent.Options{
		ServerURL: e.api.URL, CAChecksum: reg.CAChecksum, TokenFile: tokenFile, Kubeconfig: kubeconfig,
		Kind: agentapi.KindCluster, Logger: slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go pprof.Do(runCtx, pprof.Labels("side", "agent"), func(ctx context.Context) { done <- agent.Run(ctx, opts) })
	e.stops = append(e.stops, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.log.Warn("in-process agent", "err", err)
			}
		case <-time.After(10 * time.Second):
			e.log.Warn("in-process agent did not stop within 10s")
		}
		logFile.Close()
	})
	select {
	case err := <-done:
		done <- err
		return fmt.Errorf("agent.Run returned at once: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}
