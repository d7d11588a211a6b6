package testbed

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
				_ = os.RemoveAll(d)
			}
		}
	})
}
