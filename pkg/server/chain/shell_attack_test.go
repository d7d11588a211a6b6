package chain_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
	"github.com/drover-dev/drover/pkg/websession"
	"github.com/drover-dev/drover/test/agentproc"
	"github.com/drover-dev/drover/test/fake"
)

// The shell's attack tests: the whole request path over TLS (chain.NewHandler
// with the real API, authenticator, access checker, tunnel server, proxy,
// revocation of open streams and audit log), a real agent in a child
// process, and a backend standing in for kube-apiserver that records what
// it is sent and answers an exec websocket by echoing. Each test is an
// attack that fails the test if it succeeds.

const (
	rootPassword = "a-long-enough-password"
	bobPassword  = "another-long-password"
	evePassword  = "yet-another-long-password"
)

// attackServer is one Drover server replica with the console's shell.
type attackServer struct {
	*shellServer
	st      *store.Store
	sealer  *seal.Sealer
	auth    *authn.Authenticator
	checker *access.Checker
	tun     *tunnel.Server
	handler http.Handler
	logs    *fake.Buffer // the server's log, debug level
	audit   *fake.Buffer // the audit log
	backend *execBackend
}

type attackOptions struct {
	level audit.Level
	// st and sealer are another replica's (the store and the key every
	// replica shares); nil: new ones, with the users root, bob and eve.
	st     *store.Store
	sealer *seal.Sealer
}

// testRevoker ends a revoked token's cached identity and open streams at
// once, as pkg/server's revoker does on one replica.
type testRevoker struct {
	auth    *authn.Authenticator
	streams *authproxy.Streams
}

func (r testRevoker) Invalidate(id string) {
	r.auth.Invalidate(id)
	r.streams.Revoke(id)
}

// testAccess makes an access change hold at once, as pkg/server's
// accessListener does on one replica.
type testAccess struct {
	auth    *authn.Authenticator
	checker *access.Checker
}

func (a testAccess) AccessChanged() {
	a.checker.Invalidate()
	a.auth.InvalidateAll()
}

// testCreds stand in for package accounts: each identity's downstream
// credential is named after its account, so the backend can tell whose
// account a request came with.
type testCreds struct{}

func (testCreds) Credential(_ context.Context, req accounts.Request) (string, error) {
	if err := accounts.Check(req.Account, req.Admin); err != nil {
		return "", err
	}
	return "cred-" + accounts.Name(req.Account), nil
}

func (testCreds) Invalidate(accounts.Request) {}

func newAttackServer(t *testing.T, o attackOptions) *attackServer {
	t.Helper()
	st, sealer := o.st, o.sealer
	if st == nil {
		var err error
		if st, err = store.Open(context.Background(), filepath.Join(t.TempDir(), "db")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		key := make([]byte, seal.KeySize)
		rand.Read(key)
		if sealer, err = seal.New(key); err != nil {
			t.Fatal(err)
		}
	}
	// Cancelled before the store closes: it ends the streams' re-checks.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &attackServer{st: st, sealer: sealer, logs: &fake.Buffer{}, audit: &fake.Buffer{}, backend: newExecBackend(t)}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	tickets := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st})
	s.auth = authn.New(authn.Options{Store: st, Logger: log})
	t.Cleanup(s.auth.Wait)
	s.tun = tunnel.New(tunnel.Options{Store: st, Logger: log})
	s.checker = access.NewChecker(access.CheckerOptions{Store: st})
	streams := authproxy.NewStreams(st, 100*time.Millisecond, nil, log)
	go streams.Run(ctx)
	a := api.New(api.Options{Store: st, Local: lp, Tokens: testRevoker{s.auth, streams}, Tunnel: s.tun, Reach: s.checker,
		Access: testAccess{s.auth, s.checker}, CAPEM: []byte("CA"), CASum: "sum", ServerURL: "https://drover.test", Logger: log,
		SessionTTL: time.Hour, KubeconfigTTL: time.Hour, MaxTokenTTL: 2 * time.Hour, Shell: tickets})
	level := o.level
	if level == audit.LevelNone {
		level = audit.LevelAll
	}
	proxy := authproxy.New(authproxy.Options{Sessions: s.tun, Credentials: testCreds{}, Logger: log, Streams: streams,
		NoteImpersonation: audit.SetImpersonation})
	s.handler = chain.NewHandler(chain.Handlers{Logger: log, Audit: audit.New(s.audit, level), Auth: s.auth,
		Access: s.checker, Connect: s.tun, Proxy: proxy, API: a, Shell: tickets})
	srv := httptest.NewTLSServer(s.handler)
	t.Cleanup(srv.Close)
	// Runs before srv.Close and after the agents' cleanups (registered
	// later): the server side of every tunnel is gone first.
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for len(s.tun.Clusters()) > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	})
	s.shellServer = &shellServer{t: t, srv: srv, origin: srv.URL, lp: lp}
	if o.st == nil {
		for _, u := range []local.NewUser{{Username: "root", Password: rootPassword, Admin: true},
			{Username: "bob", Password: bobPassword}, {Username: "eve", Password: evePassword}} {
			if _, err := lp.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// createCluster creates a cluster as root's console does and returns its
// id and the cluster agent's registration token.
func (s *attackServer) createCluster(root string) (id, registration string) {
	s.t.Helper()
	code, b, _ := s.call("POST", "/v3/clusters", s.console(root), map[string]string{"name": "c" + strings.ToLower(rand.Text()[:8])})
	var out struct {
		Cluster      struct{ ID string }
		Registration struct{ Token string }
	}
	if err := json.Unmarshal(b, &out); code != http.StatusCreated || err != nil {
		s.t.Fatalf("create a cluster: %d %s", code, b)
	}
	return out.Cluster.ID, out.Registration.Token
}

// connect creates a cluster with a connected cluster agent whose apiserver
// is the backend.
func (s *attackServer) connect(root string) string {
	s.t.Helper()
	id, reg := s.createCluster(root)
	p := agentapi.AgentParams{Protocol: agentapi.Protocol, Kind: agentapi.KindCluster, Endpoint: s.backend.endpoint(),
		CACert: s.backend.caPEM(), Token: "sa-" + rand.Text()}
	enc, err := p.Encode()
	if err != nil {
		s.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+reg)
	h.Set(agentapi.ParamsHeader, enc)
	agentproc.Start(s.t, chainAgentEnv, agentproc.Spec{
		URL:      "wss://" + strings.TrimPrefix(s.srv.URL, "https://") + agentapi.ConnectPath,
		ServerCA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}),
		Header:   h,
		Endpoint: p.Endpoint,
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := s.tun.Session(id); ok {
			return id
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the agent of %s did not connect", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bind gives a user a role in a cluster, through root's console.
func (s *attackServer) bind(root, user, clusterID, role string) string {
	s.t.Helper()
	code, b, _ := s.call("POST", "/v3/bindings", s.console(root), map[string]string{"scope": "cluster", "clusterId": clusterID,
		"role": role, "subjectKind": "user", "subject": user})
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); code != http.StatusCreated || err != nil || out.ID == "" {
		s.t.Fatalf("bind %s to %s: %d %s", user, clusterID, code, b)
	}
	return out.ID
}

// cookie is what the console's websocket carries: the session cookie and
// this server's Origin.
func (s *attackServer) cookie(session string) http.Header {
	return http.Header{"Origin": {s.origin}, "Cookie": {websession.CookieName + "=" + session}}
}

// openShell dials the shell's websocket and, on 101, returns the
// connection (closed at the test's end).
func (s *attackServer) openShell(clusterID, query string, hdr http.Header, protocols ...string) (*websocket.Conn, int, string) {
	s.t.Helper()
	if len(protocols) == 0 {
		protocols = []string{"v5.channel.k8s.io"}
	}
	d := websocket.Dialer{TLSClientConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig,
		Subprotocols: protocols, HandshakeTimeout: 10 * time.Second}
	u := "wss" + strings.TrimPrefix(s.srv.URL, "https") + "/v3/clusters/" + clusterID + "/shell" + query
	conn, resp, err := d.Dial(u, hdr)
	if err == nil {
		s.t.Cleanup(func() { conn.Close() })
		return conn, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		s.t.Fatalf("dial %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return nil, resp.StatusCode, string(b)
}

// shellCode is openShell's status and body, the connection closed.
func (s *attackServer) shellCode(clusterID, query string, hdr http.Header, protocols ...string) (int, string) {
	s.t.Helper()
	conn, code, body := s.openShell(clusterID, query, hdr, protocols...)
	if conn != nil {
		conn.Close()
	}
	return code, body
}

// mustBeFresh fails unless ticket still opens a shell (exactly once): the
// attack before it spent nothing.
func (s *attackServer) mustBeFresh(clusterID, ticket, session string) {
	s.t.Helper()
	q := "?ticket=" + url.QueryEscape(ticket)
	if code, body := s.shellCode(clusterID, q, s.cookie(session)); code != http.StatusSwitchingProtocols {
		s.t.Fatalf("the ticket after the attack: %d %s, want 101 (it was spent or broken by the attack)", code, body)
	}
	if code, body := s.shellCode(clusterID, q, s.cookie(session)); code != http.StatusForbidden {
		s.t.Fatalf("the ticket used a second time: %d %s, want 403", code, body)
	}
}

// raw sends one HTTP/1.1 request written verbatim (request line and
// header lines as given, Host added) over TLS and returns the status and
// body (the body only when the answer is not an upgrade).
func (s *attackServer) raw(method, target string, lines ...string) (int, string) {
	s.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", s.srv.Listener.Addr().String())
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, strings.TrimPrefix(s.srv.URL, "https://"))
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		s.t.Fatalf("%s %s: read response: %v", method, target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(body)
}

// wsLines are the header lines of a browser's websocket handshake from
// this server's page with session's cookie.
func (s *attackServer) wsLines(session string) []string {
	return []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: v5.channel.k8s.io",
		"Origin: " + s.origin, "Cookie: " + websession.CookieName + "=" + session}
}

// execBackend stands in for kube-apiserver: it records every request and
// answers an exec websocket with 101, echoing each message back.
type execBackend struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seenByBackend
	// mayImpersonate are the users the cluster lets impersonate anyone
	// (its answer to the proxy's SubjectAccessReviews).
	mayImpersonate map[string]bool
}

// sarPath is where the proxy asks the cluster whether a user may
// impersonate another (kubectl --as).
const sarPath = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

// grantImpersonation lets user impersonate anyone in the cluster.
func (b *execBackend) grantImpersonation(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mayImpersonate == nil {
		b.mayImpersonate = map[string]bool{}
	}
	b.mayImpersonate[user] = true
}

type seenByBackend struct {
	Method, Path, RawQuery string
	Header                 http.Header
}

func newExecBackend(t *testing.T) *execBackend {
	b := &execBackend{}
	b.srv = httptest.NewTLSServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *execBackend) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == sarPath {
		var in authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		in.Status.Allowed = b.mayImpersonate[in.Spec.User]
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(in)
		return
	}
	b.mu.Lock()
	b.seen = append(b.seen, seenByBackend{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
	b.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/exec") && websocket.IsWebSocketUpgrade(r) {
		// The stand-in apiserver takes any Origin: what it is sent is
		// what the tests look at.
		up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"},
			CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(mt, p) != nil {
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Success","message":%q}`+"\n", r.URL.Path)
}

func (b *execBackend) endpoint() string { return b.srv.Listener.Addr().String() }

func (b *execBackend) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.srv.Certificate().Raw})
}

// execs returns the exec requests the backend got.
func (b *execBackend) execs() []seenByBackend {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []seenByBackend
	for _, r := range b.seen {
		if strings.HasSuffix(r.Path, "/exec") {
			out = append(out, r)
		}
	}
	return out
}

// last returns the last request the backend got with path p.
func (b *execBackend) last(p string) (seenByBackend, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.seen) - 1; i >= 0; i-- {
		if b.seen[i].Path == p {
			return b.seen[i], true
		}
	}
	return seenByBackend{}, false
}
