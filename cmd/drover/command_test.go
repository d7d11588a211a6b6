package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/drover-dev/drover/pkg/cmdline"
)

// TestCommandLine: what drover refuses before it reads or sends anything.
func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no server yet", []string{"login"}, 2, "the server to log in to is required"},
		{"password on stdin needs a username", []string{"login", "https://d.example", "--password-stdin"}, 2, "--password-stdin needs --username"},
		{"a server URL with a path", []string{"login", "https://d.example/x"}, 2, "without a path"},
		{"two servers", []string{"login", "https://a.example", "https://b.example"}, 2, "accepts at most 1 arg"},
		{"an unknown output", []string{"whoami", "-o", "wide"}, 2, `--output "wide"`},
		{"not logged in", []string{"whoami"}, 1, "not logged in to any server"},
		{"logout when not logged in", []string{"logout"}, 1, "not logged in to any server"},
		{"no password flag exists", []string{"login", "https://d.example", "--password", "x"}, 2, "unknown flag: --password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"--config-dir", t.TempDir()}, c.args...)
			code := cmdline.Execute(context.Background(), newCommand(strings.NewReader("")), args, &out, &errb)
			if code != c.code || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d saying %q", code, errb.String(), c.code, c.want)
			}
		})
	}
}
