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
	module := t.TempDir()
	if err := os.WriteFile(filepath.Join(module, "go.mod"), []byte("module example.com/m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		modify  func(*Options)
		wantErr string // substring; empty means valid
	}{
		{name: "defaults", modify: func(*Options) {}},
		{name: "port", modify: func(o *Options) { o.Port = 8443 }},
		{name: "highest port", modify: func(o *Options) { o.Port = 65535 }},
		{name: "empty dir", modify: func(o *Options) { o.Dir = "" }, wantErr: "-dir must not be empty"},
		{name: "root dir", modify: func(o *Options) { o.Dir = "/" }, wantErr: "top-level"},
		{name: "module dir", modify: func(o *Options) { o.Dir = module }, wantErr: "go.mod"},
		{name: "negative port", modify: func(o *Options) { o.Port = -1 }, wantErr: "-port -1"},
		{name: "port too high", modify: func(o *Options) { o.Port = 65536 }, wantErr: "-port 65536"},
		{name: "short ttl", modify: func(o *Options) { o.KubeconfigTTL = time.Second }, wantErr: "kubeconfig-ttl"},
		{name: "bad log level", modify: func(o *Options) { o.LogLevel = "trace" }, wantErr: "log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions(repo)
			tt.modify(o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if err == nil && !filepath.IsAbs(o.Dir) {
				t.Errorf("Dir = %q after Validate, want an absolute path", o.Dir)
			}
		})
	}
}
