package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Options)
		wantErr string // substring; empty means valid
	}{
		{name: "defaults", modify: func(*Options) {}},
		{name: "profiling", modify: func(o *Options) { o.CPUProfileDir = "/tmp/prof" }},
		{name: "all encodings", modify: func(o *Options) { o.ListEncodings = stringList{encGzip, encIdentity, encIdentityHeader} }},
		{name: "short get", modify: func(o *Options) { o.GetDuration = 100 * time.Millisecond }, wantErr: "-get-duration"},
		{name: "long list", modify: func(o *Options) { o.ListDuration = 2 * time.Minute }, wantErr: "-list-duration"},
		{name: "negative warmup", modify: func(o *Options) { o.Warmup = -time.Second }, wantErr: "-warmup"},
		{name: "no concurrency", modify: func(o *Options) { o.GetConcurrency = nil }, wantErr: "-get-concurrency"},
		{name: "zero streams", modify: func(o *Options) { o.ListStreams = intList{0} }, wantErr: "-list-streams"},
		{name: "unknown encoding", modify: func(o *Options) { o.ListEncodings = stringList{"br"} }, wantErr: "-list-encodings"},
		{name: "object over the ConfigMap limit", modify: func(o *Options) { o.ObjectSize = 2 << 20 }, wantErr: "-object-size"},
		{name: "no objects", modify: func(o *Options) { o.Objects = 0 }, wantErr: "-objects"},
		{name: "bad log level", modify: func(o *Options) { o.ServerLogLevel = "trace" }, wantErr: "-server-log-level"},
		{name: "skip some", modify: func(o *Options) { o.Skip = stringList{secThroughput, secReconnect} }},
		{name: "skip unknown", modify: func(o *Options) { o.Skip = stringList{"gets"} }, wantErr: "-skip"},
		{name: "skip all", modify: func(o *Options) { o.Skip = slices.Clone(sections) }, wantErr: "nothing to run"},
		{name: "profiling without throughput", modify: func(o *Options) { o.CPUProfileDir = "/tmp/prof"; o.Skip = stringList{secThroughput} }, wantErr: "-cpuprofile-dir"},
		{name: "no failover reps", modify: func(o *Options) { o.FailoverReps = 0 }, wantErr: "-failover-reps"},
		{name: "too many agents", modify: func(o *Options) { o.ReconnectAgents = 1000 }, wantErr: "-reconnect-agents"},
		{name: "long pause", modify: func(o *Options) { o.ReconnectPauses = durationList{0, 2 * time.Minute} }, wantErr: "-reconnect-pauses"},
		{name: "no pauses", modify: func(o *Options) { o.ReconnectPauses = nil }, wantErr: "-reconnect-pauses"},
		{name: "no cold tokens", modify: func(o *Options) { o.ACEColdTokens = 0 }, wantErr: "-ace-cold-tokens"},
		{name: "watch only", modify: func(o *Options) { o.Skip = stringList{secThroughput, secACE, secFailover, secReconnect, secNodes} }},
		{name: "few watch events", modify: func(o *Options) { o.WatchEvents = 5 }, wantErr: "-watch-events"},
		{name: "zero watch rate", modify: func(o *Options) { o.WatchRate = 0 }, wantErr: "-watch-rate"},
		{name: "no watchers", modify: func(o *Options) { o.WatchWatchers = nil }, wantErr: "-watch-watchers"},
		{name: "too many watchers", modify: func(o *Options) { o.WatchWatchers = intList{1, 5000} }, wantErr: "-watch-watchers"},
		{name: "unknown watch encoding", modify: func(o *Options) { o.WatchEncodings = stringList{"cbor"} }, wantErr: "-watch-encodings"},
		{name: "no watch encodings", modify: func(o *Options) { o.WatchEncodings = nil }, wantErr: "-watch-encodings"},
		{name: "nodes only", modify: func(o *Options) { o.Skip = slices.Clone(envSections) }},
		{name: "no nodes", modify: func(o *Options) { o.Skip = stringList{secNodes} }},
		{name: "few execs", modify: func(o *Options) { o.NodesExecRuns = 5 }, wantErr: "-nodes-exec-runs"},
		{name: "huge file", modify: func(o *Options) { o.NodesForwardMB = 1024 }, wantErr: "-nodes-forward-mb"},
		{name: "no streams", modify: func(o *Options) { o.NodesForwardStreams = nil }, wantErr: "-nodes-forward-streams"},
		{name: "too many streams", modify: func(o *Options) { o.NodesForwardStreams = intList{1, 64} }, wantErr: "-nodes-forward-streams"},
		{name: "short forward", modify: func(o *Options) { o.NodesForwardDuration = 100 * time.Millisecond }, wantErr: "-nodes-forward-duration"},
		{name: "few lines", modify: func(o *Options) { o.NodesLogLines = 10 }, wantErr: "-nodes-log-lines"},
		{name: "slow ticker", modify: func(o *Options) { o.NodesLogInterval = 2 * time.Second }, wantErr: "-nodes-log-interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			tt.modify(o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	o := NewOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o.Flags(fs)
	if err := fs.Parse([]string{"-get-concurrency", "2, 8", "-list-encodings", "identity,identity-header"}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(intList{2, 8}, o.GetConcurrency); d != "" {
		t.Errorf("GetConcurrency (-want +got):\n%s", d)
	}
	if d := cmp.Diff(stringList{encIdentity, encIdentityHeader}, o.ListEncodings); d != "" {
		t.Errorf("ListEncodings (-want +got):\n%s", d)
	}
	if err := fs.Parse([]string{"-reconnect-pauses", "0, 2s", "-skip", "ace,failover"}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(durationList{0, 2 * time.Second}, o.ReconnectPauses); d != "" {
		t.Errorf("ReconnectPauses (-want +got):\n%s", d)
	}
	if d := cmp.Diff(stringList{secACE, secFailover}, o.Skip); d != "" {
		t.Errorf("Skip (-want +got):\n%s", d)
	}
	if err := fs.Parse([]string{"-skip", "throughput,watch,ace,plugin,replicas,footprint,failover,reconnect", "-nodes-forward-streams", "2,4", "-nodes-exec-runs", "30",
		"-nodes-log-interval", "80ms", "-watch-watchers", "1, 10", "-watch-encodings", "protobuf", "-watch-events", "200"}); err != nil {
		t.Fatal(err)
	}
	want := NewOptions()
	want.GetConcurrency, want.ListEncodings, want.ReconnectPauses = intList{2, 8}, stringList{encIdentity, encIdentityHeader}, durationList{0, 2 * time.Second}
	want.Skip = slices.Clone(envSections)
	want.NodesForwardStreams, want.NodesExecRuns, want.NodesLogInterval = intList{2, 4}, 30, 80*time.Millisecond
	want.WatchWatchers, want.WatchEncodings, want.WatchEvents = intList{1, 10}, stringList{watchProtobuf}, 200
	if d := cmp.Diff(want, o); d != "" {
		t.Errorf("options after the nodes flags (-want +got):\n%s", d)
	}
	if err := fs.Parse([]string{"-list-streams", "x"}); err == nil {
		t.Error("-list-streams x parsed without error")
	}
}

func TestRuns(t *testing.T) {
	o := NewOptions()
	for _, s := range sections {
		if !o.runs(s) {
			t.Errorf("defaults: section %s does not run", s)
		}
	}
	o.Skip = stringList{secACE}
	if o.runs(secACE) || !o.runs(secFailover) {
		t.Errorf("-skip ace: runs(ace)=%v runs(failover)=%v", o.runs(secACE), o.runs(secFailover))
	}
	o = NewOptions()
	o.CPUProfileDir = "/tmp/prof"
	for _, s := range sections {
		if got, want := o.runs(s), s == secThroughput; got != want {
			t.Errorf("profiling mode: runs(%s) = %v, want %v", s, got, want)
		}
	}
	for _, tt := range []struct {
		skip stringList
		want bool
	}{
		{nil, true},
		{stringList{secNodes}, true},
		{slices.Clone(envSections), false},
		{stringList{secThroughput, secACE, secFailover}, true},
	} {
		o := NewOptions()
		o.Skip = tt.skip
		if got := o.needsEnv(); got != tt.want {
			t.Errorf("-skip %v: needsEnv() = %v, want %v", tt.skip, got, tt.want)
		}
	}
}
