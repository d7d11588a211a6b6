package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Options are the demo's flags.
type Options struct {
	// Dir holds everything the demo writes; it is wiped at start.
	Dir string
	// Port is the server's port on the cluster's host address (the root
	// namespace's end of the cluster's link, where pods and this machine
	// reach it); 0 picks a free one.
	Port int
	// KubeconfigTTL is the lifetime of the token in Dir/kubeconfig.
	KubeconfigTTL time.Duration
	// LogLevel of the server (the agent pods log at the manifest's level).
	LogLevel string
	// Replicas, when more than 1, runs that many servers on a PostgreSQL
	// of the demo's own behind HAProxy (which takes Port).
	Replicas int
}

// NewOptions returns the defaults; repo is the module root.
func NewOptions(repo string) *Options {
	return &Options{
		Dir:           filepath.Join(repo, ".demo"),
		KubeconfigTTL: 24 * time.Hour,
		LogLevel:      "info",
		Replicas:      1,
	}
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "directory for the server data, the cluster, logs and kubeconfigs (wiped first)")
	fs.IntVar(&o.Port, "port", o.Port, "the server's port on the cluster's host address (0: a free port)")
	fs.DurationVar(&o.KubeconfigTTL, "kubeconfig-ttl", o.KubeconfigTTL, "lifetime of the token in the Drover kubeconfig")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level of the server: debug, info, warn or error")
	fs.IntVar(&o.Replicas, "replicas", o.Replicas, "server replicas on a PostgreSQL of the demo's own, behind HAProxy (1: one server on SQLite)")
}

// Validate checks the options and makes Dir absolute.
func (o *Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("-dir must not be empty"))
	} else if abs, err := filepath.Abs(o.Dir); err != nil {
		errs = append(errs, fmt.Errorf("-dir: %w", err))
	} else {
		o.Dir = abs
		// The directory is wiped: refuse the obvious disasters.
		home, _ := os.UserHomeDir()
		if abs == "/" || abs == home || abs == filepath.Dir(abs) {
			errs = append(errs, fmt.Errorf("-dir %s would wipe a top-level directory", abs))
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err == nil {
			errs = append(errs, fmt.Errorf("-dir %s holds a go.mod; refusing to wipe a module", abs))
		}
	}
	if o.Port < 0 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("-port %d must be between 0 (a free port) and 65535", o.Port))
	}
	if o.Replicas < 0 || o.Replicas > 9 {
		errs = append(errs, fmt.Errorf("-replicas %d must be between 1 and 9", o.Replicas))
	}
	if o.KubeconfigTTL < time.Minute {
		errs = append(errs, errors.New("-kubeconfig-ttl must be at least 1m"))
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-log-level %q must be debug, info, warn or error", o.LogLevel))
	}
	return errors.Join(errs...)
}
