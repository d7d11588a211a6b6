package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupFS is where the cgroup hierarchies are mounted. The machines this
// runs on have cgroup v1 (hybrid: one directory per controller, and cgroup2
// at unified/); every hierarchy gets the same tree.
const cgroupFS = "/sys/fs/cgroup"

// cgroupHierarchies lists the mounted hierarchies: the directories of
// cgroupFS that hold a cgroup.procs (symbolic links such as cpu ->
// cpu,cpuacct are skipped, their target is listed).
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupFS)
	if err != nil {
		return nil, fmt.Errorf("testbed: list cgroup hierarchies: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(cgroupFS, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
			out = append(out, dir)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("testbed: no cgroup hierarchy under %s", cgroupFS)
	}
	return out, nil
}

// makeCgroup creates rel (e.g. "drover-tb-1-1/node1") in every hierarchy,
// parents first. A new cpuset cgroup gets its parent's cpus and mems, without
// which no process may join it.
func makeCgroup(hierarchies []string, rel string) error {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for _, h := range hierarchies {
		for i := range parts {
			dir := filepath.Join(h, filepath.Join(parts[:i+1]...))
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("testbed: create cgroup %s: %w", dir, err)
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				own := filepath.Join(dir, f)
				if b, err := os.ReadFile(own); err != nil || strings.TrimSpace(string(b)) != "" {
					continue
				}
				parent, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
				if err != nil {
					return fmt.Errorf("testbed: cgroup %s: %w", dir, err)
				}
				if err := os.WriteFile(own, parent, 0o644); err != nil {
					return fmt.Errorf("testbed: cgroup %s: %w", dir, err)
				}
			}
		}
	}
	return nil
}

// cgroupProcs returns the pids in rel and below, in any hierarchy.
func cgroupProcs(hierarchies []string, rel string) []int {
	seen := map[int]bool{}
	var out []int
	for _, h := range hierarchies {
		_ = filepath.WalkDir(filepath.Join(h, rel), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					out = append(out, pid)
				}
			}
			return nil
		})
	}
	return out
}

// removeCgroup kills every process in rel and below (containers, containerd
// shims, which outlive containerd by design, and anything they forked), then
// removes the cgroups, deepest first, in every hierarchy. It gives up after
// timeout and reports what is left.
func removeCgroup(hierarchies []string, rel string, timeout time.Duration) error {
	if rel == "" || strings.Contains(rel, "..") {
		return fmt.Errorf("testbed: refusing to remove cgroup %q", rel)
	}
	deadline := time.Now().Add(timeout)
	for {
		pids := cgroupProcs(hierarchies, rel)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testbed: processes %v in cgroup %s survive SIGKILL", pids, rel)
		}
		for _, pid := range pids {
			if pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var errs []error
	for _, h := range hierarchies {
		root := filepath.Join(h, rel)
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		slices.Reverse(dirs) // children before parents
		for _, d := range dirs {
			var err error
			for {
				// A cgroup whose last process just died can be busy for a moment.
				if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("testbed: remove cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// joinScript is the shell prologue of every process of a cluster with real
// nodes: it moves itself into the given cgroup of every hierarchy, then
// execs its arguments (nsenter, into the cluster's namespaces). Joining
// before exec means nothing the process forks can escape the cgroup, so
// removeCgroup finds everything.
func joinScript(hierarchies []string, rel string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, h := range hierarchies {
		fmt.Fprintf(&b, "echo $$ > %s\n", strconv.Quote(filepath.Join(h, rel, "cgroup.procs")))
	}
	b.WriteString(`exec "$@"` + "\n")
	return b.String()
}
