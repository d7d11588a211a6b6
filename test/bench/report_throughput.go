package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// tputRow is one printed row of the throughput comparison: each path's
// figure ("-" when the path was not measured), the Drover path against
// kubectl proxy (no target: the anchor) and against direct (the target).
type tputRow struct {
	Measurement, Metric                     string
	Direct, DirectImp, KubectlProxy, Drover string
	VsKubectlProxy, VsDirect                string
	Target, Verdict                         string
}

// throughputRows builds the comparison from the results, and the failed
// requests of every path. A measurement needs its direct and Drover
// figures to have rows.
func (r *report) throughputRows() (rows []tputRow, errs []string) {
	for _, n := range r.opts.GetConcurrency {
		d, ok1 := r.find("get", "", n, pathDirect)
		p, ok2 := r.find("get", "", n, pathDrover)
		if !ok1 || !ok2 {
			continue
		}
		i, iok := r.find("get", "", n, pathDirectImp)
		k, kok := r.find("get", "", n, pathKubectlProxy)
		label := d.label()
		rps := func(res result) string { return fmt.Sprintf("%.0f", res.get.RPS()) }
		ratio := p.get.RPS() / d.get.RPS()
		rows = append(rows, tputRow{
			Measurement: label, Metric: "req/s",
			Direct: rps(d), DirectImp: figure(i, iok, rps), KubectlProxy: figure(k, kok, rps), Drover: rps(p),
			VsKubectlProxy: ratioTo(p.get.RPS(), k.get.RPS(), kok), VsDirect: fmt.Sprintf("%.2f×", ratio),
			Target: fmt.Sprintf("≥ %.2f×", targetRPSRatio), Verdict: verdict(ratio >= targetRPSRatio, 0),
		})
		for _, q := range []struct {
			metric string
			of     func(result) float64
		}{
			{"p50 ms", func(res result) float64 { return ms(res.get.P50) }},
			{"p99 ms", func(res result) float64 { return ms(res.get.P99) }},
		} {
			val := func(res result) string { return fmt.Sprintf("%.3f", q.of(res)) }
			row := tputRow{
				Measurement: label, Metric: q.metric,
				Direct: val(d), DirectImp: figure(i, iok, val), KubectlProxy: figure(k, kok, val), Drover: val(p),
				VsKubectlProxy: "-", VsDirect: fmt.Sprintf("%+.3f ms", q.of(p)-q.of(d)),
			}
			if kok {
				row.VsKubectlProxy = fmt.Sprintf("%+.3f ms", q.of(p)-q.of(k))
			}
			if q.metric == "p50 ms" {
				row.Target = "(queueing)"
				if n == 1 {
					added := p.get.P50 - d.get.P50
					row.Target, row.Verdict = fmt.Sprintf("≤ +%.1f ms", ms(targetAddedP50)), verdict(added <= targetAddedP50, 0)
				}
			}
			rows = append(rows, row)
		}
		errs = appendErrors(errs, d, p)
		if iok {
			errs = appendErrors(errs, i)
		}
		if kok {
			errs = appendErrors(errs, k)
		}
	}
	for _, enc := range r.opts.ListEncodings {
		for _, n := range r.opts.ListStreams {
			d, ok1 := r.find("list", enc, n, pathDirect)
			p, ok2 := r.find("list", enc, n, pathDrover)
			if !ok1 || !ok2 {
				continue
			}
			k, kok := r.find("list", enc, n, pathKubectlProxy)
			mbps := func(res result) string { return fmt.Sprintf("%.1f", res.list.MBps()) }
			ratio := p.list.MBps() / d.list.MBps()
			rows = append(rows, tputRow{
				Measurement: d.label(), Metric: "MB/s",
				Direct: mbps(d), DirectImp: "-", KubectlProxy: figure(k, kok, mbps), Drover: mbps(p),
				VsKubectlProxy: ratioTo(p.list.MBps(), k.list.MBps(), kok), VsDirect: fmt.Sprintf("%.2f×", ratio),
				Target: fmt.Sprintf("≥ %.2f×", targetBulk), Verdict: verdict(ratio >= targetBulk, 0),
			})
			errs = appendErrors(errs, d, p)
			if kok {
				errs = appendErrors(errs, k)
			}
		}
	}
	return rows, errs
}

// figure is f(res), or "-" when the path was not measured.
func figure(res result, ok bool, f func(result) string) string {
	if !ok {
		return "-"
	}
	return f(res)
}

// ratioTo is a/b, or "-" when b was not measured (or is zero).
func ratioTo(a, b float64, ok bool) string {
	if !ok || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// printComparison prints the throughput comparison and how many targets the
// Drover path missed.
func (r *report) printComparison(w io.Writer) {
	rows, errs := r.throughputRows()
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tmetric\tdirect\tdirect+imp\tkubectl proxy\tDrover\tDrover vs kubectl proxy\tDrover vs direct\ttarget\t\t")
	missed := 0
	for _, row := range rows {
		if row.Verdict == "MISSED" {
			missed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Measurement, row.Metric, row.Direct, row.DirectImp,
			row.KubectlProxy, row.Drover, row.VsKubectlProxy, row.VsDirect, row.Target, row.Verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "targets missed: %d (direct+imp: straight to the apiserver with the agent's impersonator ServiceAccount token and the Impersonate-* headers Drover sends)\n", missed)
	fmt.Fprintln(w, "(kubectl proxy: the machine's `kubectl proxy` with the direct path's admin kubeconfig, plain HTTP/1.1 on 127.0.0.1, a connection per worker;")
	fmt.Fprintln(w, " Drover vs kubectl proxy has no target: above 1× or a negative ms, Drover is ahead of it)")
	for _, e := range errs {
		fmt.Fprintln(w, "errors:", e)
	}
}

// appendErrors adds a line for each result with failed requests.
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
