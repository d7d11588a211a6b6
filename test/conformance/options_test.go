package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	repo := t.TempDir()
	tb := t.TempDir()
	module := t.TempDir()
	files := []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Join(module, "go.mod"), 0o600},
		{filepath.Join(tb, "e2e.test"), 0o755},
		{filepath.Join(tb, "kubectl"), 0o755},
		{filepath.Join(tb, "not-executable"), 0o644},
		{filepath.Join(repo, "test", "conformance", "tests.txt"), 0o644},
		{filepath.Join(repo, "test", "conformance", "tests-nodes.txt"), 0o644},
		{filepath.Join(tb, "agnhost"), 0o755},
		{filepath.Join(tb, "busybox"), 0o755},
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, []byte("x\n"), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		modify  func(*Options)
		wantErr string // substring; empty means valid
	}{
		{name: "defaults", modify: func(*Options) {}},
		{name: "empty dir", modify: func(o *Options) { o.Dir = "" }, wantErr: "-dir must not be empty"},
		{name: "root dir", modify: func(o *Options) { o.Dir = "/" }, wantErr: "top-level"},
		{name: "module dir", modify: func(o *Options) { o.Dir = module }, wantErr: "go.mod"},
		{name: "no e2e.test", modify: func(o *Options) { o.E2ETest = filepath.Join(tb, "missing") }, wantErr: "run `make conformance-bins`"},
		{name: "e2e.test a directory", modify: func(o *Options) { o.E2ETest = tb }, wantErr: "not a regular file"},
		{name: "kubectl not executable", modify: func(o *Options) { o.Kubectl = filepath.Join(tb, "not-executable") }, wantErr: "not executable"},
		{name: "missing subset", modify: func(o *Options) { o.Tests = filepath.Join(repo, "nope.txt") }, wantErr: "-tests:"},
		{name: "nodes", modify: func(o *Options) { o.Nodes, o.Busybox = true, filepath.Join(tb, "busybox") }},
		{name: "nodes without agnhost", modify: func(o *Options) {
			o.Nodes, o.Busybox, o.Agnhost = true, filepath.Join(tb, "busybox"), filepath.Join(tb, "missing")
		}, wantErr: "-agnhost"},
		{name: "nodes without busybox", modify: func(o *Options) { o.Nodes, o.Busybox = true, filepath.Join(tb, "missing") }, wantErr: "-busybox"},
		{name: "no nodes, agnhost unused", modify: func(o *Options) { o.Agnhost = filepath.Join(tb, "missing") }},
		{name: "short timeout", modify: func(o *Options) { o.Timeout = time.Second }, wantErr: "-timeout"},
		{name: "bad log level", modify: func(o *Options) { o.LogLevel = "trace" }, wantErr: "log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions(repo, tb)
			tt.modify(o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if err == nil {
				for _, p := range []string{o.Dir, o.E2ETest, o.Kubectl, o.Tests, o.Agnhost} {
					if !filepath.IsAbs(p) {
						t.Errorf("%q is not absolute after Validate", p)
					}
				}
			}
		})
	}
}

// TestOptionsDefaultsByMode: the subset file and the timeout default to the
// part that runs unless given.
func TestOptionsDefaultsByMode(t *testing.T) {
	repo, tb := t.TempDir(), t.TempDir()
	for _, f := range []string{"tests.txt", "tests-nodes.txt", "other.txt"} {
		p := filepath.Join(repo, "test", "conformance", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"e2e.test", "kubectl", "agnhost", "busybox"} {
		if err := os.WriteFile(filepath.Join(tb, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args        []string
		wantTests   string
		wantTimeout time.Duration
	}{
		{args: nil, wantTests: "tests.txt", wantTimeout: time.Hour},
		{args: []string{"-nodes"}, wantTests: "tests-nodes.txt", wantTimeout: 2 * time.Hour},
		{args: []string{"-nodes", "-timeout", "90m"}, wantTests: "tests-nodes.txt", wantTimeout: 90 * time.Minute},
		{args: []string{"-timeout", "3h"}, wantTests: "tests.txt", wantTimeout: 3 * time.Hour},
		{args: []string{"-nodes", "-tests", filepath.Join(repo, "test", "conformance", "other.txt")}, wantTests: "other.txt", wantTimeout: 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o := NewOptions(repo, tb)
			o.Busybox = filepath.Join(tb, "busybox")
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			o.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := filepath.Base(o.Tests); got != tt.wantTests {
				t.Errorf("tests %s, want %s", got, tt.wantTests)
			}
			if o.Timeout != tt.wantTimeout {
				t.Errorf("timeout %v, want %v", o.Timeout, tt.wantTimeout)
			}
		})
	}
}
