package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// statusFD is the helper's end of the status pipe (Start's ExtraFiles[0]).
const statusFD = 3

// Init must be the first call in main of every binary that launches
// drivers (the server; a test binary's TestMain). In the helper it builds
// the sandbox and execs the driver, or reports why not and exits: it never
// returns there. Anywhere else it returns at once.
func Init() {
	if len(os.Args) != 2 || os.Args[0] != helperName {
		return
	}
	// no_new_privs and the parent-death signal belong to a thread: the one
	// that sets them must be the one that execs.
	runtime.LockOSThread()
	status := os.NewFile(statusFD, "sandbox-status")
	if _, err := status.Write([]byte("H")); err != nil {
		os.Exit(helperFailed)
	}
	err := enter(os.Args[1])
	fmt.Fprintf(status, "%v", err)
	fmt.Fprintf(os.Stderr, "drover sandbox: %v\n", err)
	os.Exit(helperFailed)
}

// enter builds the driver's view, drops privileges and execs the driver. It
// returns only on failure.
func enter(arg string) error {
	var s Spec
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		return fmt.Errorf("read the spec: %w", err)
	}
	if err := s.validate(); err != nil {
		return err
	}
	if err := ownNamespace(s.Parent); err != nil {
		return err
	}
	if err := buildView(s); err != nil {
		return err
	}
	if err := dropPrivileges(s); err != nil {
		return err
	}
	if err := os.Chdir(s.Dir); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	// The status pipe closes on exec: that end of file is the success.
	unix.CloseOnExec(statusFD)
	for attempt := 0; ; attempt++ {
		err := syscall.Exec(s.Path, s.Args, s.Env)
		// A fork elsewhere in the server may briefly hold the fresh copy
		// open for writing ("text file busy"); that passes.
		if errors.Is(err, syscall.ETXTBSY) && attempt < 50 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		return fmt.Errorf("exec %s: %w", s.Path, err)
	}
}

// ownNamespace refuses to go on unless this process's mount namespace is
// not its parent's: every mount the helper makes must stay in the sandbox.
func ownNamespace(parent int) error {
	if os.Getppid() != parent {
		return errors.New("the server that started the driver is gone")
	}
	mine, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return fmt.Errorf("own mount namespace: %w", err)
	}
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", parent))
	if err != nil {
		return fmt.Errorf("the server's mount namespace: %w", err)
	}
	if mine == theirs {
		return errors.New("the helper shares the server's mount namespace; refusing to mount anything")
	}
	return nil
}

// dropPrivileges becomes the driver user for good: no supplementary groups,
// no capabilities, no way back through a setuid binary, and killed with
// the server (a change of uid clears the parent-death signal).
func dropPrivileges(s Spec) error {
	// package syscall's calls apply to every thread of the process.
	if err := syscall.Setgroups([]int{}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(s.GID, s.GID, s.GID); err != nil {
		return fmt.Errorf("setresgid %d: %w", s.GID, err)
	}
	if err := syscall.Setresuid(s.UID, s.UID, s.UID); err != nil {
		return fmt.Errorf("setresuid %d: %w", s.UID, err)
	}
	if syscall.Setuid(0) == nil || os.Geteuid() != s.UID || os.Getegid() != s.GID {
		return errors.New("privileges were not dropped")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("parent-death signal: %w", err)
	}
	if os.Getppid() != s.Parent {
		return errors.New("the server that started the driver is gone")
	}
	return nil
}
