package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		"CATTLE_SERVER": "https://drover:8443", "CATTLE_CA_CHECKSUM": strings.Repeat("a", 64),
		"CATTLE_TOKEN_FILE": "/t", "CATTLE_AGENT_KIND": "node", "CATTLE_NODE_NAME": "n1",
	}
	got := NewOptions(func(k string) string { return env[k] })
	want := &Options{
		ServerURL: "https://drover:8443", CAChecksum: strings.Repeat("a", 64), TokenFile: "/t",
		Kind: "node", NodeName: "n1", BackoffMax: 30 * time.Second, TokenTTL: 24 * time.Hour, LogLevel: "info",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewOptions (-want +got):\n%s", diff)
	}
	def := NewOptions(func(string) string { return "" })
	if def.TokenFile != "/cattle-credentials/token" || def.Kind != "cluster" {
		t.Errorf("defaults: token file %q, kind %q", def.TokenFile, def.Kind)
	}
}

func TestValidate(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func() *Options {
		o := NewOptions(func(string) string { return "" })
		o.ServerURL, o.TokenFile, o.CAChecksum = "https://drover:8443", tokenFile, strings.Repeat("0f", 32)
		return o
	}
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"valid cluster agent", func(*Options) {}, ""},
		{"valid node agent", func(o *Options) { o.Kind, o.NodeName = "node", "n1" }, ""},
		{"no checksum means system roots", func(o *Options) { o.CAChecksum = "" }, ""},
		{"http server", func(o *Options) { o.ServerURL = "http://drover" }, "--server"},
		{"upper-case checksum", func(o *Options) { o.CAChecksum = strings.Repeat("0F", 32) }, ""},
		{"mixed-case checksum", func(o *Options) { o.CAChecksum = strings.Repeat("0f", 16) + strings.Repeat("0F", 16) }, ""},
		{"short checksum", func(o *Options) { o.CAChecksum = "abc" }, "--ca-checksum (CATTLE_CA_CHECKSUM) must be 64 hex characters (a SHA-256), not 3"},
		{"odd-length checksum", func(o *Options) { o.CAChecksum = strings.Repeat("0f", 32)[1:] }, "must be 64 hex characters (a SHA-256), not 63"},
		{"non-hex checksum", func(o *Options) { o.CAChecksum = "x" + strings.Repeat("0f", 32)[1:] }, "character 1 is not a hex digit"},
		{"node name not DNS", func(o *Options) { o.Kind, o.NodeName = "node", "Node_1" }, "--node-name"},
		{"node name with a long label", func(o *Options) { o.Kind, o.NodeName = "node", strings.Repeat("n", 64)+".example" }, ""},
		{"missing token file", func(o *Options) { o.TokenFile = "/nonexistent/token" }, "--token-file"},
		{"node agent without name", func(o *Options) { o.Kind = "node" }, "--node-name"},
		{"cluster agent with node name", func(o *Options) { o.NodeName = "n1" }, "node agents only"},
		{"unknown kind", func(o *Options) { o.Kind = "peer" }, "--kind"},
		{"health listen", func(o *Options) { o.HealthListen = ":8090" }, ""},
		{"bad health listen", func(o *Options) { o.HealthListen = "8090" }, "--health-listen"},
		{"tiny backoff", func(o *Options) { o.BackoffMax = time.Millisecond }, "--backoff-max"},
		{"tiny token ttl", func(o *Options) { o.TokenTTL = time.Minute }, "--token-ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := valid()
			tc.mod(o)
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAuthEndpointValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*AuthEndpointOptions)
		wantErr string
	}{
		{"defaults", func(*AuthEndpointOptions) {}, ""},
		{"bad listen", func(o *AuthEndpointOptions) { o.Listen = "6440" }, "--listen"},
		{"bad level", func(o *AuthEndpointOptions) { o.LogLevel = "x" }, "--log-level"},
		{"no TLS", func(o *AuthEndpointOptions) { o.TLSKeyFile = "" }, "only TLS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := NewAuthEndpointOptions()
			tc.mod(o)
			err := o.Validate()
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
