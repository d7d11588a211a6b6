package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rancher/remotedialer"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/token"
)

// tunnelServer is a TLS server with the pin endpoint and a remotedialer
// connect endpoint that records the registration token of every connect.
type tunnelServer struct {
	srv *httptest.Server
	sum string
	mu  sync.Mutex
	got []string // the bearer tokens of the connects, in order
	ch  chan struct{}
	// refuse, when set, answers a connect with a token it returns a
	// non-zero status for (before remotedialer sees it), as a Status.
	refuse func(token string) (code int, message string)
}

func newTunnelServer(t *testing.T) *tunnelServer {
	t.Helper()
	g, err := pki.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(g.Cert, g.Key)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tunnelServer{sum: checksum.Of(g.CACert), ch: make(chan struct{}, 16)}
	rd := remotedialer.New(func(r *http.Request) (string, bool, error) {
		ts.mu.Lock()
		ts.got = append(ts.got, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		n := len(ts.got)
		ts.mu.Unlock()
		ts.ch <- struct{}{}
		return fmt.Sprint("agent-", n), true, nil
	}, remotedialer.DefaultErrorWriter)
	mux := http.NewServeMux()
	mux.HandleFunc("/cacerts", func(w http.ResponseWriter, _ *http.Request) { w.Write(g.CACert) })
	mux.HandleFunc(agentapi.ConnectPath, func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		refuse := ts.refuse
		ts.mu.Unlock()
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if refuse != nil {
			if code, msg := refuse(tok); code != 0 {
				ts.mu.Lock()
				ts.got = append(ts.got, tok)
				ts.mu.Unlock()
				ts.ch <- struct{}{}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"code":%d}`, msg, code)
				return
			}
		}
		rd.ServeHTTP(w, r)
	})
	ts.srv = httptest.NewUnstartedServer(mux)
	ts.srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	ts.srv.StartTLS()
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tunnelServer) connects() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.got...)
}

// waitConnects waits until the server has seen n connects.
func (ts *tunnelServer) waitConnects(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for len(ts.connects()) < n {
		select {
		case <-ts.ch:
		case <-deadline:
			t.Fatalf("%d connects seen, want %d", len(ts.connects()), n)
		}
	}
	return ts.connects()
}

// agentKubeconfig writes a kubeconfig naming an apiserver that is never
// called (a node agent only dials it for the server's requests).
func agentKubeconfig(t *testing.T, dir string) string {
	t.Helper()
	g, err := pki.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, g.CACert, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", certificate-authority: %q}}]
users: [{name: u, user: {token: unused}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, caFile)
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newRegistrationToken(t *testing.T) string {
	t.Helper()
	tok, err := token.New(ids.Registration)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// TestRotatedTokenReconnects: with a tunnel open, a new well-formed token
// in the token file makes the agent reconnect with it; what is not a
// token (an empty file, a half-written one, garbage) changes nothing.
func TestRotatedTokenReconnects(t *testing.T) {
	ts := newTunnelServer(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	first, second := newRegistrationToken(t), newRegistrationToken(t)
	if err := os.WriteFile(tokenFile, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			ServerURL: ts.srv.URL, CAChecksum: ts.sum, TokenFile: tokenFile, Kubeconfig: agentKubeconfig(t, dir),
			Kind: agentapi.KindNode, NodeName: "n1", TokenPoll: 20 * time.Millisecond,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
			Logger: slog.New(slog.DiscardHandler),
		})
	}()
	ts.waitConnects(t, 1)
	// Not tokens: the open tunnel stays (ten poll rounds each).
	for _, junk := range []string{"", first[:len(first)/2], "not a token", "\n\n"} {
		if err := os.WriteFile(tokenFile, []byte(junk), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := os.WriteFile(tokenFile, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := ts.connects(); len(got) != 1 {
		t.Fatalf("%d connects after rewrites that are no new token, want 1", len(got))
	}
	if err := os.WriteFile(tokenFile, []byte(second+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.waitConnects(t, 2)
	time.Sleep(200 * time.Millisecond) // nothing more: the new tunnel stays
	got := ts.connects()
	if diff := cmp.Diff([]string{first, second}, got); diff != "" {
		t.Errorf("tokens of the connects (-want +got):\n%s", diff)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
