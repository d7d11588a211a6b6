package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// e2eRun is one run of the upstream e2e.test on one path.
type e2eRun struct {
	Path       string // "straight" or "drover": names the directory
	Bin        string // e2e.test
	Kubectl    string
	Kubeconfig string
	Focus      string
	Dir        string // the path's directory: log, report, HOME
	Timeout    time.Duration
	// Nodes: the cluster has real nodes, which the framework counts and
	// waits for; without, it is told there are none.
	Nodes bool
}

func (r e2eRun) reportPath() string { return filepath.Join(r.Dir, "report.json") }
func (r e2eRun) logPath() string    { return filepath.Join(r.Dir, "e2e.log") }

// args are e2e.test's flags: the kubeconfig's current context, no nodes
// (the framework then neither counts nor waits for schedulable ones) or,
// with real nodes, as many as are schedulable (the framework counts them),
// the embedded test manifests only, and a JSON report.
func (r e2eRun) args() []string {
	nodes := "--num-nodes=0"
	if r.Nodes {
		nodes = "--num-nodes=-1" // framework.DefaultNumNodes: count them
	}
	return []string{
		"--kubeconfig=" + r.Kubeconfig,
		"--kubectl-path=" + r.Kubectl,
		"--provider=skeleton",
		nodes,
		"--disable-log-dump",
		"--repo-root=" + r.Dir,
		"--e2e-output-dir=" + r.Dir,
		"--ginkgo.focus=" + r.Focus,
		"--ginkgo.json-report=" + r.reportPath(),
		"--ginkgo.timeout=" + r.Timeout.String(),
		"--ginkgo.no-color",
		"--ginkgo.v",
	}
}

// run runs e2e.test and reads its report. Failing specs make e2e.test exit
// non-zero, which is not an error here; a missing or unreadable report is.
// The process gets its own HOME (kubectl's cache and config go there) and
// dies with this one.
func (r e2eRun) run(ctx context.Context) (Report, error) {
	home := filepath.Join(r.Dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return Report{}, err
	}
	logf, err := os.Create(r.logPath())
	if err != nil {
		return Report{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, r.Bin, r.args()...)
	cmd.Dir = r.Dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// On cancellation, the whole group (kubectl children included) gets
	// SIGTERM, then SIGKILL.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	runErr := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group
	}
	if ctx.Err() != nil {
		return Report{}, fmt.Errorf("%s: e2e.test: %w", r.Path, context.Cause(ctx))
	}
	f, err := os.Open(r.reportPath())
	if err != nil {
		return Report{}, fmt.Errorf("%s: e2e.test wrote no report (%v; see %s): %w", r.Path, runErr, r.logPath(), err)
	}
	defer f.Close()
	rep, err := ReadReport(f)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %s: %w", r.Path, r.reportPath(), err)
	}
	return rep, nil
}
