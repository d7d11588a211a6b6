package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/test/fake"
)

// people are what the fake providers know: username → password, groups.
type people struct {
	mu     sync.Mutex
	groups map[string][]string
}

const fakePassword = "right-password-1"

func (p *people) principal(provider, name string) (providers.Principal, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.groups[name]
	if !ok {
		return providers.Principal{}, providers.InvalidCredentials("fake: no user %q", name)
	}
	groups, _, err := providers.Groups(provider, g)
	return providers.Principal{Provider: provider, ID: "id-" + name, Username: name, Groups: groups}, err
}

type fakeConfig struct {
	Name   string `json:"name,omitempty"`
	Secret string `json:"secret,omitempty"`
	Realm  string `json:"realm"`
}

func (c fakeConfig) Validate() error {
	if c.Realm == "" {
		return errors.New("realm is required")
	}
	return nil
}

type fakeBase struct {
	name string
	who  *people
}

func (f *fakeBase) Name() string { return f.name }
func (f *fakeBase) Refresh(_ context.Context, prev providers.Principal) (providers.Principal, error) {
	return f.who.principal(f.name, prev.Username)
}

type fakePasswordProvider struct{ fakeBase }

// LoginKey trims and folds, as a directory matches names.
func (f *fakePasswordProvider) LoginKey(user string) string {
	return strings.ToLower(strings.TrimSpace(user))
}

func (f *fakePasswordProvider) Login(_ context.Context, user, password string) (providers.Principal, error) {
	if password != fakePassword {
		return providers.Principal{}, providers.InvalidCredentials("fake: wrong password for %q", user)
	}
	return f.who.principal(f.name, user)
}

type fakeRedirectProvider struct{ fakeBase }

func (f *fakeRedirectProvider) Begin(_ context.Context, state string) (string, string, error) {
	return "https://idp.test/auth?state=" + url.QueryEscape(state), "v-" + state, nil
}

func (f *fakeRedirectProvider) Finish(_ context.Context, cb url.Values, state, verifier string) (providers.Principal, error) {
	code, err := providers.ParseCallback(cb, state)
	if err != nil {
		return providers.Principal{}, err
	}
	if verifier != "v-"+state {
		return providers.Principal{}, providers.InvalidCredentials("fake: verifier")
	}
	return f.who.principal(f.name, code)
}

// newProviderFixture is newFixture's server with auth providers: "corp"
// (a password provider) and "sso" (a redirect provider) over who.
func newProviderFixture(t *testing.T) (*fixture, *people, *fake.Clock, *fake.Buffer) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &fake.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := fake.NewClock(time.Now())
	auth := authn.New(authn.Options{Store: st, Logger: log, Now: clk.Now})
	t.Cleanup(auth.Wait)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	who := &people{groups: map[string][]string{"alice": {"devs"}, "bob": {}}}
	types := registry.DefaultTypes()
	types["fake-password"] = registry.Type{Secrets: []string{"secret"}, Build: registry.Builder(
		func(c *fakeConfig) *string { return &c.Name },
		func(c fakeConfig, _ *slog.Logger) (*fakePasswordProvider, error) {
			return &fakePasswordProvider{fakeBase{c.Name, who}}, nil
		})}
	types["fake-redirect"] = registry.Type{Secrets: []string{"secret"}, Build: registry.Builder(
		func(c *fakeConfig) *string { return &c.Name },
		func(c fakeConfig, _ *slog.Logger) (*fakeRedirectProvider, error) {
			return &fakeRedirectProvider{fakeBase{c.Name, who}}, nil
		})}
	reg := registry.New(registry.Options{Store: st, Sealer: sealer, Logger: log, Now: clk.Now, Types: types, Tokens: auth})
	lp := testLocal(t, st, clk.Now)
	a := New(Options{
		Store: st, Tokens: auth, Tunnel: noTunnel{}, CAPEM: []byte("CA"), CASum: "sum",
		ServerURL: "https://drover.test", Logger: log, Now: clk.Now, Providers: reg, Local: lp,
		SessionTTL: time.Hour, KubeconfigTTL: 24 * time.Hour, MaxTokenTTL: 48 * time.Hour,
	})
	// The real composition of the request path, without the proxy. The
	// test client's loopback address is a trusted proxy, so a test can
	// log in from any address (X-Forwarded-For; see loginFrom).
	r := chain.NewHandler(chain.Handlers{Logger: log, Auth: auth, API: a,
		Client: request.ClientOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	f := &fixture{srv: httptest.NewServer(r), st: st, local: lp, providers: reg}
	t.Cleanup(f.srv.Close)
	f.createUser(t, "root", true)
	f.createUser(t, "carol", false)
	f.admin = f.login(t, "root")
	f.user = f.login(t, "carol")
	for _, p := range []struct{ name, typ string }{{"corp", "fake-password"}, {"sso", "fake-redirect"}} {
		if code, body := f.do(t, "PUT", "/v3/auth-providers/"+p.name, f.admin,
			`{"type":"`+p.typ+`","config":{"realm":"r","secret":"provider-secret-value"}}`); code != 200 {
			t.Fatalf("configure %s: %d %s", p.name, code, body)
		}
	}
	return f, who, clk, logs
}

// jsonBody decodes a JSON answer, dropping the given top-level fields
// (times, ids).
func jsonBody(t *testing.T, body string, drop ...string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, body)
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

func status(code int, reason, message string) map[string]any {
	return map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"code": float64(code), "reason": reason, "message": message}
}

// unknownField adds to st the cause decode gives an unknown field.
func unknownField(st map[string]any, name, supported string) map[string]any {
	st["details"] = map[string]any{"causes": []any{map[string]any{
		"reason": "FieldValueNotSupported", "field": name,
		"message": `Unsupported value: "` + name + `": supported values: ` + supported,
	}}}
	return st
}

func TestAuthProviderAPI(t *testing.T) {
	f, _, _, logs := newProviderFixture(t)
	corp := map[string]any{"name": "corp", "type": "fake-password", "config": map[string]any{"name": "corp", "realm": "r"},
		"secrets": map[string]any{"secret": "set"}}
	for _, tc := range []struct {
		name, method, path, bearer, body string
		code                             int
		want                             map[string]any
	}{
		{"list", "GET", "/v3/auth-providers", f.admin, "", 200, map[string]any{"items": []any{corp,
			map[string]any{"name": "sso", "type": "fake-redirect", "config": map[string]any{"name": "sso", "realm": "r"},
				"secrets": map[string]any{"secret": "set"}}}}},
		{"get", "GET", "/v3/auth-providers/corp", f.admin, "", 200, corp},
		{"get as non-admin", "GET", "/v3/auth-providers/corp", f.user, "", 403,
			status(403, "Forbidden", "only Drover admins may GET /v3/auth-providers/corp")},
		{"put as non-admin", "PUT", "/v3/auth-providers/x", f.user, `{"type":"ldap","config":{}}`, 403,
			status(403, "Forbidden", "only Drover admins may PUT /v3/auth-providers/x")},
		{"get missing", "GET", "/v3/auth-providers/nope", f.admin, "", 404,
			status(404, "NotFound", `auth provider "nope" not found; GET /v3/auth-providers lists them`)},
		{"reserved name", "PUT", "/v3/auth-providers/local", f.admin, `{"type":"fake-password","config":{"realm":"r"}}`, 422,
			status(422, "Invalid", `auth provider "local": provider name "local" is reserved for Drover's own users`)},
		{"no type", "PUT", "/v3/auth-providers/x", f.admin, `{"config":{}}`, 422,
			status(422, "Invalid", "type is required: ldap, oidc or github")},
		{"bad field", "PUT", "/v3/auth-providers/x", f.admin, `{"type":"ldap","config":{"url":"ldaps://x","userBaseDN":"nonsense"}}`, 422,
			status(422, "Invalid", `auth provider "x": config: userBaseDN "nonsense": DN ended with incomplete type, value pair`)},
		{"unknown field", "PUT", "/v3/auth-providers/x", f.admin, `{"type":"fake-password","config":{"realm":"r","colour":"red"}}`, 422,
			status(422, "Invalid", `auth provider "x": config: json: unknown field "colour"`)},
		{"unknown request field", "PUT", "/v3/auth-providers/x", f.admin, `{"type":"ldap","cfg":{}}`, 400,
			unknownField(status(400, "BadRequest", `request body: unknown field "cfg"`), "cfg", `"type", "config", "clearSecrets"`)},
		{"update keeps the secret", "PUT", "/v3/auth-providers/corp", f.admin, `{"type":"fake-password","config":{"realm":"r"}}`, 200, corp},
		{"reserved name drover", "PUT", "/v3/auth-providers/drover", f.admin, `{"type":"fake-password","config":{"realm":"r"}}`, 422,
			status(422, "Invalid", `auth provider "drover": provider name "drover" is reserved for Drover's own identities ("drover:admins" is cluster-admin in every cluster)`)},
		{"ldap with a bind password", "PUT", "/v3/auth-providers/dir", f.admin,
			`{"type":"ldap","config":{"url":"ldaps://ldap.example.org","bindDN":"cn=svc","bindPassword":"pw","userBaseDN":"dc=x"}}`, 200,
			map[string]any{"name": "dir", "type": "ldap", "config": map[string]any{"name": "dir", "url": "ldaps://ldap.example.org",
				"bindDN": "cn=svc", "userBaseDN": "dc=x"}, "secrets": map[string]any{"bindPassword": "set"}}},
		{"new url without the bind password", "PUT", "/v3/auth-providers/dir", f.admin,
			`{"type":"ldap","config":{"url":"ldaps://evil.example.net","bindDN":"cn=svc","userBaseDN":"dc=x"}}`, 422,
			status(422, "Invalid", `auth provider "dir": config.bindPassword: send bindPassword again: the endpoint changed (url); or clear it with "clearSecrets": ["bindPassword"]`)},
		{"clear the bind password", "PUT", "/v3/auth-providers/dir", f.admin,
			`{"type":"ldap","config":{"url":"ldaps://ldap.example.org","userBaseDN":"dc=x"},"clearSecrets":["bindPassword"]}`, 200,
			map[string]any{"name": "dir", "type": "ldap", "config": map[string]any{"name": "dir", "url": "ldaps://ldap.example.org",
				"userBaseDN": "dc=x"}, "secrets": map[string]any{"bindPassword": "unset"}}},
		{"delete dir", "DELETE", "/v3/auth-providers/dir", f.admin, "", 200, map[string]any{"name": "dir", "disabledUsers": float64(0)}},
		{"public list", "GET", "/v3/login/providers", "", "", 200, map[string]any{"items": []any{
			map[string]any{"name": "local", "type": "local"}, map[string]any{"name": "corp", "type": "fake-password"},
			map[string]any{"name": "sso", "type": "fake-redirect"}}}},
		{"delete", "DELETE", "/v3/auth-providers/sso", f.admin, "", 200, map[string]any{"name": "sso", "disabledUsers": float64(0)}},
		{"deleted", "GET", "/v3/auth-providers/sso", f.admin, "", 404,
			status(404, "NotFound", `auth provider "sso" not found; GET /v3/auth-providers lists them`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.method, tc.path, tc.bearer, tc.body)
			if code != tc.code {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
			got := jsonBody(t, body)
			if items, ok := got["items"].([]any); ok {
				for _, it := range items {
					delete(it.(map[string]any), "createdAt")
					delete(it.(map[string]any), "updatedAt")
				}
			}
			delete(got, "createdAt")
			delete(got, "updatedAt")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	if strings.Contains(logs.String(), "provider-secret-value") {
		t.Error("the log holds a provider secret")
	}
}

func TestProviderLogin(t *testing.T) {
	f, _, clk, logs := newProviderFixture(t)
	generic := status(401, "Unauthorized", "wrong username or password")
	for _, tc := range []struct {
		name, body string
		code       int
		want       map[string]any // nil: a token answer
	}{
		{"ok", `{"provider":"corp","username":"alice","password":"` + fakePassword + `"}`, 200, nil},
		{"wrong password", `{"provider":"corp","username":"alice","password":"hunter2-wrong"}`, 401, generic},
		{"unknown user", `{"provider":"corp","username":"mallory","password":"` + fakePassword + `"}`, 401, generic},
		{"unknown provider", `{"provider":"nope","username":"alice","password":"` + fakePassword + `"}`, 401, generic},
		{"invalid provider name", `{"provider":"../x","username":"alice","password":"` + fakePassword + `"}`, 401, generic},
		{"username too long", `{"provider":"corp","username":"` + strings.Repeat("a", 300) + `","password":"x"}`, 401, generic},
		{"redirect provider", `{"provider":"sso","username":"alice","password":"` + fakePassword + `"}`, 400,
			status(400, "BadRequest", `auth provider "sso" logs in through a browser: POST /v3/login/sso/begin`)},
		{"reserved provider", `{"provider":"drover","username":"admins","password":"` + fakePassword + `"}`, 401, generic},
		{"local explicitly", `{"provider":"local","username":"carol","password":"a-long-enough-password"}`, 200, nil},
		{"local wrong password", `{"username":"carol","password":"hunter2-wrong"}`, 401, generic},
		{"unknown field", `{"provider":"corp","username":"alice","password":"x","otp":"1"}`, 400,
			unknownField(status(400, "BadRequest", `request body: unknown field "otp"`), "otp", `"username", "password", "provider", "session"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(time.Minute) // fresh rate limits
			code, body := f.do(t, "POST", "/v3/login", "", tc.body)
			if code != tc.code {
				t.Fatalf("login: %d %s, want %d", code, body, tc.code)
			}
			if tc.want == nil {
				if tok, _ := jsonBody(t, body)["token"].(string); tok == "" {
					t.Errorf("no token in %s", body)
				}
				return
			}
			if diff := cmp.Diff(tc.want, jsonBody(t, body)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(logs.String(), fakePassword) {
		t.Error("the log holds a password")
	}

	// The session carries the provider's groups.
	clk.Add(time.Minute)
	tok := providerLogin(t, f, "alice")
	code, body := f.do(t, "GET", "/v3/users/me", tok, "")
	want := map[string]any{"username": "corp:alice", "admin": false, "groups": []any{"corp:devs"}}
	if diff := cmp.Diff(want, jsonBody(t, body, "id", "tokenId")); code != 200 || diff != "" {
		t.Errorf("me: %d (-want +got):\n%s", code, diff)
	}

	// Per-user limit: 10 attempts a minute, whatever the provider answers.
	clk.Add(time.Minute)
	for i := range 11 {
		code, _ := f.do(t, "POST", "/v3/login", "", `{"provider":"corp","username":"bob","password":"wrong-password-x"}`)
		if want := map[bool]int{true: 429, false: 401}[i == 10]; code != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, code, want)
		}
	}
}

func providerLogin(t *testing.T, f *fixture, user string) string {
	t.Helper()
	code, body := f.do(t, "POST", "/v3/login", "", `{"provider":"corp","username":"`+user+`","password":"`+fakePassword+`"}`)
	if code != 200 {
		t.Fatalf("login %s: %d %s", user, code, body)
	}
	return jsonBody(t, body)["token"].(string)
}

// TestRedirectLoginsFromOneAddress: one address beginning logins in a
// loop is limited like any login (the server keeps nothing per login
// begun: the claim is the login, sealed; see package registry), and
// another address still logs in meanwhile.
func TestRedirectLoginsFromOneAddress(t *testing.T) {
	f, _, _, _ := newProviderFixture(t) // its clock stands still
	begin := func(addr string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v3/login/sso/begin", nil)
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	answered := map[int]int{}
	for range 200 {
		code, _ := begin("198.51.100.1")
		answered[code]++
	}
	if diff := cmp.Diff(map[int]int{200: DefaultLoginsPerAddress, 429: 200 - DefaultLoginsPerAddress}, answered); diff != "" {
		t.Errorf("answers to one address (-want +got):\n%s", diff)
	}
	code, b := begin("203.0.113.9")
	if code != 200 {
		t.Fatalf("another address's begin: %d %v", code, b)
	}
	cb := "/v3/login/sso/callback?" + url.Values{"state": {b["state"].(string)}, "code": {"alice"}}.Encode()
	if code, body := f.doHeader(t, "GET", cb, http.Header{ClaimHeader: {b["claim"].(string)}, "X-Forwarded-For": {"203.0.113.9"}}); code != 200 {
		t.Errorf("another address's callback: %d %s", code, body)
	}
}

func TestRedirectLoginAPI(t *testing.T) {
	f, _, clk, _ := newProviderFixture(t)
	code, body := f.do(t, "POST", "/v3/login/sso/begin", "", "")
	if code != 200 {
		t.Fatalf("begin: %d %s", code, body)
	}
	begun := jsonBody(t, body)
	state, _ := begun["state"].(string)
	if authURL, _ := begun["authUrl"].(string); state == "" || !strings.HasPrefix(authURL, "https://idp.test/auth?state=") {
		t.Fatalf("begin answered %s", body)
	}
	claim, _ := begun["claim"].(string)
	if len(claim) < 43 || claim == state {
		t.Fatalf("begin answered no claim: %s", body)
	}
	cb := "/v3/login/sso/callback?" + url.Values{"state": {state}, "code": {"alice"}}.Encode()
	code, body = f.doHeader(t, "GET", cb, http.Header{ClaimHeader: {claim}})
	if code != 200 || jsonBody(t, body)["token"] == "" {
		t.Fatalf("callback: %d %s", code, body)
	}

	// A browser: begin sets the claim as an HttpOnly cookie on the login
	// paths, which the callback reads; the same callback without it (a
	// leaked or planted URL) logs nobody in.
	for _, tc := range []struct {
		name   string
		cookie bool
		code   int
	}{{"callback without the claim", false, 401}, {"browser with the claim cookie", true, 200}} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(time.Minute)
			resp, err := http.Post(f.srv.URL+"/v3/login/sso/begin", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			var b struct{ State string }
			json.NewDecoder(resp.Body).Decode(&b)
			resp.Body.Close()
			var cookie *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == ClaimCookie {
					cookie = c
				}
			}
			if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.Path != "/v3/login/" || cookie.SameSite != http.SameSiteLaxMode {
				t.Fatalf("claim cookie = %+v", cookie)
			}
			h := http.Header{}
			if tc.cookie {
				h.Set("Cookie", cookie.Name+"="+cookie.Value)
			}
			path := "/v3/login/sso/callback?" + url.Values{"state": {b.State}, "code": {"alice"}}.Encode()
			if code, body := f.doHeader(t, "GET", path, h); code != tc.code {
				t.Fatalf("%d %s, want %d", code, body, tc.code)
			}
			if code, _ := f.doHeader(t, "GET", path, h); code != 401 {
				t.Errorf("the state worked twice: %d", code)
			}
		})
	}
	generic := status(401, "Unauthorized", "wrong username or password")
	for _, tc := range []struct {
		name, method, path string
		code               int
		want               map[string]any
	}{
		{"replay", "GET", cb, 401, generic},
		{"unknown state", "GET", "/v3/login/sso/callback?state=made-up&code=alice", 401, generic},
		{"no query", "GET", "/v3/login/sso/callback", 401, generic},
		{"begin at a password provider", "POST", "/v3/login/corp/begin", 400,
			status(400, "BadRequest", `auth provider "corp" takes a username and password: POST /v3/login with "provider": "corp"`)},
		{"begin at an unknown provider", "POST", "/v3/login/nope/begin", 404,
			status(404, "NotFound", `auth provider "nope" not found; GET /v3/login/providers lists them`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(time.Minute)
			code, body := f.do(t, tc.method, tc.path, "", "")
			if code != tc.code {
				t.Fatalf("%d %s, want %d", code, body, tc.code)
			}
			if diff := cmp.Diff(tc.want, jsonBody(t, body)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// doHeader sends a request with headers and no body.
func (f *fixture) doHeader(t *testing.T, method, path string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
