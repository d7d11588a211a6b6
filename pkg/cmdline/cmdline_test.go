package cmdline

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/version"
)

type testOptions struct{ invalid error }

func (o *testOptions) Validate() error { return o.invalid }

func TestExecute(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		invalid    error
		runErr     error
		wantCode   int
		wantStderr string
		wantStdout string // prefix
	}{
		{name: "runs", wantCode: 0},
		{name: "run fails", runErr: errors.New("boom"), wantCode: 1, wantStderr: "bin: boom\n"},
		{name: "invalid options", invalid: errors.New("--x is bad"), wantCode: 2,
			wantStderr: "bin: invalid options:\n--x is bad\nRun 'bin --help' for usage.\n"},
		{name: "stray argument", args: []string{"extra"}, wantCode: 2,
			wantStderr: "bin: unexpected argument \"extra\": bin takes none\nRun 'bin --help' for usage.\n"},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: 2,
			wantStderr: "bin: unknown flag: --nope\nRun 'bin --help' for usage.\n"},
		{name: "help", args: []string{"--help"}, wantCode: 0},
		{name: "version", args: []string{"--version"}, wantCode: 0,
			wantStdout: "bin version " + version.Get().Version + "\ncommit: " + version.Get().Commit},
		{name: "single-dash version", args: []string{"-version"}, wantCode: 0, wantStdout: "bin version "},
		{name: "version before validation", args: []string{"--version"}, invalid: errors.New("--x is required"), wantCode: 0,
			wantStdout: "bin version "},
		{name: "a word naming a flag", args: []string{"version"}, wantCode: 2,
			wantStderr: "bin: unexpected argument \"version\": bin takes none; did you mean --version?\nRun 'bin --help' for usage.\n"},
		{name: "version with a stray argument", args: []string{"--version", "extra"}, wantCode: 2,
			wantStderr: "bin: unexpected argument \"extra\": bin takes none\nRun 'bin --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			run := func(context.Context, *testOptions) error { ran = true; return tc.runErr }
			cmd := &cobra.Command{Use: "bin", Args: NoArgs, RunE: RunE(&testOptions{invalid: tc.invalid}, run)}
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), cmd, tc.args, &stdout, &stderr)
			if diff := cmp.Diff(tc.wantCode, code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not start with %q", stdout.String(), tc.wantStdout)
			}
			wantRan := tc.invalid == nil && tc.wantCode != 2 && !strings.Contains(strings.Join(tc.args, " "), "help") &&
				!strings.Contains(strings.Join(tc.args, " "), "-version")
			if ran != wantRan {
				t.Errorf("ran = %v, want %v", ran, wantRan)
			}
		})
	}
}

// TestStrayArgumentWithSubcommands: a command with subcommands names the
// argument and its commands, and a subcommand still runs.
func TestStrayArgumentWithSubcommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantRan    string
		wantStderr string
	}{
		{name: "the root", wantRan: "bin"},
		{name: "the subcommand", args: []string{"reset"}, wantRan: "reset"},
		{name: "a stray word", args: []string{"version"}, wantCode: 2,
			wantStderr: "bin: unknown command \"version\" for bin (its commands: reset); did you mean --version?\nRun 'bin --help' for usage.\n"},
		{name: "a stray word after the subcommand", args: []string{"reset", "now"}, wantCode: 2,
			wantStderr: "bin reset: unexpected argument \"now\": bin reset takes none\nRun 'bin reset --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ran := ""
			root := &cobra.Command{Use: "bin", Args: NoArgs,
				RunE: RunE(&testOptions{}, func(context.Context, *testOptions) error { ran = "bin"; return nil })}
			root.AddCommand(&cobra.Command{Use: "reset", Args: NoArgs,
				RunE: RunE(&testOptions{}, func(context.Context, *testOptions) error { ran = "reset"; return nil })})
			var stdout, stderr bytes.Buffer
			code := Execute(context.Background(), root, tc.args, &stdout, &stderr)
			if diff := cmp.Diff(tc.wantCode, code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStderr, stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRan, ran); diff != "" {
				t.Errorf("ran (-want +got):\n%s", diff)
			}
		})
	}
}
