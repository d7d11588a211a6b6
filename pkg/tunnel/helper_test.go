package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/test/agentproc"
	"github.com/drover-dev/drover/test/fake"
)

func TestMain(m *testing.M) {
	// remotedialer logs every connect through the global logrus logger.
	logrus.SetOutput(io.Discard)
	agentproc.RunIfChild(agentEnv)
	os.Exit(m.Run())
}

// waitTimeout bounds every wait; a hang is a failure, not a slow test.
const waitTimeout = 5 * time.Second

// fixture is a tunnel server on its own TLS listener, a SQLite store and a
// backend standing in for the downstream apiserver.
type fixture struct {
	t       *testing.T
	clock   *fake.Clock
	store   *store.Store
	tun     *Server
	srv     *httptest.Server
	backend *backend
	logs    *fake.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// Registered first, so it runs after every other cleanup has closed
	// the agents, servers and store.
	leakOpt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leakOpt) })
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "drover.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, clock: fake.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), store: st, logs: &fake.Buffer{}}
	f.backend = newBackend(t)
	f.tun = New(Options{
		Store:  st,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    f.clock.Now,
	})
	mux := http.NewServeMux()
	mux.Handle(agentapi.ConnectPath, f.tun)
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// addCluster creates a cluster and returns a registration token for it.
func (f *fixture) addCluster(id string, expiresAt time.Time) string {
	f.t.Helper()
	ctx := context.Background()
	if err := f.store.CreateCluster(ctx, store.Cluster{ID: id, Name: id, CreatedAt: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
	return f.addRegistration(id, expiresAt)
}

func (f *fixture) addRegistration(clusterID string, expiresAt time.Time) string {
	f.t.Helper()
	return f.addRegistrationKind(clusterID, store.AgentCluster, expiresAt)
}

func (f *fixture) addRegistrationKind(clusterID, kind string, expiresAt time.Time) string {
	f.t.Helper()
	tok, err := token.New(ids.Registration)
	if err != nil {
		f.t.Fatal(err)
	}
	h, err := token.Hash(tok)
	if err != nil {
		f.t.Fatal(err)
	}
	rec := store.RegistrationToken{ID: tok.ID, ClusterID: clusterID, Kind: kind, Hashed: h, CreatedAt: f.clock.Now(), ExpiresAt: expiresAt}
	if err := f.store.CreateRegistrationToken(context.Background(), rec); err != nil {
		f.t.Fatal(err)
	}
	return tok.String()
}

// params returns valid agent parameters for the backend.
func (f *fixture) params(kind, node, saToken string) agentapi.AgentParams {
	if kind == agentapi.KindNode {
		saToken = "" // node agents hand over no credential
	}
	return agentapi.AgentParams{Protocol: agentapi.Protocol, Kind: kind, Node: node, Endpoint: f.backend.endpoint(), CACert: f.backend.caPEM(), Token: saToken}
}

func (f *fixture) wsURL() string {
	return "wss://" + strings.TrimPrefix(f.srv.URL, "https://") + agentapi.ConnectPath
}

func (f *fixture) wsDialer() *websocket.Dialer {
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	return &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitTimeout}
}

// agentEnv carries a child agent's spec (see agentproc.RunIfChild).
const agentEnv = "DROVER_TUNNEL_TEST_AGENT"

// testAgent is an agent in a child process (package agentproc says why out
// of process) with the params it connected with.
type testAgent struct {
	*agentproc.Agent
	params agentapi.AgentParams
}

func (f *fixture) startAgent(regToken string, p agentapi.AgentParams) *testAgent {
	f.t.Helper()
	enc, err := p.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+regToken)
	h.Set(agentapi.ParamsHeader, enc)
	return f.startAgentHeaders(p, h)
}

func (f *fixture) startAgentHeaders(p agentapi.AgentParams, h http.Header) *testAgent {
	f.t.Helper()
	return &testAgent{params: p, Agent: agentproc.Start(f.t, agentEnv, agentproc.Spec{
		URL:      f.wsURL(),
		ServerCA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}),
		Header:   h,
		Endpoint: p.Endpoint,
	})}
}

// waitLive waits until the cluster has exactly n sessions and all of them
// are registered with remotedialer, i.e. ready to carry requests.
func (f *fixture) waitLive(clusterID string, n int) {
	f.t.Helper()
	waitFor(f.t, fmt.Sprintf("%d live sessions for %s", n, clusterID), func() bool {
		f.tun.mu.Lock()
		defer f.tun.mu.Unlock()
		list := f.tun.sessions[clusterID]
		if len(list) != n {
			return false
		}
		for _, s := range list {
			if !f.tun.rd.HasSession(s.key) {
				return false
			}
		}
		return true
	})
}

// checkServedBy checks that the backend got path over a connection agent a
// dialed, i.e. that the request went through a's tunnel.
func (f *fixture) checkServedBy(path string, a *testAgent) {
	f.t.Helper()
	var from string
	for _, r := range f.backend.requests() {
		if r.URL.Path == path {
			from = r.RemoteAddr
		}
	}
	if from == "" {
		f.t.Fatalf("backend never got %s", path)
	}
	waitFor(f.t, fmt.Sprintf("%s to be served through agent %s", path, a.params.Token), func() bool { return a.DialedFrom(from) })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backend stands in for kube-apiserver: a TLS server that records requests.
type backend struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []*http.Request
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.reqs = append(b.reqs, r.Clone(context.Background()))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "backend saw "+r.URL.Path)
	}))
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) endpoint() string { return b.srv.Listener.Addr().String() }

func (b *backend) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.srv.Certificate().Raw})
}

func (b *backend) requests() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.reqs...)
}

// get sends a GET through a session's transport and returns the body.
func get(t *testing.T, rt http.RoundTripper, url string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// connectStatus tries one agent connect and returns the HTTP status of a
// refused handshake (0 if the handshake succeeded) and the body.
func (f *fixture) connectStatus(h http.Header) (int, string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, resp, err := f.wsDialer().DialContext(ctx, f.wsURL(), h)
	if err == nil {
		ws.Close()
		return 0, ""
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		f.t.Fatalf("connect: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
