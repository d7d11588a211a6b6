package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// printACE shows GET latency through the authorized cluster endpoint.
func (r *report) printACE(w io.Writer) {
	a := r.ace
	if a == nil {
		return
	}
	fmt.Fprintf(w, "\nAuthorized cluster endpoint: GET of the small ConfigMap at concurrency 1, %s each after %s of warm-up\n",
		r.opts.GetDuration, r.opts.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\treq/s\tp50 ms\tp99 ms\tp50 vs direct\tp99 vs direct\t")
	var direct result
	for _, res := range a.steady {
		if res.path == "direct" {
			direct = res
		}
	}
	var errs []string
	for _, res := range a.steady {
		fmt.Fprintf(tw, "%s\t%.0f\t%.3f\t%.3f\t%+.3f ms\t%+.3f ms\t\n", res.path, res.get.RPS(), ms(res.get.P50), ms(res.get.P99),
			ms(res.get.P50-direct.get.P50), ms(res.get.P99-direct.get.P99))
		errs = appendErrors(errs, res)
	}
	tw.Flush()
	fmt.Fprintln(w, "(direct: the admin token of the apiserver's token file; Drover: a Drover token through drover-server, the tunnel and the agent;")
	fmt.Fprintln(w, " ACE: the same Drover token, context bench-ace, straight to kube-apiserver, which caches a successful authentication for 10 s,")
	fmt.Fprintln(w, " so it asks kube-api-auth about the token at most once per 10 s)")
	fmt.Fprintf(w, "first request of a fresh token (%d tokens, each used once per path; tokens accepted by kube-api-auth %.1f s after creation):\n",
		a.coldN, a.syncWait.Seconds())
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tn\tp50 ms\tmax ms\tfailed\t\t")
	for _, p := range []string{pathACE, "Drover"} {
		st := a.cold[p]
		if st == nil {
			continue
		}
		how := map[string]string{
			pathACE:  "apiserver cache miss: TokenReview to kube-api-auth over TLS",
			"Drover": "Drover's token cache miss: a store lookup",
		}[p]
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%d\t  %s\t\n", p, len(st.lat), ms(quantile(st.lat, 0.5)), ms(quantile(st.lat, 1)), st.errors, how)
		if st.errors > 0 {
			errs = append(errs, fmt.Sprintf("first request %s: %d failed, first: %s", p, st.errors, st.firstErr))
		}
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintln(w, "errors:", e)
	}
}

// printFailover shows how long the Drover path is unavailable when the
// cluster agent dies or freezes with a node agent connected.
func (r *report) printFailover(w io.Writer) {
	f := r.failover
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\nFailover: a cluster agent and a node agent connected; one client sending GETs back to back through Drover\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault\t#\tfault → first OK\tlast failure at\tfailed\tsent\tvia node agent\tcluster agent back after\t")
	row := func(i int, rep failoverRep) {
		first, last := "none", "-"
		if rep.firstOK >= 0 {
			first = fmtDur(rep.firstOK)
		}
		if rep.lastFail >= 0 {
			last = fmtDur(rep.lastFail)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%.0f\t%s\t\n", rep.signal, i, first, last,
			rep.failed, rep.total, rep.viaNode, fmtDur(rep.back))
	}
	for i, rep := range f.kills {
		row(i+1, rep)
	}
	if f.freeze != nil {
		row(1, *f.freeze)
	}
	tw.Flush()
	if len(f.kills) > 0 {
		var first []time.Duration
		var failed []string
		for _, rep := range f.kills {
			first = append(first, rep.firstOK)
			failed = append(failed, fmt.Sprint(rep.failed))
		}
		first = sortedCopy(first)
		fmt.Fprintf(w, "SIGKILL ×%d: kill → first successful GET through the node agent: median %s, max %s; failed requests per repetition: %s\n",
			len(first), fmtDur(quantile(first, 0.5)), fmtDur(quantile(first, 1)), strings.Join(failed, ", "))
	}
	if z := f.freeze; z != nil {
		fmt.Fprintf(w, "SIGSTOP: freeze → first successful GET %s (bound ≈ 4.5 s: the server closes a tunnel silent for 4 s, probing it after 1.5 s); %d failed\n",
			fmtDur(z.firstOK), z.failed)
	}
	for _, rep := range slices.Concat(f.kills, derefOr(f.freeze)) {
		if rep.firstErr != "" {
			fmt.Fprintf(w, "first error after %s: %s\n", rep.signal, truncate(rep.firstErr, 160))
			break
		}
	}
}

// printReconnect shows how a fleet of agents comes back after a server
// restart, and what the agents' backoff alone would predict.
func (r *report) printReconnect(w io.Writer) {
	c := r.reconnect
	if c == nil {
		return
	}
	fmt.Fprintf(w, "\nReconnect after a server restart: %d agents of one cluster (a cluster agent, the rest node agents); the server SIGKILLed, then restarted on the same address and data dir\n", c.agents)
	fmt.Fprintf(w, "agents: all connected %s after starting them; median resident memory %.0f MB each\n", fmtDur(c.startup), c.rssMB)
	fmt.Fprintf(w, "serving again → session back, per agent (the server's connect counter, polled every %s); downtime: kill → first /healthz answer\n", reconnectPoll)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	qs := []float64{0, .1, .25, .5, .75, .9, .99, 1}
	fmt.Fprintln(tw, "restart\tdowntime\t\tmin\tp10\tp25\tmedian\tp75\tp90\tp99\tmax\t")
	for _, run := range c.runs {
		when := "at once"
		if run.pause > 0 {
			when = "after " + run.pause.String() + " down"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s\t%s\tmeasured\t", when, fmtDur(run.downtime))
		for _, q := range qs {
			b.WriteString(fmtDur(quantile(run.after, q)) + "\t")
		}
		fmt.Fprintln(tw, b.String())
		fmt.Fprintf(tw, "\t\tbackoff alone\t\t\t\t%s\t\t\t%s\t%s\t\n", fmtDur(run.model.Median), fmtDur(run.model.P99), fmtDur(run.model.Max))
	}
	tw.Flush()
	for _, run := range c.runs {
		var within []string
		for _, b := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			n := 0
			for _, d := range run.after {
				if d <= b {
					n++
				}
			}
			within = append(within, fmt.Sprintf("%s %d", b, n))
		}
		fmt.Fprintf(w, "restart after %s down (restart returned %s after the kill): back within %s (of %d)\n",
			run.pause, fmtDur(run.restarted), strings.Join(within, ", "), c.agents)
		if run.missing > 0 {
			fmt.Fprintf(w, "MISSING: %d agents had not reconnected %s after the restart\n", run.missing, reconnectBound)
		}
	}
	fmt.Fprintln(w, "(backoff alone: each agent notices the kill at once and retries after waits of 250 ms doubling to 30 s, each drawn from [d/2, d], getting in on its first try after the server serves; mean of 4000 simulated fleets with the measured downtime)")
}

// fmtDur prints a duration in ms below a second, else in s.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0 && d > -time.Second:
		return fmt.Sprintf("%.1f ms", ms(d))
	case d < 0:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", ms(d))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func derefOr(p *failoverRep) []failoverRep {
	if p == nil {
		return nil
	}
	return []failoverRep{*p}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
