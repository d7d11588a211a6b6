package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/rollout"
)

// TestRolloutTarget: --agent-version auto is the server's own version when
// the image is tagged with it, and none otherwise (never a guess that
// would make every roll wait for a version the image does not report).
func TestRolloutTarget(t *testing.T) {
	tests := []struct {
		name, image, version, server string
		want                         rollout.Target
	}{
		{name: "make images: tagged with the server's version", image: "reg/drover-agent:v0.3.0", version: autoVersion, server: "v0.3.0",
			want: rollout.Target{Image: "reg/drover-agent:v0.3.0", Version: "v0.3.0"}},
		{name: "another tag: version unknown", image: "reg/drover-agent:v0.1.0", version: autoVersion, server: "v0.3.0",
			want: rollout.Target{Image: "reg/drover-agent:v0.1.0"}},
		{name: "an unstamped server", image: "reg/drover-agent:unknown", version: autoVersion, server: "unknown",
			want: rollout.Target{Image: "reg/drover-agent:unknown"}},
		{name: "named", image: "reg/drover-agent@sha256:abc", version: "v0.4.0", server: "v0.3.0",
			want: rollout.Target{Image: "reg/drover-agent@sha256:abc", Version: "v0.4.0"}},
		{name: "named empty: judged by readiness", image: "reg/drover-agent:v0.3.0", version: "", server: "v0.3.0",
			want: rollout.Target{Image: "reg/drover-agent:v0.3.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := RolloutOptions{Version: tc.version}
			if diff := cmp.Diff(tc.want, r.target(tc.image, tc.server)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRolloutFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    RolloutOptions
		wantErr string
	}{
		{name: "defaults: on, one at a time", want: RolloutOptions{Enabled: true, Version: autoVersion, MaxInFlight: 1, Timeout: 5 * time.Minute}},
		{name: "off", args: []string{"--agent-rollout=false"}, want: RolloutOptions{Version: autoVersion, MaxInFlight: 1, Timeout: 5 * time.Minute}},
		{name: "three in flight, 2m", args: []string{"--agent-rollout-max-in-flight", "3", "--agent-rollout-timeout", "2m", "--agent-version", "v1"},
			want: RolloutOptions{Enabled: true, Version: "v1", MaxInFlight: 3, Timeout: 2 * time.Minute}},
		{name: "none in flight", args: []string{"--agent-rollout-max-in-flight", "0"}, want: RolloutOptions{Enabled: true, Version: autoVersion, Timeout: 5 * time.Minute},
			wantErr: "--agent-rollout-max-in-flight must be at least 1"},
		{name: "a timeout too short for a pod to start", args: []string{"--agent-rollout-timeout", "1s"},
			want: RolloutOptions{Enabled: true, Version: autoVersion, MaxInFlight: 1, Timeout: time.Second}, wantErr: "--agent-rollout-timeout must be at least 10s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRolloutOptions()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			r.Flags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, r); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			err := r.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("Validate: %q, want %q", got, tc.wantErr)
			}
		})
	}
}
