package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// quantile is the q-quantile of sorted by linear interpolation between the
// closest ranks (numpy's default), so that with 50 samples p99 is not
// simply the maximum. Zero for no samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(i)
	return sorted[i] + time.Duration(math.Round(frac*float64(sorted[i+1]-sorted[i])))
}

// sortedCopy returns ds sorted, leaving ds alone.
func sortedCopy(ds []time.Duration) []time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s
}

// sumMetric adds up the samples of the metric name (Prometheus text format)
// whose line contains match.
func sumMetric(r io.Reader, name, match string) (float64, error) {
	sum := 0.0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || !strings.Contains(line, match) {
			continue
		}
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // a longer metric name
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// metricsClient reads plain-HTTP /metrics listeners.
var metricsClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}

// scrapeMetric reads url and sums the samples of name whose labels
// contain match.
func scrapeMetric(ctx context.Context, url, name, match string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return sumMetric(resp.Body, name, match)
}

// tunnelState is the part of a cluster's API view the sections watch.
type tunnelState struct {
	Tunnel struct {
		Connected bool   `json:"connected"`
		Via       string `json:"via"`
		Sessions  int    `json:"sessions"`
	} `json:"tunnel"`
}

// waitTunnel polls the cluster API every 20 ms until ok accepts the
// cluster's tunnel state, and returns how long that took.
func waitTunnel(ctx context.Context, s *harness.Server, bearer, clusterID string, bound time.Duration, ok func(via string, sessions int) bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	start := time.Now()
	var last tunnelState
	var lastErr error
	for {
		lastErr = s.Do(ctx, http.MethodGet, "/v3/clusters/"+clusterID, bearer, nil, &last)
		if lastErr == nil && ok(last.Tunnel.Via, last.Tunnel.Sessions) {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cluster %s: tunnel state not reached within %v; last via=%q sessions=%d, err %v",
				clusterID, bound, last.Tunnel.Via, last.Tunnel.Sessions, lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// backoffModel is what the agents' reconnect backoff alone predicts for a
// fleet whose server is down for a while: each agent notices the loss at
// once, then waits 250 ms doubling to 30 s, each wait drawn from [d/2, d]
// (pkg/agent), and gets in on its first attempt after the server serves.
// Connecting itself is taken as instant, so the difference to a
// measurement is the server's (and the machine's) share.
type backoffModel struct {
	Median, P99, Max time.Duration // means over the simulated fleets
}

const (
	agentBackoffMin = 250 * time.Millisecond
	agentBackoffMax = 30 * time.Second
)

// simulateBackoff runs fleets fleets of n agents against a server down for
// downtime and averages each fleet's median, p99 and max of the time from
// serving again to reconnecting.
func simulateBackoff(downtime time.Duration, n, fleets int, seed uint64) backoffModel {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var m backoffModel
	after := make([]time.Duration, n)
	for range fleets {
		for i := range after {
			var t, cur time.Duration
			for {
				if cur == 0 {
					cur = agentBackoffMin
				} else {
					cur = min(cur*2, agentBackoffMax)
				}
				t += cur/2 + time.Duration(rng.Int64N(int64(cur/2)+1))
				if t >= downtime {
					break
				}
			}
			after[i] = t - downtime
		}
		slices.Sort(after)
		m.Median += quantile(after, 0.5) / time.Duration(fleets)
		m.P99 += quantile(after, 0.99) / time.Duration(fleets)
		m.Max += after[n-1] / time.Duration(fleets)
	}
	return m
}

// latencies are one path's samples, sorted, and its failures.
type latencies struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

func (l *latencies) fail(err error) {
	if l.errors == 0 {
		l.firstErr = err.Error()
	}
	l.errors++
}
