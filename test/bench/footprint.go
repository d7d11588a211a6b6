package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/test/harness"
	procstat "github.com/drover-dev/drover/test/proc"
)

// The footprint section: what an idle agent costs the node it runs on.
// The cluster agent carries the controller's periodic requests (status
// every few seconds, its informers' watches); a node agent carries nothing
// while the cluster agent is up. Both are the real drover-agent binary.
const (
	// footprintSettle is how long the agents are left alone before the
	// window: connections made, informers synced, the first status sent.
	footprintSettle = 20 * time.Second
	// footprintWindow is how long CPU time is counted.
	footprintWindow = 30 * time.Second
	// footprintNode is the node agent's name.
	footprintNode = "footprint-node"
	// agentRSSGoalKiB is issue 18's goal for an idle agent.
	agentRSSGoalKiB = 20 << 10
)

// agentFootprint is one idle agent's cost.
type agentFootprint struct {
	kind   string
	rssKiB int64         // at the end of the window
	cpu    time.Duration // during the window
}

type footprintResult struct {
	agents []agentFootprint
}

// measureFootprint connects a node agent beside the cluster agent, leaves
// both idle for footprintSettle, then reads their CPU time over
// footprintWindow and their resident set at its end. The node agent is
// stopped before the next section (failover counts the sessions).
func measureFootprint(ctx context.Context, o *Options, e *env) (*footprintResult, error) {
	if e.agent == nil {
		return nil, fmt.Errorf("no agent process (in-process mode)")
	}
	node, err := harness.StartAgent(harness.AgentOptions{
		Bin: e.bins.Agent, Dir: filepath.Join(e.dir, "agent-footprint"), ServerURL: e.api.URL,
		CAChecksum: e.reg.CAChecksum, Token: e.reg.NodeToken, Kubeconfig: e.directKubeconfig,
		Kind: agentapi.KindNode, NodeName: footprintNode, Args: []string{"--log-level", o.ServerLogLevel},
	})
	if err != nil {
		return nil, fmt.Errorf("start the node agent: %w", err)
	}
	defer func() {
		node.Stop(5 * time.Second)
		// The next section counts the cluster's sessions: wait for this
		// one to go.
		waitTunnel(ctx, e.api, e.admin, e.clusterID, time.Minute, func(via string, n int) bool {
			return via == agentapi.KindCluster && n == 1
		})
	}()
	if _, err := waitTunnel(ctx, e.api, e.admin, e.clusterID, time.Minute, func(via string, n int) bool {
		return via == agentapi.KindCluster && n == 2
	}); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, footprintSettle); err != nil {
		return nil, err
	}
	agents := []struct {
		kind string
		pid  int
	}{{agentapi.KindCluster, e.agent.PID()}, {agentapi.KindNode, node.PID()}}
	before := make([]time.Duration, len(agents))
	for i, a := range agents {
		if before[i], err = procstat.CPUTime(a.pid); err != nil {
			return nil, err
		}
	}
	if err := sleepCtx(ctx, footprintWindow); err != nil {
		return nil, err
	}
	res := &footprintResult{}
	for i, a := range agents {
		cpu, err := procstat.CPUTime(a.pid)
		if err != nil {
			return nil, err
		}
		rss, err := procstat.RSSKiB(a.pid)
		if err != nil {
			return nil, err
		}
		res.agents = append(res.agents, agentFootprint{kind: a.kind, rssKiB: rss, cpu: cpu - before[i]})
		e.log.Info("measured", "what", "idle agent", "kind", a.kind, "rss_mib", float64(rss)/1024, "cpu", cpu-before[i])
	}
	return res, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// printFootprint shows the idle agents' RSS and CPU against the goal.
func (r *report) printFootprint(w io.Writer) {
	f := r.footprint
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\nIdle agents: RSS at the end of a %s window after %s idle, CPU time in the window (10 ms ticks)\n",
		footprintWindow, footprintSettle)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "agent\tRSS MiB\tCPU % of a core\ttarget\t\t")
	for _, a := range f.agents {
		verdict := "ok"
		if a.rssKiB > agentRSSGoalKiB {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t≤ %d MiB\t%s\t\n", a.kind, float64(a.rssKiB)/1024,
			100*a.cpu.Seconds()/footprintWindow.Seconds(), agentRSSGoalKiB>>10, verdict)
	}
	tw.Flush()
}
