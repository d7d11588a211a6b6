package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// printedText is the demo's printed text: its commands (the indented
// lines that start with kubectl, curl, export or POD=) and the admin
// password.
type printedText struct {
	commands []string
	// export sets KUBECONFIG and pod sets POD, as a user's shell would
	// have done before the commands that follow them.
	export, pod string
	password    string
}

func parsePrinted(t *testing.T, text string) *printedText {
	t.Helper()
	p := &printedText{}
	for _, line := range strings.Split(text, "\n") {
		cmd, ok := strings.CutPrefix(line, "  ")
		if !ok {
			continue
		}
		if pw, ok := strings.CutPrefix(cmd, "admin login: username admin, password "); ok {
			p.password = pw
		}
		for _, start := range []string{"kubectl ", "curl ", "export ", "POD=", "kill "} {
			if strings.HasPrefix(cmd, start) {
				p.commands = append(p.commands, cmd)
			}
		}
	}
	p.export = p.find(t, `^export KUBECONFIG=\S+$`)
	p.pod = p.find(t, `^POD=\$\(kubectl .*\)$`)
	if p.password == "" {
		t.Fatal("no admin password in the printed text")
	}
	return p
}

// find returns the one printed command that matches re.
func (p *printedText) find(t *testing.T, re string) string {
	t.Helper()
	var found []string
	for _, c := range p.commands {
		if regexp.MustCompile(re).MatchString(c) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("printed commands matching %q: %q, want one (commands: %q)", re, found, p.commands)
	}
	return found[0]
}

// shell is cmd under sh as the user's shell would run it: after the
// export, and the POD assignment when it uses $POD; KUBECONFIG comes only
// from the export.
func (p *printedText) shell(ctx context.Context, cmd string) *exec.Cmd {
	script := "set -e\n" + p.export + "\n"
	if strings.Contains(cmd, "$POD") {
		script += p.pod + "\n"
	}
	c := exec.CommandContext(ctx, "sh", "-c", script+cmd)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			c.Env = append(c.Env, kv)
		}
	}
	// The group goes: kubectl too, not only sh.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	return c
}

// run runs cmd and returns its stdout and stderr.
func (p *printedText) run(ctx context.Context, cmd string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := p.shell(ctx, cmd)
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	return stdout.String(), stderr.String(), err
}

// mustRun runs the printed command matching re and returns its stdout.
func (p *printedText) mustRun(ctx context.Context, t *testing.T, re string) string {
	t.Helper()
	cmd := p.find(t, re)
	out, stderr, err := p.run(ctx, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", cmd, err, out, stderr)
	}
	return out
}

// background is a printed command that runs until the test ends it.
type background struct {
	mu      sync.Mutex
	lines   []string
	partial string
}

// start starts the printed command matching re; its output lines (stdout
// and stderr) are collected, and it is killed when the test ends.
func (p *printedText) start(ctx context.Context, t *testing.T, re string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	c := p.shell(ctx, p.find(t, re))
	b := &background{}
	c.Stdout, c.Stderr = b, b
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = c.Wait() })
	return b
}

// Write collects the output's lines (a write may end within one).
func (b *background) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(b.partial+string(data), "\n")
	b.lines = append(b.lines, lines[:len(lines)-1]...)
	b.partial = lines[len(lines)-1]
	return len(data), nil
}

func (b *background) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(append(b.lines, b.partial), "\n")
}

// waitNth waits for the n-th line matching re and returns it.
func (b *background) waitNth(ctx context.Context, re *regexp.Regexp, n int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		b.mu.Lock()
		seen := 0
		for _, l := range b.lines {
			if re.MatchString(l) {
				if seen++; seen == n {
					b.mu.Unlock()
					return l, nil
				}
			}
		}
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%d lines matching %s, want %d: %w", seen, re, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (b *background) waitLine(ctx context.Context, re *regexp.Regexp) (string, error) {
	return b.waitNth(ctx, re, 1)
}

// ourLeftovers lists what a cluster of this test process leaves behind
// (testbed names its network namespaces and cgroups drover-tb-<pid>-<seq>
// and the root end of the link dtb<pid in hex>-<seq>) and the processes
// whose command line mentions dir.
func ourLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	prefix := fmt.Sprintf("drover-tb-%d-", os.Getpid())
	namespaces, _ := filepath.Glob("/run/netns/" + prefix + "*")
	for _, ns := range namespaces {
		out = append(out, "network namespace "+ns)
	}
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/" + prefix + "*")
	for _, cg := range cgroups {
		var pids []string
		filepath.WalkDir(cg, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "cgroup.procs" {
				b, _ := os.ReadFile(path)
				pids = append(pids, strings.Fields(string(b))...)
			}
			return nil
		})
		out = append(out, fmt.Sprintf("cgroup %s with processes %v", cg, pids))
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	for _, l := range strings.Split(string(links), "\n") {
		if strings.Contains(l, fmt.Sprintf("dtb%x-", os.Getpid())) {
			out = append(out, "link "+l)
		}
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, path := range cmdlines {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) || err != nil {
			continue
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, dir) {
			out = append(out, "process "+filepath.Base(filepath.Dir(path))+": "+cl)
		}
	}
	return out
}
