package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/driver"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string // substring; empty: valid
		wantURL string
		// wantStateDir, when set, is the driver state directory after
		// Validate.
		wantStateDir string
	}{
		{name: "defaults", mod: func(*Options) {}, wantURL: "https://127.0.0.1:8443"},
		{name: "wildcard listen gets localhost URL, when allowed", mod: func(o *Options) { o.Listen, o.AllowLoopbackServerURL = "0.0.0.0:443", true },
			wantURL: "https://localhost:443"},
		{name: "explicit URL kept", mod: func(o *Options) { o.ServerURL = "https://drover.example.com" }, wantURL: "https://drover.example.com"},
		{name: "bad listen", mod: func(o *Options) { o.Listen = "8443" }, wantErr: "--listen"},
		{name: "http URL", mod: func(o *Options) { o.ServerURL = "http://x" }, wantErr: "--server-url"},
		{name: "URL with path", mod: func(o *Options) { o.ServerURL = "https://x/drover" }, wantErr: "--server-url"},
		{name: "half of the TLS files", mod: func(o *Options) { o.TLSCert = "a.crt" }, wantErr: "go together"},
		{name: "empty data dir", mod: func(o *Options) { o.DataDir = "" }, wantErr: "--data-dir"},
		{name: "zero session ttl", mod: func(o *Options) { o.SessionTTL = 0 }, wantErr: "--session-ttl"},
		{name: "kubeconfig ttl above max", mod: func(o *Options) { o.KubeconfigTTL = 100 * 24 * time.Hour }, wantErr: "must not exceed"},
		{name: "every interface, a loopback URL", mod: func(o *Options) { o.Listen, o.ServerURL = ":8443", "" }, wantErr: "loopback address"},
		{name: "an address, a loopback URL", mod: func(o *Options) { o.Listen, o.ServerURL = "10.1.2.3:8443", "https://127.0.0.1:8443" }, wantErr: "loopback address"},
		{name: "a loopback URL allowed", mod: func(o *Options) {
			o.Listen, o.ServerURL, o.AllowLoopbackServerURL = ":8443", "https://localhost:8443", true
		}},
		{name: "every interface, the URL of the machine", mod: func(o *Options) { o.Listen, o.ServerURL = ":8443", "https://drover.example.com" }},
		{name: "plugin ttl too short", mod: func(o *Options) { o.PluginTTL = time.Second }, wantErr: "--plugin-token-ttl must be between"},
		{name: "plugin ttl too long", mod: func(o *Options) { o.PluginTTL = 2 * time.Hour }, wantErr: "--plugin-token-ttl must be between"},
		{name: "plugin ace ttl below plugin ttl", mod: func(o *Options) { o.PluginACETTL = time.Minute }, wantErr: "--plugin-ace-token-ttl"},
		{name: "plugin ace ttl above max", mod: func(o *Options) { o.PluginACETTL = 100 * 24 * time.Hour }, wantErr: "--plugin-ace-token-ttl"},
		{name: "negative registration ttl", mod: func(o *Options) { o.RegistrationTTL = -time.Second }, wantErr: "--registration-ttl"},
		{name: "metrics listener", mod: func(o *Options) { o.MetricsListen = "127.0.0.1:9091" }, wantURL: "https://127.0.0.1:8443"},
		{name: "bad metrics listener", mod: func(o *Options) { o.MetricsListen = "9091" }, wantErr: "--metrics-listen"},
		{name: "group refresh off", mod: func(o *Options) { o.GroupRefreshInterval = 0 }, wantURL: "https://127.0.0.1:8443"},
		{name: "group refresh too often", mod: func(o *Options) { o.GroupRefreshInterval = time.Second }, wantErr: "--group-refresh-interval"},
		{name: "negative group refresh", mod: func(o *Options) { o.GroupRefreshInterval = -time.Minute }, wantErr: "--group-refresh-interval"},
		{name: "bad log level", mod: func(o *Options) { o.LogLevel = "loud" }, wantErr: "--log-level"},
		{name: "driver state beside the data dir", mod: func(o *Options) { o.DataDir = "/var/lib/drover/" }, wantStateDir: "/var/lib/drover-drivers"},
		{name: "driver state given", mod: func(o *Options) { o.DriverStateDir = "/srv/drivers" }, wantStateDir: "/srv/drivers"},
		// Only a root server refuses it, at start (pkg/driver): one that is
		// not root runs drivers as its own user anyway.
		{name: "driver state inside the data dir", mod: func(o *Options) { o.DataDir, o.DriverStateDir = "/data", "/data/driver-state" },
			wantStateDir: "/data/driver-state"},
		{name: "drivers as root", mod: func(o *Options) { o.DriverUID = 0 }, wantErr: "--driver-uid"},
		{name: "drivers in root's group", mod: func(o *Options) { o.DriverGID = 0 }, wantErr: "--driver-gid"},
		{name: "trusted proxies", mod: func(o *Options) { o.TrustedProxies = "10.0.0.0/8, 192.0.2.9,2001:db8::/32" }, wantURL: "https://127.0.0.1:8443"},
		{name: "bad trusted proxy", mod: func(o *Options) { o.TrustedProxies = "10.0.0.0/33" }, wantErr: "--trusted-proxies"},
		{name: "Forwarded header", mod: func(o *Options) { o.ClientAddressHeader = "forwarded" }, wantURL: "https://127.0.0.1:8443"},
		{name: "other client address header", mod: func(o *Options) { o.ClientAddressHeader = "X-Real-IP" }, wantErr: "--client-address-header"},
		{name: "zero connections", mod: func(o *Options) { o.MaxConnections = 0 }, wantErr: "--max-connections must"},
		{name: "zero per address", mod: func(o *Options) { o.MaxConnectionsPerAddress = 0 }, wantErr: "--max-connections-per-address"},
		{name: "zero agents", mod: func(o *Options) { o.MaxAgentConnections = 0 }, wantErr: "--max-agent-connections"},
		{name: "zero body timeout", mod: func(o *Options) { o.RequestBodyTimeout = 0 }, wantErr: "--request-body-timeout"},
		{name: "zero body rate", mod: func(o *Options) { o.RequestBodyMinRate = 0 }, wantErr: "--request-body-min-rate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions()
			tc.mod(o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
			if tc.wantURL != "" && o.ServerURL != tc.wantURL {
				t.Errorf("ServerURL = %q, want %q", o.ServerURL, tc.wantURL)
			}
			if tc.wantStateDir != "" && o.DriverStateDir != tc.wantStateDir {
				t.Errorf("DriverStateDir = %q, want %q", o.DriverStateDir, tc.wantStateDir)
			}
		})
	}
}

// TestDriverSandboxOptions: what a root server hides from drivers and what
// it shares with them come from the flags.
func TestDriverSandboxOptions(t *testing.T) {
	o := NewOptions()
	o.DataDir, o.SecretsKeyFile, o.TLSCert, o.TLSKey, o.CACert = "/data", "/keys/secrets.key", "/tls/tls.crt", "/tls/tls.key", "/tls/ca.crt"
	o.AuditLog, o.DriverShare, o.DriverUID, o.DriverGID = "/var/log/drover-audit.log", " /opt/k8s/bin, ,/usr/local/bin/etcd", 71000, 72000
	want := driver.SandboxOptions{UID: 71000, GID: 72000, Share: []string{"/opt/k8s/bin", "/usr/local/bin/etcd"},
		Hide: []string{"/data", "/keys/secrets.key", "/tls/tls.crt", "/tls/tls.key", "/tls/ca.crt", "/var/log/drover-audit.log"}}
	if diff := cmp.Diff(want, o.driverSandbox()); diff != "" {
		t.Errorf("driverSandbox (-want +got):\n%s", diff)
	}
	o.AuditLog = "-"
	if got := o.driverSandbox().Hide; len(got) != 5 {
		t.Errorf("hidden with the audit log on stdout: %v", got)
	}
}

// TestMakefileDataDir: `make run` and a bare drover-server use the same
// data directory by default, so that neither starts a second, empty store
// with a second admin.
func TestMakefileDataDir(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "DATA_DIR ?= "); ok {
			got = append(got, strings.TrimSpace(v))
		}
	}
	if diff := cmp.Diff([]string{NewOptions().DataDir}, got); diff != "" {
		t.Errorf("the Makefile's DATA_DIR and --data-dir's default (-binary +Makefile):\n%s", diff)
	}
}
