package main

import (
	"fmt"
	"io"
	"time"
)

// The targets the Drover path is held to on real nodes. A user waits for
// an exec or a log line: +5 ms at the median and +20 ms at p99 are below
// what one notices next to the tens of ms an exec costs on the node
// (container runtime) and the line's own trip through the runtime's log
// file and the kubelet. Throughput is held to the bulk LIST's target.
const (
	targetExecAddedP50 = 5 * time.Millisecond
	targetExecAddedP99 = 20 * time.Millisecond
	targetForward      = 0.5
	targetLogsAddedP50 = 5 * time.Millisecond
	targetLogsAddedP99 = 20 * time.Millisecond
)

// nodesRows compares the Drover path with the direct one, a row per
// figure, each with its target.
func nodesRows(n *nodesResult) []cmpRow {
	var rows []cmpRow
	latRows := func(what string, m map[string]*latencies, p50, p99 time.Duration) {
		rows = append(rows, latencyRows(what, m[pathDirect], m[pathDrover], p50, p99)...)
	}
	latRows("exec echo x", n.exec, targetExecAddedP50, targetExecAddedP99)
	// Each Drover measurement against the direct one just before it with
	// as many streams (a number may be measured more than once).
	for i, p := range n.forward {
		if p.path != pathDrover {
			continue
		}
		j := -1
		for k, d := range n.forward[:i] {
			if d.path == pathDirect && d.streams == p.streams {
				j = k
			}
		}
		if j < 0 {
			continue
		}
		d := n.forward[j]
		ratio := 0.0
		if d.MBps() > 0 {
			ratio = p.MBps() / d.MBps()
		}
		rows = append(rows, cmpRow{"port-forward, " + plural(p.streams, "stream"), "MB/s", fmt.Sprintf("%.1f", d.MBps()), fmt.Sprintf("%.1f", p.MBps()),
			fmt.Sprintf("%.2f×", ratio), fmt.Sprintf("≥ %.2f×", targetForward), verdict(ratio >= targetForward, d.errors+p.errors)})
	}
	latRows("logs -f line", n.logs, targetLogsAddedP50, targetLogsAddedP99)
	return rows
}

// printNodes shows the streaming verbs on real nodes, direct vs Drover.
func (r *report) printNodes(w io.Writer) {
	n := r.nodes
	if n == nil {
		return
	}
	o := r.opts
	fmt.Fprintf(w, "\nReal nodes: streaming (exec, port-forward, logs -f) on a cluster with nodes %v, imported the real way (the agents are the manifest's pods)\n", n.nodes)
	fmt.Fprintf(w, "workload pod on %s, cluster agent on %s; direct: the cluster's admin kubeconfig; Drover: the admin's Drover kubeconfig (server → tunnel → agent pod → apiserver)\n",
		n.podNode, n.agentNode)
	missed := printRows(w, nodesRows(n))
	fmt.Fprintf(w, "targets missed: %d (a row whose path had a failure is MISSED: failures are not in the figures)\n", missed)
	fmt.Fprintf(w, "exec: client-go WebSocket executor (kubectl's default, protocol v5), a full exec per run (upgrade, run, exit status), %d per path taking turns after %d unmeasured\n",
		o.NodesExecRuns, execWarmup)
	fmt.Fprintf(w, "port-forward: SPDY over one WebSocket (kubectl's default), a local listener; each stream GETs a %d MB file of random bytes from busybox httpd back to back for %s, each read to its end; MB/s of payload\n",
		n.fileSize>>20, o.NodesForwardDuration)
	for _, f := range n.forward {
		fmt.Fprintf(w, "  %s, %s: %d reads, %.0f MB in %s\n", f.path, plural(f.streams, "stream"), f.reads, float64(f.bytes)/1e6, fmtDur(f.elapsed))
	}
	fmt.Fprintf(w, "logs -f: both paths follow the same container (tail 0) at once; it prints its clock (ash $EPOCHREALTIME, µs) every %s; latency = receipt − that time\n",
		o.NodesLogInterval)
	fmt.Fprintf(w, "section: cluster and server %s, import %s, workload %s, measurements %s; load average at start %s, before measuring %s, at the end %s\n",
		fmtDur(n.started), fmtDur(n.imported), fmtDur(n.workload), fmtDur(n.measured), n.loadStart, n.loadMeasure, n.loadEnd)
	for _, e := range nodesErrors(n) {
		fmt.Fprintln(w, "errors:", e)
	}
}

// nodesErrors lists each measurement's failures.
func nodesErrors(n *nodesResult) []string {
	var out []string
	for _, m := range []struct {
		what string
		by   map[string]*latencies
	}{{"exec", n.exec}, {"logs -f", n.logs}} {
		for _, p := range []string{pathDirect, pathDrover} {
			if l := m.by[p]; l != nil && l.errors > 0 {
				out = append(out, fmt.Sprintf("%s %s: %d failed, first: %s", m.what, p, l.errors, truncate(l.firstErr, 300)))
			}
		}
	}
	for _, f := range n.forward {
		if f.errors > 0 {
			out = append(out, fmt.Sprintf("port-forward %s, %s: %d reads failed, first: %s", f.path, plural(f.streams, "stream"), f.errors, truncate(f.firstErr, 300)))
		}
	}
	return out
}

// plural is "1 stream", "8 streams".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
