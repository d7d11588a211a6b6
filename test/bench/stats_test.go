package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		xs   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2500 * time.Microsecond},
		{ms(1, 2, 3, 4), 0, time.Millisecond},
		{ms(1, 2, 3, 4), 1, 4 * time.Millisecond},
		// 50 samples 1..50 ms: p99 lies between the 49th and the 50th.
		{ms(seq(50)...), 0.99, 49510 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := quantile(tt.xs, tt.q); got != tt.want {
			t.Errorf("quantile(%v, %v) = %v, want %v", tt.xs, tt.q, got, tt.want)
		}
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestSumMetric(t *testing.T) {
	const text = `# HELP drover_tunnel_connects_total Agent tunnel connections accepted.
# TYPE drover_tunnel_connects_total counter
drover_tunnel_connects_total{cluster="c-a",kind="cluster"} 1
drover_tunnel_connects_total{cluster="c-a",kind="node"} 49
drover_tunnel_connects_total{cluster="c-b",kind="node"} 7
drover_tunnel_connects_total_other{cluster="c-a"} 1000
drover_proxy_failover_requests_total{cluster="c-a"} 1.234e+03
`
	for _, tt := range []struct {
		name, match string
		want        float64
	}{
		{"drover_tunnel_connects_total", `cluster="c-a"`, 50},
		{"drover_tunnel_connects_total", `kind="node"`, 56},
		{"drover_tunnel_connects_total", `cluster="c-z"`, 0},
		{"drover_proxy_failover_requests_total", "c-a", 1234},
	} {
		got, err := sumMetric(strings.NewReader(text), tt.name, tt.match)
		if err != nil || got != tt.want {
			t.Errorf("sumMetric(%s, %s) = %v, %v; want %v", tt.name, tt.match, got, err, tt.want)
		}
	}
}

func TestSimulateBackoff(t *testing.T) {
	// A server back at once: everyone gets in on the first wait, drawn
	// from [125, 250] ms.
	m := simulateBackoff(0, 50, 200, 1)
	if m.Median < 170*time.Millisecond || m.Median > 205*time.Millisecond || m.Max > 250*time.Millisecond || m.P99 > m.Max {
		t.Errorf("downtime 0: %+v", m)
	}
	// Down 1 s: attempts land at [125,250], [375,750], [875,1750] ms, ...
	// so nobody waits more than the third or fourth window allows.
	m = simulateBackoff(time.Second, 50, 200, 1)
	if m.Max > 2750*time.Millisecond || m.Median <= 0 || m.Median > m.P99 || m.P99 > m.Max {
		t.Errorf("downtime 1s: %+v", m)
	}
	if a, b := simulateBackoff(time.Second, 50, 50, 7), simulateBackoff(time.Second, 50, 50, 7); a != b {
		t.Errorf("not deterministic for one seed: %+v vs %+v", a, b)
	}
}

func TestSummarizeLoop(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	recs := []getRec{
		{start: at(-20), end: at(-10), ok: true},
		{start: at(-10), end: at(2), ok: false, err: "502 tunnel closed"}, // in flight at the fault
		{start: at(-5), end: at(3), ok: true},                             // sent before: not a failover
		{start: at(3), end: at(9), ok: true},
		{start: at(9), end: at(12), ok: false, err: "503"},
	}
	firstOK, lastFail, failed, total, firstErr := summarizeLoop(recs, t0)
	if firstOK != 9*time.Millisecond || lastFail != 12*time.Millisecond || failed != 2 || total != 5 || firstErr != "502 tunnel closed" {
		t.Errorf("summarizeLoop = %v, %v, %d, %d, %q", firstOK, lastFail, failed, total, firstErr)
	}
	if f, l, _, _, _ := summarizeLoop(nil, t0); f != -1 || l != -1 {
		t.Errorf("no records: firstOK %v lastFail %v, want -1 -1", f, l)
	}
}

func TestParseTick(t *testing.T) {
	tests := []struct {
		line    string
		seq     int
		at      time.Time
		wantErr bool
	}{
		{line: "tick 1 1796586416.404654", seq: 1, at: time.Unix(1796586416, 404654000)},
		{line: "tick 42 1796586416.5", seq: 42, at: time.Unix(1796586416, 500000000)},
		{line: "tick 3 1796586416", wantErr: true},
		{line: "tick x 1796586416.1", wantErr: true},
		{line: "tock 1 1796586416.1", wantErr: true},
		{line: "tick 1 1796586416.1 extra", wantErr: true},
		{line: "tick 1 1796586416.1234567890", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			seq, at, err := parseTick(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTick(%q) error %v, want error %v", tt.line, err, tt.wantErr)
			}
			if err == nil && (seq != tt.seq || !at.Equal(tt.at)) {
				t.Errorf("parseTick(%q) = %d, %v; want %d, %v", tt.line, seq, at, tt.seq, tt.at)
			}
		})
	}
}

func TestNodesRows(t *testing.T) {
	msLat := func(errors int, v ...int) *latencies {
		l := &latencies{errors: errors}
		for _, x := range v {
			l.lat = append(l.lat, time.Duration(x)*time.Millisecond)
		}
		if errors > 0 {
			l.firstErr = "boom"
		}
		return l
	}
	res := &nodesResult{
		// Drover: p50 +4 ms (ok), p99 +25 ms (missed).
		exec: map[string]*latencies{pathDirect: msLat(0, 10, 20, 30), pathDrover: msLat(0, 14, 24, 56)},
		forward: []forwardResult{
			{path: pathDirect, streams: 1, bytes: 100e6, elapsed: time.Second},
			{path: pathDrover, streams: 1, bytes: 60e6, elapsed: time.Second},
			{path: pathDirect, streams: 8, bytes: 200e6, elapsed: time.Second},
			{path: pathDrover, streams: 8, bytes: 80e6, elapsed: time.Second},
		},
		// A failed follow is MISSED whatever the figures.
		logs: map[string]*latencies{pathDirect: msLat(0, 2, 3, 4), pathDrover: msLat(1, 2, 3, 4)},
	}
	want := []cmpRow{
		{"exec echo x (n=3)", "p50 ms", "20.00", "24.00", "+4.00 ms", "≤ +5 ms", "ok"},
		{"exec echo x (n=3)", "p99 ms", "29.80", "55.36", "+25.56 ms", "≤ +20 ms", "MISSED"},
		{"port-forward, 1 stream", "MB/s", "100.0", "60.0", "0.60×", "≥ 0.50×", "ok"},
		{"port-forward, 8 streams", "MB/s", "200.0", "80.0", "0.40×", "≥ 0.50×", "MISSED"},
		{"logs -f line (n=3)", "p50 ms", "3.00", "3.00", "+0.00 ms", "≤ +5 ms", "MISSED"},
		{"logs -f line (n=3)", "p99 ms", "3.98", "3.98", "+0.00 ms", "≤ +20 ms", "MISSED"},
	}
	if d := cmp.Diff(want, nodesRows(res)); d != "" {
		t.Errorf("nodesRows (-want +got):\n%s", d)
	}
	// A number of streams measured twice: each Drover figure against the
	// direct one just before it. Nothing measured, no rows.
	again := &nodesResult{forward: []forwardResult{
		{path: pathDirect, streams: 8, bytes: 100e6, elapsed: time.Second},
		{path: pathDrover, streams: 8, bytes: 10e6, elapsed: time.Second, errors: 8, firstErr: "reset"},
		{path: pathDirect, streams: 8, bytes: 50e6, elapsed: time.Second},
		{path: pathDrover, streams: 8, bytes: 40e6, elapsed: time.Second},
		{path: pathDrover, streams: 1, bytes: 40e6, elapsed: time.Second}, // no direct figure
	}}
	wantAgain := []cmpRow{
		{"port-forward, 8 streams", "MB/s", "100.0", "10.0", "0.10×", "≥ 0.50×", "MISSED"},
		{"port-forward, 8 streams", "MB/s", "50.0", "40.0", "0.80×", "≥ 0.50×", "ok"},
	}
	if d := cmp.Diff(wantAgain, nodesRows(again)); d != "" {
		t.Errorf("nodesRows, 8 streams twice (-want +got):\n%s", d)
	}
	if got := nodesRows(&nodesResult{}); len(got) != 0 {
		t.Errorf("nodesRows of nothing: %v", got)
	}
	wantErrs := []string{"logs -f Drover: 1 failed, first: boom"}
	if d := cmp.Diff(wantErrs, nodesErrors(res)); d != "" {
		t.Errorf("nodesErrors (-want +got):\n%s", d)
	}
}
