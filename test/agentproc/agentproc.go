package agentproc

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/flow"
	"github.com/drover-dev/drover/test/fake"
)

// Spec is what the parent tells a child agent.
type Spec struct {
	URL      string      `json:"url"`      // the server's wss:// connect URL
	ServerCA []byte      `json:"serverCA"` // PEM the server's certificate chains to
	Header   http.Header `json:"header"`   // registration token and agent params
	Endpoint string      `json:"endpoint"` // the only address the agent dials
}

// waitTimeout bounds waiting for a child to exit.
const waitTimeout = 5 * time.Second

// RunIfChild makes this process a child agent when env names a Spec: it
// connects once, serves the tunnel until stdin closes, and exits. Call it
// first in TestMain.
func RunIfChild(env string) {
	raw := os.Getenv(env)
	if raw == "" {
		return
	}
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "agent spec:", err)
		os.Exit(2)
	}
	child(spec)
	os.Exit(0)
}

// child prints "dial <local addr>" for every dial to the endpoint and
// "exit <err>" at the end.
func child(spec Spec) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(spec.ServerCA)
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitTimeout}
	var (
		outMu sync.Mutex
		d     net.Dialer
	)
	local := func(ctx context.Context, network, address string) (net.Conn, error) {
		if (network != agentapi.NetworkTCP && network != agentapi.NetworkFlow) || address != spec.Endpoint {
			return nil, fmt.Errorf("test agent: dial to %s refused", address)
		}
		c, err := d.DialContext(ctx, "tcp", address)
		if err != nil {
			return nil, err
		}
		outMu.Lock()
		fmt.Printf("dial %s\n", c.LocalAddr())
		outMu.Unlock()
		if network == agentapi.NetworkFlow {
			return flow.Bridge(c), nil
		}
		return c, nil
	}
	allowTCP := func(proto, _ string) bool { return proto == agentapi.NetworkTCP || proto == agentapi.NetworkFlow }
	err := remotedialer.ConnectToProxyWithDialer(ctx, spec.URL, spec.Header, allowTCP, dialer, local, nil)
	outMu.Lock()
	fmt.Printf("exit %v\n", err)
	outMu.Unlock()
}

// Agent is a running child agent.
type Agent struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *fake.Buffer
	done   chan struct{} // closed when stdout is drained

	mu    sync.Mutex
	addrs map[string]bool // local addresses of the agent's dials to the endpoint
	once  sync.Once
}

// Start re-executes the test binary as an agent for spec (env must be the
// variable TestMain passes to RunIfChild) and stops it at the test's end.
func Start(t testing.TB, env string, spec Spec) *Agent {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	// The race runtime sleeps a second at exit unless told otherwise.
	cmd.Env = append(os.Environ(), env+"="+string(b), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	a := &Agent{t: t, cmd: cmd, stderr: &fake.Buffer{}, done: make(chan struct{}), addrs: map[string]bool{}}
	cmd.Stderr = a.stderr
	if a.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(a.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "dial "); ok {
				a.mu.Lock()
				a.addrs[addr] = true
				a.mu.Unlock()
			}
		}
	}()
	t.Cleanup(a.Stop)
	return a
}

// DialedFrom reports whether the agent dialed the endpoint from addr.
func (a *Agent) DialedFrom(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addrs[addr]
}

// Stop ends the agent: closing its stdin cancels its context, as SIGTERM
// does for the real agent. Data races the race detector reports inside the
// child (remotedialer's, see the package doc) are logged, not failed.
func (a *Agent) Stop() {
	a.once.Do(func() {
		a.stdin.Close()
		select {
		case <-a.done:
		case <-time.After(waitTimeout):
			a.t.Errorf("agent process %d did not exit after its context ended; killing it", a.cmd.Process.Pid)
			a.cmd.Process.Kill()
			<-a.done
		}
		err := a.cmd.Wait()
		out := a.stderr.String()
		raced := strings.Contains(out, "WARNING: DATA RACE")
		switch {
		case raced:
			a.t.Logf("agent process: data races inside remotedialer (known upstream, rancher/remotedialer#254 and #265):\n%s", out)
		case out != "":
			a.t.Logf("agent process stderr:\n%s", out)
		}
		if err != nil && !raced {
			a.t.Errorf("agent process: %v", err)
		}
	})
}
