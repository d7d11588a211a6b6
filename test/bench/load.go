package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
)

// Where the bench's objects live: one small ConfigMap to GET, and the bulk
// ConfigMaps, alone in their namespace, to LIST.
const (
	getNamespace  = "bench-get"
	getName       = "small"
	listNamespace = "bench-list"
)

// getStats is one GET measurement.
type getStats struct {
	OK, Errors int
	FirstError string
	Elapsed    time.Duration
	P50, P99   time.Duration
}

func (s getStats) RPS() float64 { return float64(s.OK) / s.Elapsed.Seconds() }

// measureGets has workers GET the small ConfigMap back to back for d. A
// request in flight at the end is waited for and counted.
func measureGets(ctx context.Context, c rest.Interface, workers int, d time.Duration) getStats {
	lat := make([][]time.Duration, workers)
	var errCount atomic.Int64
	var firstErr atomic.Pointer[string]
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i := range workers {
		wg.Go(func() {
			lat[i] = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t := time.Now()
				if !t.Before(end) {
					return
				}
				_, err := c.Get().Namespace(getNamespace).Resource("configmaps").Name(getName).DoRaw(ctx)
				if err != nil {
					errCount.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				lat[i] = append(lat[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	s := getStats{Elapsed: time.Since(start), Errors: int(errCount.Load())}
	if p := firstErr.Load(); p != nil {
		s.FirstError = *p
	}
	all := slices.Concat(lat...)
	s.OK = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		s.P50 = all[len(all)*50/100]
		s.P99 = all[min(len(all)*99/100, len(all)-1)]
	}
	return s
}

// listStats is one bulk LIST measurement.
type listStats struct {
	Bytes      int64 // response bytes the client read (decoded when gzip)
	Lists      int   // complete LISTs
	Errors     int
	FirstError string
	Elapsed    time.Duration
}

func (s listStats) MBps() float64 { return float64(s.Bytes) / 1e6 / s.Elapsed.Seconds() }

// measureLists has streams workers LIST the bulk namespace back to back and
// counts the bytes read until d has passed; LISTs still running then are
// cancelled, and their bytes so far count.
func measureLists(ctx context.Context, c rest.Interface, streams int, d time.Duration) listStats {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n, lists, errCount atomic.Int64
	var firstErr atomic.Pointer[string]
	fail := func(err error) {
		if ctx.Err() != nil {
			return // cancelled at the end of the measurement
		}
		errCount.Add(1)
		msg := err.Error()
		firstErr.CompareAndSwap(nil, &msg)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range streams {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for ctx.Err() == nil {
				rc, err := c.Get().Namespace(listNamespace).Resource("configmaps").Stream(ctx)
				if err != nil {
					fail(err)
					continue
				}
				for {
					k, err := rc.Read(buf)
					n.Add(int64(k))
					if errors.Is(err, io.EOF) {
						lists.Add(1)
						break
					}
					if err != nil {
						fail(err)
						break
					}
				}
				rc.Close()
			}
		})
	}
	wg.Wait()
	s := listStats{Bytes: n.Load(), Lists: int(lists.Load()), Errors: int(errCount.Load()), Elapsed: time.Since(start)}
	if p := firstErr.Load(); p != nil {
		s.FirstError = *p
	}
	return s
}

// listOnce reads one complete LIST and returns its size in bytes.
func listOnce(ctx context.Context, c rest.Interface) (int64, error) {
	rc, err := c.Get().Namespace(listNamespace).Resource("configmaps").Stream(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		return n, fmt.Errorf("read LIST: %w", err)
	}
	return n, nil
}
