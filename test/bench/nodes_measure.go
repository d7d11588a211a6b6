package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
)

const (
	// execWarmup execs per path are run before the timed ones.
	execWarmup = 5
	// forwardReadBound bounds one read of the file through a port-forward.
	forwardReadBound = 2 * time.Minute
)

// execOnce runs cmd in the web container the way kubectl exec does by
// default (client-go's WebSocket executor, remote command protocol v5):
// upgrade, run, exit status. A command that exits non-zero is an error.
func execOnce(ctx context.Context, p nodesPath, cmd []string) (string, error) {
	req := p.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(nodesNamespace).Name(nodesPod).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: nodesWeb, Command: cmd, Stdout: true, Stderr: true,
	}, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(p.cfg, "GET", req.URL().String())
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		return stdout.String(), fmt.Errorf("exec %v: %w (stderr %q)", cmd, err, stderr.String())
	}
	return stdout.String(), nil
}

// measureExec times runs execs of `echo x` per path, the paths taking
// turns so that both see the same load, after a few unmeasured ones.
func measureExec(ctx context.Context, paths []nodesPath, runs int) (map[string]*latencies, error) {
	out := map[string]*latencies{}
	for _, p := range paths {
		out[p.name] = &latencies{}
	}
	for i := range execWarmup + runs {
		for _, p := range paths {
			t := time.Now()
			got, err := execOnce(ctx, p, []string{"echo", "x"})
			d := time.Since(t)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("exec: %w", ctx.Err())
			}
			if i < execWarmup {
				continue
			}
			l := out[p.name]
			switch {
			case err != nil:
				l.fail(err)
			case got != "x\n":
				l.fail(fmt.Errorf("exec echo x: stdout %q", got))
			default:
				l.lat = append(l.lat, d)
			}
		}
	}
	for _, l := range out {
		slices.Sort(l.lat)
	}
	return out, nil
}

// forwardResult is one port-forward measurement.
type forwardResult struct {
	path     string
	streams  int
	bytes    int64 // payload read, whole files only
	elapsed  time.Duration
	reads    int
	errors   int
	firstErr string
}

// MBps is the payload in MB (10^6 bytes) per second.
func (f forwardResult) MBps() float64 {
	if f.elapsed <= 0 {
		return 0
	}
	return float64(f.bytes) / 1e6 / f.elapsed.Seconds()
}

// forwarder is a port-forward as `kubectl port-forward` runs it by
// default: SPDY streams tunnelled over one WebSocket connection, a local
// listener, one stream pair per accepted connection.
type forwarder struct {
	stop chan struct{}
	done chan error
	addr string
}

func startForward(ctx context.Context, p nodesPath) (*forwarder, error) {
	u := p.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(nodesNamespace).Name(nodesPod).SubResource("portforward").URL()
	dialer, err := portforward.NewSPDYOverWebsocketDialer(u, p.cfg)
	if err != nil {
		return nil, err
	}
	f := &forwarder{stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", nodesPort)}, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	go func() { f.done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		return nil, fmt.Errorf("port-forward through the %s path: %w", p.name, err)
	case <-ctx.Done():
		close(f.stop)
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil {
		f.close()
		return nil, err
	}
	f.addr = fmt.Sprintf("127.0.0.1:%d", ports[0].Local)
	return f, nil
}

func (f *forwarder) close() {
	close(f.stop)
	<-f.done
}

// getFile reads the whole file through the forward on a new connection
// (a new stream pair) and returns its length.
func getFile(ctx context.Context, client *http.Client, addr string, size int64) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/"+nodesFile, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK || n != size {
		return n, fmt.Errorf("GET /%s: %s, %d bytes, want %d", nodesFile, resp.Status, n, size)
	}
	return n, nil
}

// measureForward measures port-forward throughput per number of streams
// and path: each stream reads the file back to back until the duration is
// over, and each read goes to its end. Each measurement has a port-forward
// of its own (a `kubectl port-forward` started anew), warmed by one read,
// so that one whose connection breaks or stalls leaves the next alone.
func measureForward(ctx context.Context, paths []nodesPath, o *Options, size int64, log *slog.Logger) ([]forwardResult, error) {
	// A read that stalls is given up after forwardReadBound.
	client := &http.Client{Timeout: forwardReadBound, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	var out []forwardResult
	for _, n := range o.NodesForwardStreams {
		for _, p := range paths {
			r, err := forwardMeasurement(ctx, client, p, size, n, o.NodesForwardDuration)
			if err != nil {
				return nil, err
			}
			log.Info("nodes: port-forward", "path", p.name, "streams", n, "MB/s", fmt.Sprintf("%.1f", r.MBps()), "errors", r.errors)
			out = append(out, r)
		}
	}
	return out, nil
}

// forwardMeasurement starts a port-forward through p, reads the file once
// unmeasured, then measures streams concurrent streams.
func forwardMeasurement(ctx context.Context, client *http.Client, p nodesPath, size int64, streams int, d time.Duration) (forwardResult, error) {
	f, err := startForward(ctx, p)
	if err != nil {
		return forwardResult{}, err
	}
	defer f.close()
	var werr error
	for range 5 { // httpd may start a moment after the file is in place
		if _, werr = getFile(ctx, client, f.addr, size); werr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if werr != nil {
		return forwardResult{}, fmt.Errorf("port-forward warm-up through the %s path: %w", p.name, werr)
	}
	r := forwardOnce(ctx, client, f.addr, size, streams, d)
	r.path = p.name
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("port-forward: %w", err)
	}
	return r, nil
}

func forwardOnce(ctx context.Context, client *http.Client, addr string, size int64, streams int, d time.Duration) forwardResult {
	r := forwardResult{streams: streams}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range streams {
		wg.Go(func() {
			for time.Since(start) < d && ctx.Err() == nil {
				n, err := getFile(ctx, client, addr, size)
				mu.Lock()
				if err != nil {
					if r.errors == 0 {
						r.firstErr = err.Error()
					}
					r.errors++
				} else {
					r.bytes += n
					r.reads++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// measureLogs follows the ticker container on every path at once (so both
// see the same lines) and times, for each of the first o.NodesLogLines
// lines both received, the receipt minus the time the pod printed in it.
// The pod and this process read the same clock (one kernel).
func measureLogs(ctx context.Context, paths []nodesPath, o *Options) (map[string]*latencies, error) {
	bound := time.Duration(o.NodesLogLines+40)*o.NodesLogInterval*2 + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	type seen struct {
		lat  map[int]time.Duration
		errs latencies // lat unused
	}
	got := make([]seen, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		got[i].lat = map[int]time.Duration{}
		wg.Go(func() {
			if err := followLogs(ctx, p, o.NodesLogLines+20, got[i].lat); err != nil {
				got[i].errs.fail(err)
			}
		})
	}
	wg.Wait()
	// The lines every path received, the first NodesLogLines of them.
	var common []int
	for seq := range got[0].lat {
		if !slices.ContainsFunc(got[1:], func(s seen) bool { _, ok := s.lat[seq]; return !ok }) {
			common = append(common, seq)
		}
	}
	slices.Sort(common)
	common = common[:min(len(common), o.NodesLogLines)]
	out := map[string]*latencies{}
	for i, p := range paths {
		l := &got[i].errs
		for _, seq := range common {
			l.lat = append(l.lat, got[i].lat[seq])
		}
		slices.Sort(l.lat)
		if len(common) < o.NodesLogLines && l.errors == 0 {
			l.fail(fmt.Errorf("only %d of %d lines received on every path", len(common), o.NodesLogLines))
		}
		out[p.name] = l
	}
	return out, nil
}

// followLogs streams the ticker's log from now on (tail 0, follow, as
// `kubectl logs -f --tail=0`) until it has read n lines, and records each
// line's latency by its sequence number. A gap in the sequence is an
// error: a line lost.
func followLogs(ctx context.Context, p nodesPath, n int, lat map[int]time.Duration) error {
	tail := int64(0)
	rc, err := p.cs.CoreV1().Pods(nodesNamespace).GetLogs(nodesPod, &corev1.PodLogOptions{
		Container: nodesTicker, Follow: true, TailLines: &tail,
	}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("logs -f through the %s path: %w", p.name, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	prev := -1
	for len(lat) < n && sc.Scan() {
		now := time.Now()
		seq, at, err := parseTick(sc.Text())
		if err != nil {
			return fmt.Errorf("logs -f through the %s path: %w", p.name, err)
		}
		if prev >= 0 && seq != prev+1 {
			return fmt.Errorf("logs -f through the %s path: line %d after line %d", p.name, seq, prev)
		}
		prev = seq
		lat[seq] = now.Sub(at)
	}
	if len(lat) < n {
		if err := sc.Err(); err != nil {
			return fmt.Errorf("logs -f through the %s path after %d lines: %w", p.name, len(lat), err)
		}
		return fmt.Errorf("logs -f through the %s path: stream ended after %d lines (%v)", p.name, len(lat), ctx.Err())
	}
	return nil
}

// parseTick reads "tick <seq> <seconds>.<microseconds>".
func parseTick(line string) (int, time.Time, error) {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "tick" {
		return 0, time.Time{}, fmt.Errorf("unexpected line %q", line)
	}
	seq, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("line %q: %w", line, err)
	}
	sec, frac, ok := strings.Cut(f[2], ".")
	if !ok || len(frac) == 0 || len(frac) > 9 {
		return 0, time.Time{}, fmt.Errorf("line %q: no fraction of a second", line)
	}
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, time.Time{}, fmt.Errorf("line %q: %w", line, err)
	}
	return seq, time.Unix(s, ns), nil
}
