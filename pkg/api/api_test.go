package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
	"github.com/drover-dev/drover/test/fake"
)

type noTunnel struct{}

func (noTunnel) Status(string) tunnel.Status { return tunnel.Status{} }
func (noTunnel) CloseCluster(string) int     { return 0 }

type fixture struct {
	srv   *httptest.Server
	st    *store.Store
	local *local.Provider
	admin string // admin session token
	user  string // non-admin session token
	// access counts AccessChanged calls.
	access *accessCounter
	// clk is the API's clock; it moves only when a test moves it.
	clk *fake.Clock
	// providers are the provider fixture's auth providers.
	providers *registry.Registry
}

func newFixture(t *testing.T, options ...func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	clk := fake.NewClock(time.Now())
	auth := authn.New(authn.Options{Store: st, Logger: log, Now: clk.Now})
	t.Cleanup(auth.Wait)
	counter := &accessCounter{auth: auth, checker: access.NewChecker(access.CheckerOptions{Store: st, Now: clk.Now})}
	lp := testLocal(t, st, clk.Now)
	o := Options{
		Local:  lp,
		Access: counter, Reach: counter.checker, Now: clk.Now,
		Store: st, Tokens: auth, Tunnel: noTunnel{}, CAPEM: []byte("CA"), CASum: "sum",
		ServerURL: "https://drover.test", Logger: log,
		SessionTTL: time.Hour, KubeconfigTTL: 24 * time.Hour, MaxTokenTTL: 48 * time.Hour,
	}
	for _, f := range options {
		f(&o)
	}
	a := New(o)
	// The real composition of the request path, without the proxy.
	r := chain.NewHandler(chain.Handlers{Logger: log, Auth: auth, API: a})
	f := &fixture{srv: httptest.NewServer(r), st: st, local: lp, access: counter, clk: clk}
	t.Cleanup(f.srv.Close)
	f.createUser(t, "root", true)
	f.createUser(t, "carol", false)
	f.admin = f.login(t, "root")
	f.user = f.login(t, "carol")
	return f
}

// testLocal is the local users' provider of the fixtures: bcrypt at its
// minimum cost, so that the tests do not spend their time hashing.
func testLocal(t *testing.T, st *store.Store, now func() time.Time) *local.Provider {
	t.Helper()
	lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return lp
}

// createUser makes a local user whose password is "a-long-enough-password".
func (f *fixture) createUser(t *testing.T, name string, admin bool) {
	t.Helper()
	if _, err := f.local.CreateUser(context.Background(), local.NewUser{Username: name, Password: "a-long-enough-password", Admin: admin}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) login(t *testing.T, name string) string {
	t.Helper()
	code, body := f.do(t, "POST", "/v3/login", "", `{"username":"`+name+`","password":"a-long-enough-password"}`)
	if code != 200 {
		t.Fatalf("login %s: %d %s", name, code, body)
	}
	var out struct{ Token string }
	json.Unmarshal([]byte(body), &out)
	return out.Token
}

func (f *fixture) do(t *testing.T, method, path, bearer, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func TestAPI(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`)
	if code != 201 {
		t.Fatalf("create cluster: %d %s", code, body)
	}
	var created struct {
		Cluster      struct{ ID string }
		Registration struct{ Token, CAChecksum string }
	}
	json.Unmarshal([]byte(body), &created)
	if !strings.HasPrefix(created.Cluster.ID, "c-") || !strings.HasPrefix(created.Registration.Token, "r-") {
		t.Fatalf("create answer: %s", body)
	}

	tests := []struct {
		name, method, path, bearer, body string
		code                             int
		contains                         string
	}{
		{"wrong password", "POST", "/v3/login", "", `{"username":"root","password":"nope-nope-nope"}`, 401, "wrong username or password"},
		{"unknown user", "POST", "/v3/login", "", `{"username":"ghost","password":"nope-nope-nope"}`, 401, "wrong username or password"},
		{"no token", "GET", "/v3/clusters", "", "", 401, "Unauthorized"},
		{"list clusters as non-member", "GET", "/v3/clusters", f.user, "", 200, `"items": []`},
		{"list clusters as admin", "GET", "/v3/clusters", f.admin, "", 200, `"name": "prod"`},
		{"get cluster as non-member", "GET", "/v3/clusters/" + created.Cluster.ID, f.user, "", 403, `user \"carol\" is not a member of cluster`},
		{"kubeconfig as non-member", "POST", "/v3/kubeconfig", f.user, `{"clusters":["` + created.Cluster.ID + `"]}`, 403, "is not a member"},
		{"kubeconfig of no cluster", "POST", "/v3/kubeconfig", f.user, `{}`, 404, `user \"carol\" is a member of no cluster`},
		{"create cluster as user", "POST", "/v3/clusters", f.user, `{"name":"x"}`, 403, "only Drover admins"},
		{"duplicate cluster", "POST", "/v3/clusters", f.admin, `{"name":"prod"}`, 409, "already exists"},
		{"bad cluster name", "POST", "/v3/clusters", f.admin, `{"name":"Prod_1"}`, 422, "DNS label"},
		{"unknown field", "POST", "/v3/clusters", f.admin, `{"name":"a","extra":1}`, 400, `unknown field \"extra\"`},
		{"wrong type", "POST", "/v3/clusters", f.admin, `{"name":5}`, 422, `field \"name\" must be a string`},
		{"not JSON", "POST", "/v3/clusters", f.admin, `{name`, 400, "not valid JSON"},
		{"huge body", "POST", "/v3/clusters", f.admin, `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "larger than 1 MiB"},
		{"missing cluster", "GET", "/v3/clusters/c-zzzzz", f.user, "", 404, `cluster \"c-zzzzz\" not found`},
		{"create user as user", "POST", "/v3/users", f.user, `{"username":"x","password":"a-long-enough-password"}`, 403, "only Drover admins"},
		{"reserved username", "POST", "/v3/users", f.admin, `{"username":"system:admin","password":"a-long-enough-password"}`, 422, "username must be"},
		{"short password", "POST", "/v3/users", f.admin, `{"username":"dave","password":"short"}`, 422, "password must be"},
		{"ttl above max", "POST", "/v3/tokens", f.user, `{"ttl":"100h"}`, 422, "longer than the server's maximum"},
		{"bad ttl", "POST", "/v3/tokens", f.user, `{"ttl":"soon"}`, 422, "positive duration"},
		{"token for missing cluster", "POST", "/v3/tokens", f.user, `{"clusterId":"c-zzzzz"}`, 404, "not found"},
		{"kubeconfig for missing cluster", "POST", "/v3/kubeconfig", f.user, `{"clusters":["c-zzzzz"]}`, 404, "not found"},
		{"me", "GET", "/v3/users/me", f.user, "", 200, `"username": "carol"`},
		{"auth endpoint as user", "PUT", "/v3/clusters/" + created.Cluster.ID + "/auth-endpoint", f.user, `{"url":"https://x"}`, 403, "only Drover admins"},
		{"auth endpoint http", "PUT", "/v3/clusters/" + created.Cluster.ID + "/auth-endpoint", f.admin, `{"url":"http://x"}`, 422, "https URL"},
		{"auth endpoint bad CA", "PUT", "/v3/clusters/" + created.Cluster.ID + "/auth-endpoint", f.admin, `{"url":"https://x","caCert":"nope"}`, 422, "caCert"},
		{"auth endpoint CA alone", "PUT", "/v3/clusters/" + created.Cluster.ID + "/auth-endpoint", f.admin, `{"caCert":"x"}`, 422, "caCert without url"},
		{"auth endpoint missing cluster", "PUT", "/v3/clusters/c-zzzzz/auth-endpoint", f.admin, `{"url":"https://x"}`, 404, "not found"},
		{"auth endpoint set", "PUT", "/v3/clusters/" + created.Cluster.ID + "/auth-endpoint", f.admin, `{"url":"https://prod.example:6443"}`, 200, `"url": "https://prod.example:6443"`},
		{"wrong method", "PUT", "/v3/clusters", f.admin, "", 405, "not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.method, tc.path, tc.bearer, tc.body)
			if code != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("%s %s = %d %s; want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.contains)
			}
			if code >= 400 && !strings.Contains(body, `"kind":"Status"`) {
				t.Errorf("error body is not a metav1.Status: %s", body)
			}
		})
	}

	t.Run("kubeconfig", func(t *testing.T) {
		carol := f.userID(t, "carol")
		if code, body := f.do(t, "POST", "/v3/bindings", f.admin, `{"scope":"cluster","clusterId":"`+created.Cluster.ID+
			`","role":"cluster-member","subjectKind":"user","subject":"`+carol+`"}`); code != 201 {
			t.Fatalf("bind carol: %d %s", code, body)
		}
		code, body := f.do(t, "POST", "/v3/kubeconfig", f.user, `{"ttl":"2h"}`)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		cfg, err := clientcmd.Load([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		want := "https://drover.test/k8s/clusters/" + created.Cluster.ID
		if got := cfg.Clusters["prod"].Server; got != want {
			t.Errorf("server = %q, want %q", got, want)
		}
		tok := cfg.AuthInfos["carol@prod"].Token
		if tok == f.user || tok == "" {
			t.Error("kubeconfig reuses the login session token")
		}
		id, _, _ := strings.Cut(tok, ":")
		rec, err := f.st.Token(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind != store.KindKubeconfig || rec.ClusterID != created.Cluster.ID {
			t.Errorf("kubeconfig token kind %q scope %q", rec.Kind, rec.ClusterID)
		}
		if d := rec.ExpiresAt.Sub(rec.CreatedAt); d != 2*time.Hour {
			t.Errorf("kubeconfig token TTL %s, want 2h", d)
		}
		// Another user cannot revoke it; its owner can, and then it is dead.
		if code, _ := f.do(t, "DELETE", "/v3/tokens/"+id, f.login(t, "root"), ""); code != 204 {
			t.Errorf("admin revoke: %d", code)
		}
		if code, _ := f.do(t, "GET", "/v3/users/me", tok, ""); code != 401 {
			t.Errorf("revoked kubeconfig token still works: %d", code)
		}
	})

	t.Run("revoke is owner-only", func(t *testing.T) {
		_, body := f.do(t, "POST", "/v3/tokens", f.admin, `{"description":"ci"}`)
		var tok struct{ ID string }
		json.Unmarshal([]byte(body), &tok)
		if code, _ := f.do(t, "DELETE", "/v3/tokens/"+tok.ID, f.user, ""); code != 404 {
			t.Errorf("another user's revoke = %d, want 404", code)
		}
	})

	t.Run("logout", func(t *testing.T) {
		s := f.login(t, "carol")
		if code, _ := f.do(t, "POST", "/v3/logout", s, ""); code != 204 {
			t.Fatalf("logout = %d", code)
		}
		if code, _ := f.do(t, "GET", "/v3/users/me", s, ""); code != 401 {
			t.Errorf("session works after logout: %d", code)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	attempt := func(username string) (int, string, string) {
		t.Helper()
		resp, err := http.Post(f.srv.URL+"/v3/login", "application/json",
			strings.NewReader(`{"username":"`+username+`","password":"wrong-wrong-wrong"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
	}
	// A username may try 10 times at once (the clock stands still).
	for i := range 10 {
		if code, _, body := attempt("mallory"); code != 401 {
			t.Fatalf("attempt %d = %d %s, want 401", i+1, code, body)
		}
	}
	// The 11th, in any case, waits for the attempt regained every 6s.
	code, retry, body := attempt("Mallory")
	if code != 429 || retry != "7" || !strings.Contains(body, "too many login attempts; try again in 7s") {
		t.Fatalf("11th attempt = %d, Retry-After %q, %s; want 429 after 7s", code, retry, body)
	}
	// Another user from the same address is still let through (the
	// address allows 30 a minute).
	if code, _ := f.do(t, "POST", "/v3/login", "", `{"username":"carol","password":"a-long-enough-password"}`); code != 200 {
		t.Errorf("another user's login = %d", code)
	}
	f.clk.Add(6 * time.Second)
	if code, _, body := attempt("mallory"); code != 401 {
		t.Errorf("attempt 6s later = %d %s, want 401", code, body)
	}
	if code, _, _ := attempt("mallory"); code != 429 {
		t.Errorf("second attempt 6s later = %d, want 429", code)
	}
	// The address's 30 at once, one regained every 2s: the fixture's 2
	// logins and 12 attempts before the clock moved leave 16, the 6s give
	// back 3, the 2 attempts since leave 17, then 429.
	for i := range 17 {
		if code, _, body := attempt("user-" + strconv.Itoa(i)); code != 401 {
			t.Fatalf("address attempt %d = %d %s, want 401", i+1, code, body)
		}
	}
	if code, retry, _ := attempt("one-more"); code != 429 || retry != "3" {
		t.Errorf("31st attempt from the address = %d, Retry-After %q; want 429 after 3s", code, retry)
	}
}
