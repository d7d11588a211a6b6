package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestParseMark(t *testing.T) {
	tests := []struct {
		in      string
		run     string
		seq     int
		wantErr bool
	}{
		{in: "json-100 0", run: "json-100", seq: 0},
		{in: "protobuf-1 519", run: "protobuf-1", seq: 519},
		{in: "", wantErr: true},
		{in: "json-1", wantErr: true},
		{in: " 3", wantErr: true},
		{in: "json-1 x", wantErr: true},
		{in: "json-1 -1", wantErr: true},
		{in: "json-1 1 2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			run, seq, err := parseMark(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMark(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil {
				if d := cmp.Diff([]any{tt.run, tt.seq}, []any{run, seq}); d != "" {
					t.Errorf("parseMark(%q) (-want +got):\n%s", tt.in, d)
				}
			}
		})
	}
}

func TestWatchLatencies(t *testing.T) {
	t0 := time.Now()
	at := func(ms ...int) []time.Time {
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			if m >= 0 {
				out[i] = t0.Add(time.Duration(m) * time.Millisecond)
			}
		}
		return out
	}
	msd := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	sent := at(0, 10, 20, 30)
	tests := []struct {
		name       string
		arrived    [][]time.Time
		from       int
		each, last latencies
	}{
		{
			name:    "one watch, the first event a warm-up",
			arrived: [][]time.Time{at(1, 12, 23, 34)},
			from:    1,
			each:    latencies{lat: msd(2, 3, 4)},
			last:    latencies{lat: msd(2, 3, 4)},
		},
		{
			name:    "two watches: each delivery, and each event's slower one",
			arrived: [][]time.Time{at(5, 11, 29, 31), at(1, 18, 21, 32)},
			each:    latencies{lat: msd(1, 1, 1, 1, 2, 5, 8, 9)},
			last:    latencies{lat: msd(2, 5, 8, 9)},
		},
		{
			name:    "a delivery missing: counted, and the event has no last",
			arrived: [][]time.Time{at(1, 11, -1, 31), at(2, 12, 22, 32)},
			from:    1,
			each:    latencies{lat: msd(1, 1, 2, 2, 2), errors: 1, firstErr: "1 deliveries missing"},
			last:    latencies{lat: msd(2, 2), errors: 1, firstErr: "1 deliveries missing"},
		},
		{
			name:    "a watch that stopped short",
			arrived: [][]time.Time{at(1, 11)},
			each:    latencies{lat: msd(1, 1), errors: 2, firstErr: "2 deliveries missing"},
			last:    latencies{lat: msd(1, 1), errors: 2, firstErr: "2 deliveries missing"},
		},
		{
			name: "no watches",
			last: latencies{errors: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			each, last := watchLatencies(sent, tt.arrived, tt.from)
			opt := cmp.AllowUnexported(latencies{})
			if d := cmp.Diff(&tt.each, each, opt, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("each (-want +got):\n%s", d)
			}
			if d := cmp.Diff(&tt.last, last, opt, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("last (-want +got):\n%s", d)
			}
		})
	}
}

func TestReadWatch(t *testing.T) {
	ev := func(mark string) watch.Event {
		return watch.Event{Type: watch.Modified, Object: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Annotations: map[string]string{watchMark: mark}}}}
	}
	tests := []struct {
		name     string
		events   []watch.Event
		stop     bool // the watch ends after the events
		wantErr  string
		received []bool
	}{
		{
			name: "the run's events in order; other runs and bookmarks skipped",
			events: []watch.Event{ev("json-1 2"), {Type: watch.Bookmark, Object: &corev1.ConfigMap{}},
				ev("run 0"), ev("run 1"), ev(""), ev("run 2")},
			received: []bool{true, true, true},
		},
		{name: "a gap", events: []watch.Event{ev("run 0"), ev("run 2")}, wantErr: "event 2 after event 0", received: []bool{true, false, false}},
		{name: "twice", events: []watch.Event{ev("run 0"), ev("run 0")}, wantErr: "event 0 after event 0", received: []bool{true, false, false}},
		{name: "past the end", events: []watch.Event{ev("run 0"), ev("run 1"), ev("run 3")}, wantErr: "event 3 after event 1", received: []bool{true, true, false}},
		{
			name:    "an ERROR event",
			events:  []watch.Event{ev("run 0"), {Type: watch.Error, Object: &metav1.Status{Status: metav1.StatusFailure, Message: "cluster unreachable", Code: 503}}},
			wantErr: "ERROR event after event 0: cluster unreachable", received: []bool{true, false, false},
		},
		{name: "ended early", events: []watch.Event{ev("run 0")}, stop: true, wantErr: "the watch ended after event 0 of 2", received: []bool{true, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := watch.NewFakeWithChanSize(len(tt.events), false)
			for _, e := range tt.events {
				fw.Action(e.Type, e.Object)
			}
			if tt.stop {
				fw.Stop()
			}
			arrived := make([]time.Time, 3)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := readWatch(ctx, fw, "run", arrived)
			if got := errString(err); tt.wantErr == "" && got != "" || !strings.Contains(got, tt.wantErr) {
				t.Errorf("readWatch error %q, want %q", got, tt.wantErr)
			}
			var got []bool
			for _, a := range arrived {
				got = append(got, !a.IsZero())
			}
			if d := cmp.Diff(tt.received, got); d != "" {
				t.Errorf("received (-want +got):\n%s", d)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCheckContentTypes(t *testing.T) {
	const pb, js = "application/vnd.kubernetes.protobuf;stream=watch", "application/json"
	tests := []struct {
		enc     string
		seen    map[string]int
		wantErr string
	}{
		{enc: watchJSON, seen: map[string]int{js: 100}},
		{enc: watchProtobuf, seen: map[string]int{pb: 1}},
		{enc: watchProtobuf, seen: map[string]int{pb: 99, js: 1}, wantErr: `a protobuf watch answered with Content-Type "application/json"`},
		{enc: watchJSON, seen: map[string]int{pb: 1}, wantErr: `a json watch answered with Content-Type "application/vnd.kubernetes.protobuf;stream=watch"`},
		{enc: watchJSON, seen: map[string]int{}, wantErr: "no watch response seen"},
	}
	for _, tt := range tests {
		t.Run(tt.enc+" "+tt.wantErr, func(t *testing.T) {
			if d := cmp.Diff(tt.wantErr, errString(checkContentTypes(tt.enc, tt.seen))); d != "" {
				t.Errorf("checkContentTypes (-want +got):\n%s", d)
			}
		})
	}
}

func TestWatchRows(t *testing.T) {
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
	res := &watchResult{runs: []watchRun{
		{
			encoding: watchJSON, watchers: 1,
			each: map[string]*latencies{pathDirect: msLat(0, 1, 2, 3), pathDrover: msLat(0, 2, 3, 4)},
			last: map[string]*latencies{pathDirect: msLat(0, 1, 2, 3), pathDrover: msLat(0, 2, 3, 4)},
		},
		{
			// p99 +60 ms: missed.
			encoding: watchProtobuf, watchers: 2,
			each: map[string]*latencies{pathDirect: msLat(0, 1, 1, 2, 2), pathDrover: msLat(0, 2, 2, 3, 70)},
			last: map[string]*latencies{pathDirect: msLat(0, 1, 2), pathDrover: msLat(0, 3, 70)},
		},
		{
			// A missing delivery is MISSED whatever the figures.
			encoding: watchJSON, watchers: 3, events: 1,
			each: map[string]*latencies{pathDirect: msLat(0, 1, 1, 1), pathDrover: msLat(1, 1, 1)},
			last: map[string]*latencies{pathDirect: msLat(0, 1), pathDrover: msLat(1)},
		},
	}}
	want := []cmpRow{
		{"JSON, 1 watch (n=3)", "p50 ms", "2.00", "3.00", "+1.00 ms", "", ""},
		{"JSON, 1 watch (n=3)", "p99 ms", "2.98", "3.98", "+1.00 ms", "≤ +50 ms", "ok"},
		{"protobuf, 2 watches (n=4)", "p50 ms", "1.50", "2.50", "+1.00 ms", "", ""},
		{"protobuf, 2 watches (n=4)", "p99 ms", "2.00", "67.99", "+65.99 ms", "≤ +50 ms", "MISSED"},
		{"protobuf, 2 watches, last of 2 (n=2)", "p50 ms", "1.50", "36.50", "+35.00 ms", "", ""},
		{"protobuf, 2 watches, last of 2 (n=2)", "p99 ms", "1.99", "69.33", "+67.34 ms", "", ""},
		{"JSON, 3 watches (n=2)", "p50 ms", "1.00", "1.00", "+0.00 ms", "", ""},
		{"JSON, 3 watches (n=2)", "p99 ms", "1.00", "1.00", "+0.00 ms", "≤ +50 ms", "MISSED"},
		{"JSON, 3 watches, last of 3 (n=0)", "p50 ms", "1.00", "0.00", "-1.00 ms", "", ""},
		{"JSON, 3 watches, last of 3 (n=0)", "p99 ms", "1.00", "0.00", "-1.00 ms", "", ""},
	}
	if d := cmp.Diff(want, watchRows(res)); d != "" {
		t.Errorf("watchRows (-want +got):\n%s", d)
	}
	if got := watchRows(&watchResult{}); len(got) != 0 {
		t.Errorf("watchRows of nothing: %v", got)
	}
	wantErrs := []string{"JSON, 3 watches Drover: 1 of 3 deliveries missing, first: boom"}
	if d := cmp.Diff(wantErrs, watchErrors(res)); d != "" {
		t.Errorf("watchErrors (-want +got):\n%s", d)
	}
}
