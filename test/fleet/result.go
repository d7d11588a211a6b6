package fleet

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drover-dev/drover/test/proc"
)

// Sample is the server process at one moment.
type Sample struct {
	At         time.Time
	RSSKiB     int64
	Goroutines int
	Sessions   int
}

// Result is what a run measured.
type Result struct {
	Clusters  int
	Connected int
	// Baseline is the server with every cluster created and no tunnel;
	// Idle the server with the fleet connected and settled.
	Baseline, Idle Sample
	// ConnectAll is how long the whole fleet took to connect from the
	// first agent's start.
	ConnectAll time.Duration
	// IdleCPU is the server's CPU time over the window, as a fraction of
	// one core.
	IdleCPU float64
	Window  time.Duration
	// ControllerRate is requests per second per cluster the stand-in
	// answered over the window; Mix what they were.
	ControllerRate float64
	Mix            string
	// Soak samples the server every SoakEvery.
	Soak []Sample
	// Restart figures: how long the server took to serve again
	// (RestartDown), and each agent's return after it did.
	Restarted                            bool
	RestartDown                          time.Duration
	Returned                             int
	ReturnP50, ReturnP99, ReturnMax      time.Duration
	ReturnFromStopP50, ReturnFromStopP99 time.Duration
	// Goroutines is the server's goroutines by the function that started
	// them, most first (Options.DumpGoroutines).
	Goroutines string
	// AgentWarnings counts the agents' warning lines.
	AgentWarnings int
}

// RSSPerTunnelKiB is (RSS with the fleet − RSS with none) / connected.
func (r Result) RSSPerTunnelKiB() float64 {
	if r.Connected == 0 {
		return 0
	}
	return float64(r.Idle.RSSKiB-r.Baseline.RSSKiB) / float64(r.Connected)
}

// GoroutinesPerTunnel is (goroutines with the fleet − with none) / connected.
func (r Result) GoroutinesPerTunnel() float64 {
	if r.Connected == 0 {
		return 0
	}
	return float64(r.Idle.Goroutines-r.Baseline.Goroutines) / float64(r.Connected)
}

// Line is the one line a script reads.
func (r Result) Line() string {
	return fmt.Sprintf("fleet: clusters=%d connected=%d server_rss_mib=%.1f rss_per_tunnel_kib=%.1f goroutines_per_tunnel=%.2f",
		r.Clusters, r.Connected, float64(r.Idle.RSSKiB)/1024, r.RSSPerTunnelKiB(), r.GoroutinesPerTunnel())
}

// Report is the figures beside the line, for people.
func (r Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fleet: baseline (no tunnel): rss_mib=%.1f goroutines=%d\n", float64(r.Baseline.RSSKiB)/1024, r.Baseline.Goroutines)
	fmt.Fprintf(&b, "fleet: connected: rss_mib=%.1f goroutines=%d sessions=%d, all connected %s after the first agent started\n",
		float64(r.Idle.RSSKiB)/1024, r.Idle.Goroutines, r.Idle.Sessions, r.ConnectAll.Round(time.Millisecond))
	fmt.Fprintf(&b, "fleet: idle server cpu=%.1f%% of one core over %s\n", 100*r.IdleCPU, r.Window)
	fmt.Fprintf(&b, "fleet: controller requests=%.3f/s per cluster (%.0f/s in all): %s\n",
		r.ControllerRate, r.ControllerRate*float64(r.Connected), r.Mix)
	if len(r.Soak) > 0 {
		first, last := r.Soak[0], r.Soak[len(r.Soak)-1]
		fmt.Fprintf(&b, "fleet: soak %s: rss_mib %.1f -> %.1f, goroutines %d -> %d, sessions %d -> %d\n",
			last.At.Sub(first.At).Round(time.Second), float64(first.RSSKiB)/1024, float64(last.RSSKiB)/1024,
			first.Goroutines, last.Goroutines, first.Sessions, last.Sessions)
	}
	if r.Restarted {
		fmt.Fprintf(&b, "fleet: restart: server back in %s; %d/%d agents back, after it served p50=%s p99=%s max=%s (from the stop p50=%s p99=%s)\n",
			r.RestartDown.Round(time.Millisecond), r.Returned, r.Clusters, r.ReturnP50.Round(time.Millisecond),
			r.ReturnP99.Round(time.Millisecond), r.ReturnMax.Round(time.Millisecond),
			r.ReturnFromStopP50.Round(time.Millisecond), r.ReturnFromStopP99.Round(time.Millisecond))
	}
	if r.Goroutines != "" {
		fmt.Fprintf(&b, "fleet: server goroutines by creator: %s\n", r.Goroutines)
	}
	fmt.Fprintf(&b, "fleet: agent warnings=%d\n", r.AgentWarnings)
	return b.String()
}

// sample reads the server's RSS, goroutines and sessions.
func (f *fleet) sample(ctx context.Context) (Sample, error) {
	s := Sample{At: time.Now()}
	rss, err := proc.RSSKiB(f.server.PID())
	if err != nil {
		return s, err
	}
	s.RSSKiB = rss
	m, err := scrape(ctx, f.metrics, "go_goroutines", "drover_tunnel_sessions")
	if err != nil {
		return s, err
	}
	s.Goroutines, s.Sessions = int(m["go_goroutines"]), int(m["drover_tunnel_sessions"])
	return s, nil
}

// measureIdle reads the server's CPU and the stand-in's requests over the
// window, then the server's RSS and goroutines.
func (f *fleet) measureIdle(ctx context.Context, res *Result) error {
	pid := f.server.PID()
	cpu0, err := proc.CPUTime(pid)
	if err != nil {
		return err
	}
	counts0, total0 := f.standIn.Counts()
	began := time.Now()
	if err := sleep(ctx, f.opts.Window); err != nil {
		return err
	}
	cpu1, err := proc.CPUTime(pid)
	if err != nil {
		return err
	}
	counts1, total1 := f.standIn.Counts()
	elapsed := time.Since(began)
	res.Window = elapsed.Round(time.Millisecond)
	res.IdleCPU = float64(cpu1-cpu0) / float64(elapsed)
	res.ControllerRate = float64(total1-total0) / elapsed.Seconds() / float64(f.opts.Clusters)
	res.Mix = Mix(counts0, counts1)
	if res.Idle, err = f.sample(ctx); err != nil {
		return err
	}
	res.Connected = res.Idle.Sessions
	return nil
}

// soak keeps the fleet up for Soak, sampling the server.
func (f *fleet) soak(ctx context.Context, res *Result) error {
	res.Soak = append(res.Soak, res.Idle)
	end := time.Now().Add(f.opts.Soak)
	for time.Now().Before(end) {
		if err := sleep(ctx, min(f.opts.SoakEvery, time.Until(end))); err != nil {
			return err
		}
		s, err := f.sample(ctx)
		if err != nil {
			return err
		}
		res.Soak = append(res.Soak, s)
		f.progress("soak: rss_mib=%.1f goroutines=%d sessions=%d", float64(s.RSSKiB)/1024, s.Goroutines, s.Sessions)
	}
	return nil
}

// restart stops the server and starts it again on the same data and
// address, and times each agent's return.
func (f *fleet) restart(ctx context.Context, res *Result) error {
	stopped := time.Now()
	if err := f.server.Restart(ctx); err != nil {
		return fmt.Errorf("restart server: %w", err)
	}
	serving := time.Now()
	res.Restarted, res.RestartDown = true, serving.Sub(stopped)
	f.progress("server restarted in %s; waiting for the agents", res.RestartDown.Round(time.Millisecond))
	n, err := f.waitConnected(ctx, stopped)
	res.Returned = n
	var fromServing, fromStop []time.Duration
	for i := range f.opened {
		v := f.opened[i].Load()
		if v <= stopped.UnixNano() {
			continue
		}
		at := time.Unix(0, v)
		fromServing = append(fromServing, max(0, at.Sub(serving)))
		fromStop = append(fromStop, at.Sub(stopped))
	}
	slices.Sort(fromServing)
	slices.Sort(fromStop)
	res.ReturnP50, res.ReturnP99 = percentile(fromServing, 50), percentile(fromServing, 99)
	if len(fromServing) > 0 {
		res.ReturnMax = fromServing[len(fromServing)-1]
	}
	res.ReturnFromStopP50, res.ReturnFromStopP99 = percentile(fromStop, 50), percentile(fromStop, 99)
	return err
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
