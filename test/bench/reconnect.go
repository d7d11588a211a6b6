package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/test/harness"
	procstat "github.com/drover-dev/drover/test/proc"
)

// reconnectResult is the server-restart section.
type reconnectResult struct {
	agents int
	// startup is from starting the agents to all of them connected.
	startup time.Duration
	// rssMB is the median resident memory of an agent, connected and idle.
	rssMB float64
	runs  []reconnectRun
}

// reconnectRun is one SIGKILL and restart of the server.
type reconnectRun struct {
	// pause is how long the server was left down before the restart.
	pause time.Duration
	// downtime is from the SIGKILL to the restarted server answering
	// /healthz; restarted is when the restart returned (the server printed
	// its CA checksum).
	downtime, restarted time.Duration
	// after holds, sorted, the time from serving again to each agent's
	// session being back (from the server's connect counter, polled every
	// reconnectPoll); missing agents never came back within the bound.
	after   []time.Duration
	missing int
	model   backoffModel
}

// reconnectPoll is how often /healthz and /metrics are polled.
const (
	reconnectPoll  = 10 * time.Millisecond
	reconnectBound = 90 * time.Second
)

// measureReconnect starts a server of its own with one cluster and
// o.ReconnectAgents agents (a cluster agent, then node agents with distinct
// node names and the node token),
// SIGKILLs the server, restarts it on the same address and data dir, and
// times every agent's session coming back.
func measureReconnect(ctx context.Context, o *Options, e *env) (*reconnectResult, error) {
	dir := filepath.Join(e.dir, "fleet")
	maddr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	metricsURL := "http://" + maddr + "/metrics"
	srv, err := harness.StartServer(ctx, harness.ServerOptions{
		Bin: e.bins.Server, DataDir: filepath.Join(dir, "server"), LogLevel: o.ServerLogLevel,
		Args: []string{"--metrics-listen", maddr},
	})
	if err != nil {
		return nil, fmt.Errorf("start the fleet's server: %w", err)
	}
	defer func() { srv.Stop(10 * time.Second) }()
	admin, err := srv.Login(ctx, "admin", srv.AdminPassword)
	if err != nil {
		return nil, err
	}
	clusterID, reg, err := srv.CreateCluster(ctx, admin, "fleet")
	if err != nil {
		return nil, err
	}
	connects := func(ctx context.Context) (int, error) {
		v, err := scrapeMetric(ctx, metricsURL, "drover_tunnel_connects_total", `cluster="`+clusterID+`"`)
		return int(v), err
	}

	r := &reconnectResult{agents: o.ReconnectAgents}
	var agents []*harness.Process
	defer func() {
		var wg sync.WaitGroup
		for _, p := range agents {
			wg.Go(func() { p.Stop(5 * time.Second) })
		}
		wg.Wait()
	}()
	start := time.Now()
	// The first agent is the cluster agent: node agents are let in only once
	// a cluster agent has reported the apiserver they may carry bytes to.
	for i := range o.ReconnectAgents {
		ao := harness.AgentOptions{
			Bin: e.bins.Agent, Dir: filepath.Join(dir, "agents"), ServerURL: srv.URL,
			CAChecksum: reg.CAChecksum, Token: reg.NodeToken, Kubeconfig: e.directKubeconfig,
			Kind: agentapi.KindNode, NodeName: fmt.Sprintf("node-%03d", i), Args: []string{"--log-level", o.ServerLogLevel},
		}
		if i == 0 {
			ao.Kind, ao.Token, ao.NodeName = agentapi.KindCluster, reg.Token, ""
		}
		p, err := harness.StartAgent(ao)
		if err != nil {
			return nil, err
		}
		agents = append(agents, p)
		if i == 0 {
			if err := waitCount(ctx, connects, 1, time.Minute, 50*time.Millisecond); err != nil {
				return nil, fmt.Errorf("cluster agent connecting: %w", err)
			}
		}
	}
	if err := waitCount(ctx, connects, o.ReconnectAgents, 2*time.Minute, 100*time.Millisecond); err != nil {
		return nil, fmt.Errorf("agents connecting: %w", err)
	}
	r.startup = time.Since(start)
	e.log.Info("fleet connected", "agents", o.ReconnectAgents, "took", r.startup.Round(time.Millisecond))
	time.Sleep(time.Second) // let the cluster controller and the agents settle
	var rss []float64
	for _, p := range agents {
		if kb, err := procstat.RSSKiB(p.PID()); err == nil {
			rss = append(rss, float64(kb)/1024)
		}
	}
	if len(rss) > 0 {
		slices.Sort(rss)
		r.rssMB = rss[len(rss)/2]
	}

	for _, pause := range o.ReconnectPauses {
		run, err := restartOnce(ctx, srv, connects, o.ReconnectAgents, pause)
		if err != nil {
			return r, err
		}
		e.log.Info("measured", "what", "reconnect", "pause", pause, "downtime", run.downtime.Round(time.Millisecond),
			"median", quantile(run.after, 0.5).Round(time.Millisecond), "max", quantile(run.after, 1).Round(time.Millisecond), "missing", run.missing)
		r.runs = append(r.runs, run)
		if run.missing > 0 {
			break
		}
		time.Sleep(time.Second) // settle before the next restart
	}
	return r, nil
}

// restartOnce SIGKILLs srv, leaves it down for pause, restarts it, and
// times the agents coming back. The pollers start with the kill; they
// keep the time the server first answers /healthz, and the time its
// connect counter (which starts at 0 in the new process) first reaches k.
func restartOnce(ctx context.Context, srv *harness.Server, connects func(context.Context) (int, error), n int, pause time.Duration) (reconnectRun, error) {
	run := reconnectRun{pause: pause}
	kill := time.Now()
	srv.Kill()
	pctx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	serving := make(chan time.Time, 1)
	go pollHealthz(pctx, srv.URL, srv.CAPEM, serving)
	var mu sync.Mutex
	var reached []time.Time // reached[k-1]: counter first seen ≥ k
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		t := time.NewTicker(reconnectPoll)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			c, err := connects(pctx)
			if err != nil {
				continue // not serving yet
			}
			now := time.Now()
			mu.Lock()
			for len(reached) < c {
				reached = append(reached, now)
			}
			done := len(reached) >= n
			mu.Unlock()
			if done {
				return
			}
		}
	}()
	time.Sleep(pause)
	if err := srv.Restart(ctx); err != nil {
		return run, fmt.Errorf("restart the fleet's server: %w", err)
	}
	run.restarted = time.Since(kill)
	var up time.Time
	select {
	case up = <-serving:
	case <-time.After(30 * time.Second):
		return run, fmt.Errorf("the restarted server never answered /healthz")
	}
	run.downtime = up.Sub(kill)
	select {
	case <-pollDone:
	case <-time.After(reconnectBound):
	}
	stopPolls()
	<-pollDone
	mu.Lock()
	for _, t := range reached {
		run.after = append(run.after, t.Sub(up))
	}
	mu.Unlock()
	run.missing = n - len(run.after)
	run.after = sortedCopy(run.after)
	run.model = simulateBackoff(run.downtime, n, 4000, 1)
	return run, nil
}

// waitCount polls count until it reaches n.
func waitCount(ctx context.Context, count func(context.Context) (int, error), n int, bound, every time.Duration) error {
	deadline := time.Now().Add(bound)
	var last int
	var lastErr error
	for time.Now().Before(deadline) {
		if last, lastErr = count(ctx); lastErr == nil && last >= n {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(every)
	}
	return fmt.Errorf("%d of %d after %v (last error %v)", last, n, bound, lastErr)
}

// pollHealthz sends the time the server at url first answers /healthz on a
// fresh TLS connection, polling every reconnectPoll.
func pollHealthz(ctx context.Context, url string, caPEM []byte, serving chan<- time.Time) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true,
	}}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				serving <- time.Now()
				return
			}
		}
		time.Sleep(reconnectPoll / 2)
	}
}
