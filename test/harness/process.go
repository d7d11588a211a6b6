package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binaries are the built Drover programs.
type Binaries struct {
	Server string
	Agent  string
	CLI    string // drover, the command-line client
}

// RepoRoot finds the module root from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build compiles the server, the agent and the drover command into dir (with -race when race is set,
// so integration tests also race-check the real processes).
func Build(ctx context.Context, dir string, race bool) (Binaries, error) {
	b := Binaries{Server: filepath.Join(dir, "drover-server"), Agent: filepath.Join(dir, "drover-agent"), CLI: filepath.Join(dir, "drover")}
	args := []string{"build", "-o", dir + "/"}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/server", "./cmd/agent", "./cmd/drover")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Binaries{}, fmt.Errorf("go build: %w\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(dir, "server"), b.Server); err != nil {
		return Binaries{}, err
	}
	if err := os.Rename(filepath.Join(dir, "agent"), b.Agent); err != nil {
		return Binaries{}, err
	}
	return b, nil
}

// Process is a child process whose stderr goes to a log file and whose
// stdout lines can be awaited.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error

	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

// Start runs bin with args and env (added to a minimal environment).
func Start(name, bin string, args, env []string, logPath string) (*Process, error) {
	return start(name, bin, args, env, logPath, "", nil)
}

// StartIn is Start in the working directory dir.
func StartIn(dir, name, bin string, args, env []string, logPath string) (*Process, error) {
	return start(name, bin, args, env, logPath, dir, nil)
}

// start is Start, in dir when it is set (the caller's otherwise), as another
// user when cred is set.
func start(name, bin string, args, env []string, logPath, dir string, cred *syscall.Credential) (*Process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stderr = f
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintf(f, "[stdout] %s\n", sc.Text())
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// WaitLine waits for a stdout line containing substr and returns it.
func (p *Process) WaitLine(ctx context.Context, substr string) (string, error) {
	stop := context.AfterFunc(ctx, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; {
		for ; i < len(p.lines); i++ {
			if strings.Contains(p.lines[i], substr) {
				return p.lines[i], nil
			}
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited before printing %q: %v (log %s)", p.Name, substr, p.err, p.LogPath)
		default:
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s did not print %q: %w (log %s)", p.Name, substr, ctx.Err(), p.LogPath)
		}
		p.cond.Wait()
	}
}

// Signal sends sig to the process group. Once the process has been reaped
// it does nothing and returns os.ErrProcessDone: its pid, and so the group
// id, may already belong to an unrelated process group (pids wrap quickly
// on a busy machine), another test run's etcd or driver for instance.
func (p *Process) Signal(sig syscall.Signal) error {
	if exited, _ := p.Exited(); exited {
		return os.ErrProcessDone
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Stop sends SIGTERM, then SIGKILL after grace, and waits. A process that
// already ended is fine.
func (p *Process) Stop(grace time.Duration) error {
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
	return nil
}

// Kill sends SIGKILL and waits.
func (p *Process) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}
