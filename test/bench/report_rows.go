package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// cmpRow is one printed row comparing the Drover path with the direct one.
type cmpRow struct {
	Measurement, Metric, Direct, Drover, VsDirect, Target, Verdict string
}

// verdict is "ok" when the target holds and no request failed on either
// path (failures are not in the figures), else "MISSED".
func verdict(ok bool, failures int) string {
	if ok && failures == 0 {
		return "ok"
	}
	return "MISSED"
}

// latencyRows compares two paths' latencies at p50 and p99, each row
// against its target of added latency; a zero target leaves the row
// without one (no verdict). Nothing when a path was not measured.
func latencyRows(what string, d, p *latencies, p50, p99 time.Duration) []cmpRow {
	if d == nil || p == nil {
		return nil
	}
	var rows []cmpRow
	label := fmt.Sprintf("%s (n=%d)", what, min(len(d.lat), len(p.lat)))
	for _, q := range []struct {
		name   string
		q      float64
		target time.Duration
	}{{"p50 ms", 0.5, p50}, {"p99 ms", 0.99, p99}} {
		dq, pq := quantile(d.lat, q.q), quantile(p.lat, q.q)
		added := pq - dq
		row := cmpRow{label, q.name, fmt.Sprintf("%.2f", ms(dq)), fmt.Sprintf("%.2f", ms(pq)),
			fmt.Sprintf("%+.2f ms", ms(added)), "", ""}
		if q.target > 0 {
			row.Target = fmt.Sprintf("≤ +%.0f ms", ms(q.target))
			row.Verdict = verdict(len(d.lat) > 0 && len(p.lat) > 0 && added <= q.target, d.errors+p.errors)
		}
		rows = append(rows, row)
	}
	return rows
}

// printRows prints rows as a table and returns how many missed their
// target.
func printRows(w io.Writer, rows []cmpRow) (missed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tmetric\tdirect\tDrover\tDrover vs direct\ttarget\t\t")
	for _, row := range rows {
		if row.Verdict == "MISSED" {
			missed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Measurement, row.Metric, row.Direct, row.Drover, row.VsDirect, row.Target, row.Verdict)
	}
	tw.Flush()
	return missed
}
