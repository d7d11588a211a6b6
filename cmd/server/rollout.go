package main

import (
	"errors"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/rollout"
	"github.com/drover-dev/drover/pkg/version"
)

// autoVersion is --agent-version's default: see RolloutOptions.target.
const autoVersion = "auto"

// RolloutOptions say how the server rolls its agent image out to the
// clusters it manages (package rollout).
type RolloutOptions struct {
	Enabled     bool
	Version     string
	MaxInFlight int
	Timeout     time.Duration
}

// NewRolloutOptions returns the defaults: on, one cluster at a time.
func NewRolloutOptions() RolloutOptions {
	return RolloutOptions{Enabled: true, Version: autoVersion, MaxInFlight: rollout.DefaultMaxInFlight, Timeout: rollout.DefaultTimeout}
}

// Flags registers the options on fs.
func (r *RolloutOptions) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&r.Enabled, "agent-rollout", r.Enabled, "roll --agent-image out to the agents of connected clusters that run another image (their Deployment and DaemonSet), rolling back what does not connect")
	fs.StringVar(&r.Version, "agent-version", r.Version, "the version --agent-image's agent reports (its --version), which a roll waits for; "+
		"auto: this server's version when it is --agent-image's tag, else none (a roll is then judged by the new pods' readiness and a new connection)")
	fs.IntVar(&r.MaxInFlight, "agent-rollout-max-in-flight", r.MaxInFlight, "most clusters this server rolls at once")
	fs.DurationVar(&r.Timeout, "agent-rollout-timeout", r.Timeout, "how long the new agents of a cluster have to run, be ready and connect before the previous image is put back")
}

// Validate checks the options.
func (r *RolloutOptions) Validate() error {
	var errs []error
	if r.MaxInFlight < 1 {
		errs = append(errs, errors.New("--agent-rollout-max-in-flight must be at least 1"))
	}
	if r.Timeout < 10*time.Second {
		errs = append(errs, errors.New("--agent-rollout-timeout must be at least 10s"))
	}
	return errors.Join(errs...)
}

// target is what the server ships: image, and the version named, or with
// "auto" this server's own version when image is tagged with it (make
// images tags and stamps the agent image with the server's version).
func (r *RolloutOptions) target(image, serverVersion string) rollout.Target {
	v := r.Version
	if v == autoVersion {
		v = ""
		if serverVersion != version.Unknown && strings.HasSuffix(image, ":"+serverVersion) {
			v = serverVersion
		}
	}
	return rollout.Target{Image: image, Version: v}
}

// options are the rollout.Options of image, without the server's logger,
// clock and metrics.
func (r *RolloutOptions) options(image string) rollout.Options {
	return rollout.Options{Target: r.target(image, version.Get().Version), Enabled: r.Enabled,
		MaxInFlight: r.MaxInFlight, Timeout: r.Timeout}
}
