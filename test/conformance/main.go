package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/realcluster"
	"github.com/drover-dev/drover/test/testbed"
)

func main() {
	tbDir := os.Getenv(testbed.EnvDir)
	if tbDir == "" {
		d, err := testbed.DefaultDir()
		if err != nil {
			fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
			os.Exit(2)
		}
		tbDir = d
	}
	opts := NewOptions(harness.RepoRoot(), tbDir)
	fs := flag.NewFlagSet("conformance", flag.ExitOnError)
	opts.Flags(fs)
	fs.Parse(os.Args[1:])
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: invalid options:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		os.Exit(1)
	}
}

// env is what run started; stop undoes it in reverse order.
type env struct {
	cluster *testbed.Cluster
	server  *harness.Server
	agent   *harness.Process
	real    *realcluster.Env // with -nodes, in place of the three above
}

func (e *env) stop(log *slog.Logger) {
	if e.real != nil {
		if err := e.real.Stop(); err != nil {
			log.Warn("stop the real-node cluster", "err", err)
		}
		log.Info("server and real-node cluster stopped")
		return
	}
	if e.agent != nil {
		e.agent.Stop(5 * time.Second)
	}
	if e.server != nil {
		e.server.Stop(10 * time.Second)
	}
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			log.Warn("stop cluster", "err", err)
		}
	}
	log.Info("agent, server and cluster stopped")
}

func run(ctx context.Context, o *Options, out io.Writer) error {
	began := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	names, err := readSubsetFile(o.Tests)
	if err != nil {
		return err
	}
	if o.Nodes {
		// Fail at once without root, before wiping or building anything.
		if err := realcluster.CheckRoot(); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		return fmt.Errorf("wipe %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	e := &env{}
	defer e.stop(log)
	start := e.start
	if o.Nodes {
		start = e.startNodes
	}
	kubeconfigs, err := start(ctx, o, log)
	if err != nil {
		return err
	}

	focus := Focus(suiteDescription, names)
	reports := map[string]Report{}
	paths := []string{"straight", "drover"}
	if o.StraightOnly {
		paths = paths[:1]
	}
	for _, path := range paths {
		r := e2eRun{
			Path: path, Bin: o.E2ETest, Kubectl: o.Kubectl, Kubeconfig: kubeconfigs[path],
			Focus: focus, Dir: filepath.Join(o.Dir, path), Timeout: o.Timeout, Nodes: o.Nodes,
		}
		if err := os.MkdirAll(r.Dir, 0o700); err != nil {
			return err
		}
		log.Info("running the e2e tests", "path", path, "tests", len(names), "log", r.logPath())
		s := time.Now()
		if reports[path], err = r.run(ctx); err != nil {
			return err
		}
		log.Info("e2e tests done", "path", path, "took", time.Since(s).Round(time.Second))
	}
	if o.StraightOnly {
		if err := printStraight(out, names, reports["straight"]); err != nil {
			return err
		}
		fmt.Fprintf(out, "wall time %v; report and log in %s/straight\n", time.Since(began).Round(time.Second), o.Dir)
		return nil
	}
	c, err := Compare(names, reports["straight"], reports["drover"])
	if err != nil {
		return err
	}
	printComparison(out, len(names), c)
	fmt.Fprintf(out, "wall time %v; reports and logs in %s/{straight,drover}\n", time.Since(began).Round(time.Second), o.Dir)
	return nil
}

func readSubsetFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := ReadSubset(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return names, nil
}

// start starts the cluster (with kube-controller-manager, no nodes),
// drover-server and a cluster agent, and returns the two kubeconfigs by
// path: the cluster's admin straight, the Drover admin's through Drover.
func (e *env) start(ctx context.Context, o *Options, log *slog.Logger) (map[string]string, error) {
	log.Info("building drover-server and drover-agent")
	bins, err := harness.Build(ctx, filepath.Join(o.Dir, "bin"), false)
	if err != nil {
		return nil, err
	}
	log.Info("starting the cluster (etcd, kube-apiserver, kube-controller-manager)")
	if e.cluster, err = testbed.Start(ctx, testbed.Options{Name: "conformance", Dir: filepath.Join(o.Dir, "cluster"),
		Logger: log, ControllerManager: true}); err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	straight := filepath.Join(o.Dir, "straight.kubeconfig")
	if err := e.cluster.WriteKubeconfig(straight); err != nil {
		return nil, err
	}

	log.Info("starting drover-server")
	if e.server, err = harness.StartServer(ctx, harness.ServerOptions{
		Bin: bins.Server, DataDir: filepath.Join(o.Dir, "server"), LogLevel: o.LogLevel,
	}); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	admin, err := e.server.Login(ctx, "admin", e.server.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	clusterID, reg, err := e.server.CreateCluster(ctx, admin, "conformance")
	if err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	serverURL := reg.ServerURL
	if serverURL == "" {
		serverURL = e.server.URL
	}
	log.Info("starting drover-agent", "cluster", clusterID)
	if e.agent, err = harness.StartAgent(harness.AgentOptions{
		Bin: bins.Agent, Dir: filepath.Join(o.Dir, "agent"), ServerURL: serverURL,
		CAChecksum: reg.CAChecksum, Token: reg.Token, Kubeconfig: straight,
		Kind: "cluster", Args: []string{"--log-level", o.LogLevel},
	}); err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	if err := e.server.WaitConnected(ctx, admin, clusterID, "cluster"); err != nil {
		return nil, fmt.Errorf("%w (agent log: %s)", err, e.agent.LogPath)
	}
	kc, err := e.server.Kubeconfig(ctx, admin, []string{clusterID}, "24h")
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	drover := filepath.Join(o.Dir, "drover.kubeconfig")
	if err := os.WriteFile(drover, kc, 0o600); err != nil {
		return nil, err
	}
	if err := checkThroughDrover(drover, clusterID); err != nil {
		return nil, err
	}
	return map[string]string{"straight": straight, "drover": drover}, nil
}

// checkThroughDrover fails unless the Drover kubeconfig's current context
// points at the cluster's path on the server: a kubeconfig that reached the
// apiserver another way would compare the apiserver with itself.
func checkThroughDrover(path, clusterID string) error {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return fmt.Errorf("drover kubeconfig: %w", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok || cfg.Clusters[ctx.Cluster] == nil {
		return fmt.Errorf("drover kubeconfig %s: no current context", path)
	}
	if server := cfg.Clusters[ctx.Cluster].Server; !strings.HasSuffix(server, "/k8s/clusters/"+clusterID) {
		return fmt.Errorf("drover kubeconfig %s: current context's server %s is not the cluster %s through Drover", path, server, clusterID)
	}
	return nil
}

// maxReasonLen bounds the failure line printed per spec; the e2e log has
// the rest.
const maxReasonLen = 240

// printComparison writes the totals and the specs whose outcome differs
// (then those that failed on both paths), each with where and why it
// failed.
func printComparison(out io.Writer, n int, c Comparison) {
	fmt.Fprintf(out, "\n%d tests: straight %d passed, %d failed; through Drover %d passed, %d failed\n",
		n, c.Straight.Passed, c.Straight.Failed, c.Drover.Passed, c.Drover.Failed)
	sections := []struct {
		title string
		diffs []Diff
	}{{"outcome differs", c.Differ}, {"failed on both paths", c.BothFailed}}
	for _, s := range sections {
		fmt.Fprintf(out, "\n%s: %d\n", s.title, len(s.diffs))
		for _, d := range s.diffs {
			fmt.Fprintf(out, "- %s\n", d.Name)
			for _, p := range []struct {
				name string
				r    Result
			}{{"straight", d.Straight}, {"drover", d.Drover}} {
				fmt.Fprintf(out, "    %-8s %s (%v)", p.name, p.r.State, p.r.RunTime.Round(100*time.Millisecond))
				if p.r.State != StatePassed {
					fmt.Fprintf(out, " at %s: %s", p.r.Location, clip(firstLine(p.r.Failure), maxReasonLen))
				}
				fmt.Fprintln(out)
			}
		}
	}
	fmt.Fprintln(out)
}

// printStraight writes the outcome of a straight-only run: the totals,
// each failed spec with where and why, then the passed ones.
func printStraight(out io.Writer, names []string, r Report) error {
	s, err := CompareStraight(names, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d tests straight: %d passed, %d failed\n", len(names), len(s.Passed), len(s.Failed))
	fmt.Fprintf(out, "\nfailed: %d\n", len(s.Failed))
	for _, f := range s.Failed {
		fmt.Fprintf(out, "- %s\n    %s (%v) at %s: %s\n", f.Name, f.State, f.RunTime.Round(100*time.Millisecond), f.Location, clip(firstLine(f.Failure), maxReasonLen))
	}
	fmt.Fprintf(out, "\npassed: %d\n", len(s.Passed))
	for _, n := range s.Passed {
		fmt.Fprintf(out, "- %s\n", n)
	}
	fmt.Fprintln(out)
	return nil
}
