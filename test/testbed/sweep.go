package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A temporary cluster Dir records the pid of the test process in ownerFile.
// Stop removes the Dir, but a test process killed with SIGKILL cannot (its
// etcd and apiserver die with it through Pdeathsig); such a Dir holds about
// 120 MB (etcd preallocates its WAL). The first Start in a process removes
// the temporary Dirs whose owner is no longer alive.
const (
	tempDirPrefix = "drover-testbed-"
	ownerFile     = "testbed.owner"
)

var sweepOnce sync.Once

func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// sweepStaleDirs removes temporary Dirs in os.TempDir() left by test
// processes that died. A Dir without a readable owner file, or whose owner
// pid is alive (or reused), is left alone.
func sweepStaleDirs() {
	sweepOnce.Do(func() {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*"))
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, ownerFile))
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 || pid == os.Getpid() {
				continue
			}
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				if unmountUnder(d) == nil {
					_ = os.RemoveAll(d)
				}
			}
		}
	})
}

var sweepNodesOnce sync.Once

// sweepStaleNodes removes what clusters with real nodes of dead test
// processes left (a test process killed with SIGKILL cannot clean up; its
// containerd shims and containers outlive it by design): for every network
// namespace or cgroup named namePrefix<pid>-<seq> whose pid is gone, it kills
// the processes in the cgroup, removes the cgroups and deletes the namespace.
// Errors are ignored: a sweep is best effort, Start fails later if it
// matters.
func sweepStaleNodes() {
	sweepNodesOnce.Do(func() {
		names := map[string]bool{}
		entries, _ := os.ReadDir("/run/netns")
		for _, e := range entries {
			names[e.Name()] = true
		}
		hier, _ := cgroupHierarchies()
		for _, h := range hier {
			entries, _ := os.ReadDir(h)
			for _, e := range entries {
				if e.IsDir() {
					names[e.Name()] = true
				}
			}
		}
		for name := range names {
			rest, ok := strings.CutPrefix(name, namePrefix)
			if !ok {
				continue
			}
			pidText, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if err != nil || pid <= 0 || pid == os.Getpid() {
				continue
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				continue
			}
			_ = removeCgroup(hier, name, 10*time.Second)
			_ = deleteNetwork(name)
		}
	})
}

// unmountUnder detaches every mount point at or below dir in this mount
// namespace, deepest first. Real nodes mount only inside their own mount
// namespaces, so normally there is none; this is the safety net before a
// directory is removed (RemoveAll would otherwise descend into a container's
// root file system).
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// Field 5 is the mount point, with spaces and such octal-escaped.
		p := f[4]
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("testbed: unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
