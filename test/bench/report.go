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
	where := "kube-apiserver, etcd, drover-server, drover-agent each a process; client in the bench process; all on 127.0.0.1"
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

func (r *report) printComparison(w io.Writer) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tmetric\tdirect\tdirect+imp\tDrover\tDrover vs direct\ttarget\t\t")
	var errs []string
	var missed int
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		missed++
		return "MISSED"
	}
	for _, n := range r.opts.GetConcurrency {
		d, ok1 := r.find("get", "", n, "direct")
		p, ok2 := r.find("get", "", n, "Drover")
		if !ok1 || !ok2 {
			continue
		}
		i, ok := r.find("get", "", n, "direct+imp")
		imp := func(f func(result) string) string {
			if !ok {
				return "-"
			}
			return f(i)
		}
		label := d.label()
		ratio := p.get.RPS() / d.get.RPS()
		fmt.Fprintf(tw, "%s\treq/s\t%.0f\t%s\t%.0f\t%.2f×\t≥ %.2f×\t%s\t\n", label, d.get.RPS(),
			imp(func(i result) string { return fmt.Sprintf("%.0f", i.get.RPS()) }),
			p.get.RPS(), ratio, targetRPSRatio, verdict(ratio >= targetRPSRatio))
		added := p.get.P50 - d.get.P50
		target, v := "(queueing)", ""
		if n == 1 {
			target, v = fmt.Sprintf("≤ +%.1f ms", ms(targetAddedP50)), verdict(added <= targetAddedP50)
		}
		fmt.Fprintf(tw, "%s\tp50 ms\t%.3f\t%s\t%.3f\t%+.3f ms\t%s\t%s\t\n", label, ms(d.get.P50),
			imp(func(i result) string { return fmt.Sprintf("%.3f", ms(i.get.P50)) }),
			ms(p.get.P50), ms(added), target, v)
		fmt.Fprintf(tw, "%s\tp99 ms\t%.3f\t%s\t%.3f\t%+.3f ms\t\t\t\n", label, ms(d.get.P99),
			imp(func(i result) string { return fmt.Sprintf("%.3f", ms(i.get.P99)) }),
			ms(p.get.P99), ms(p.get.P99-d.get.P99))
		errs = appendErrors(errs, d, p)
		if ok {
			errs = appendErrors(errs, i)
		}
	}
	for _, enc := range r.opts.ListEncodings {
		for _, n := range r.opts.ListStreams {
			d, ok1 := r.find("list", enc, n, "direct")
			p, ok2 := r.find("list", enc, n, "Drover")
			if !ok1 || !ok2 {
				continue
			}
			ratio := p.list.MBps() / d.list.MBps()
			fmt.Fprintf(tw, "%s\tMB/s\t%.1f\t-\t%.1f\t%.2f×\t≥ %.2f×\t%s\t\n", d.label(), d.list.MBps(), p.list.MBps(), ratio, targetBulk, verdict(ratio >= targetBulk))
			errs = appendErrors(errs, d, p)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "targets missed: %d (direct+imp: straight to the apiserver with the agent's impersonator ServiceAccount token and the Impersonate-* headers Drover sends)\n", missed)
	for _, e := range errs {
		fmt.Fprintln(w, "errors:", e)
	}
}

func appendErrors(errs []string, rs ...result) []string {
	for _, r := range rs {
		n, first := r.get.Errors, r.get.FirstError
		if r.kind == "list" {
			n, first = r.list.Errors, r.list.FirstError
		}
		if n > 0 {
			errs = append(errs, fmt.Sprintf("%s %s: %d failed, first: %s", r.label(), r.path, n, first))
		}
	}
	return errs
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
	for _, want := range []string{"client", "kube-apiserver", "etcd", "drover-server", "drover-agent"} {
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
