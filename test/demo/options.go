package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Options are the demo's flags.
type Options struct {
	// Dir holds everything the demo writes; it is wiped at start.
	Dir string
	// Listen is the server's host:port; empty picks a free loopback port.
	Listen string
	// KubeconfigTTL is the lifetime of the token in Dir/kubeconfig.
	KubeconfigTTL time.Duration
	// LogLevel of the server and the agent.
	LogLevel string
}

// NewOptions returns the defaults; repo is the module root.
func NewOptions(repo string) *Options {
	return &Options{
		Dir:           filepath.Join(repo, ".demo"),
		KubeconfigTTL: 24 * time.Hour,
		LogLevel:      "info",
	}
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "directory for the server data, the cluster, logs and kubeconfigs (wiped first)")
	fs.StringVar(&o.Listen, "listen", o.Listen, "loopback host:port for the server (default: a free port)")
	fs.DurationVar(&o.KubeconfigTTL, "kubeconfig-ttl", o.KubeconfigTTL, "lifetime of the token in the Drover kubeconfig")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level of the server and the agent: debug, info, warn or error")
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
	if o.Listen != "" {
		host, _, err := net.SplitHostPort(o.Listen)
		if err != nil {
			errs = append(errs, fmt.Errorf("-listen %q must be host:port", o.Listen))
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			errs = append(errs, fmt.Errorf("-listen %q must be a loopback address", o.Listen))
		}
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
