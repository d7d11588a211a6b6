package idp

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

// process is one child process whose stdout and stderr go to a log file.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when Wait returned
	waitErr error         // valid after done is closed
}

// run runs a short-lived tool (slapadd) to completion, its output in logPath.
func run(name, bin string, args []string, dir, logPath string, timeout time.Duration) error {
	p, err := startProcess(name, bin, args, dir, logPath)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.stop(time.Second)
		return fmt.Errorf("idp: %s did not finish within %s; last lines of %s:\n%s", name, timeout, logPath, logTail(logPath, 40))
	}
	if p.waitErr != nil {
		return fmt.Errorf("idp: %s: %v; last lines of %s:\n%s", name, p.waitErr, logPath, logTail(logPath, 40))
	}
	return nil
}

// startProcess starts bin with args in dir, appending its output to logPath.
// The child gets a minimal environment, its own process group (so stop
// reaches anything it forks) and SIGKILL when the thread that started it
// dies, so it does not outlive a crashed test process. (Pdeathsig fires when
// the OS thread that started the child exits; Go only ends threads of
// goroutines that exit while locked to their thread.)
func startProcess(name, bin string, args []string, dir, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy of the descriptor
	fmt.Fprintf(f, "==== idp: %s starting %s: %s %s\n",
		time.Now().Format(time.RFC3339Nano), name, bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("idp: start %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// childEnv is deliberately minimal: LDAP* variables (LDAPCONF, LDAPTLS_*) or
// proxies of the test process must not change how the children run.
func childEnv() []string {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace, and waits
// for the process to end.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.exited() {
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

func (p *process) exitError() error {
	return fmt.Errorf("idp: %s exited early (%v); last lines of %s:\n%s",
		p.name, p.waitErr, p.logPath, logTail(p.logPath, 40))
}

// portInUse reports whether the process failed because a port was taken
// (slapd: "errno=98 (Address already in use)", Go: "address already in use").
func (p *process) portInUse() bool {
	return strings.Contains(strings.ToLower(logTail(p.logPath, 200)), "address already in use")
}

// logTail returns about the last n lines of the file at path (at most 64 KiB).
func logTail(path string, n int) string {
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

// Ports are chosen at random below the kernel's ephemeral range, so that no
// outgoing connection can hold one as its local port; each is checked by
// binding it, and none is handed out twice in this process.
var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

const minPort = 10000

func freePorts(n int) ([]int, error) {
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
			return nil, errors.New("idp: no free loopback port found")
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
