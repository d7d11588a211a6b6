package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// TestNoGrowth measures the server's goroutines and resident memory before
// and after 10,000 proxied requests and 100 agent reconnects.
func TestNoGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 10,000 requests and 100 reconnects")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	f := newFaultEnv(ctx, t)
	sample := func() (goroutines, rss float64) {
		// Let finished streams and idle connections wind down first.
		time.Sleep(2 * time.Second)
		return f.metric(ctx, "go_goroutines", ""), f.metric(ctx, "process_resident_memory_bytes", "")
	}
	requests := func(n int) {
		l := f.startLoadN(ctx, f.admin, n)
		if total, failed, _, errs := l.finish(time.Now()); failed != 0 || total != n {
			t.Fatalf("%d of %d requests failed: %v", failed, total, errs)
		}
	}
	requests(1000) // warm up pools and caches
	g0, m0 := sample()

	start := time.Now()
	requests(10000)
	t.Logf("10,000 requests in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	for i := range 100 {
		// The node agent is killed and started again: a full reconnect on
		// the server side (verify, session, transports, controller churn).
		f.node.Signal(syscall.SIGKILL)
		<-f.node.Done()
		f.node = f.startAgent("node", "node-a")
		f.waitSessions(ctx, 2)
		if i%25 == 24 {
			t.Logf("%d reconnects", i+1)
		}
	}
	t.Logf("100 reconnects in %v", time.Since(start).Round(time.Millisecond))
	g1, m1 := sample()
	t.Logf("server goroutines %v -> %v; resident memory %.1f MiB -> %.1f MiB", g0, g1, m0/(1<<20), m1/(1<<20))
	if g1 > g0+20 {
		t.Errorf("goroutines grew from %v to %v", g0, g1)
	}
	if m1 > m0*1.5+float64(16<<20) {
		t.Errorf("resident memory grew from %.1f to %.1f MiB", m0/(1<<20), m1/(1<<20))
	}
}
