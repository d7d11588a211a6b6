package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
)

// result is one measurement.
type result struct {
	kind     string // "get" or "list"
	n        int    // GET workers or LIST streams
	encoding string // LIST only
	path     string // a target's name
	get      getStats
	list     listStats
	cpu      cpuSnapshot
	profile  string // CPU profile file, in profiling mode
}

// measureThroughput is the throughput section: every path checked, then
// measured. kubectl proxy runs for the section only, its CPU accounted; if
// it cannot start, the other paths are still measured and the run fails at
// the end. Profiling mode measures the Drover path alone.
func measureThroughput(ctx context.Context, o *Options, e *env, r *report) (err error) {
	paths := []target{e.direct, e.directImp, e.drover}
	if o.CPUProfileDir == "" {
		kp, err := startKubectlProxy(ctx, e.directKubeconfig, filepath.Join(e.dir, "kubectl-proxy.log"), e.log)
		if err != nil {
			e.log.Error("kubectl proxy not measured", "err", err)
			r.failed = append(r.failed, fmt.Sprintf("%s: the %s path was not measured: %v", secThroughput, pathKubectlProxy, err))
		} else {
			procs := e.procs
			e.procs = append(slices.Clone(procs), proc{name: procKubectlProxy, pid: kp.proc.PID()})
			defer func() {
				kp.stop()
				e.procs = procs
			}()
			paths = []target{e.direct, e.directImp, kp.target, e.drover}
		}
	}
	if r.payload, err = checkPaths(ctx, paths, true); err != nil {
		return err
	}
	if o.CPUProfileDir != "" {
		r.inProcess = true
		return profileDrover(ctx, o, e, r)
	}
	return measureAll(ctx, o, e, r, paths, "")
}

// measureAll runs every measurement on every target, GETs first. With
// profileDir set, each measurement (not its warm-up) is CPU-profiled into a
// file there.
func measureAll(ctx context.Context, o *Options, e *env, r *report, targets []target, profileDir string) error {
	do := func(res *result, warm, measure func()) error {
		if o.Warmup > 0 {
			warm()
		}
		var f *os.File
		if profileDir != "" {
			name := fmt.Sprintf("cpu-%s-%d", res.kind, res.n)
			if res.kind == "list" {
				name = fmt.Sprintf("cpu-list-%s-%d", res.encoding, res.n)
			}
			res.profile = filepath.Join(profileDir, name+".pprof")
			var err error
			if f, err = os.Create(res.profile); err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return err
			}
		}
		before := snapshot(e.procs)
		measure()
		res.cpu = snapshot(e.procs).since(before)
		if f != nil {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.results = append(r.results, *res)
		e.log.Info("measured", "what", res.label(), "path", res.path, "result", res.summary())
		return nil
	}
	for _, n := range o.GetConcurrency {
		for _, t := range targets {
			c := t.clients[encGzip].CoreV1().RESTClient()
			res := &result{kind: "get", n: n, path: t.name}
			if err := do(res,
				func() { measureGets(ctx, c, n, o.Warmup) },
				func() { res.get = measureGets(ctx, c, n, o.GetDuration) },
			); err != nil {
				return err
			}
		}
	}
	for _, enc := range o.ListEncodings {
		for _, n := range o.ListStreams {
			for _, t := range targets {
				if t.name == e.directImp.name {
					continue // impersonation costs per request, not per byte
				}
				c := t.clients[enc].CoreV1().RESTClient()
				res := &result{kind: "list", n: n, encoding: enc, path: t.name}
				if err := do(res,
					func() { measureLists(ctx, c, n, o.Warmup) },
					func() { res.list = measureLists(ctx, c, n, o.ListDuration) },
				); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (r result) label() string {
	if r.kind == "get" {
		return fmt.Sprintf("GET c=%d", r.n)
	}
	return fmt.Sprintf("LIST %s s=%d", r.encoding, r.n)
}

func (r result) summary() string {
	if r.kind == "get" {
		return fmt.Sprintf("%.0f req/s p50 %.2fms p99 %.2fms errors %d", r.get.RPS(), ms(r.get.P50), ms(r.get.P99), r.get.Errors)
	}
	return fmt.Sprintf("%.1f MB/s, %d complete LISTs, errors %d", r.list.MBps(), r.list.Lists, r.list.Errors)
}

// profileDrover measures the Drover path only, each measurement under the
// CPU profiler, then writes a summary per profile: the split by side
// (labels) and the top functions of the server and the agent.
func profileDrover(ctx context.Context, o *Options, e *env, r *report) error {
	if err := os.MkdirAll(o.CPUProfileDir, 0o755); err != nil {
		return err
	}
	if err := measureAll(ctx, o, e, r, []target{e.drover}, o.CPUProfileDir); err != nil {
		return err
	}
	for _, res := range r.results {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s through Drover, in-process: %s\n\n", res.label(), res.summary())
		b.WriteString(pprofText(ctx, "-tags", res.profile))
		for _, side := range []string{"server", "agent", "client"} {
			fmt.Fprintf(&b, "\n## side=%s, by cumulative time\n", side)
			b.WriteString(pprofText(ctx, "-top", "-cum", "-nodecount=40", "-tagfocus=side="+side, res.profile))
			fmt.Fprintf(&b, "\n## side=%s, by own time\n", side)
			b.WriteString(pprofText(ctx, "-top", "-nodecount=25", "-tagfocus=side="+side, res.profile))
		}
		txt := strings.TrimSuffix(res.profile, ".pprof") + ".txt"
		if err := os.WriteFile(txt, []byte(b.String()), 0o644); err != nil {
			return err
		}
		r.profiles = append(r.profiles, txt)
	}
	return nil
}

// pprofText runs `go tool pprof args...` and returns its output, or why it
// could not.
func pprofText(ctx context.Context, args ...string) string {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof"}, args...)...)
	b, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("(go tool pprof %s: %v)\n", strings.Join(args, " "), err)
	}
	return string(b)
}
