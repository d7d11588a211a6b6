package authproxy_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/goleak"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/pkg/tunnel"
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

// sandwich is the whole request path in one process but for the agent: a
// SQLite store, the authenticator, the tunnel server and the proxy on their
// own TLS server (wired as pkg/server wires them), agents in child
// processes, and a backend standing in for kube-apiserver.
type sandwich struct {
	t       *testing.T
	dbPath  string
	store   *store.Store
	auth    *authn.Authenticator
	tun     *tunnel.Server
	proxy   *httptest.Server
	handler *authproxy.Proxy
	backend *backend
	members *access.Checker
	// noted collects what Options.NoteImpersonation was told.
	noted  *lockedList
	logs   *fake.Buffer
	client *http.Client
	// secrets must never appear in a log or a response.
	secrets []string
}

func newSandwich(t *testing.T, options ...func(*authproxy.Options)) *sandwich {
	t.Helper()
	// Registered first, so it runs after every other cleanup has closed
	// the agents, servers and store.
	leakOpts := []goleak.Option{
		goleak.IgnoreCurrent(),
		// remotedialer's connection.Write, when the conn has a write
		// deadline, starts a goroutine that waits for that deadline and
		// is not stopped when the write returns. crypto/tls sets a 5 s
		// write deadline to send close_notify, so every tunnel stream the
		// proxy closes leaves one behind for 5 s. It ends by itself.
		goleak.IgnoreTopFunction("github.com/rancher/remotedialer.(*connection).Write.func1"),
	}
	t.Cleanup(func() { goleak.VerifyNone(t, leakOpts...) })

	s := &sandwich{t: t, dbPath: filepath.Join(t.TempDir(), "drover.db"), logs: &fake.Buffer{}}
	st, err := store.Open(context.Background(), s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.store = st
	s.backend = newBackend(t)

	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.auth = authn.New(authn.Options{Store: st, Logger: logger})
	t.Cleanup(s.auth.Wait)
	s.tun = tunnel.New(tunnel.Options{Store: st, Logger: logger})
	s.members = access.NewChecker(access.CheckerOptions{Store: st})
	s.noted = &lockedList{}
	opts := authproxy.Options{Sessions: s.tun, Credentials: testCredentials{}, Logger: logger,
		NoteImpersonation: func(_ context.Context, user string, groups []string) {
			s.noted.add(user + " " + strings.Join(groups, ","))
		}}
	for _, o := range options {
		o(&opts)
	}
	proxy := authproxy.New(opts)
	s.handler = proxy

	// The real composition of the request path, without the JSON API.
	h := chain.NewHandler(chain.Handlers{Logger: logger, Auth: s.auth, Access: s.members, Proxy: proxy, Connect: s.tun})
	s.proxy = httptest.NewUnstartedServer(h)
	s.proxy.StartTLS()
	t.Cleanup(s.proxy.Close)
	// Runs after the agents' cleanups (registered later): the server side
	// of every tunnel must be gone before the servers close.
	t.Cleanup(func() {
		waitFor(t, "every tunnel session to end", func() bool { return len(s.tun.Clusters()) == 0 })
	})

	pool := x509.NewCertPool()
	pool.AddCert(s.proxy.Certificate())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	s.client = &http.Client{Transport: tr, Timeout: 2 * waitTimeout}
	t.Cleanup(tr.CloseIdleConnections)
	return s
}

// addUser creates a user.
func (s *sandwich) addUser(name string, admin bool) store.User {
	s.t.Helper()
	id, err := ids.User.New()
	if err != nil {
		s.t.Fatal(err)
	}
	u := store.User{ID: id, Username: name, Admin: admin, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateUser(context.Background(), u, []byte("unused-password-hash")); err != nil {
		s.t.Fatal(err)
	}
	return u
}

// bind makes a user a member of a cluster, as a Drover binding does.
func (s *sandwich) bind(userID, clusterID string) {
	s.t.Helper()
	id, err := ids.Binding.New()
	if err != nil {
		s.t.Fatal(err)
	}
	b := store.Binding{ID: id, Scope: store.ScopeCluster, ClusterID: clusterID, Role: access.RoleClusterMember,
		Kind: store.SubjectUser, Subject: userID, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateBinding(context.Background(), b); err != nil {
		s.t.Fatal(err)
	}
	s.members.Invalidate()
}

// mintToken stores a user token as pkg/api mints one and returns the raw
// token and its id.
func (s *sandwich) mintToken(userID, clusterID string, expiresAt time.Time) (raw, id string) {
	s.t.Helper()
	tok, err := token.New(ids.Token)
	if err != nil {
		s.t.Fatal(err)
	}
	h, err := token.Hash(tok)
	if err != nil {
		s.t.Fatal(err)
	}
	rec := store.Token{ID: tok.ID, UserID: userID, Kind: store.KindAPI, ClusterID: clusterID,
		Hashed: h, CreatedAt: time.Now().UTC(), ExpiresAt: expiresAt}
	if err := s.store.CreateToken(context.Background(), rec); err != nil {
		s.t.Fatal(err)
	}
	s.secrets = append(s.secrets, tok.Secret)
	return tok.String(), tok.ID
}

// deleteUserRow removes a user behind the store's back, leaving its tokens
// (foreign keys off), as a user deleted while its token is in flight.
func (s *sandwich) deleteUserRow(id string) {
	s.t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.dbPath+"?_pragma=foreign_keys(0)&_pragma=busy_timeout(5000)")
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM users WHERE id = ?`, id); err != nil {
		s.t.Fatal(err)
	}
}

// addCluster creates a cluster and returns a registration token for it.
func (s *sandwich) addCluster(id string) string {
	s.t.Helper()
	ctx := context.Background()
	if err := s.store.CreateCluster(ctx, store.Cluster{ID: id, Name: id, CreatedAt: time.Now().UTC()}); err != nil {
		s.t.Fatal(err)
	}
	tok, err := token.New(ids.Registration)
	if err != nil {
		s.t.Fatal(err)
	}
	h, err := token.Hash(tok)
	if err != nil {
		s.t.Fatal(err)
	}
	rec := store.RegistrationToken{ID: tok.ID, ClusterID: id, Kind: store.AgentCluster, Hashed: h, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateRegistrationToken(ctx, rec); err != nil {
		s.t.Fatal(err)
	}
	s.secrets = append(s.secrets, tok.Secret)
	return tok.String()
}

// connectCluster creates a cluster with a connected cluster agent and
// returns the agent and the ServiceAccount token it advertised.
func (s *sandwich) connectCluster(id string) (*agentproc.Agent, string) {
	s.t.Helper()
	reg := s.addCluster(id)
	sa := "sa-" + id + "-" + rand.Text()
	s.secrets = append(s.secrets, sa)
	a := s.startAgent(reg, agentapi.AgentParams{
		Protocol: agentapi.Protocol, Kind: agentapi.KindCluster, Endpoint: s.backend.endpoint(), CACert: s.backend.caPEM(), Token: sa,
	})
	waitFor(s.t, "agent of "+id, func() bool {
		sess, ok := s.tun.Session(id)
		return ok && sess.Params.Token == sa
	})
	return a, sa
}

// checkNoSecretsLeaked fails if a token secret was logged.
func (s *sandwich) checkNoSecretsLeaked() {
	s.t.Helper()
	logs := s.logs.String()
	for _, secret := range s.secrets {
		if strings.Contains(logs, secret) {
			s.t.Errorf("a secret was logged:\n%s", logs)
			return
		}
	}
}

// dial opens a raw TLS connection to the proxy, for requests whose bytes
// the test writes itself (mixed-case or duplicated names, upgrades).
func (s *sandwich) dial() (*tls.Conn, *bufio.Reader) {
	s.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.proxy.Certificate())
	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", s.proxy.Listener.Addr().String())
	if err != nil {
		s.t.Fatal(err)
	}
	tc := c.(*tls.Conn)
	tc.SetDeadline(time.Now().Add(2 * waitTimeout))
	s.t.Cleanup(func() { tc.Close() })
	return tc, bufio.NewReader(tc)
}

// rawDo writes one request verbatim and returns the response and its body.
func (s *sandwich) rawDo(req string) (*http.Response, []byte) {
	s.t.Helper()
	c, br := s.dial()
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		s.t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// rawRequest builds an HTTP/1.1 request with header lines exactly as given.
func rawRequest(method, path string, lines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: drover.test\r\n", method, path)
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
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

// seenRequest is what the backend recorded of one request.
type seenRequest struct {
	Method, Path, RemoteAddr string
	Header                   http.Header
}

// stream is one in-flight /stream request at the backend.
type stream struct {
	release  chan struct{} // closed by the test to let the handler finish
	canceled chan struct{} // closed by the handler if its request ended first
}

// backend stands in for kube-apiserver: a TLS server that records every
// request and every connection's state.
//
//	/stream               writes a line, flushes, blocks until released
//	/upgrade/echo         answers an upgrade with 101 and echoes bytes
//	/upgrade/refuse/{code} answers an upgrade with code, keeping the
//	                      connection open as an apiserver may
//	POST subjectaccessreviews  answers from sarPolicy (sar_test.go)
//	anything else         200 and a small JSON body
//
// Responses keep connections alive, so that every close through the
// tunnel is started by the server's side (see package agentproc).
type backend struct {
	srv     *httptest.Server
	streams chan *stream
	sar     sarPolicy

	mu     sync.Mutex
	reqs   []seenRequest
	states map[string]http.ConnState // by remote address
	extra  map[string]http.HandlerFunc
}

// handle serves path with h (after recording the request).
func (b *backend) handle(path string, h http.HandlerFunc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.extra == nil {
		b.extra = map[string]http.HandlerFunc{}
	}
	b.extra[path] = h
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{streams: make(chan *stream, 8), states: map[string]http.ConnState{}}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	b.srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		b.mu.Lock()
		b.states[c.RemoteAddr().String()] = st
		b.mu.Unlock()
	}
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == sarPath {
		b.serveSAR(w, r) // recorded apart: requests() is what was forwarded
		return
	}
	b.mu.Lock()
	b.reqs = append(b.reqs, seenRequest{Method: r.Method, Path: r.URL.Path, RemoteAddr: r.RemoteAddr, Header: r.Header.Clone()})
	extra := b.extra[r.URL.Path]
	b.mu.Unlock()
	if extra != nil {
		extra(w, r)
		return
	}

	switch {
	case r.URL.Path == "/stream":
		st := &stream{release: make(chan struct{}), canceled: make(chan struct{})}
		b.streams <- st
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-st.release:
			io.WriteString(w, "second\n")
		case <-r.Context().Done():
			close(st.canceled)
		}
	case r.URL.Path == "/upgrade/echo":
		if !strings.EqualFold(r.Header.Get("Connection"), "Upgrade") || r.Header.Get("Upgrade") == "" {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
		if brw.Flush() == nil {
			io.Copy(c, brw)
		}
	case strings.HasPrefix(r.URL.Path, "/upgrade/refuse/"):
		var code int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/upgrade/refuse/"), &code)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","code":%d}`+"\n", code)
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`+"\n", r.URL.Path)
	}
}

func (b *backend) endpoint() string { return b.srv.Listener.Addr().String() }

func (b *backend) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.srv.Certificate().Raw})
}

func (b *backend) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenRequest(nil), b.reqs...)
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

func (b *backend) connState(remoteAddr string) http.ConnState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.states[remoteAddr]
}

// nextStream returns the next /stream request the backend got.
func (b *backend) nextStream(t *testing.T) *stream {
	t.Helper()
	select {
	case st := <-b.streams:
		return st
	case <-time.After(waitTimeout):
		t.Fatal("the backend got no /stream request")
		return nil
	}
}

// testCredentials stand in for package accounts against the backend, which
// is no apiserver: each identity's credential is derived from its account,
// so a test can tell which account a request was forwarded with.
type testCredentials struct{}

func (testCredentials) Credential(_ context.Context, req accounts.Request) (string, error) {
	if err := accounts.Check(req.Account, req.Admin); err != nil {
		return "", err
	}
	return testCredential(req.Account), nil
}

func (testCredentials) Invalidate(accounts.Request) {}

func testCredential(a downstream.Account) string { return "cred-" + accounts.Name(a) }

// realAccounts makes the sandwich use package accounts, for tests against
// real apiservers.
func realAccounts(o *authproxy.Options) {
	o.Credentials = accounts.New(accounts.Options{Agents: o.Sessions, Logger: o.Logger})
}
