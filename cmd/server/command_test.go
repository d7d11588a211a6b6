package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/cmdline/cmdlinetest"
)

// TestEveryFlag passes every flag the command registers, in each form, and
// checks that it set exactly one option to its value.
func TestEveryFlag(t *testing.T) {
	fresh := func() commands {
		return commands{Server: NewOptions(), Reset: NewResetOptions(), Backup: &BackupOptions{}, Restore: &BackupOptions{}, Copy: &CopyOptions{}, Rotate: &RotateOptions{}}
	}
	cases := cmdlinetest.FlagCases(t, newCommand(fresh()))
	if !slices.ContainsFunc(cases, func(c cmdlinetest.Case) bool { return c.Args[0] == "reset-admin-password" }) {
		t.Fatal("no reset-admin-password flags enumerated")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c := fresh()
			cmd := newCommand(c)
			cmdlinetest.Stub(cmd)
			var stderr bytes.Buffer
			if code := cmdline.Execute(context.Background(), cmd, tc.Args, &bytes.Buffer{}, &stderr); code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
			}
			got := cmdlinetest.Changed(NewOptions(), c.Server)
			for k, v := range cmdlinetest.Changed(NewResetOptions(), c.Reset) {
				got["reset-admin-password."+k] = v
			}
			for name, o := range map[string]*BackupOptions{"backup": c.Backup, "restore": c.Restore} {
				for k, v := range cmdlinetest.Changed(&BackupOptions{DataDir: NewOptions().DataDir}, o) {
					got[name+"."+k] = v
				}
			}
			for k, v := range cmdlinetest.Changed(&CopyOptions{DataDir: NewOptions().DataDir}, c.Copy) {
				got["copy-to-postgres."+k] = v
			}
			for k, v := range cmdlinetest.Changed(&RotateOptions{DataDir: NewOptions().DataDir, Step: c.Rotate.Step}, c.Rotate) {
				got["rotate-ca."+k] = v
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

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		runErr     error
		wantCode   int
		wantRun    bool
		wantReset  bool
		wantStdout string // substring
		wantStderr string // substring
		env        string // $DROVER_DATABASE_URL
	}{
		{name: "rotate-ca with an unknown step", args: []string{"rotate-ca", "spin"}, wantCode: 2, wantStderr: "prepare, finish, abort or status"},
		{name: "a PostgreSQL store", args: []string{"--database-url=postgres://drover@db:5432/drover?sslmode=verify-full"}, wantRun: true},
		{name: "a password in the URL on the command line", args: []string{"--database-url=postgres://drover:hunter2@db/drover"},
			wantCode: 2, wantStderr: "process list"},
		{name: "a password in the URL's query on the command line", args: []string{"--database-url=postgres://db/drover?password=hunter2"},
			wantCode: 2, wantStderr: "password in its query"},
		{name: "a password in the URL from the environment", env: "postgres://drover:hunter2@db/drover", wantRun: true},
		{name: "replicas listening on every address need their peer URL", args: []string{"--listen=:8443", "--server-url=https://drover.example.com",
			"--database-url=postgres://db/drover"}, wantCode: 2, wantStderr: "--peer-url is required"},
		{name: "a replica's peer URL", args: []string{"--listen=:8443", "--server-url=https://drover.example.com",
			"--database-url=postgres://db/drover", "--peer-url=https://10.0.0.5:8443"}, wantRun: true},
		{name: "a peer URL that is not https", args: []string{"--database-url=postgres://db/drover", "--peer-url=http://10.0.0.5:8443"},
			wantCode: 2, wantStderr: "must be an https URL"},
		{name: "a peer URL without a database", args: []string{"--peer-url=https://10.0.0.5:8443"}, wantCode: 2, wantStderr: "needs --database-url"},
		{name: "not a PostgreSQL URL", args: []string{"--database-url=mysql://db/x"}, wantCode: 2, wantStderr: "must be postgres://"},
		{name: "a password file without a database", args: []string{"--database-password-file=/run/pw"}, wantCode: 2,
			wantStderr: "needs --database-url"},
		{name: "copy-to-postgres needs a database", args: []string{"copy-to-postgres"}, wantCode: 2, wantStderr: "--database-url (or $DROVER_DATABASE_URL) is required"},
		{name: "defaults run", wantRun: true},
		{name: "flags as the helm chart passes them", args: []string{"--data-dir=/data", "--listen=:8443", "--server-url=https://drover.example.com"}, wantRun: true},
		{name: "single-dash flags of old scripts", args: []string{"-data-dir", "/data", "-listen=:8443", "-server-url", "https://drover.example.com"}, wantRun: true},
		{name: "listening for others with a loopback URL", args: []string{"--listen=:8443"}, wantCode: 2, wantStderr: "loopback address"},
		{name: "stray argument", args: []string{"version"}, wantCode: 2, wantStderr: `"version"`},
		{name: "stray argument names the flag", args: []string{"version"}, wantCode: 2, wantStderr: "did you mean --version?"},
		{name: "version", args: []string{"--version"}, wantStdout: "drover-server version "},
		{name: "version names the commit and Go", args: []string{"--version"}, wantStdout: "\ngo: go1."},
		{name: "stray argument after flags", args: []string{"--listen", ":8443", "extra"}, wantCode: 2, wantStderr: "Run 'drover-server --help' for usage."},
		{name: "unknown flag", args: []string{"--bogus"}, wantCode: 2, wantStderr: "unknown flag: --bogus"},
		{name: "unknown single-dash flag", args: []string{"-bogus"}, wantCode: 2, wantStderr: "unknown flag: --bogus"},
		{name: "flag without its value", args: []string{"--listen"}, wantCode: 2, wantStderr: "needs an argument"},
		{name: "bad duration", args: []string{"--session-ttl=soon"}, wantCode: 2, wantStderr: "--session-ttl"},
		{name: "invalid options", args: []string{"--listen", "8443"}, wantCode: 2, wantStderr: "invalid options:\n--listen"},
		{name: "run fails", runErr: errors.New("port taken"), wantCode: 1, wantRun: true, wantStderr: "drover-server: port taken"},
		{name: "help", args: []string{"--help"}, wantStdout: "--driver-answer-timeout"},
		{name: "help names the unsandboxed drivers switch", args: []string{"--help"}, wantStdout: "--allow-unsandboxed-drivers"},
		{name: "single-dash help", args: []string{"-help"}, wantStdout: "--group-refresh-interval"},
		{name: "short help", args: []string{"-h"}, wantStdout: "--data-dir"},
		{name: "help lists the subcommand", args: []string{"--help"}, wantStdout: "reset-admin-password"},
		{name: "reset-admin-password", args: []string{"reset-admin-password", "--data-dir", "/data", "--password-stdin"}, wantReset: true},
		{name: "reset-admin-password needs --password-stdin", args: []string{"reset-admin-password"}, wantCode: 2,
			wantStderr: "--password-stdin is required"},
		{name: "reset-admin-password takes no password argument", args: []string{"reset-admin-password", "--password-stdin", "hunter2hunter2"},
			wantCode: 2, wantStderr: `unexpected argument "hunter2hunter2": drover-server reset-admin-password takes none`},
		{name: "a server flag given to reset-admin-password", args: []string{"reset-admin-password", "--listen", ":1"}, wantCode: 2,
			wantStderr: "unknown flag: --listen"},
		{name: "reset-admin-password fails", args: []string{"reset-admin-password", "--password-stdin"}, runErr: errors.New("in use"),
			wantCode: 1, wantReset: true, wantStderr: "drover-server reset-admin-password: in use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvDatabaseURL, tc.env)
			ran, reset := false, false
			run := func(context.Context, *Options) error { ran = true; return tc.runErr }
			runReset := func(context.Context, *ResetOptions) error { reset = true; return tc.runErr }
			var stdout, stderr bytes.Buffer
			code := cmdline.Execute(context.Background(), newCommand(commands{Server: NewOptions(), Run: run, Reset: NewResetOptions(),
				RunReset: runReset, Backup: &BackupOptions{}, Restore: &BackupOptions{}, Copy: &CopyOptions{}, Rotate: &RotateOptions{}}), tc.args, &stdout, &stderr)
			if diff := cmp.Diff(tc.wantCode, code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s\nstderr:\n%s", diff, stderr.String())
			}
			if ran != tc.wantRun || reset != tc.wantReset {
				t.Errorf("ran = %v, reset = %v; want %v, %v", ran, reset, tc.wantRun, tc.wantReset)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.wantStdout)
			}
			if tc.env == "" && strings.Contains(strings.Join(tc.args, " "), "database-url") && strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("stderr repeats the password: %s", stderr.String())
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
