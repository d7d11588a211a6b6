package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// failoverNode is the node agent's name in the failover section.
const failoverNode = "bench-node"

// failoverRep is one fault under load.
type failoverRep struct {
	signal string // "SIGKILL" or "SIGSTOP"
	// firstOK is the time from the fault to the end of the first
	// successful GET sent after it; -1 if none came within the bound.
	firstOK time.Duration
	// lastFail is the time from the fault to the end of the last failed
	// GET (for SIGSTOP: when the server gave up the frozen tunnel and the
	// request in it); -1 if none failed.
	lastFail      time.Duration
	failed, total int
	firstErr      string
	errs          []string // each failure: when after the fault, and the error
	// viaNode is how many requests the server counted as carried by the
	// node agent (drover_proxy_failover_requests_total) during the load.
	viaNode float64
	// back is the time from restarting (SIGKILL) or thawing (SIGSTOP) the
	// cluster agent to its session serving the cluster again.
	back time.Duration
}

// failoverResult is the failover section.
type failoverResult struct {
	kills  []failoverRep
	freeze *failoverRep
}

// failoverBound is how long a fault may take to be got over before the
// repetition counts as failed.
const failoverBound = 20 * time.Second

// measureFailover connects a node agent next to the cluster agent, then
// SIGKILLs the cluster agent o.FailoverReps times and SIGSTOPs it once,
// each time under a client sending GETs back to back through Drover.
func measureFailover(ctx context.Context, o *Options, e *env) (*failoverResult, error) {
	if err := e.startAgent(o, agentapi.KindNode, failoverNode); err != nil {
		return nil, fmt.Errorf("start the node agent: %w", err)
	}
	if _, err := waitTunnel(ctx, e.api, e.admin, e.clusterID, time.Minute, func(via string, n int) bool {
		return via == agentapi.KindCluster && n == 2
	}); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(e.droverCfg)
	cfg.Timeout = failoverBound
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	url := strings.TrimRight(cfg.Host, "/") + "/api/v1/namespaces/" + getNamespace + "/configmaps/" + getName
	res := &failoverResult{}
	for i := range o.FailoverReps {
		rep, err := e.failoverOnce(ctx, o, client, url, syscall.SIGKILL)
		if err != nil {
			return res, fmt.Errorf("SIGKILL %d: %w", i+1, err)
		}
		e.log.Info("measured", "what", "failover", "fault", rep.signal, "first_ok", rep.firstOK.Round(time.Millisecond),
			"failed", rep.failed, "via_node", rep.viaNode, "agent_back", rep.back.Round(time.Millisecond))
		res.kills = append(res.kills, rep)
	}
	rep, err := e.failoverOnce(ctx, o, client, url, syscall.SIGSTOP)
	if err != nil {
		return res, fmt.Errorf("SIGSTOP: %w", err)
	}
	e.log.Info("measured", "what", "failover", "fault", rep.signal, "first_ok", rep.firstOK.Round(time.Millisecond),
		"failed", rep.failed, "via_node", rep.viaNode, "agent_back", rep.back.Round(time.Millisecond), "errors", rep.errs)
	res.freeze = &rep
	return res, nil
}

// failoverOnce runs the load, breaks the cluster agent with sig, waits for
// the first success after the fault, and brings the cluster agent back.
func (e *env) failoverOnce(ctx context.Context, o *Options, client *http.Client, url string, sig syscall.Signal) (failoverRep, error) {
	rep := failoverRep{signal: "SIGKILL"}
	if sig == syscall.SIGSTOP {
		rep.signal = "SIGSTOP"
	}
	before, err := scrapeMetric(ctx, e.metricsURL, "drover_proxy_failover_requests_total", e.clusterID)
	if err != nil {
		return rep, err
	}
	l := startGetLoop(ctx, client, url)
	time.Sleep(time.Second) // the load runs through the cluster agent
	fault := time.Now()
	if sig == syscall.SIGKILL {
		e.agent.Kill()
	} else if err := e.agent.Signal(syscall.SIGSTOP); err != nil {
		l.stop()
		return rep, err
	}
	ok := l.waitOK(ctx, fault, failoverBound)
	if ok {
		time.Sleep(300 * time.Millisecond) // late failures count too
	}
	recs := l.stop()
	rep.firstOK, rep.lastFail, rep.failed, rep.total, rep.firstErr = summarizeLoop(recs, fault)
	for _, r := range recs {
		if !r.ok && len(rep.errs) < 5 {
			rep.errs = append(rep.errs, fmt.Sprintf("%s after the fault (sent %s after): %s", fmtDur(r.end.Sub(fault)), fmtDur(r.start.Sub(fault)), r.err))
		}
	}
	after, err := scrapeMetric(ctx, e.metricsURL, "drover_proxy_failover_requests_total", e.clusterID)
	if err != nil {
		return rep, err
	}
	rep.viaNode = after - before
	if !ok {
		return rep, fmt.Errorf("no GET succeeded within %v of the %s (%d of %d failed, first: %s)",
			failoverBound, rep.signal, rep.failed, rep.total, rep.firstErr)
	}
	if _, err := waitTunnel(ctx, e.api, e.admin, e.clusterID, 10*time.Second, func(via string, n int) bool {
		return via == agentapi.KindNode && n == 1
	}); err != nil {
		return rep, err
	}
	start := time.Now()
	if sig == syscall.SIGKILL {
		if err := e.startAgent(o, agentapi.KindCluster, ""); err != nil {
			return rep, err
		}
	} else if err := e.agent.Signal(syscall.SIGCONT); err != nil {
		return rep, err
	}
	if _, err := waitTunnel(ctx, e.api, e.admin, e.clusterID, time.Minute, func(via string, n int) bool {
		return via == agentapi.KindCluster && n == 2
	}); err != nil {
		return rep, err
	}
	rep.back = time.Since(start)
	return rep, nil
}

// getRec is one GET of the failover load.
type getRec struct {
	start, end time.Time
	ok         bool
	err        string
}

// getLoop sends GETs back to back, one at a time, and records each.
type getLoop struct {
	mu     sync.Mutex
	recs   []getRec
	cancel context.CancelFunc
	done   chan struct{}
}

func startGetLoop(ctx context.Context, client *http.Client, url string) *getLoop {
	ctx, cancel := context.WithCancel(ctx)
	l := &getLoop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			r := getRec{start: time.Now()}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Accept", "application/json")
			resp, err := client.Do(req)
			if err == nil {
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				r.ok = resp.StatusCode == http.StatusOK && rerr == nil
				if !r.ok {
					r.err = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
				}
			} else {
				r.err = err.Error()
			}
			if ctx.Err() != nil {
				return // stopped mid-request: not a failure
			}
			r.end = time.Now()
			l.mu.Lock()
			l.recs = append(l.recs, r)
			l.mu.Unlock()
		}
	}()
	return l
}

// waitOK waits until a GET sent after t succeeded, for at most bound.
func (l *getLoop) waitOK(ctx context.Context, t time.Time, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; {
		l.mu.Lock()
		for ; i < len(l.recs); i++ {
			if r := l.recs[i]; r.ok && !r.start.Before(t) {
				l.mu.Unlock()
				return true
			}
		}
		l.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// stop ends the load and returns its records.
func (l *getLoop) stop() []getRec {
	l.cancel()
	<-l.done
	return l.recs
}

// summarizeLoop reads a load around a fault: the time to the first success
// sent after it, the time to the last failure, and the failures.
func summarizeLoop(recs []getRec, fault time.Time) (firstOK, lastFail time.Duration, failed, total int, firstErr string) {
	firstOK, lastFail = -1, -1
	for _, r := range recs {
		total++
		if !r.ok {
			failed++
			if firstErr == "" {
				firstErr = r.err
			}
			lastFail = r.end.Sub(fault)
			continue
		}
		if firstOK < 0 && !r.start.Before(fault) {
			firstOK = r.end.Sub(fault)
		}
	}
	return firstOK, lastFail, failed, total, firstErr
}
