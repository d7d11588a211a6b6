package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Options are the program's flags.
type Options struct {
	// Dir holds everything a run writes (server data, the cluster, logs,
	// kubeconfigs, the e2e reports); it is wiped at start.
	Dir string
	// E2ETest and Kubectl are the upstream binaries `make conformance-bins`
	// builds into the test bed directory.
	E2ETest string
	Kubectl string
	// Tests is the subset file (see tests.txt).
	Tests string
	// Timeout bounds the e2e run on each path (ginkgo's suite timeout).
	Timeout time.Duration
	// LogLevel of the server and the agent.
	LogLevel string
	// Nodes runs the real-node part: a cluster with two real nodes (root
	// only), the agents as pods, the subset of tests that need pods.
	Nodes bool
	// Agnhost and Busybox are the static programs the e2e images are
	// made of (-nodes only).
	Agnhost string
	Busybox string
	// StraightOnly runs the straight path alone and lists each test's
	// outcome: how a subset's candidates are checked.
	StraightOnly bool

	repo       string
	timeoutSet bool
}

// Defaults that depend on -nodes: the subset file and the bound of the e2e
// run on each path.
const (
	testsFile      = "tests.txt"
	testsNodesFile = "tests-nodes.txt"
	timeoutNoNodes = time.Hour
	timeoutNodes   = 2 * time.Hour
)

// NewOptions returns the defaults; repo is the module root and testbedDir
// the test bed binaries' directory.
func NewOptions(repo, testbedDir string) *Options {
	return &Options{
		Dir:      filepath.Join(repo, "bin", "conformance"),
		E2ETest:  filepath.Join(testbedDir, "e2e.test"),
		Kubectl:  filepath.Join(testbedDir, "kubectl"),
		Agnhost:  filepath.Join(testbedDir, "agnhost"),
		Busybox:  "/bin/busybox",
		Timeout:  timeoutNoNodes,
		LogLevel: "info",
		repo:     repo,
	}
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Dir, "dir", o.Dir, "directory for the server data, the cluster, logs, kubeconfigs and reports (wiped first)")
	fs.StringVar(&o.E2ETest, "e2e-test", o.E2ETest, "the upstream e2e.test binary (`make conformance-bins` builds it)")
	fs.StringVar(&o.Kubectl, "kubectl", o.Kubectl, "the kubectl the kubectl tests run (`make conformance-bins` builds the pinned one)")
	fs.StringVar(&o.Tests, "tests", o.Tests, "the subset file: one test's full name per line (default test/conformance/"+testsFile+", with -nodes "+testsNodesFile+")")
	fs.Func("timeout", fmt.Sprintf("bound of the e2e run on each path (default %v, with -nodes %v)", timeoutNoNodes, timeoutNodes), func(v string) error {
		d, err := time.ParseDuration(v)
		o.Timeout, o.timeoutSet = d, true
		return err
	})
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level of the server and the agent: debug, info, warn or error")
	fs.BoolVar(&o.Nodes, "nodes", o.Nodes, "the real-node part (root): a cluster with two real nodes, the agents as pods, the tests that need pods")
	fs.StringVar(&o.Agnhost, "agnhost", o.Agnhost, "with -nodes: the static agnhost the agnhost image holds (make conformance-nodes builds it)")
	fs.StringVar(&o.Busybox, "busybox", o.Busybox, "with -nodes: the static busybox the busybox, httpd and agnhost images hold")
	fs.BoolVar(&o.StraightOnly, "straight-only", o.StraightOnly, "run the straight path only and list each test's outcome (to check a subset's candidates)")
}

// Validate checks the options and makes the paths absolute.
func (o *Options) Validate() error {
	var errs []error
	if o.Tests == "" {
		o.Tests = filepath.Join(o.repo, "test", "conformance", testsFile)
		if o.Nodes {
			o.Tests = filepath.Join(o.repo, "test", "conformance", testsNodesFile)
		}
	}
	if o.Nodes && !o.timeoutSet {
		o.Timeout = timeoutNodes
	}
	if o.Dir == "" {
		errs = append(errs, errors.New("-dir must not be empty"))
	} else if abs, err := filepath.Abs(o.Dir); err != nil {
		errs = append(errs, fmt.Errorf("-dir: %w", err))
	} else {
		o.Dir = abs
		// The directory is wiped: refuse the obvious disasters.
		home, _ := os.UserHomeDir()
		if abs == home || abs == filepath.Dir(abs) {
			errs = append(errs, fmt.Errorf("-dir %s would wipe a top-level directory", abs))
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err == nil {
			errs = append(errs, fmt.Errorf("-dir %s holds a go.mod; refusing to wipe a module", abs))
		}
	}
	for _, f := range []struct {
		flag string
		path *string
		hint string
	}{
		{"-e2e-test", &o.E2ETest, "; run `make conformance-bins`"},
		{"-kubectl", &o.Kubectl, "; run `make conformance-bins`"},
		{"-tests", &o.Tests, ""},
		{"-agnhost", &o.Agnhost, "; run `make conformance-nodes`"},
		{"-busybox", &o.Busybox, "; run `make testbed-runtime`"},
	} {
		if !o.Nodes && (f.flag == "-agnhost" || f.flag == "-busybox") {
			continue
		}
		if err := absFile(f.path, f.flag == "-tests"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w%s", f.flag, err, f.hint))
		}
	}
	if o.Timeout < time.Minute {
		errs = append(errs, errors.New("-timeout must be at least 1m"))
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-log-level %q must be debug, info, warn or error", o.LogLevel))
	}
	return errors.Join(errs...)
}

// absFile makes *path absolute and checks that it is a regular file,
// executable unless plain.
func absFile(path *string, plain bool) error {
	if *path == "" {
		return errors.New("must not be empty")
	}
	abs, err := filepath.Abs(*path)
	if err != nil {
		return err
	}
	*path = abs
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", abs)
	case !plain && fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", abs)
	}
	return nil
}
