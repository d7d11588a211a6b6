package haproxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/proc"
)

// EnvBin names the HAProxy binary.
const EnvBin = "HAPROXY"

// Find returns the HAProxy binary.
func Find() (string, error) {
	p := os.Getenv(EnvBin)
	if p == "" {
		p = "/usr/sbin/haproxy"
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("haproxy: no executable %s (set %s or run `make ha-tools`)", p, EnvBin)
	}
	return p, nil
}

// Options say what to balance.
type Options struct {
	// Backends are the replicas' host:port addresses on 127.0.0.1.
	Backends []string
	// CAFile verifies the replicas' certificates in the health check.
	CAFile string
}

// LB is a running HAProxy.
type LB struct {
	Addr string // 127.0.0.1:port
	Dir  string
	proc *proc.Process
}

// StartT starts a load balancer for a test and stops it at the end.
func StartT(t testing.TB, o Options) *LB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lb, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("haproxy log (%s):\n%s", lb.LogPath(), proc.LogTail(lb.LogPath(), 30))
		}
		lb.Stop()
	})
	return lb
}

// Start writes the configuration and starts HAProxy on a free port.
func Start(ctx context.Context, o Options) (*LB, error) { return StartAt(ctx, "", o) }

// StartAt is Start on addr (a 127.0.0.1 address; empty: a free port),
// for replicas that were told the load balancer's address before it runs.
func StartAt(ctx context.Context, addr string, o Options) (_ *LB, err error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	for _, b := range append([]string{addr}, o.Backends...) {
		if b != "" && !localAddr(b) {
			return nil, fmt.Errorf("haproxy: %q is not an address of this machine", b)
		}
	}
	dir, err := os.MkdirTemp("", "drover-haproxy-")
	if err != nil {
		return nil, err
	}
	lb := &LB{Dir: dir}
	defer func() {
		if err != nil {
			lb.Stop()
		}
	}()
	const attempts = 3
	for i := 1; ; i++ {
		lb.Addr = addr
		if addr == "" {
			ports, err := proc.FreePorts(1)
			if err != nil {
				return nil, err
			}
			lb.Addr = "127.0.0.1:" + strconv.Itoa(ports[0])
		}
		if err := os.WriteFile(lb.configPath(), []byte(config(lb.Addr, filepath.Join(dir, "stats.sock"), o)), 0o600); err != nil {
			return nil, err
		}
		err = lb.start(ctx, bin)
		if err == nil {
			return lb, nil
		}
		if i == attempts || addr != "" || lb.proc == nil || !lb.proc.PortInUse() {
			return nil, err
		}
		lb.proc.Stop(time.Second)
	}
}

// localAddr reports whether hostport is an IP address of this machine
// (loopback, or an interface a test made: a test network namespace's
// link).
func localAddr(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	ip := net.ParseIP(h)
	if err != nil || ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// config is the HAProxy configuration: TCP passthrough, round robin, and
// an HTTPS health check of /readyz every 500ms with the CA, two failures
// to take a replica out, one success to put it back.
func config(addr, stats string, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
	maxconn 4096
	stats socket %s mode 600 level admin
defaults
	mode tcp
	timeout connect 2s
	timeout client 1h
	timeout server 1h
	timeout tunnel 1h
	timeout check 1s
frontend drover
	bind %s
	default_backend replicas
backend replicas
	balance roundrobin
	option httpchk
	http-check send meth GET uri /readyz
	http-check expect status 200
	default-server check check-ssl verify required ca-file %s inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
`, stats, addr, o.CAFile)
	for i, be := range o.Backends {
		fmt.Fprintf(&b, "\tserver r%d %s\n", i+1, be)
	}
	return b.String()
}

func (lb *LB) configPath() string { return filepath.Join(lb.Dir, "haproxy.cfg") }

// LogPath is HAProxy's output.
func (lb *LB) LogPath() string { return filepath.Join(lb.Dir, "haproxy.log") }

func (lb *LB) start(ctx context.Context, bin string) error {
	var err error
	// -db: foreground, no daemon; the configuration is checked as it loads.
	lb.proc, err = proc.Start("haproxy", bin, []string{"-db", "-f", lb.configPath()}, lb.Dir, lb.LogPath())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if lb.proc.Exited() {
			return lb.proc.ExitError()
		}
		c, err := net.DialTimeout("tcp", lb.Addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy: not listening on %s within 15s: %w", lb.Addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Up returns the backends HAProxy considers up ("r1", "r2", …).
func (lb *LB) Up() ([]string, error) {
	c, err := net.DialTimeout("unix", filepath.Join(lb.Dir, "stats.sock"), time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show servers state replicas\n")); err != nil {
		return nil, err
	}
	var up []string
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		// be_id be_name srv_id srv_name srv_addr srv_op_state ...; op state 2 is running.
		f := strings.Fields(sc.Text())
		if len(f) > 5 && f[1] == "replicas" && f[5] == "2" {
			up = append(up, f[3])
		}
	}
	return up, sc.Err()
}

// WaitUp waits until HAProxy sees exactly n backends up.
func (lb *LB) WaitUp(ctx context.Context, n int) ([]string, error) {
	for {
		up, err := lb.Up()
		if err == nil && len(up) == n {
			return up, nil
		}
		select {
		case <-ctx.Done():
			return up, fmt.Errorf("haproxy: %d backends up (%v, %v), want %d: %w", len(up), up, err, n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops HAProxy and removes its directory.
func (lb *LB) Stop() {
	if lb == nil {
		return
	}
	if lb.proc != nil {
		lb.proc.Stop(5 * time.Second)
	}
	os.RemoveAll(lb.Dir)
}
