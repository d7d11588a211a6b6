package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestSpawnedProcessIsSeenRunning: right after spawn, pid() finds the new
// process running and recognises it as the cluster's. The kernel sets a new
// program's command line a moment after the exec has begun, when
// exec.Cmd.Start has already returned; on a busy machine pid() found it
// empty and a freshly started kube-apiserver passed for exited.
func TestSpawnedProcessIsSeenRunning(t *testing.T) {
	c := &cluster{BinDir: "/bin", dir: t.TempDir()}
	for i := range 200 {
		// The loop keeps sh from replacing itself with its last command.
		if err := c.spawn("sh", "/bin/sh", []string{"-c", "while :; do sleep 1; done", c.dir}); err != nil {
			t.Fatal(err)
		}
		_, ok := c.pid("sh")
		b, err := os.ReadFile(c.path("sh.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		_ = syscall.Kill(-pid, syscall.SIGKILL) // spawn made it a session (and group) leader
		if !ok {
			t.Fatalf("spawn %d: the process just started (pid %d) passes for exited", i, pid)
		}
	}
}
