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
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// withUnclassified is the real API plus one route registered without a
// scope, as a careless change would add it.
type withUnclassified struct{ *api.API }

func (w withUnclassified) Routes(r *access.Routes) {
	w.API.Routes(r)
	r.Router().HandleFunc("/v3/unclassified", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("reached"))
	}).Methods(http.MethodGet)
}

type server struct {
	t    *testing.T
	srv  *httptest.Server
	a    *api.API
	auth *authn.Authenticator
}

func newServer(t *testing.T) *server {
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
	auth := authn.New(authn.Options{Store: st, Logger: log})
	t.Cleanup(auth.Wait)
	tun := tunnel.New(tunnel.Options{Store: st, Logger: log})
	checker := access.NewChecker(access.CheckerOptions{Store: st})
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	tickets := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st})
	a := api.New(api.Options{Store: st, Local: lp, Tokens: auth, Tunnel: tun, Reach: checker, CAPEM: []byte("CA"), CASum: "sum",
		ServerURL: "https://drover.test", Logger: log, SessionTTL: time.Hour, KubeconfigTTL: time.Hour, MaxTokenTTL: 2 * time.Hour,
		Shell: tickets})
	h := chain.NewHandler(chain.Handlers{Logger: log, Auth: auth, Access: checker, Connect: tun,
		Proxy: authproxy.New(authproxy.Options{Sessions: tun, Logger: log}), API: withUnclassified{a}, Shell: tickets})
	s := &server{t: t, srv: httptest.NewServer(h), a: a, auth: auth}
	t.Cleanup(s.srv.Close)
	if _, err := lp.CreateUser(ctx, local.NewUser{Username: "root", Password: "a-long-enough-password", Admin: true}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) do(method, path, bearer string, body any) (int, string) {
	s.t.Helper()
	var in io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, in)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "" // a live view answers for as long as it is read
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *server) must(method, path, bearer string, body, out any) {
	s.t.Helper()
	code, b := s.do(method, path, bearer, body)
	if code >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		json.Unmarshal([]byte(b), out)
	}
}

// scopeRefusal is the scope filter's answer.
const scopeRefusal = "this token is scoped to cluster"

// TestScopedTokenOnEveryRoute walks every route the server registers, with
// a token scoped to one cluster held by a global admin (the strongest
// scoped credential), and checks that it reaches exactly: the proxy for its
// own cluster, GET /v3/users/me, GET /v3/clusters/{its cluster} and
// revoking itself. A login session reaches every route past the scope
// filter, and a route registered without a scope refuses everyone.
func TestScopedTokenOnEveryRoute(t *testing.T) {
	s := newServer(t)
	var login struct{ Token string }
	s.must("POST", "/v3/login", "", map[string]string{"username": "root", "password": "a-long-enough-password"}, &login)
	session := login.Token
	var own, other struct{ Cluster struct{ ID string } }
	s.must("POST", "/v3/clusters", session, map[string]string{"name": "own"}, &own)
	s.must("POST", "/v3/clusters", session, map[string]string{"name": "other"}, &other)
	mint := func() (secret, id string) {
		var tok struct{ Token, ID string }
		s.must("POST", "/v3/tokens", session, map[string]string{"clusterId": own.Cluster.ID}, &tok)
		return tok.Token, strings.SplitN(tok.Token, ":", 2)[0]
	}
	scoped, scopedID := mint()
	_, siblingID := mint()

	// Every route of the API and of the chain around it.
	routes := access.NewRoutes(chain.NewRouter())
	withUnclassified{s.a}.Routes(routes)
	public := chain.NewRouter()
	s.a.PublicRoutes(public)
	type route struct{ method, path string }
	var all []route
	walk := func(r *mux.Router) {
		err := r.Walk(func(rt *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			tpl, err := rt.GetPathTemplate()
			if err != nil {
				return err
			}
			methods, err := rt.GetMethods()
			if err != nil {
				return err
			}
			for _, m := range methods {
				all = append(all, route{m, tpl})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	walk(routes.Router())
	walk(public)
	all = append(all, route{"GET", "/k8s/clusters/{id}/api/v1/namespaces"}, route{"POST", "/k8s/clusters/{id}/api/v1/namespaces"},
		route{"GET", agentapi.ConnectPath}, route{"GET", "/healthz"}, route{"GET", "/readyz"}, route{"GET", "/metrics"},
		route{"GET", shell.Path})
	sort.Slice(all, func(i, j int) bool { return all[i].path+all[i].method < all[j].path+all[j].method })

	// The only requests the scoped token may make past the scope rules.
	allowed := map[string]bool{
		"GET /v3/users/me":                                            true,
		"GET /v3/clusters/" + own.Cluster.ID:                          true,
		"DELETE /v3/tokens/" + scopedID:                               true,
		"GET /k8s/clusters/" + own.Cluster.ID + "/api/v1/namespaces":  true,
		"POST /k8s/clusters/" + own.Cluster.ID + "/api/v1/namespaces": true,
	}
	ids := []string{own.Cluster.ID, other.Cluster.ID, scopedID, siblingID}
	for _, rt := range all {
		candidates := []string{rt.path}
		if strings.Contains(rt.path, "{id}") {
			candidates = nil
			for _, id := range ids {
				candidates = append(candidates, strings.ReplaceAll(rt.path, "{id}", id))
			}
		}
		for _, p := range candidates {
			p = strings.NewReplacer("{name}", "x", "{token}", "r-x:y", "{provider}", "local").Replace(p)
			if strings.HasSuffix(p, "/v3/tokens/"+scopedID) && rt.method == "DELETE" {
				continue // revoking itself: run last, below
			}
			key := rt.method + " " + p
			t.Run(key, func(t *testing.T) {
				code, body := s.do(rt.method, p, scoped, nil)
				refused := code == http.StatusForbidden && strings.Contains(body, scopeRefusal) ||
					code == http.StatusForbidden && strings.Contains(body, "scoped to another cluster") ||
					code == http.StatusForbidden && strings.Contains(body, "admits no credential") ||
					code == http.StatusForbidden && strings.Contains(body, "the shell opens from the web console") ||
					code == http.StatusUnauthorized
				public := !strings.HasPrefix(p, "/v3/") || strings.HasPrefix(p, "/v3/login") ||
					strings.HasPrefix(p, "/v3/import/") || p == agentapi.ConnectPath
				switch {
				case public:
					// Public routes take no user credential: a user token
					// there is at best ignored, never honoured.
					if code < 400 && rt.method != "GET" {
						t.Errorf("public %s answered %d with a scoped token", key, code)
					}
				case allowed[key] && refused:
					t.Errorf("the scoped token was refused: %d %s", code, body)
				case !allowed[key] && !refused:
					t.Errorf("the scoped token got past the scope rules: %d %s", code, body)
				}
				// A login session is never stopped by the scope rules
				// (except on the unclassified route); logout gets a
				// session of its own.
				sess := session
				if rt.method == "DELETE" && p == "/v3/clusters/"+own.Cluster.ID {
					// The scoped token would go with its cluster; the
					// session deletes the other cluster instead.
					return
				}
				if p == "/v3/logout" {
					var l struct{ Token string }
					s.must("POST", "/v3/login", "", map[string]string{"username": "root", "password": "a-long-enough-password"}, &l)
					sess = l.Token
				}
				code, body = s.do(rt.method, p, sess, nil)
				if strings.Contains(body, scopeRefusal) || (strings.Contains(body, "admits no credential") != (p == "/v3/unclassified")) {
					t.Errorf("login session: %d %s", code, body)
				}
			})
		}
	}

	// Revoking a sibling token is refused; revoking itself works, once.
	if code, body := s.do("DELETE", "/v3/tokens/"+siblingID, scoped, nil); code != http.StatusForbidden {
		t.Errorf("scoped token revoking its sibling: %d %s", code, body)
	}
	if code, body := s.do("DELETE", "/v3/tokens/"+scopedID, scoped, nil); code != http.StatusNoContent {
		t.Errorf("scoped token revoking itself: %d %s", code, body)
	}
	if code, _ := s.do("GET", "/v3/users/me", scoped, nil); code != http.StatusUnauthorized {
		t.Errorf("revoked token still works: %d", code)
	}
	if code, body := s.do("GET", "/v3/unclassified", session, nil); code != http.StatusForbidden || strings.Contains(body, "reached") {
		t.Errorf("unclassified route with a login session: %d %s", code, body)
	}
}
