package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file in the data directory a server (or an offline
// command such as ResetAdminPassword) holds an exclusive lock on while it
// uses the directory; it holds the holder's pid.
const LockFile = "drover.lock"

// ErrDataDirInUse is returned when another process holds the data
// directory's lock.
var ErrDataDirInUse = errors.New("data directory in use")

// privateDataDir makes the data directory, or makes an existing one, the
// server's alone (0700). A server that is not root may not own it (a
// volume's root): it goes on then, since its drivers, if any, run as its
// own user anyway.
func privateDataDir(dir string, logger *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		if os.Geteuid() == 0 {
			return fmt.Errorf("data dir: %w", err)
		}
		logger.Warn("could not make the data directory private (0700)", "dir", dir, "err", err)
	}
	return nil
}

// lockDataDir takes the exclusive lock of dir (an flock of LockFile,
// released when the process ends however it ends) and writes the pid into
// the file. Another holder is ErrDataDirInUse, naming its pid. A file
// system without flock (some network file systems) is logged and not
// locked: the server then relies on the operator running one server per
// directory.
func lockDataDir(dir string, logger *slog.Logger) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case errors.Is(err, syscall.EWOULDBLOCK):
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		f.Close()
		return nil, fmt.Errorf("%w: %s holds %s (a running drover-server?)", ErrDataDirInUse, holder, path)
	case errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP):
		logger.Warn("the data directory's file system cannot lock; nothing stops a second server on it", "dir", dir, "err", err)
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return func() { f.Close() }, nil
}

// openDataDir makes dir private and locks it.
func openDataDir(dir string, logger *slog.Logger) (unlock func(), err error) {
	if err := privateDataDir(dir, logger); err != nil {
		return nil, err
	}
	return lockDataDir(dir, logger)
}
