package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drover-dev/drover/pkg/agent"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/test/harness"
)

// Options configure Run.
type Options struct {
	// Clusters is how many clusters (one cluster agent each) to simulate.
	Clusters int
	// ServerBin is the drover-server binary; empty: built into Dir.
	ServerBin string
	// Dir holds the server's data, the token files and the logs; it must
	// exist.
	Dir string
	// Settle is how long the fleet idles after the last agent connected
	// before it is measured (default 20s: controllers' first passes and
	// informer lists are over).
	Settle time.Duration
	// Window is how long idle CPU and the controllers' request rate are
	// measured over (default 30s).
	Window time.Duration
	// Soak keeps the fleet connected this long after the measurement,
	// sampling the server every SoakEvery (default 1m); 0: no soak.
	Soak      time.Duration
	SoakEvery time.Duration
	// Restart restarts the server once at the end and times the agents'
	// return.
	Restart bool
	// RampPerSecond is how many agents start each second (default 500).
	RampPerSecond int
	// ConnectTimeout bounds the wait for the whole fleet to connect, and
	// for its return after the restart (default 2m + 20ms a cluster).
	ConnectTimeout time.Duration
	// TokenPoll is the agents' token file poll (default 5m: a local file
	// read that costs the server nothing, and 10,000 of them every 10s
	// would load the simulator).
	TokenPoll time.Duration
	// DumpGoroutines ends the run by making the server dump its goroutines
	// (SIGQUIT) with the fleet connected and settled, and counts them by
	// the function that started them (Result.Goroutines).
	DumpGoroutines bool
	// Logger gets the simulator's own diagnostics; Progress a line per
	// phase (nil: none).
	Logger   *slog.Logger
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.Settle <= 0 {
		o.Settle = 20 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 30 * time.Second
	}
	if o.SoakEvery <= 0 {
		o.SoakEvery = time.Minute
	}
	if o.RampPerSecond <= 0 {
		o.RampPerSecond = 500
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2*time.Minute + time.Duration(o.Clusters)*20*time.Millisecond
	}
	if o.TokenPoll <= 0 {
		o.TokenPoll = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// fleet is one run's state.
type fleet struct {
	opts    Options
	server  *harness.Server
	metrics string // the server's /metrics URL
	standIn *StandIn
	// opened[i] is when cluster i's agent last opened its tunnel (unix
	// nanoseconds; 0: never).
	opened []atomic.Int64
	warnMu sync.Mutex
	warns  map[string]int
}

func (f *fleet) progress(format string, args ...any) {
	fmt.Fprintf(f.opts.Progress, "fleet: "+format+"\n", args...)
}

// Run starts a drover-server, creates opts.Clusters clusters through its
// API, connects one real agent (package agent) per cluster in this
// process, measures the server idle with the fleet connected against the
// server with none, and stops everything before it returns.
func Run(ctx context.Context, opts Options) (Result, error) {
	opts.defaults()
	if opts.Clusters <= 0 {
		return Result{}, errors.New("fleet: Clusters must be positive")
	}
	f := &fleet{opts: opts, opened: make([]atomic.Int64, opts.Clusters), warns: map[string]int{}}
	res := Result{Clusters: opts.Clusters}

	bin := opts.ServerBin
	if bin == "" {
		var err error
		if bin, err = buildServer(ctx, opts.Dir); err != nil {
			return res, err
		}
	}
	standIn, err := StartStandIn(opts.Logger)
	if err != nil {
		return res, err
	}
	defer standIn.Close()
	f.standIn = standIn
	metricsAddr, err := harness.FreeAddr()
	if err != nil {
		return res, err
	}
	f.metrics = "http://" + metricsAddr + "/metrics"
	limit := strconv.Itoa(2*opts.Clusters + 1024)
	srv, err := harness.StartServer(ctx, harness.ServerOptions{
		Bin: bin, DataDir: filepath.Join(opts.Dir, "server"), LogLevel: "info",
		Args: []string{"--metrics-listen", metricsAddr, "--max-agent-connections", limit,
			"--max-connections", limit, "--max-connections-per-address", limit},
	})
	if err != nil {
		return res, fmt.Errorf("start server: %w", err)
	}
	f.server = srv
	defer func() { srv.Stop(10 * time.Second) }()

	tokens, err := f.createClusters(ctx)
	if err != nil {
		return res, err
	}
	// The server with every cluster in its store and no tunnel.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return res, err
	}
	base, err := f.sample(ctx)
	if err != nil {
		return res, err
	}
	res.Baseline = base
	f.progress("baseline: server_rss_mib=%.1f goroutines=%d", float64(base.RSSKiB)/1024, base.Goroutines)

	agentCtx, stopAgents := context.WithCancel(ctx)
	var agents sync.WaitGroup
	defer func() {
		stopAgents()
		agents.Wait()
	}()
	began := time.Now()
	if err := f.startAgents(agentCtx, &agents, tokens); err != nil {
		return res, err
	}
	connected, err := f.waitConnected(ctx, time.Time{})
	res.Connected = connected
	res.ConnectAll = time.Since(began)
	if err != nil {
		return res, err
	}
	f.progress("%d agents connected in %s; settling %s", connected, res.ConnectAll.Round(time.Millisecond), opts.Settle)
	if err := sleep(ctx, opts.Settle); err != nil {
		return res, err
	}
	if err := f.measureIdle(ctx, &res); err != nil {
		return res, err
	}
	if opts.Soak > 0 {
		if err := f.soak(ctx, &res); err != nil {
			return res, err
		}
	}
	if opts.Restart {
		if err := f.restart(ctx, &res); err != nil {
			return res, err
		}
	}
	if opts.DumpGoroutines {
		if err := sleep(ctx, opts.Settle); err != nil {
			return res, err
		}
		if res.Goroutines, err = dumpGoroutines(f.server.Process); err != nil {
			return res, err
		}
	}
	f.warnMu.Lock()
	for msg, n := range f.warns {
		res.AgentWarnings += n
		opts.Logger.Info("agent warnings", "message", msg, "count", n)
	}
	f.warnMu.Unlock()
	return res, nil
}

// buildServer compiles drover-server into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "drover-server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/server")
	cmd.Dir = harness.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/server: %w\n%s", err, out)
	}
	return bin, nil
}

// createClusters creates the clusters through the API, a few at a time,
// and writes each registration token to a file as the import manifest's
// Secret would.
func (f *fleet) createClusters(ctx context.Context) ([]string, error) {
	began := time.Now()
	admin, err := f.server.Login(ctx, "admin", f.server.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	files := make([]string, f.opts.Clusters)
	next := atomic.Int64{}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= f.opts.Clusters || ctx.Err() != nil {
					errs <- ctx.Err()
					return
				}
				_, reg, err := f.server.CreateCluster(ctx, admin, fmt.Sprintf("fleet-%05d", i))
				if err != nil {
					errs <- fmt.Errorf("create cluster %d: %w", i, err)
					return
				}
				files[i] = filepath.Join(f.opts.Dir, "tokens", strconv.Itoa(i))
				if err := writeFile(files[i], reg.Token+"\n"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for range 8 {
		if err := <-errs; err != nil && first == nil {
			first = err
			next.Store(int64(f.opts.Clusters)) // the others stop too
		}
	}
	if first != nil {
		return nil, first
	}
	f.progress("created %d clusters through the API in %s", f.opts.Clusters, time.Since(began).Round(time.Millisecond))
	return files, nil
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o600)
}

// startAgents runs one real cluster agent per token file, RampPerSecond a
// second, all sharing one kubeconfig that points at the stand-in.
func (f *fleet) startAgents(ctx context.Context, wg *sync.WaitGroup, tokens []string) error {
	kubeconfig := filepath.Join(f.opts.Dir, "standin.kubeconfig")
	if err := writeFile(kubeconfig, standInKubeconfig(f.standIn)); err != nil {
		return err
	}
	metrics := agent.NewMetrics()
	t := time.NewTicker(time.Second / time.Duration(f.opts.RampPerSecond))
	defer t.Stop()
	for i, tokenFile := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := agent.Run(ctx, agent.Options{
				ServerURL: f.server.URL, CAChecksum: f.server.CAChecksum, TokenFile: tokenFile,
				TokenPoll: f.opts.TokenPoll, Kubeconfig: kubeconfig, Kind: agentapi.KindCluster,
				Metrics: metrics, Logger: slog.New(&agentLog{f: f, i: i}),
			})
			if err != nil {
				f.opts.Logger.Error("agent ended", "cluster", i, "err", err)
			}
		}()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func standInKubeconfig(s *StandIn) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster:
    server: https://%s
    certificate-authority-data: %s
users:
- name: agent
  user:
    token: fleet-agent
contexts:
- name: standin
  context: {cluster: standin, user: agent}
current-context: standin
`, s.Addr, b64(s.CAPEM))
}

// waitConnected waits until every agent opened a tunnel after since and
// the server counts as many sessions; it returns how many agents did.
func (f *fleet) waitConnected(ctx context.Context, since time.Time) (int, error) {
	deadline := time.Now().Add(f.opts.ConnectTimeout)
	lastReport := time.Now()
	for {
		n := f.openedSince(since)
		sessions := -1.0
		if m, err := scrape(ctx, f.metrics, "drover_tunnel_sessions"); err == nil {
			if v, ok := m["drover_tunnel_sessions"]; ok {
				sessions = v
			}
		}
		if n == f.opts.Clusters && int(sessions) == n {
			return n, nil
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("fleet: %d of %d agents connected (server sessions %v) after %s", n, f.opts.Clusters, sessions, f.opts.ConnectTimeout)
		}
		if time.Since(lastReport) > 10*time.Second {
			f.progress("connecting: %d agents opened, server sessions %v", n, sessions)
			lastReport = time.Now()
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return n, err
		}
	}
}

func (f *fleet) openedSince(since time.Time) int {
	n := 0
	for i := range f.opened {
		if v := f.opened[i].Load(); v != 0 && v > since.UnixNano() {
			n++
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// agentLog is an agent's logger: it notes when the agent opened its tunnel
// (its "tunnel open" line) and counts warnings by message.
type agentLog struct {
	f *fleet
	i int
}

func (h *agentLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *agentLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "tunnel open" {
		h.f.opened[h.i].Store(r.Time.UnixNano())
		return nil
	}
	if r.Level >= slog.LevelWarn {
		h.f.warnMu.Lock()
		h.f.warns[r.Message]++
		h.f.warnMu.Unlock()
	}
	return nil
}

func (h *agentLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *agentLog) WithGroup(string) slog.Handler      { return h }
