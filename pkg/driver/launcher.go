package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/sandbox"
)

var (
	// ErrChecksum means a driver binary is not the one registered.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNoAnswer means a driver did not answer GetCapabilities in time.
	ErrNoAnswer = errors.New("driver did not answer")
)

// Address modes: how a driver is told where to listen.
const (
	// AddressUnix passes "unix:/path" of a socket in a directory only the
	// server and the driver can enter. Drivers built with package sdk understand it.
	AddressUnix = "unix"
	// AddressPort passes a bare port on 127.0.0.1, as kontainer-engine
	// drivers expect. Any local user could connect to it while it runs.
	AddressPort = "port"
)

// helperTimeout bounds how long the sandbox's helper (the server's own
// code) may take to build the sandbox and exec the driver.
const helperTimeout = 30 * time.Second

// launchSpec is one launch of one driver binary.
type launchSpec struct {
	Name     string
	Binary   string // registered path
	Checksum string // hex SHA-256 the binary must have
	Address  string // AddressUnix or AddressPort
	Home     string // HOME: kept across launches
	RunRoot  string // a fresh directory per launch is made in here
	LogPath  string // the driver's stdout and stderr are appended here
	// AnswerTimeout bounds the wait for GetCapabilities; StopGrace the
	// wait between SIGTERM and SIGKILL.
	AnswerTimeout time.Duration
	StopGrace     time.Duration
	// Sandbox confines the driver (package sandbox); nil runs it as the
	// server's user.
	Sandbox *SandboxOptions
}

// Client is a running driver. Close stops it; it is safe to call twice.
type Client struct {
	driverpb.DriverClient
	Name string

	conn   *grpc.ClientConn
	cmd    *exec.Cmd
	runDir string
	log    *os.File
	grace  time.Duration
	closed bool
}

// launch verifies the binary, starts it and waits until it answers. On any
// error nothing is left running and the run directory is gone.
func launch(ctx context.Context, s launchSpec) (_ *Client, err error) {
	if err := prepareHome(s.Home, s.Sandbox); err != nil {
		return nil, fmt.Errorf("driver %q: state directory: %w", s.Name, err)
	}
	runDir, err := makeRunDir(s.RunRoot, s.Name)
	if err != nil {
		return nil, fmt.Errorf("driver %q: run directory: %w", s.Name, err)
	}
	c := &Client{Name: s.Name, runDir: runDir, grace: s.StopGrace}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	// The copy is what runs: the registered file could change between a
	// check and the exec, the private copy cannot.
	bin := filepath.Join(runDir, "driver")
	if err := copyVerified(s.Binary, bin, s.Checksum); err != nil {
		return nil, fmt.Errorf("driver %q: %w", s.Name, err)
	}
	tmp := filepath.Join(runDir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	if s.Sandbox != nil {
		if err := shareRunDir(runDir, bin, tmp, s.Sandbox); err != nil {
			return nil, fmt.Errorf("driver %q: run directory: %w", s.Name, err)
		}
	}
	arg, target, err := address(s.Address, tmp)
	if err != nil {
		return nil, fmt.Errorf("driver %q: %w", s.Name, err)
	}
	if c.log, err = os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	fmt.Fprintf(c.log, "==== %s: starting driver %s\n", time.Now().UTC().Format(time.RFC3339), s.Name)
	if err := c.start(bin, arg, tmp, s); err != nil {
		return nil, fmt.Errorf("driver %q: start: %w", s.Name, err)
	}
	// Retry the connection soon: the driver is starting, and gRPC's usual
	// first backoff (1 s) would be most of a launch.
	c.conn, err = grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithNoProxy(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6,
			Jitter: 0.2, MaxDelay: time.Second}, MinConnectTimeout: time.Second}))
	if err != nil {
		return nil, fmt.Errorf("driver %q: %w", s.Name, err)
	}
	c.DriverClient = driverpb.NewDriverClient(c.conn)
	if err := c.waitAnswer(ctx, s.AnswerTimeout, s.LogPath); err != nil {
		return nil, err
	}
	return c, nil
}

// start runs the binary in its own process group, in an environment that
// holds nothing of the server's, and kills it if the server dies; with a
// sandbox, through the sandbox's helper.
func (c *Client) start(bin, arg, tmp string, s launchSpec) error {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + s.Home, "TMPDIR=" + tmp}
	if sb := s.Sandbox; sb != nil {
		cmd, err := sandbox.Start(sandbox.Spec{
			UID: sb.UID, GID: sb.GID, Path: bin, Args: []string{bin, arg}, Env: env, Dir: tmp,
			ReadOnly: append([]string{c.runDir}, sb.Share...), Writable: []string{s.Home, tmp},
			Hide: sb.Hide, Blank: filepath.Join(c.runDir, "blank"), Parent: os.Getpid(),
		}, c.log, helperTimeout)
		if cmd != nil {
			c.cmd = cmd
		}
		return err
	}
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		cmd := exec.Command(bin, arg)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = tmp, env, c.log, c.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		// Another goroutine's fork may briefly hold the copy open for
		// writing ("text file busy"); that passes.
		if err = cmd.Start(); err == nil {
			c.cmd = cmd
			return nil
		}
		if !errors.Is(err, syscall.ETXTBSY) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

func (c *Client) waitAnswer(ctx context.Context, timeout time.Duration, logPath string) error {
	deadline := time.Now().Add(timeout)
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.GetCapabilities(callCtx, &driverpb.Empty{})
		cancel()
		if err == nil {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("driver %q: %w (its output is in %s)", c.Name, errExited, logPath)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("driver %q: %w", c.Name, ctx.Err())
		}
		if time.Now().After(deadline) {
			return &noAnswerError{name: c.Name, timeout: timeout.String()}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exited reports whether the driver ended, without reaping it: while it is
// a zombie its pid, and so its process group id, cannot be reused.
func (c *Client) exited() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, c.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != nil || info.Signo != 0
}

// Close stops the driver: SIGTERM to its process group, SIGKILL to the
// group after the grace period (always, so that children which ignored
// SIGTERM die too), then reaps it and removes its run directory.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.conn != nil {
		c.conn.Close()
	}
	if c.cmd != nil {
		pgid := c.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		for end := time.Now().Add(c.grace); !c.exited() && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = c.cmd.Wait()
		// SIGKILL is delivered, not yet done: wait (bounded) until no
		// member of the group runs any more.
		for end := time.Now().Add(5 * time.Second); groupRuns(pgid) && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if c.log != nil {
		c.log.Close()
	}
	return os.RemoveAll(c.runDir)
}

// PID is the driver's process id (its process group id too).
func (c *Client) PID() int { return c.cmd.Process.Pid }

// address returns the driver's argument and the client's target; a socket
// goes into dir.
func address(mode, dir string) (arg, target string, err error) {
	switch mode {
	case AddressUnix:
		sock := filepath.Join(dir, "driver.sock")
		return "unix:" + sock, "unix://" + sock, nil
	case AddressPort, "":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return strconv.Itoa(port), "passthrough:///127.0.0.1:" + strconv.Itoa(port), nil
	}
	return "", "", fmt.Errorf("unknown address mode %q", mode)
}

// copyVerified copies src to dst (mode 0500) and checks the copy's SHA-256.
func copyVerified(src, dst, want string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open binary: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o500)
	if err != nil {
		return err
	}
	h := checksum.NewHasher()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy binary: %w", err)
	}
	if got := h.Sum(); !checksum.Equal(got, want) {
		return fmt.Errorf("%w: the binary's sha256 is %s, the registered one %s; refusing to run it", ErrChecksum, got, want)
	}
	return nil
}

// fileSum returns the hex SHA-256 of the file at path.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := checksum.NewHasher()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return h.Sum(), nil
}

// groupRuns reports whether a process of group pgid runs (a zombie does
// not: it waits only for its parent, or for pid 1, to reap it).
func groupRuns(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(st[i+1:])
		if len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}
