package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseServeLine(t *testing.T) {
	tests := []struct {
		line    string
		want    string
		wantErr string // substring; empty means valid
	}{
		{line: "Starting to serve on 127.0.0.1:43401", want: "127.0.0.1:43401"},
		{line: "Starting to serve on 127.0.0.1:8001\n", want: "127.0.0.1:8001"},
		{line: "  Starting to serve on [::1]:8001", want: "[::1]:8001"},
		{line: "I0101 klog prefix] Starting to serve on 127.0.0.1:9", want: "127.0.0.1:9"},
		{line: "Starting to serve on 10.0.0.1:8001", wantErr: "not a loopback IP"},
		{line: "Starting to serve on localhost:8001", wantErr: "not a loopback IP"},
		{line: "Starting to serve on 127.0.0.1", wantErr: "missing port"},
		{line: "Starting to serve on 127.0.0.1:0", wantErr: "bad port"},
		{line: "Starting to serve on 127.0.0.1:http", wantErr: "bad port"},
		{line: "Starting to serve on 127.0.0.1:70000", wantErr: "bad port"},
		{line: "error: unable to listen", wantErr: "not a"},
		{line: "", wantErr: "not a"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := parseServeLine(tt.line)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("parseServeLine(%q) = %v", tt.line, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("parseServeLine(%q) = %q, %v; want an error containing %q", tt.line, got, err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("parseServeLine(%q) (-want +got):\n%s", tt.line, d)
			}
		})
	}
}

// TestStartKubectlProxy runs a stand-in kubectl (a shell script first on
// PATH) that prints what kubectl proxy prints, or exits without it.
func TestStartKubectlProxy(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		wantURL string
		wantErr string
	}{
		{
			name:    "serves",
			script:  "echo 'Starting to serve on 127.0.0.1:18001'\nexec sleep 60\n",
			wantURL: "http://127.0.0.1:18001",
		},
		{
			name:    "exits",
			script:  "echo 'error: listen tcp: address already in use' >&2\nexit 1\n",
			wantErr: "exited before printing",
		},
		{
			name:    "serves elsewhere",
			script:  "echo 'Starting to serve on 192.0.2.1:8001'\nexec sleep 60\n",
			wantErr: "not a loopback IP",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := filepath.Join(dir, "args")
			script := "#!/bin/sh\necho \"$@\" > " + args + "\n" + tt.script
			if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			kp, err := startKubectlProxy(ctx, "/k/config", filepath.Join(dir, "log"), slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("startKubectlProxy = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("startKubectlProxy: %v", err)
			}
			if exited, _ := kp.proc.Exited(); exited {
				t.Error("kubectl proxy exited while serving")
			}
			b, err := os.ReadFile(args)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff("--kubeconfig /k/config proxy --port=0 --address=127.0.0.1\n", string(b)); d != "" {
				t.Errorf("kubectl arguments (-want +got):\n%s", d)
			}
			rc := kp.target.clients[encGzip].CoreV1().RESTClient().Get().URL()
			if got := rc.Scheme + "://" + rc.Host; got != tt.wantURL {
				t.Errorf("target URL %q, want %q", got, tt.wantURL)
			}
			if kp.target.name != pathKubectlProxy {
				t.Errorf("target name %q", kp.target.name)
			}
			kp.stop()
			if exited, _ := kp.proc.Exited(); !exited {
				t.Error("kubectl proxy still running after stop")
			}
		})
	}
}

func TestThroughputRows(t *testing.T) {
	get := func(path string, n, ok int, p50, p99 time.Duration, errors int) result {
		return result{kind: "get", n: n, path: path, get: getStats{OK: ok, Errors: errors, FirstError: "boom", Elapsed: time.Second, P50: p50, P99: p99}}
	}
	list := func(path string, n int, mb int64) result {
		return result{kind: "list", n: n, encoding: encGzip, path: path, list: listStats{Bytes: mb * 1e6, Lists: 1, Elapsed: time.Second}}
	}
	const msec = time.Millisecond
	o := NewOptions()
	o.GetConcurrency, o.ListStreams, o.ListEncodings = intList{1, 32}, intList{1}, stringList{encGzip}
	r := &report{opts: o, results: []result{
		get(pathDirect, 1, 1000, 1000*time.Microsecond, 2*msec, 0),
		get(pathDirectImp, 1, 900, 1100*time.Microsecond, 2*msec, 0),
		get(pathKubectlProxy, 1, 700, 1400*time.Microsecond, 3*msec, 2),
		get(pathDrover, 1, 800, 1250*time.Microsecond, 3*msec, 0),
		// c=32 without kubectl proxy (it failed to start).
		get(pathDirect, 32, 4000, 8*msec, 20*msec, 0),
		get(pathDrover, 32, 2000, 16*msec, 30*msec, 0),
		list(pathDirect, 1, 100),
		list(pathKubectlProxy, 1, 80),
		list(pathDrover, 1, 40),
	}}
	want := []tputRow{
		{"GET c=1", "req/s", "1000", "900", "700", "800", "1.14×", "0.80×", "≥ 0.80×", "ok"},
		{"GET c=1", "p50 ms", "1.000", "1.100", "1.400", "1.250", "-0.150 ms", "+0.250 ms", "≤ +0.3 ms", "ok"},
		{"GET c=1", "p99 ms", "2.000", "2.000", "3.000", "3.000", "+0.000 ms", "+1.000 ms", "", ""},
		{"GET c=32", "req/s", "4000", "-", "-", "2000", "-", "0.50×", "≥ 0.80×", "MISSED"},
		{"GET c=32", "p50 ms", "8.000", "-", "-", "16.000", "-", "+8.000 ms", "(queueing)", ""},
		{"GET c=32", "p99 ms", "20.000", "-", "-", "30.000", "-", "+10.000 ms", "", ""},
		{"LIST gzip s=1", "MB/s", "100.0", "-", "80.0", "40.0", "0.50×", "0.40×", "≥ 0.50×", "MISSED"},
	}
	rows, errs := r.throughputRows()
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("throughputRows (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"GET c=1 kubectl proxy: 2 failed, first: boom"}, errs); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}

	var b strings.Builder
	r.printComparison(&b)
	lines := strings.Split(b.String(), "\n")
	if len(lines) < 12 {
		t.Fatalf("printComparison printed %d lines:\n%s", len(lines), b.String())
	}
	// The tabwriter aligns the columns; compare the words.
	for i, want := range []string{
		"",
		"measurement metric direct direct+imp kubectl proxy Drover Drover vs kubectl proxy Drover vs direct target",
		"GET c=1 req/s 1000 900 700 800 1.14× 0.80× ≥ 0.80× ok",
	} {
		if d := cmp.Diff(want, strings.Join(strings.Fields(lines[i]), " ")); d != "" {
			t.Errorf("line %d (-want +got):\n%s", i, d)
		}
	}
	for _, s := range []string{"\ntargets missed: 2 (", "\nerrors: GET c=1 kubectl proxy: 2 failed"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("printComparison output lacks %q:\n%s", s, b.String())
		}
	}
}
