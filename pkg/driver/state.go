package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The state directory (Options.StateDir) is the drivers', outside the
// server's data directory:
//
//	<state>/            root, 0711 (0700 unsandboxed)
//	  home/             root, 0711
//	    <name>/         the driver user, 0700: the driver's HOME
//	  run/              root, 0711
//	    drover-driver-<name>-N/   root:<driver gid>, 0750, one per launch
//	      driver        root:<driver gid>, 0550: the verified copy
//	      blank         root, 0000: covers hidden files in the sandbox
//	      tmp/          the driver user, 0700: TMPDIR, the socket
//
// Only root can change what leads to a driver's binary; the driver user
// can write its home and its tmp only.

// prepareStateRoots makes the state directory and its home/ and run/, owned
// by the server, which the driver user may pass but not list.
func prepareStateRoots(dir string, sb *SandboxOptions) error {
	mode := os.FileMode(0o700)
	if sb != nil {
		mode = 0o711
	}
	for _, d := range []string{dir, filepath.Join(dir, "home"), filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, mode); err != nil {
			return err
		}
		if sb != nil {
			if err := os.Lchown(d, 0, 0); err != nil {
				return err
			}
		}
		if err := os.Chmod(d, mode); err != nil {
			return err
		}
	}
	return nil
}

// prepareHome makes a driver's HOME, the driver user's. Only the directory
// itself is handed over: walking what a driver left there as root would let
// it point the walk elsewhere. (After --driver-uid changes, the admin hands
// the files over.)
func prepareHome(home string, sb *SandboxOptions) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if sb == nil {
		return nil
	}
	if err := os.Lchown(home, sb.UID, sb.GID); err != nil {
		return err
	}
	return os.Chmod(home, 0o700)
}

// makeRunDir makes a fresh run directory in root (0700, the server's).
func makeRunDir(root, name string) (string, error) {
	prefix := "drover-driver-" + name + "-"
	// A unix socket path has at most 107 bytes; a deep state dir would
	// overflow it, the system's temporary directory does not. (MkdirTemp
	// adds up to 10 digits to the prefix.)
	if len(filepath.Join(root, prefix+"1234567890", "tmp", "driver.sock")) > 100 {
		root = ""
	}
	return os.MkdirTemp(root, prefix)
}

// shareRunDir opens the run directory to the driver user: it may read and
// run the copy, and write tmp only.
func shareRunDir(runDir, bin, tmp string, sb *SandboxOptions) error {
	for _, f := range []struct {
		path     string
		uid, gid int
		mode     os.FileMode
	}{
		{runDir, 0, sb.GID, 0o750},
		{bin, 0, sb.GID, 0o550},
		{tmp, sb.UID, sb.GID, 0o700},
	} {
		if err := os.Lchown(f.path, f.uid, f.gid); err != nil {
			return err
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			return err
		}
	}
	blank, err := os.OpenFile(filepath.Join(runDir, "blank"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return blank.Close()
}

// checkOverlap refuses a state directory or share that is, holds or lies
// inside one of the server's hidden paths.
func checkOverlap(what, p string, hidden []string) error {
	for _, h := range hidden {
		if within(p, h) || within(h, p) {
			return fmt.Errorf("%s %s overlaps %s, which drivers must not see", what, p, h)
		}
	}
	return nil
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// resolve returns p absolute and, when it exists, without symbolic links.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return abs, nil
	}
	return real, err
}
