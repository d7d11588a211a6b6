package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// The targets the Drover path is held to.
const (
	targetAddedP50 = 300 * time.Microsecond // GET at concurrency 1
	targetRPSRatio = 0.8
	targetBulk     = 0.5
)

// report collects the results and prints them.
type report struct {
	opts       *Options
	payload    int64 // bytes of one bulk LIST without gzip
	objects    int
	objectSize int
	inProcess  bool
	results    []result
	profiles   []string
	took       time.Duration
	loadBefore string // /proc/loadavg when the run began
	// The sections after the throughput comparison; nil when not run.
	watch     *watchResult
	ace       *aceResult
	plugin    *pluginResult
	replicas  *replicasResult
	footprint *footprintResult
	failover  *failoverResult
	reconnect *reconnectResult
	nodes     *nodesResult
	env       bool     // the bench cluster was started
	failed    []string // sections that failed, and why
}

func (r *report) find(kind, enc string, n int, path string) (result, bool) {
	for _, res := range r.results {
		if res.kind == kind && res.encoding == enc && res.n == n && res.path == path {
			return res, true
		}
	}
	return result{}, false
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nDrover bench, %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	r.printSetup(w)
	if r.opts.runs(secThroughput) && r.env {
		if r.inProcess {
			r.printProfiles(w)
		} else {
			r.printComparison(w)
		}
		r.printCPU(w)
	}
	r.printWatch(w)
	r.printACE(w)
	r.printPlugin(w)
	if r.replicas != nil {
		r.replicas.print(w)
	}
	r.printFootprint(w)
	r.printFailover(w)
	r.printReconnect(w)
	r.printNodes(w)
	for _, f := range r.failed {
		fmt.Fprintln(w, "\nSECTION FAILED:", f)
	}
	fmt.Fprintf(w, "\nwhole run: %s\n", r.took.Round(time.Second))
}

func (r *report) printSetup(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cmd := "go run ./test/bench"
	if len(os.Args) > 1 {
		cmd += " " + strings.Join(os.Args[1:], " ")
	}
	if os.Getenv("MAKELEVEL") != "" {
		cmd = "make bench  (" + cmd + ")"
	}
	fmt.Fprintf(tw, "command:\t%s\n", cmd)
	fmt.Fprintf(tw, "machine:\t%d CPUs (GOMAXPROCS %d), %s, %s RAM, Linux %s; load average before the run %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), memTotal(), kernel(), r.loadBefore)
	fmt.Fprintf(tw, "software:\t%s %s/%s, kube-apiserver %s; client-go REST client (HTTP/2, JSON, no client rate limit)\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, testbed.KubernetesVersion)
	where := "kube-apiserver, etcd, drover-server, drover-agent each a process (and kubectl proxy for the throughput section); client in the bench process; all on 127.0.0.1"
	if r.inProcess {
		where = "PROFILING MODE: drover-server and drover-agent run inside the bench process (figures not comparable to a normal run)"
	}
	fmt.Fprintf(tw, "code:\t%s\n", codeVersion())
	if r.opts.needsEnv() {
		fmt.Fprintf(tw, "setup:\t%s\n", where)
	}
	if r.opts.runs(secNodes) {
		fmt.Fprintf(tw, "setup (nodes):\t%s\n", "a cluster of its own: two real nodes (kubelet, containerd) in their own network namespace, drover-server on the cluster's host address, the agents as pods")
	}
	if r.opts.runs(secThroughput) {
		fmt.Fprintf(tw, "payload:\tGET: one small ConfigMap; LIST: %d ConfigMaps × %d B of random base64 = %.1f MB of JSON\n",
			r.objects, r.objectSize, float64(r.payload)/1e6)
	}
	if r.opts.needsEnv() {
		fmt.Fprintf(tw, "durations:\tGET %s, LIST %s per measurement, each after %s of unmeasured warm-up\n",
			r.opts.GetDuration, r.opts.ListDuration, r.opts.Warmup)
	}
	var ran []string
	for _, s := range sections {
		if r.opts.runs(s) {
			ran = append(ran, s)
		}
	}
	fmt.Fprintf(tw, "sections:\t%s\n", strings.Join(ran, ", "))
	tw.Flush()
	if f := strings.Fields(r.loadBefore); len(f) > 0 {
		var l float64
		if _, err := fmt.Sscanf(f[0], "%f", &l); err == nil && l >= 1 {
			robust := ""
			if r.opts.runs(secThroughput) {
				robust = "; the CPU-per-request table is the most robust"
			}
			fmt.Fprintf(w, "WARNING: the machine was busy before the run (load %.2f): other processes compete for the CPUs and the figures are noisy%s\n", l, robust)
		}
	}
}

func (r *report) printProfiles(w io.Writer) {
	fmt.Fprintln(w)
	for _, res := range r.results {
		fmt.Fprintf(w, "%s through Drover: %s; profile %s\n", res.label(), res.summary(), res.profile)
	}
	fmt.Fprintln(w, "\nsummaries (split by side, top functions of server, agent and client):")
	for _, p := range r.profiles {
		fmt.Fprintln(w, "  "+p)
	}
	fmt.Fprintln(w, "explore: go tool pprof -http=127.0.0.1:0 -tagfocus=side=server <profile>")
}

// printCPU shows the CPU every process spent per GET, or per MB of LIST.
func (r *report) printCPU(w io.Writer) {
	var names []string
	seen := map[string]bool{}
	for _, want := range []string{"client", "kube-apiserver", "etcd", procKubectlProxy, "drover-server", "drover-agent"} {
		for _, res := range r.results {
			if _, ok := res.cpu[want]; ok && !seen[want] {
				seen[want] = true
				names = append(names, want)
			}
		}
	}
	fmt.Fprintln(w, "\nCPU time per GET (µs) and per MB of LIST (ms), from /proc/<pid>/stat (10 ms ticks):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "measurement\tpath\t%s\ttotal\t\n", strings.Join(names, "\t"))
	for _, res := range r.results {
		per := float64(res.get.OK) / 1e6 // µs per request: seconds / (OK/1e6)
		if res.kind == "list" {
			per = float64(res.list.Bytes) / 1e6 / 1e3 // ms per MB
		}
		var total time.Duration
		fmt.Fprintf(tw, "%s\t%s\t", res.label(), res.path)
		for _, n := range names {
			d, ok := res.cpu[n]
			if !ok || per == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			total += d
			fmt.Fprintf(tw, "%.0f\t", d.Seconds()/per)
		}
		if per == 0 {
			fmt.Fprint(tw, "-\t\n")
		} else {
			fmt.Fprintf(tw, "%.0f\t\n", total.Seconds()/per)
		}
	}
	tw.Flush()
	if r.inProcess {
		fmt.Fprintln(w, "(in profiling mode \"client\" is the whole bench process: client, server and agent)")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "?"
}

// codeVersion names the commit measured, and whether the tree differs.
func codeVersion() string {
	root := harness.RepoRoot()
	rev, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	v := "commit " + strings.TrimSpace(string(rev))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		v += " with uncommitted changes"
	}
	return v
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
