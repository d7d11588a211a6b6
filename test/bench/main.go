// Command bench compares kubectl-style traffic straight to a kube-apiserver
// with the same traffic through Drover (server, authentication, impersonating
// proxy, remotedialer tunnel, cluster agent) and through the machine's
// `kubectl proxy` (the anchor: one plain local hop), in one run, in one
// process, on one real cluster from `make testbed`:
//
//   - GET of one small ConfigMap by 1 and 32 concurrent workers: req/s, p50,
//     p99;
//   - LIST of a namespace of large ConfigMaps (about 55 MB of JSON) by 1 and 16
//     concurrent streams, with gzip negotiated (client-go's and kubectl's
//     default) and without: MB/s of JSON delivered;
//   - the CPU each process (client, kube-apiserver, etcd, kubectl proxy,
//     drover-server, drover-agent) spent per request or per MB, from /proc.
//
// Every path uses the same client-go REST client built from a rest.Config
// (HTTP/2 over TLS, as kubectl; plain HTTP/1.1 to kubectl proxy, which
// serves nothing else), with client-side rate limiting off. The server and
// the agent are the real binaries, started as the e2e tests start them;
// kubectl proxy runs with the direct path's kubeconfig for the throughput
// section only.
//
// Then, each skippable with -skip:
//
//   - watch: the added latency of a watch event, JSON (kubectl) and
//     protobuf (client-go controllers), with 1 and 100 watches per path
//     open at once on both paths while a ConfigMap is patched straight to
//     the apiserver: p50 and p99 of patch sent → event decoded, per path;
//   - ace: GET latency at concurrency 1 through the authorized cluster
//     endpoint (the `-ace` context: straight to kube-apiserver, which asks
//     kube-api-auth about Drover tokens over TLS and caches the answer) vs
//     through Drover vs direct, and the first request of fresh tokens;
//   - plugin: the wall time of the machine's `kubectl get ns` straight,
//     through Drover with a static token, and through Drover with the
//     kubeconfig of `drover kubeconfig` (kubectl runs `drover credential`,
//     a cached token): what the credential plugin adds per command;
//   - footprint: a node agent next to the cluster agent, both left idle
//     20 s: each one's RSS and CPU over 30 s (goal: at most 20 MiB);
//   - failover: a node agent next to the cluster agent, a client sending
//     GETs back to back through Drover, the cluster agent SIGKILLed
//     (-failover-reps times) and SIGSTOPped (once): time to the first
//     success through the node agent, and the requests that failed;
//   - reconnect: a server of its own with -reconnect-agents node agents,
//     SIGKILLed and restarted on the same address and data dir (at once, and
//     after a pause): time from serving again to each session being back,
//     next to what the agents' backoff alone predicts;
//   - nodes: a cluster of its own with two real nodes (package
//     test/realcluster: kubelets, containerd, its own network namespace;
//     root needed, else the section fails and -skip nodes leaves it out),
//     imported the real way (the agents are the manifest's pods), and a
//     busybox pod: exec round trip of `echo x` (client-go's WebSocket
//     executor, as kubectl) p50 and p99, port-forward MB/s with 1 and 8
//     concurrent streams (SPDY over WebSocket, as kubectl) and `logs -f`
//     line latency (the pod prints its own clock) p50 and p99, each
//     straight to the apiserver with its admin credentials and through
//     Drover with the admin's kubeconfig, each against a target. It runs
//     first, and its cluster is stopped before the bench cluster starts.
//
// With -cpuprofile-dir the server and the agent run inside this process
// instead (pkg/server.Run, pkg/agent.Run) under pprof labels side=server,
// side=agent and side=client, only the Drover path is measured, and a CPU
// profile of each measurement is written there with a summary.
//
// Run it with `make bench`; docs/benchmarks.md has the figures.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func main() {
	opts := NewOptions()
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	opts.Flags(fs)
	fs.Parse(os.Args[1:])
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: invalid options:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *Options, out io.Writer) (err error) {
	began, load := time.Now(), loadAvg()
	// Everything this goroutine starts is the client, except the in-process
	// server and agent, which label themselves.
	ctx = pprof.WithLabels(ctx, pprof.Labels("side", "client"))
	pprof.SetGoroutineLabels(ctx)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir, err := os.MkdirTemp("", "drover-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil || o.Keep {
			fmt.Fprintln(os.Stderr, "bench: logs and data kept in", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	r := &report{opts: o, objects: o.Objects, objectSize: o.ObjectSize, loadBefore: load}
	// A failed section is reported and does not stop the others: each
	// leaves the environment as it found it, or has its own.
	section := func(name string, f func() error) {
		if !o.runs(name) || ctx.Err() != nil {
			return
		}
		log.Info("section", "name", name)
		if err := f(); err != nil {
			log.Error("section failed", "name", name, "err", err)
			r.failed = append(r.failed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	// First, as it brings up and stops a cluster of its own (real nodes,
	// root needed): it never runs beside the bench cluster, and without
	// root it fails at once.
	section(secNodes, func() (err error) { r.nodes, err = measureNodes(ctx, o, dir, log); return err })
	if o.needsEnv() && ctx.Err() == nil {
		if err := runEnvSections(ctx, o, dir, log, r, section); err != nil {
			if r.nodes == nil {
				return err
			}
			// Keep what the nodes section measured.
			r.failed = append(r.failed, fmt.Sprintf("bench cluster: %v", err))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.took = time.Since(began)
	r.print(out)
	if len(r.failed) > 0 {
		return fmt.Errorf("%d section(s) failed: %s", len(r.failed), strings.Join(r.failed, "; "))
	}
	return nil
}

// runEnvSections starts the bench cluster (one server, one cluster agent)
// and runs the sections that share it.
func runEnvSections(ctx context.Context, o *Options, dir string, log *slog.Logger, r *report, section func(string, func() error)) error {
	e, err := startEnv(ctx, o, dir, log)
	if err != nil {
		return err
	}
	defer e.stop()
	r.env = true

	throughput := o.runs(secThroughput)
	bulk := o.Objects
	if !throughput {
		bulk = 0 // the other sections GET the small ConfigMap only
	}
	log.Info("creating the objects", "bulk", fmt.Sprintf("%d ConfigMaps × %d bytes", bulk, o.ObjectSize))
	t := time.Now()
	if err := createObjects(ctx, e.direct.clients[encGzip], bulk, o.ObjectSize); err != nil {
		return err
	}
	log.Info("objects created", "took", time.Since(t).Round(time.Millisecond))
	if throughput {
		err = measureThroughput(ctx, o, e, r)
	} else {
		_, err = checkPaths(ctx, []target{e.direct, e.directImp, e.drover}, false)
	}
	if err != nil {
		return err
	}
	section(secWatch, func() (err error) { r.watch, err = measureWatch(ctx, o, e); return err })
	section(secACE, func() (err error) { r.ace, err = measureACE(ctx, o, e); return err })
	section(secPlugin, func() (err error) { r.plugin, err = measurePlugin(ctx, o, e); return err })
	section(secReplicas, func() (err error) { r.replicas, err = measureReplicas(ctx, o, e); return err })
	section(secFootprint, func() (err error) { r.footprint, err = measureFootprint(ctx, o, e); return err })
	section(secFailover, func() (err error) { r.failover, err = measureFailover(ctx, o, e); return err })
	section(secReconnect, func() (err error) { r.reconnect, err = measureReconnect(ctx, o, e); return err })
	return nil
}

// checkPaths makes sure every path serves the same objects as the first,
// and with bulk set returns the size of the bulk LIST in bytes (without
// gzip); direct+imp is left out of the LIST, as of the LIST measurements.
func checkPaths(ctx context.Context, paths []target, bulk bool) (int64, error) {
	var uid string
	for _, t := range paths {
		cm, err := t.clients[encGzip].CoreV1().ConfigMaps(getNamespace).Get(ctx, getName, metav1.GetOptions{})
		if err != nil {
			return 0, fmt.Errorf("GET through the %s path: %w", t.name, err)
		}
		if uid == "" {
			uid = string(cm.UID)
		} else if string(cm.UID) != uid {
			return 0, fmt.Errorf("the paths disagree on the ConfigMap: %s path uid %q, %s uid %q", t.name, cm.UID, paths[0].name, uid)
		}
	}
	if !bulk {
		return 0, nil
	}
	var first int64 = -1
	for _, t := range paths {
		if t.name == pathDirectImp {
			continue
		}
		n, err := listOnce(ctx, t.clients[encIdentity].CoreV1().RESTClient())
		if err != nil {
			return 0, fmt.Errorf("LIST through the %s path: %w", t.name, err)
		}
		if first < 0 {
			first = n
			continue
		}
		// The answers differ only in resourceVersion digits, if at all.
		if d := first - n; d < -64 || d > 64 {
			return 0, fmt.Errorf("the paths disagree on the LIST: %s %d bytes, %s %d bytes", paths[0].name, first, t.name, n)
		}
	}
	return first, nil
}
