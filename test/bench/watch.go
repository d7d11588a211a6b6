package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The watch section: one ConfigMap patched at a steady rate straight to
// the apiserver, watched on every path at once.
const (
	watchNamespace = "bench-watch"
	watchName      = "watched"
	// watchMark is the annotation each patch sets: "<run> <seq>".
	watchMark = "bench.drover.dev/event"
	// The watch encodings: kubectl's, and client-go controllers'.
	watchJSON     = "json"
	watchProtobuf = "protobuf"
	// watchWarmup events are written and received before the timed ones.
	watchWarmup = 20
	// watchDrain bounds the wait for the last event after the last patch.
	watchDrain = 10 * time.Second
)

// watchRun is one watch measurement: one encoding, n watches per path.
type watchRun struct {
	encoding string
	watchers int
	events   int           // timed events written
	elapsed  time.Duration // from the first timed patch to the last
	// each is every delivery's latency (patch sent → event decoded by the
	// watcher), last each event's last delivery among the watches, by
	// path.
	each, last map[string]*latencies
	opened     map[string]time.Duration // opening the path's watches
	writes     []time.Duration          // patch round trips, sorted
	cpu        cpuSnapshot              // over the timed events and the drain
	// contentTypes are the watch responses' Content-Type and count, by
	// path.
	contentTypes map[string]map[string]int
}

// watchResult is the watch section.
type watchResult struct {
	runs []watchRun
}

// watchPath is one way to reach the bench cluster, as a base config.
type watchPath struct {
	name string
	base *rest.Config
}

// measureWatch creates the watched ConfigMap, then measures every
// encoding with every number of watches: the watches of all paths are
// open at once and see the same patches, so both carry the same load.
func measureWatch(ctx context.Context, o *Options, e *env) (*watchResult, error) {
	cs := e.direct.clients[encGzip]
	if _, err := cs.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: watchNamespace}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", watchNamespace, err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: watchName, Labels: map[string]string{"app": "drover-bench"}},
		Data:       map[string]string{"app.properties": "greeting=hello\nrepeat=3\n", "mode": "bench"},
	}
	if _, err := cs.CoreV1().ConfigMaps(watchNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create configmap %s: %w", watchName, err)
	}
	paths := []watchPath{{pathDirect, e.cluster.RESTConfig()}, {pathDrover, e.droverCfg}}
	res := &watchResult{}
	for _, enc := range o.WatchEncodings {
		for _, n := range o.WatchWatchers {
			run, err := e.watchOnce(ctx, o, paths, enc, n)
			if err != nil {
				return res, fmt.Errorf("%s, %d watches: %w", enc, n, err)
			}
			e.log.Info("measured", "what", "watch", "encoding", enc, "watches", n,
				"direct_p99", fmtDur(quantile(run.each[pathDirect].lat, 0.99)),
				"drover_p99", fmtDur(quantile(run.each[pathDrover].lat, 0.99)),
				"missing", run.each[pathDirect].errors+run.each[pathDrover].errors)
			res.runs = append(res.runs, run)
		}
	}
	return res, nil
}

// watcher is one open watch and what it received.
type watcher struct {
	path    int
	w       watch.Interface
	arrived []time.Time // by event sequence number; zero: not received
	err     error
}

// watchOnce opens n watches per path (from a LIST's resourceVersion, as
// kubectl get -w and informers do), patches the ConfigMap watchWarmup +
// o.WatchEvents times at o.WatchRate, and waits for the last event.
func (e *env) watchOnce(ctx context.Context, o *Options, paths []watchPath, enc string, n int) (watchRun, error) {
	run := watchRun{encoding: enc, watchers: n, events: o.WatchEvents, opened: map[string]time.Duration{},
		contentTypes: map[string]map[string]int{}}
	mark := fmt.Sprintf("%s-%d", enc, n)
	total := watchWarmup + o.WatchEvents
	interval := time.Second / time.Duration(o.WatchRate)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Duration(total)*interval+time.Minute)
	defer cancel()

	var ws []*watcher
	defer func() {
		for _, w := range ws {
			w.w.Stop()
		}
	}()
	recs := make([]*contentTypes, len(paths))
	for i, p := range paths {
		recs[i] = &contentTypes{seen: map[string]int{}}
		cs, err := kubernetes.NewForConfig(watchConfig(p.base, enc, recs[i]))
		if err != nil {
			return run, err
		}
		start := time.Now()
		list, err := cs.CoreV1().ConfigMaps(watchNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return run, fmt.Errorf("LIST through the %s path: %w", p.name, err)
		}
		for range n {
			w, err := cs.CoreV1().ConfigMaps(watchNamespace).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
			if err != nil {
				return run, fmt.Errorf("watch through the %s path: %w", p.name, err)
			}
			ws = append(ws, &watcher{path: i, w: w, arrived: make([]time.Time, total)})
		}
		run.opened[p.name] = time.Since(start)
	}
	for i, p := range paths {
		run.contentTypes[p.name] = recs[i].snapshot()
		if err := checkContentTypes(enc, run.contentTypes[p.name]); err != nil {
			return run, fmt.Errorf("%s path: %w", p.name, err)
		}
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.err = readWatch(ctx, w.w, mark, w.arrived) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// The writer: one patch at a time, straight to the apiserver, each
	// stamped with its sequence number; its send time stays here.
	sent := make([]time.Time, total)
	patches := e.direct.clients[encGzip].CoreV1().ConfigMaps(watchNamespace)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var start time.Time
	var before cpuSnapshot
	var writeErr error
	for seq := range total {
		if seq == watchWarmup {
			start, before = time.Now(), snapshot(e.procs)
		}
		body := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, watchMark, mark+" "+strconv.Itoa(seq))
		sent[seq] = time.Now()
		if _, err := patches.Patch(ctx, watchName, types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
			writeErr = fmt.Errorf("patch %d: %w", seq, err)
			break
		}
		if seq >= watchWarmup {
			run.writes = append(run.writes, time.Since(sent[seq]))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	run.elapsed = time.Since(start)
	if writeErr == nil {
		select {
		case <-done:
		case <-time.After(watchDrain):
		case <-ctx.Done():
		}
	}
	cancel() // ends the watchers still waiting
	<-done
	run.cpu = snapshot(e.procs).since(before)
	if writeErr != nil {
		return run, writeErr
	}
	slices.Sort(run.writes)
	run.each, run.last = map[string]*latencies{}, map[string]*latencies{}
	for i, p := range paths {
		var arrived [][]time.Time
		var firstErr error
		for _, w := range ws {
			if w.path == i {
				arrived = append(arrived, w.arrived)
				firstErr = cmp.Or(firstErr, w.err)
			}
		}
		each, last := watchLatencies(sent, arrived, watchWarmup)
		if firstErr != nil {
			each.firstErr, last.firstErr = firstErr.Error(), firstErr.Error()
		}
		run.each[p.name], run.last[p.name] = each, last
	}
	return run, nil
}

// readWatch records when each event of the run mark arrives, by its
// sequence number, until the last one. Events come in order, once each:
// anything else is an error, and so is the watch ending early.
func readWatch(ctx context.Context, w watch.Interface, mark string, arrived []time.Time) error {
	prev := -1
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped after event %d of %d: %w", prev, len(arrived)-1, ctx.Err())
		case ev, ok := <-w.ResultChan():
			now := time.Now()
			if !ok {
				return fmt.Errorf("the watch ended after event %d of %d", prev, len(arrived)-1)
			}
			if ev.Type == watch.Error {
				return fmt.Errorf("ERROR event after event %d: %w", prev, apierrors.FromObject(ev.Object))
			}
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok {
				continue // not a ConfigMap
			}
			run, seq, err := parseMark(cm.Annotations[watchMark])
			if err != nil || run != mark {
				continue // a bookmark, or the object as it was before this run
			}
			if seq != prev+1 || seq >= len(arrived) {
				return fmt.Errorf("event %d after event %d", seq, prev)
			}
			arrived[seq], prev = now, seq
			if seq == len(arrived)-1 {
				return nil
			}
		}
	}
}

// parseMark reads "<run> <seq>".
func parseMark(s string) (string, int, error) {
	run, n, ok := strings.Cut(s, " ")
	if !ok || run == "" {
		return "", 0, fmt.Errorf("mark %q: not <run> <seq>", s)
	}
	seq, err := strconv.Atoi(n)
	if err != nil || seq < 0 {
		return "", 0, fmt.Errorf("mark %q: sequence number %q", s, n)
	}
	return run, seq, nil
}

// watchLatencies turns send and arrival times into each delivery's
// latency and each event's last delivery among the watches, for the
// events from `from` on. A delivery that never came counts as an error;
// an event not delivered to every watch has no last delivery.
func watchLatencies(sent []time.Time, arrived [][]time.Time, from int) (each, last *latencies) {
	each, last = &latencies{}, &latencies{}
	for seq := from; seq < len(sent); seq++ {
		var latest time.Duration
		complete := len(arrived) > 0
		for _, a := range arrived {
			if seq >= len(a) || a[seq].IsZero() {
				each.errors++
				complete = false
				continue
			}
			d := a[seq].Sub(sent[seq])
			each.lat = append(each.lat, d)
			latest = max(latest, d)
		}
		if complete {
			last.lat = append(last.lat, latest)
		} else {
			last.errors++
		}
	}
	slices.Sort(each.lat)
	slices.Sort(last.lat)
	if each.errors > 0 {
		each.firstErr = fmt.Sprintf("%d deliveries missing", each.errors)
		last.firstErr = each.firstErr
	}
	return each, last
}

// watchConfig is base as a watching client uses it: kubectl's JSON, or a
// controller's protobuf; no client timeout (a watch lasts), and every
// watch response's Content-Type recorded.
func watchConfig(base *rest.Config, enc string, rec *contentTypes) *rest.Config {
	c := benchConfig(base, encGzip)
	c.Timeout = 0
	// Set either way: since client-go 0.34 a typed client with no
	// ContentType asks for protobuf for built-in types.
	c.ContentType = runtime.ContentTypeJSON
	if enc == watchProtobuf {
		c.ContentType = runtime.ContentTypeProtobuf
		c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	}
	c.WrapTransport = rec.wrap
	return c
}

// contentTypes counts the Content-Type of the watch responses a client got.
type contentTypes struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *contentTypes) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && req.URL.Query().Get("watch") != "" {
			c.mu.Lock()
			c.seen[resp.Header.Get("Content-Type")]++
			c.mu.Unlock()
		}
		return resp, err
	})
}

func (c *contentTypes) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.seen)
}

// checkContentTypes makes sure the watches were answered in the encoding
// asked for: a protobuf watch that fell back to JSON would measure JSON.
func checkContentTypes(enc string, seen map[string]int) error {
	want := runtime.ContentTypeJSON
	if enc == watchProtobuf {
		want = runtime.ContentTypeProtobuf
	}
	if len(seen) == 0 {
		return errors.New("no watch response seen")
	}
	for ct := range seen {
		if !strings.HasPrefix(ct, want) {
			return fmt.Errorf("a %s watch answered with Content-Type %q", enc, ct)
		}
	}
	return nil
}
