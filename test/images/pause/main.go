// Command pause is the sandbox ("pause") container of the test bed's real
// nodes: it holds a pod's namespaces open and does nothing else. As PID 1 of
// the pod it reaps orphaned children and exits on SIGTERM or SIGINT. It must
// stay tiny and static (CGO_ENABLED=0): package images packs it alone.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
