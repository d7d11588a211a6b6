package cmdline

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
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
			wantRan := tc.invalid == nil && tc.wantCode != 2 && !strings.Contains(strings.Join(tc.args, " "), "help")
			if ran != wantRan {
				t.Errorf("ran = %v, want %v", ran, wantRan)
			}
		})
	}
}
