package authproxy_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/test/fake"
)

const execPath = "/api/v1/namespaces/w/pods/p/exec"

// execBackend answers exec over WebSocket in the v5 channel protocol as
// kube-apiserver does: "hello" on stdout, then it waits for end, which
// says how the process ended (a Status for the error channel), or for the
// connection to go.
type execBackend struct {
	started chan struct{}
	end     chan *metav1.Status
}

func (b *execBackend) serve(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.WriteMessage(websocket.BinaryMessage, append([]byte{1}, "hello\n"...))
	gone := make(chan struct{})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				close(gone)
				return
			}
		}
	}()
	b.started <- struct{}{}
	select {
	case st := <-b.end:
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		j, _ := json.Marshal(st)
		c.WriteMessage(websocket.BinaryMessage, append([]byte{3}, j...))
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		<-gone
	case <-gone:
	}
}

// execThrough runs an exec through the proxy with client-go's WebSocket
// executor (kubectl's) and returns its stdout and result once it ends.
func (s *sandwich) execThrough(ctx context.Context, t *testing.T, tok string) (stdout *fake.Buffer, result chan error) {
	t.Helper()
	cfg := &rest.Config{Host: s.proxy.URL + "/k8s/clusters/c-alpha", BearerToken: tok,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.proxyCAPEM()}}
	ex, err := remotecommand.NewWebSocketExecutor(cfg, http.MethodGet, cfg.Host+execPath+"?command=cat&stdout=true")
	if err != nil {
		t.Fatal(err)
	}
	stdout = &fake.Buffer{}
	result = make(chan error, 1)
	go func() { result <- ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout}) }()
	return stdout, result
}

// TestUpgradeEnds: however an exec ends, the client is told in its own
// protocol: the apiserver's ends pass through unchanged; a lost tunnel or
// a revoked token reach client-go as an error saying so (an exec whose
// connection just dropped used to end without any error); a client that
// leaves is not written to.
func TestUpgradeEnds(t *testing.T) {
	for _, c := range []struct {
		name    string
		end     func(s *sandwich, b *execBackend, streams *authproxy.Streams, agent func(string) func(), tok string, cancel func())
		wantErr string // "" for none; "exit 3" for the process's exit code
		told    bool   // the server logs that it ended the stream itself
	}{
		{"process exits", func(_ *sandwich, b *execBackend, _ *authproxy.Streams, _ func(string) func(), _ string, _ func()) {
			b.end <- &metav1.Status{Status: metav1.StatusSuccess}
		}, "", false},
		{"process fails", func(_ *sandwich, b *execBackend, _ *authproxy.Streams, _ func(string) func(), _ string, _ func()) {
			b.end <- &metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode",
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: "3"}}}}
		}, "exit 3", false},
		{"tunnel lost", func(_ *sandwich, _ *execBackend, _ *authproxy.Streams, agent func(string) func(), _ string, _ func()) {
			agent(agentapi.KindCluster)()
		}, `lost the connection to cluster "c-alpha"; exec cannot resume, run it again`, true},
		{"token revoked", func(_ *sandwich, _ *execBackend, streams *authproxy.Streams, _ func(string) func(), tok string, _ func()) {
			id, _, _ := strings.Cut(tok, ":")
			streams.Revoke(id)
		}, "the token was revoked or expired", true},
		{"client leaves", func(_ *sandwich, _ *execBackend, _ *authproxy.Streams, _ func(string) func(), _ string, cancel func()) {
			cancel()
		}, "context canceled", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var streams *authproxy.Streams
			s, _, agent, tok := watchCluster(t, func(o *authproxy.Options) {
				streams = authproxy.NewStreams(nil, time.Hour, nil, o.Logger)
				o.Streams = streams
			})
			b := &execBackend{started: make(chan struct{}, 1), end: make(chan *metav1.Status, 1)}
			s.backend.handle(execPath, b.serve)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stdout, result := s.execThrough(ctx, t, tok)
			select {
			case <-b.started:
			case err := <-result:
				t.Fatalf("exec ended before it started: %v", err)
			}
			waitFor(t, "stdout", func() bool { return strings.Contains(stdout.String(), "hello") })
			c.end(s, b, streams, agent, tok, cancel)
			var err error
			select {
			case err = <-result:
			case <-time.After(4 * waitTimeout):
				t.Fatal("the exec did not end")
			}
			var code exec.CodeExitError
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("exec: %v, want success", err)
			case c.wantErr == "exit 3":
				if !errors.As(err, &code) || code.Code != 3 {
					t.Errorf("exec: %v, want exit code 3", err)
				}
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("exec: %v, want %q", err, c.wantErr)
			}
			if stdout.String() != "hello\n" {
				t.Errorf("stdout %q, want hello", stdout.String())
			}
			if c.name == "client leaves" {
				// client-go's heartbeat notices the closed connection at its
				// next ping, up to 5 s later.
				deadline := time.Now().Add(3 * waitTimeout)
				for strings.Contains(allStacks(), "remotecommand.(*heartbeat).start") && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if told := strings.Contains(s.logs.String(), "upgraded stream ended before the apiserver closed it"); told != c.told {
				t.Errorf("the server logged ending the stream: %v, want %v\n%s", told, c.told, s.logs.String())
			}
		})
	}
}

func (s *sandwich) proxyCAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.proxy.Certificate().Raw})
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
