package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one child process whose stdout and stderr go to a log file.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when Wait returned
	waitErr error         // valid after done is closed
}

// childEnv is the environment of the child processes: deliberately minimal so
// that ETCD_*, LDAP* variables, proxies or KUBECONFIG of the test process
// cannot change how they run. (sbin: slapd lives there.)
func childEnv() []string {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Start starts bin with args in dir, appending its output to logPath.
// The child gets its own process group (so Stop reaches anything it forks)
// and SIGKILL when the thread that started it dies, so it does not outlive a
// crashed test process. (Pdeathsig fires when the OS thread that started the
// child exits; Go only ends threads of goroutines that exit while locked to
// their thread, so do not call Start from such a goroutine.)
func Start(name, bin string, args []string, dir, logPath string) (*Process, error) {
	return StartAs(nil, name, bin, args, dir, logPath)
}

// StartAs is Start with the child running as cred's user (nil: as this
// process), for servers that refuse to run as root (PostgreSQL).
func StartAs(cred *syscall.Credential, name, bin string, args []string, dir, logPath string) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy of the descriptor
	fmt.Fprintf(f, "==== %s starting %s: %s %s\n",
		time.Now().Format(time.RFC3339Nano), name, bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Pid is the process id (and process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, SIGKILL after grace, and waits
// for the process to end. A process that already ended is fine.
func (p *Process) Stop(grace time.Duration) {
	if p == nil {
		return
	}
	if p.Exited() {
		return // reaped: its pid may already belong to someone else
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// Signal sends sig to the process group (SIGINT is PostgreSQL's fast
// shutdown, SIGSTOP freezes a server). An ended process is left alone.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// ExitError describes how the process ended, with the tail of its log.
func (p *Process) ExitError() error {
	return fmt.Errorf("%s exited early (%v); last lines of %s:\n%s",
		p.Name, p.waitErr, p.LogPath, LogTail(p.LogPath, 40))
}

// PortInUse reports whether the process failed because a port was taken
// (Go: "address already in use", slapd: "errno=98 (Address already in use)").
func (p *Process) PortInUse() bool {
	return strings.Contains(strings.ToLower(LogTail(p.LogPath, 200)), "address already in use")
}

// Run runs a short-lived tool to completion, its output in logPath.
func Run(name, bin string, args []string, dir, logPath string, timeout time.Duration) error {
	return RunAs(nil, name, bin, args, dir, logPath, timeout)
}

// RunAs is Run with the tool running as cred's user (see StartAs).
func RunAs(cred *syscall.Credential, name, bin string, args []string, dir, logPath string, timeout time.Duration) error {
	p, err := StartAs(cred, name, bin, args, dir, logPath)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Stop(time.Second)
		return fmt.Errorf("%s did not finish within %s; last lines of %s:\n%s", name, timeout, logPath, LogTail(logPath, 40))
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %v; last lines of %s:\n%s", name, p.waitErr, logPath, LogTail(logPath, 40))
	}
	return nil
}

// LogTail returns about the last n lines of the file at path (at most 64 KiB).
func LogTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const max = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Ports are chosen at random below the kernel's ephemeral range, so that an
// outgoing connection (such as another cluster's apiserver talking to its
// etcd) can never hold one of them as its local port, for instance while an
// apiserver restarts. Each candidate is checked by binding it, and ports
// handed out once in this process are never handed out again.
var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

const minPort = 10000

// FreePorts returns n loopback ports free now and not handed out before by
// this process.
func FreePorts(n int) ([]int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	hi := ephemeralLow()
	var out []int
	var holds []net.Listener
	defer func() {
		for _, l := range holds {
			l.Close()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free loopback port found")
		}
		addr := "127.0.0.1:0"
		if hi-minPort > 1000 {
			addr = "127.0.0.1:" + strconv.Itoa(minPort+rand.IntN(hi-minPort))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		holds = append(holds, l)
		if portsUsed[port] {
			continue
		}
		portsUsed[port] = true
		out = append(out, port)
	}
	return out, nil
}

// ephemeralLow is the lowest port the kernel picks for outgoing connections.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}
