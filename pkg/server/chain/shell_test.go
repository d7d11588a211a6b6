package chain_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
	"github.com/drover-dev/drover/pkg/websession"
)

// shellServer is the whole request path over TLS (the session cookie and
// the Origin check need https) with the console's shell.
type shellServer struct {
	t      *testing.T
	srv    *httptest.Server
	origin string
	lp     *local.Provider
}

func newShellServer(t *testing.T) *shellServer {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	tickets := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st})
	auth := authn.New(authn.Options{Store: st, Logger: log})
	t.Cleanup(auth.Wait)
	tun := tunnel.New(tunnel.Options{Store: st, Logger: log})
	checker := access.NewChecker(access.CheckerOptions{Store: st})
	a := api.New(api.Options{Store: st, Local: lp, Tokens: auth, Tunnel: tun, Reach: checker, CAPEM: []byte("CA"), CASum: "sum",
		ServerURL: "https://drover.test", Logger: log, SessionTTL: time.Hour, KubeconfigTTL: time.Hour, MaxTokenTTL: 2 * time.Hour,
		Shell: tickets})
	h := chain.NewHandler(chain.Handlers{Logger: log, Auth: auth, Access: checker, Connect: tun,
		Proxy: authproxy.New(authproxy.Options{Sessions: tun, Logger: log}), API: a, Shell: tickets})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	for _, u := range []local.NewUser{{Username: "root", Password: "a-long-enough-password", Admin: true},
		{Username: "bob", Password: "another-long-password"}} {
		if _, err := lp.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	return &shellServer{t: t, srv: srv, origin: srv.URL, lp: lp}
}

// call sends one request with the given headers and JSON body.
func (s *shellServer) call(method, path string, hdr http.Header, body any) (int, []byte, http.Header) {
	s.t.Helper()
	var in io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, in)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// consoleLogin logs user in as the console does and returns the session.
func (s *shellServer) consoleLogin(user, password string) string {
	s.t.Helper()
	code, b, hdr := s.call("POST", "/v3/login", http.Header{"Origin": {s.origin}},
		map[string]string{"username": user, "password": password, "session": "cookie"})
	if code != http.StatusOK && code != http.StatusCreated {
		s.t.Fatalf("console login: %d %s", code, b)
	}
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == websession.CookieName {
			return c.Value
		}
	}
	s.t.Fatalf("console login set no session cookie: %v", hdr)
	return ""
}

// console is what the console sends with a state-changing call.
func (s *shellServer) console(session string) http.Header {
	h := http.Header{"Origin": {s.origin}, "Cookie": {websession.CookieName + "=" + session}}
	h.Set(websession.CSRFHeader, websession.CSRFToken(session))
	return h
}

func (s *shellServer) ticket(session, clusterID string, t shell.Target) string {
	s.t.Helper()
	code, b, _ := s.call("POST", "/v3/clusters/"+clusterID+"/shell-tickets", s.console(session), t)
	var out struct{ Ticket string }
	if err := json.Unmarshal(b, &out); code != http.StatusCreated || err != nil || out.Ticket == "" {
		s.t.Fatalf("shell ticket: %d %s", code, b)
	}
	return out.Ticket
}

// dial opens the shell's websocket with hdr and answers the handshake's
// status and body.
func (s *shellServer) dial(clusterID, query string, hdr http.Header) (int, string) {
	s.t.Helper()
	d := websocket.Dialer{TLSClientConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig,
		Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	u := "wss" + strings.TrimPrefix(s.srv.URL, "https") + "/v3/clusters/" + clusterID + "/shell" + query
	conn, resp, err := d.Dial(u, hdr)
	if err == nil {
		conn.Close()
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		s.t.Fatalf("dial %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestShellWebsocket: the shell's websocket needs the session cookie, this
// server's Origin and a ticket issued to that session for that cluster;
// every request missing one is refused and spends nothing, and the
// complete one reaches the proxy (which answers 503: the cluster has no
// agent) once.
func TestShellWebsocket(t *testing.T) {
	s := newShellServer(t)
	root := s.consoleLogin("root", "a-long-enough-password")
	other := s.consoleLogin("root", "a-long-enough-password")
	bob := s.consoleLogin("bob", "another-long-password")
	var c1, c2 struct{ Cluster struct{ ID string } }
	for _, c := range []*struct{ Cluster struct{ ID string } }{&c1, &c2} {
		code, b, _ := s.call("POST", "/v3/clusters", s.console(root), map[string]string{"name": "c" + strings.ToLower(rand.Text()[:6])})
		if code != http.StatusCreated {
			t.Fatalf("create a cluster: %d %s", code, b)
		}
		json.Unmarshal(b, c)
	}
	id := c1.Cluster.ID
	target := shell.Target{Namespace: "default", Pod: "web-0", Command: []string{"sh"}}
	cookie := func(session string) http.Header {
		return http.Header{"Origin": {s.origin}, "Cookie": {websession.CookieName + "=" + session}}
	}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		cluster string
		query   func(ticket string) string
		hdr     http.Header
		want    int
	}{
		{"no Origin", id, nil, with(cookie(root), "Origin", ""), http.StatusForbidden},
		{"another site's Origin", id, nil, with(cookie(root), "Origin", "https://evil.test"), http.StatusForbidden},
		{"an http Origin", id, nil, with(cookie(root), "Origin", strings.Replace(s.origin, "https", "http", 1)), http.StatusForbidden},
		{"the session as a bearer token", id, nil, http.Header{"Origin": {s.origin}, "Authorization": {"Bearer " + root}}, http.StatusForbidden},
		{"cookie and bearer token", id, nil, with(cookie(root), "Authorization", "Bearer "+root), http.StatusForbidden},
		{"no cookie", id, nil, http.Header{"Origin": {s.origin}}, http.StatusUnauthorized},
		{"another session of the same user", id, nil, cookie(other), http.StatusForbidden},
		{"another user", id, nil, cookie(bob), http.StatusForbidden},
		{"another cluster", c2.Cluster.ID, nil, cookie(root), http.StatusForbidden},
		{"no ticket", id, func(string) string { return "" }, cookie(root), http.StatusBadRequest},
		{"two tickets", id, func(t string) string { return "?ticket=" + t + "&ticket=" + t }, cookie(root), http.StatusBadRequest},
		{"a forged ticket", id, func(t string) string { return "?ticket=" + t[:len(t)-2] + "AA" }, cookie(root), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticket := s.ticket(root, id, target)
			q := "?ticket=" + url.QueryEscape(ticket)
			if tc.query != nil {
				q = tc.query(ticket)
			}
			if code, body := s.dial(tc.cluster, q, tc.hdr); code != tc.want {
				t.Fatalf("refused with %d %s, want %d", code, body, tc.want)
			}
			// Nothing was spent: the ticket still works, once.
			good := "?ticket=" + url.QueryEscape(ticket)
			if code, body := s.dial(id, good, cookie(root)); code != http.StatusServiceUnavailable || strings.Contains(body, "ticket") {
				t.Fatalf("the ticket after the refusal: %d %s, want the proxy's 503 (no agent)", code, body)
			}
			if code, body := s.dial(id, good, cookie(root)); code != http.StatusForbidden || !strings.Contains(body, "ticket") {
				t.Fatalf("the ticket used again: %d %s, want 403", code, body)
			}
		})
	}
	t.Run("not a websocket", func(t *testing.T) {
		ticket := s.ticket(root, id, target)
		code, b, _ := s.call("GET", "/v3/clusters/"+id+"/shell?ticket="+url.QueryEscape(ticket), cookie(root), nil)
		if code != http.StatusBadRequest {
			t.Fatalf("a plain GET: %d %s, want 400", code, b)
		}
		if code, body := s.dial(id, "?ticket="+url.QueryEscape(ticket), cookie(root)); code != http.StatusServiceUnavailable {
			t.Fatalf("the ticket after the plain GET: %d %s, want 503", code, body)
		}
	})
}

// TestShellTickets: a ticket is issued only to the console's session
// (cookie, Origin and CSRF token), for a cluster the user may reach, for a
// valid target.
func TestShellTickets(t *testing.T) {
	s := newShellServer(t)
	root := s.consoleLogin("root", "a-long-enough-password")
	bob := s.consoleLogin("bob", "another-long-password")
	code, b, _ := s.call("POST", "/v3/clusters", s.console(root), map[string]string{"name": "one"})
	var c struct{ Cluster struct{ ID string } }
	if json.Unmarshal(b, &c); code != http.StatusCreated {
		t.Fatalf("create a cluster: %d %s", code, b)
	}
	path := "/v3/clusters/" + c.Cluster.ID + "/shell-tickets"
	good := shell.Target{Namespace: "default", Pod: "web-0", Command: []string{"sh"}}
	for _, tc := range []struct {
		name   string
		path   string
		hdr    http.Header
		body   any
		want   int
		fields []string
	}{
		{"the console", path, s.console(root), good, http.StatusCreated, nil},
		{"no CSRF token", path, func() http.Header { h := s.console(root); h.Del(websession.CSRFHeader); return h }(), good, http.StatusForbidden, nil},
		{"another site", path, func() http.Header { h := s.console(root); h.Set("Origin", "https://evil.test"); return h }(), good, http.StatusForbidden, nil},
		{"a bearer token", path, http.Header{"Authorization": {"Bearer " + root}}, good, http.StatusForbidden, nil},
		{"a user who may not reach the cluster", path, s.console(bob), good, http.StatusForbidden, nil},
		{"no such cluster", "/v3/clusters/c-zzzzz/shell-tickets", s.console(root), good, http.StatusNotFound, nil},
		{"a bad target", path, s.console(root), shell.Target{Namespace: "Bad", Pod: "x/y"}, http.StatusUnprocessableEntity,
			[]string{"namespace", "pod", "command"}},
		{"an unknown field", path, s.console(root), map[string]any{"namespace": "a", "pod": "b", "command": []string{"sh"}, "tty": false},
			http.StatusBadRequest, []string{"tty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b, _ := s.call("POST", tc.path, tc.hdr, tc.body)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, b, tc.want)
			}
			var st struct {
				Details struct{ Causes []struct{ Field string } }
			}
			json.Unmarshal(b, &st)
			var fields []string
			for _, c := range st.Details.Causes {
				fields = append(fields, c.Field)
			}
			if diff := cmp.Diff(tc.fields, fields); diff != "" {
				t.Errorf("fields named (-want +got):\n%s\n%s", diff, b)
			}
		})
	}
}
