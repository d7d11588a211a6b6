package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/cmdline/cmdlinetest"
)

func noEnv(string) string { return "" }

// testCommand runs the agent's command with runs that record being called.
type testCommand struct {
	getenv   func(string) string
	runErr   error
	ran      []string
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	exitCode int
}

func (c *testCommand) execute(args ...string) {
	cmd := newCommand(NewOptions(c.getenv), func(context.Context, *Options) error {
		c.ran = append(c.ran, "agent")
		return c.runErr
	}, NewAuthEndpointOptions(), func(context.Context, *AuthEndpointOptions) error {
		c.ran = append(c.ran, "auth-endpoint")
		return c.runErr
	})
	c.exitCode = cmdline.Execute(context.Background(), cmd, args, &c.stdout, &c.stderr)
}

// TestEveryFlag passes every flag of the agent and of auth-endpoint, in
// each form, and checks that it set exactly one option to its value.
func TestEveryFlag(t *testing.T) {
	cases := cmdlinetest.FlagCases(t, newCommand(NewOptions(noEnv), nil, NewAuthEndpointOptions(), nil))
	if !slices.ContainsFunc(cases, func(c cmdlinetest.Case) bool { return c.Args[0] == "auth-endpoint" }) {
		t.Fatal("no auth-endpoint flags enumerated")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			o, ae := NewOptions(noEnv), NewAuthEndpointOptions()
			cmd := newCommand(o, nil, ae, nil)
			cmdlinetest.Stub(cmd)
			var stderr bytes.Buffer
			if code := cmdline.Execute(context.Background(), cmd, tc.Args, &bytes.Buffer{}, &stderr); code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
			}
			got := cmdlinetest.Changed(NewOptions(noEnv), o)
			for k, v := range cmdlinetest.Changed(NewAuthEndpointOptions(), ae) {
				got["auth-endpoint."+k] = v
			}
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

// TestEnvironment checks that each CATTLE_* variable the deploy manifests
// set reaches its option through the command line, and that a flag
// overrides it.
func TestEnvironment(t *testing.T) {
	tests := []struct {
		env, value, field, flag string
	}{
		{env: "CATTLE_SERVER", value: "https://drover.example.com:8443", field: "ServerURL", flag: "--server"},
		{env: "CATTLE_CA_CHECKSUM", value: strings.Repeat("ab", 32), field: "CAChecksum", flag: "--ca-checksum"},
		{env: "CATTLE_TOKEN_FILE", value: "/var/run/token", field: "TokenFile", flag: "--token-file"},
		{env: "CATTLE_AGENT_KIND", value: "node", field: "Kind", flag: "--kind"},
		{env: "CATTLE_NODE_NAME", value: "worker-1", field: "NodeName", flag: "--node-name"},
	}
	src, err := os.ReadFile("options.go")
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, m := range regexp.MustCompile(`getenv\("(CATTLE_[A-Z_]+)"\)`).FindAllStringSubmatch(string(src), -1) {
		read = append(read, m[1])
	}
	var listed []string
	for _, tc := range tests {
		listed = append(listed, tc.env)
	}
	slices.Sort(read)
	slices.Sort(listed)
	if diff := cmp.Diff(read, listed); diff != "" {
		t.Fatalf("CATTLE_* variables NewOptions reads vs this table (-read +listed):\n%s", diff)
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			getenv := func(k string) string {
				if k == tc.env {
					return tc.value
				}
				return ""
			}
			for _, args := range [][]string{nil, {tc.flag, "from-flag"}} {
				o := NewOptions(getenv)
				cmd := newCommand(o, nil, NewAuthEndpointOptions(), nil)
				cmdlinetest.Stub(cmd)
				var stderr bytes.Buffer
				if code := cmdline.Execute(context.Background(), cmd, args, &bytes.Buffer{}, &stderr); code != 0 {
					t.Fatalf("%v: exit code %d: %s", args, code, stderr.String())
				}
				want := map[string]string{tc.field: tc.value}
				if args != nil {
					want[tc.field] = "from-flag"
				}
				if diff := cmp.Diff(want, cmdlinetest.Changed(NewOptions(noEnv), o)); diff != "" {
					t.Errorf("%s=%s, args %v: options (-want +got):\n%s", tc.env, tc.value, args, diff)
				}
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CATTLE_SERVER": "https://drover:8443", "CATTLE_TOKEN_FILE": tokenFile}
	tests := []struct {
		name       string
		args       []string
		noEnv      bool
		runErr     error
		wantCode   int
		wantRan    []string
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "from the environment", wantRan: []string{"agent"}},
		{name: "flags as the README shows", noEnv: true, args: []string{"--server", "https://127.0.0.1:8443", "--token-file", tokenFile}, wantRan: []string{"agent"}},
		{name: "single-dash flags of old scripts", noEnv: true, args: []string{"-server", "https://127.0.0.1:8443", "-token-file=" + tokenFile}, wantRan: []string{"agent"}},
		{name: "auth-endpoint", args: []string{"auth-endpoint", "--listen", "127.0.0.1:6440"}, wantRan: []string{"auth-endpoint"}},
		{name: "auth-endpoint single-dash", args: []string{"auth-endpoint", "-listen", "127.0.0.1:6440", "-kubeconfig", "/k"}, wantRan: []string{"auth-endpoint"}},
		{name: "stray argument", args: []string{"version"}, wantCode: 2,
			wantStderr: `unknown command "version" for drover-agent (its commands: auth-endpoint); did you mean --version?`},
		{name: "version", noEnv: true, args: []string{"--version"}, wantStdout: "drover-agent version "},
		{name: "stray argument to auth-endpoint", args: []string{"auth-endpoint", "now"}, wantCode: 2, wantStderr: "Run 'drover-agent auth-endpoint --help' for usage."},
		{name: "unknown flag", args: []string{"--bogus=1"}, wantCode: 2, wantStderr: "unknown flag: --bogus"},
		{name: "agent flag given to auth-endpoint", args: []string{"auth-endpoint", "--server", "https://x"}, wantCode: 2, wantStderr: "unknown flag: --server"},
		{name: "invalid options", noEnv: true, wantCode: 2, wantStderr: "drover-agent: invalid options:\n--server"},
		{name: "invalid auth-endpoint options", args: []string{"auth-endpoint", "--listen", "6440"}, wantCode: 2, wantStderr: "drover-agent auth-endpoint: invalid options:\n--listen"},
		{name: "run fails", runErr: errors.New("no route"), wantCode: 1, wantRan: []string{"agent"}, wantStderr: "drover-agent: no route"},
		{name: "help lists auth-endpoint", args: []string{"--help"}, wantStdout: "auth-endpoint"},
		{name: "help lists the environment", args: []string{"-help"}, wantStdout: "CATTLE_SERVER"},
		{name: "auth-endpoint help", args: []string{"auth-endpoint", "-h"}, wantStdout: "--tls-cert-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &testCommand{runErr: tc.runErr, getenv: func(k string) string { return env[k] }}
			if tc.noEnv {
				c.getenv = noEnv
			}
			c.execute(tc.args...)
			if diff := cmp.Diff(tc.wantCode, c.exitCode); diff != "" {
				t.Errorf("exit code (-want +got):\n%s\nstderr:\n%s", diff, c.stderr.String())
			}
			if diff := cmp.Diff(tc.wantRan, c.ran); diff != "" {
				t.Errorf("ran (-want +got):\n%s", diff)
			}
			if !strings.Contains(c.stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", c.stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(c.stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", c.stderr.String(), tc.wantStderr)
			}
			if tc.wantCode == 2 && !strings.Contains(c.stderr.String(), "--help' for usage") {
				t.Errorf("stderr %q has no usage hint", c.stderr.String())
			}
		})
	}
}
