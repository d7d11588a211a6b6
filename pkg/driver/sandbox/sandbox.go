package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// helperName is the helper's argv[0]: what Init looks for.
const helperName = "drover-driver-sandbox"

// helperFailed is the helper's exit code when it could not start the driver.
const helperFailed = 125

// ErrSetup means the sandbox could not be built; the driver never ran.
var ErrSetup = errors.New("driver sandbox")

// Spec is one confined start of a driver. Paths must be absolute and free
// of symbolic links (filepath.EvalSymlinks).
type Spec struct {
	// UID and GID are the driver user's; neither may be 0.
	UID int `json:"uid"`
	GID int `json:"gid"`
	// Path is the driver's binary, Args its whole argv, Env its whole
	// environment and Dir its working directory.
	Path string   `json:"path"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	// ReadOnly and Writable are bind-mounted at their own paths, read-only
	// or writable (what the file modes allow), nosuid and nodev.
	ReadOnly []string `json:"readOnly"`
	Writable []string `json:"writable"`
	// Hide are covered in the driver's view: a directory by an empty tmpfs
	// of mode 0, a file by Blank. Paths that do not exist are skipped.
	Hide []string `json:"hide"`
	// Blank is an empty root-owned file of mode 0.
	Blank string `json:"blank"`
	// Parent is the pid of the process starting the driver: the helper
	// exits if that is no longer its parent.
	Parent int `json:"parent"`
}

func (s Spec) validate() error {
	switch {
	case s.UID <= 0 || s.GID <= 0:
		return fmt.Errorf("%w: the driver user must not be root (uid %d, gid %d)", ErrSetup, s.UID, s.GID)
	case s.Path == "" || len(s.Args) == 0 || s.Dir == "":
		return fmt.Errorf("%w: no binary, arguments or working directory", ErrSetup)
	case s.Parent <= 1:
		return fmt.Errorf("%w: no parent pid", ErrSetup)
	}
	return nil
}

// Start starts the helper for s (stdout and stderr go to out) and waits, at
// most timeout, until it has exec'd the driver or failed. When the process
// started, the returned command is set, also with an error: the caller
// stops it (its process group) and reaps it as it would the driver.
func Start(s Spec, out io.Writer, timeout time.Duration) (*exec.Cmd, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		// The server's own binary, whatever happened to its file since.
		Path: "/proc/self/exe", Args: []string{helperName, string(b)},
		Env: s.Env, Dir: "/", Stdout: out, Stderr: out, ExtraFiles: []*os.File{w},
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWNS},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: start the helper: %w", ErrSetup, err)
	}
	return cmd, readStatus(r, timeout)
}

// readStatus reads the helper's status pipe: "H" when Init took over, then
// an error text if it failed, then end of file (closed on exec, or on exit).
func readStatus(r *os.File, timeout time.Duration) error {
	if err := r.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: the helper did not start the driver within %s", ErrSetup, timeout)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrSetup, err)
	case len(b) == 0:
		return fmt.Errorf("%w: the server's binary did not run the helper (its main must call sandbox.Init first)", ErrSetup)
	case len(b) > 1:
		return fmt.Errorf("%w: %s", ErrSetup, b[1:])
	}
	return nil
}
