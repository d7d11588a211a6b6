package main

import (
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
		{name: "no subset", modify: func(o *Options) { o.Tests = "" }, wantErr: "-tests: must not be empty"},
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
				for _, p := range []string{o.Dir, o.E2ETest, o.Kubectl, o.Tests} {
					if !filepath.IsAbs(p) {
						t.Errorf("%q is not absolute after Validate", p)
					}
				}
			}
		})
	}
}
