package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/cmdline/cmdlinetest"
)

// TestEveryFlag passes every flag the driver registers (none today: its
// settings come per call) in each form and checks that it set one option.
func TestEveryFlag(t *testing.T) {
	for _, tc := range cmdlinetest.FlagCases(t, newCommand(NewOptions(), nil)) {
		t.Run(tc.Name, func(t *testing.T) {
			o := NewOptions()
			cmd := newCommand(o, nil)
			cmdlinetest.Stub(cmd)
			var stderr bytes.Buffer
			if code := cmdline.Execute(context.Background(), cmd, append(tc.Args, "40123"), &bytes.Buffer{}, &stderr); code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
			}
			got := cmdlinetest.Changed(&Options{Addr: "40123"}, o)
			if len(got) != 1 {
				t.Fatalf("changed options %v, want exactly one", got)
			}
			for field, v := range got {
				if diff := cmp.Diff(tc.Value, v); diff != "" {
					t.Errorf("%s (-want +got):\n%s", field, diff)
				}
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantAddr   string
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "port", args: []string{"40123"}, wantAddr: "40123"},
		{name: "unix socket", args: []string{"unix:/tmp/x.sock"}, wantAddr: "unix:/tmp/x.sock"},
		{name: "no address", wantCode: 2, wantStderr: "invalid options:\nthe address to serve on is required"},
		{name: "two addresses", args: []string{"40123", "40124"}, wantCode: 2, wantStderr: `unexpected argument "40124"`},
		{name: "a word that is no address", args: []string{"version"}, wantCode: 2,
			wantStderr: "invalid options:\nlisten address \"version\" is neither a port, host:port nor unix:/path\nRun 'driver-local --help' for usage."},
		{name: "an address off loopback", args: []string{"10.0.0.1:80"}, wantCode: 2, wantStderr: "is not on loopback"},
		{name: "version", args: []string{"--version"}, wantStdout: "driver-local version "},
		{name: "version with a stray argument", args: []string{"--version", "40123", "x"}, wantCode: 2, wantStderr: `unexpected argument "x"`},
		{name: "unknown flag", args: []string{"--port", "40123"}, wantCode: 2, wantStderr: "unknown flag: --port"},
		{name: "help", args: []string{"-help"}, wantStdout: "driver-local <port | host:port | unix:/path>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran *Options
			run := func(_ context.Context, o *Options) error { ran = o; return nil }
			var stdout, stderr bytes.Buffer
			code := cmdline.Execute(context.Background(), newCommand(NewOptions(), run), tc.args, &stdout, &stderr)
			if diff := cmp.Diff(tc.wantCode, code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s\nstderr:\n%s", diff, stderr.String())
			}
			var gotAddr string
			if ran != nil {
				gotAddr = ran.Addr
			}
			if diff := cmp.Diff(tc.wantAddr, gotAddr); diff != "" {
				t.Errorf("address run with (-want +got):\n%s", diff)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.wantStderr)
			}
			if tc.wantCode == 2 && !strings.Contains(stderr.String(), "--help' for usage") {
				t.Errorf("stderr %q has no usage hint", stderr.String())
			}
		})
	}
}
