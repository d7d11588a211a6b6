package authproxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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

	"github.com/drover-dev/drover/pkg/tunnel"
)

// testAgent is an agent in a child process: the test binary re-executed
// (see TestMain) running remotedialer.ConnectToProxyWithDialer as pkg/agent
// does, with a local dialer that reaches only the advertised endpoint.
//
// It runs out of process on purpose. remotedialer v0.6.1 has data races in
// its own goroutine pairs (Session.pingCancel in ConnectToProxyWithDialer,
// connection.err on every stream teardown: rancher/remotedialer#254, #265),
// and most of them fire on the agent's side. In process, -race would fail
// every sandwich test on library code; out of process the server side (the
// code under test) stays under the race detector, and the agent's reports
// are logged, not hidden.
type testAgent struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	done   chan struct{} // closed when stdout is drained
	once   sync.Once
}

const agentEnv = "DROVER_AUTHPROXY_TEST_AGENT"

func (s *sandwich) startAgent(regToken string, p tunnel.AgentParams) *testAgent {
	s.t.Helper()
	enc, err := p.Encode()
	if err != nil {
		s.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+regToken)
	h.Set(tunnel.ParamsHeader, enc)
	spec, err := json.Marshal(agentSpec{
		URL:      "wss://" + strings.TrimPrefix(s.proxy.URL, "https://") + connectPath,
		ServerCA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.proxy.Certificate().Raw}),
		Header:   h,
		Endpoint: p.Endpoint,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	// The race runtime sleeps a second at exit unless told otherwise.
	cmd.Env = append(os.Environ(), agentEnv+"="+string(spec), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	a := &testAgent{t: s.t, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = a.stderr
	if a.stdin, err = cmd.StdinPipe(); err != nil {
		s.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		defer close(a.done)
		io.Copy(io.Discard, stdout)
	}()
	s.t.Cleanup(a.stop)
	return a
}

// stop ends the agent: closing its stdin cancels its context, as SIGTERM
// does for the real agent.
func (a *testAgent) stop() {
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

// agentSpec is what the parent tells a child agent process.
type agentSpec struct {
	URL      string      `json:"url"`
	ServerCA []byte      `json:"serverCA"`
	Header   http.Header `json:"header"`
	Endpoint string      `json:"endpoint"`
}

// runAgentProcess is the child: it connects once and serves the tunnel until
// stdin closes.
func runAgentProcess(specJSON string) {
	var spec agentSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "agent spec:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(spec.ServerCA)
	dialer := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitTimeout}
	var d net.Dialer
	local := func(ctx context.Context, network, address string) (net.Conn, error) {
		if network != "tcp" || address != spec.Endpoint {
			return nil, fmt.Errorf("test agent: dial to %s refused", address)
		}
		return d.DialContext(ctx, network, address)
	}
	allowTCP := func(proto, _ string) bool { return proto == "tcp" }
	if err := remotedialer.ConnectToProxyWithDialer(ctx, spec.URL, spec.Header, allowTCP, dialer, local, nil); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
	}
}
