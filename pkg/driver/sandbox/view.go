package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// bind is a path the driver may reach, held as a detached copy of its mount
// until it is put back at its own path.
type bind struct {
	path     string
	writable bool
	dir      bool
	fd       int
}

// buildView makes the driver's file system view in the helper's (private)
// mount namespace; see the package documentation.
func buildView(s Spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	// Copies of what the driver may reach, taken before anything covers
	// them.
	var binds []bind
	defer func() {
		for _, b := range binds {
			unix.Close(b.fd)
		}
	}()
	all := append(append([]string{}, s.ReadOnly...), s.Writable...)
	for i, p := range all {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%s is not an absolute path", p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, p, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("copy the mount of %s: %w", p, err)
		}
		binds = append(binds, bind{path: filepath.Clean(p), writable: i >= len(s.ReadOnly), dir: fi.IsDir(), fd: fd})
	}
	targets := make([]string, len(binds))
	for i, b := range binds {
		targets[i] = b.path
	}
	covers, err := coverPoints(targets, func(dir string) (bool, error) { return passable(dir, s.UID, s.GID) })
	if err != nil {
		return err
	}
	for _, c := range covers {
		if err := unix.Mount("tmpfs", c, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
			return fmt.Errorf("cover %s: %w", c, err)
		}
	}
	// Parents before children: the run directory before its tmp.
	sort.SliceStable(binds, func(i, j int) bool { return depth(binds[i].path) < depth(binds[j].path) })
	for _, b := range binds {
		if err := placeBind(b); err != nil {
			return err
		}
	}
	// Last, so that nothing put back above can show what is hidden.
	if err := hide(s.Hide, s.Blank); err != nil {
		return err
	}
	for _, c := range covers {
		if err := unix.Mount("", c, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("cover %s read-only: %w", c, err)
		}
	}
	return mountProc()
}

// hide covers the server's files: directories with an empty tmpfs of mode
// 0, files with blank.
func hide(paths []string, blank string) error {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("hide %s: %w", p, err)
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "mode=000,size=4k")
		} else {
			if blank == "" {
				return fmt.Errorf("hide %s: no blank file", p)
			}
			if err = unix.Mount(blank, p, "", unix.MS_BIND, ""); err == nil {
				err = unix.Mount("", p, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
			}
		}
		if err != nil {
			return fmt.Errorf("hide %s: %w", p, err)
		}
	}
	return nil
}

// coverPoints returns, for the targets, the topmost directories on the way
// to one that the driver user cannot pass (strict ancestors only), none
// inside another.
func coverPoints(targets []string, canPass func(dir string) (bool, error)) ([]string, error) {
	var covers []string
	for _, t := range targets {
		if !filepath.IsAbs(t) {
			return nil, fmt.Errorf("%s is not an absolute path", t)
		}
		for _, dir := range ancestors(t) {
			if covered(covers, dir) {
				break
			}
			ok, err := canPass(dir)
			if err != nil {
				return nil, err
			}
			if !ok {
				if dir == "/" {
					return nil, errors.New("the driver user cannot enter /")
				}
				covers = append(covers, dir)
				break
			}
		}
	}
	// Drop covers inside others (a later target may cover an ancestor of
	// an earlier cover).
	sort.Slice(covers, func(i, j int) bool { return depth(covers[i]) < depth(covers[j]) })
	var out []string
	for _, c := range covers {
		if !covered(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// ancestors lists the directories above p, from / down.
func ancestors(p string) []string {
	p = filepath.Clean(p)
	if p == "/" {
		return nil
	}
	out := []string{"/"}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := 1; i < len(parts); i++ {
		out = append(out, "/"+strings.Join(parts[:i], "/"))
	}
	return out
}

// covered reports whether p is one of covers or inside one.
func covered(covers []string, p string) bool {
	for _, c := range covers {
		if p == c || strings.HasPrefix(p, c+"/") {
			return true
		}
	}
	return false
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// passable reports whether uid (with gid, no other group) may search dir,
// by its mode bits. Symbolic links on the way are refused: the targets are
// resolved before.
func passable(dir string, uid, gid int) (bool, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return false, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return false, fmt.Errorf("%s is a symbolic link", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, fmt.Errorf("%s: no owner", dir)
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == uid:
		return perm&0o100 != 0, nil
	case int(st.Gid) == gid:
		return perm&0o010 != 0, nil
	}
	return perm&0o001 != 0, nil
}

// placeBind puts b's copy back at its path (made first inside a cover) and
// sets its flags.
func placeBind(b bind) error {
	if _, err := os.Lstat(b.path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(b.path), 0o755); err != nil {
			return fmt.Errorf("the way to %s: %w", b.path, err)
		}
		if b.dir {
			err = os.Mkdir(b.path, 0o755)
		} else {
			err = os.WriteFile(b.path, nil, 0o444)
		}
		if err != nil {
			return fmt.Errorf("mount point %s: %w", b.path, err)
		}
	}
	if err := unix.MoveMount(b.fd, "", unix.AT_FDCWD, b.path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount %s: %w", b.path, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV)
	if !b.writable {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", b.path, "", flags, ""); err != nil {
		return fmt.Errorf("mount %s: %w", b.path, err)
	}
	return nil
}

// mountProc mounts /proc afresh with hidepid=2: the driver sees the
// processes of its own user only. Before Linux 5.8 the option belonged to
// every proc mount of the pid namespace, the host's included, so there the
// uid boundary alone hides the server's /proc entries.
func mountProc() error {
	if !kernelAtLeast(5, 8) {
		return nil
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=2"); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	f := strings.SplitN(unix.ByteSliceToString(u.Release[:]), ".", 3)
	if len(f) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(f[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(f[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
