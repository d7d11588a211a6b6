package github

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/drover-dev/drover/pkg/providers"
)

// fakeGitHub answers as GitHub's REST API documentation says, for what the
// provider uses: the OAuth web flow's token exchange, GET /user, /user/orgs
// and /user/teams (GitHub Enterprise Server layout: the API under /api/v3).
// It serves lists two items per page, whatever per_page asks, to force
// pagination through Link headers.
type fakeGitHub struct {
	t   *testing.T
	srv *httptest.Server

	clientID, clientSecret, redirectURL string

	mu        sync.Mutex
	accounts  map[int64]*account
	codes     map[string]grant // unused codes
	tokens    map[string]int64 // live tokens
	rateLimit bool
	// link, when set, replaces the Link header of list pages.
	link func(path string, page int) string
	hits atomic.Int64
}

type account struct {
	user  user
	orgs  []string
	teams [][2]string // org, slug
}

type grant struct {
	user      int64
	challenge string
}

const pageSize = 2

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{
		t: t, clientID: "Iv1.client", clientSecret: "client-secret-123", redirectURL: "https://drover.example.org/v3/github/callback",
		accounts: map[int64]*account{}, codes: map[string]grant{}, tokens: map[string]int64{},
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) config() Config {
	return Config{
		ClientID: f.clientID, ClientSecret: f.clientSecret, RedirectURL: f.redirectURL, BaseURL: f.srv.URL,
		CAData:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})),
		Timeout: 5 * time.Second,
	}
}

func (f *fakeGitHub) add(a *account) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[a.user.ID] = a
}

// authorize is the user saying yes on GitHub's authorize page for the
// request at authURL: it returns the callback's query.
func (f *fakeGitHub) authorize(authURL string, userID int64) url.Values {
	u, err := url.Parse(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/login/oauth/authorize" || q.Get("client_id") != f.clientID || q.Get("redirect_uri") != f.redirectURL ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("scope") != "read:org" {
		f.t.Fatalf("authorize URL is not what GitHub documents: %s", authURL)
	}
	code := rand.Text()
	f.mu.Lock()
	f.codes[code] = grant{user: userID, challenge: q.Get("code_challenge")}
	f.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}}
}

func (f *fakeGitHub) revoke(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, token)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/login/oauth/access_token":
		f.token(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v3/"):
		f.api(w, r)
	default:
		http.NotFound(w, r)
	}
}

// token is POST /login/oauth/access_token. Errors come with status 200, as
// GitHub sends them.
func (f *fakeGitHub) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		writeJSON(w, http.StatusOK, map[string]string{"error": code, "error_description": desc,
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + code})
	}
	if r.PostForm.Get("client_id") != f.clientID || r.PostForm.Get("client_secret") != f.clientSecret {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	if r.PostForm.Get("redirect_uri") != f.redirectURL {
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	g, ok := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code")) // single use, even when refused
	if !ok || oauth2.S256ChallengeFromVerifier(r.PostForm.Get("code_verifier")) != g.challenge {
		fail("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	tok := "gho_" + rand.Text()
	f.tokens[tok] = g.user
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		// Without the header GitHub answers form-encoded.
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		fmt.Fprintf(w, "access_token=%s&scope=read%%3Aorg&token_type=bearer", tok)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:org"})
}

func (f *fakeGitHub) api(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != apiVersion || r.Header.Get("User-Agent") == "" {
		f.t.Errorf("%s: headers not as GitHub documents: %v", r.URL.Path, r.Header)
	}
	if f.rateLimit {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "1700000000")
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "API rate limit exceeded"})
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	id, live := f.tokens[tok]
	if !ok || !live {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	a := f.accounts[id]
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	var items []any
	switch path {
	case "/user":
		writeJSON(w, http.StatusOK, map[string]any{"login": a.user.Login, "id": a.user.ID, "name": a.user.Name, "type": "User"})
		return
	case "/user/orgs":
		for _, o := range a.orgs {
			items = append(items, map[string]any{"login": o, "id": len(o)})
		}
	case "/user/teams":
		for _, t := range a.teams {
			items = append(items, map[string]any{"slug": t[1], "name": strings.ToUpper(t[1]), "organization": map[string]any{"login": t[0]}})
		}
	default:
		http.NotFound(w, r)
		return
	}
	if r.URL.Query().Get("per_page") == "" {
		f.t.Errorf("%s without per_page", path)
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	last := max((len(items)+pageSize-1)/pageSize, 1)
	pageURL := func(n int) string {
		q := url.Values{"per_page": {r.URL.Query().Get("per_page")}, "page": {strconv.Itoa(n)}}
		return f.srv.URL + r.URL.Path + "?" + q.Encode()
	}
	var links []string
	if page < last {
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, pageURL(page+1)), fmt.Sprintf(`<%s>; rel="last"`, pageURL(last)))
	}
	if page > 1 {
		links = append(links, fmt.Sprintf(`<%s>; rel="prev"`, pageURL(page-1)), fmt.Sprintf(`<%s>; rel="first"`, pageURL(1)))
	}
	if f.link != nil {
		links = []string{f.link(path, page)}
	}
	if len(links) > 0 && links[0] != "" {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start, end := min((page-1)*pageSize, len(items)), min(page*pageSize, len(items))
	writeJSON(w, http.StatusOK, append([]any{}, items[start:end]...))
}

// newAlice and newBob return fresh accounts: tests change them.
func newAlice() *account {
	return &account{
		user: user{Login: "alice", ID: 1001, Name: "Alice Liddell"},
		orgs: []string{"acme", "oss-club", "looking-glass"},
		// widgets only through a team: its membership is private.
		teams: [][2]string{{"acme", "platform"}, {"acme", "sre"}, {"widgets", "ops"}},
	}
}

func newBob() *account {
	return &account{user: user{Login: "bob", ID: 1002}, orgs: []string{"oss-club"}}
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// login runs Begin, the user's yes at GitHub, and Finish.
func login(t *testing.T, f *fakeGitHub, p *Provider, a *account) (providers.Principal, error) {
	t.Helper()
	authURL, verifier, err := p.Begin(testCtx(t), "state-1")
	if err != nil {
		t.Fatal(err)
	}
	return p.Finish(testCtx(t), f.authorize(authURL, a.user.ID), "state-1", verifier)
}

func TestFlow(t *testing.T) {
	alice := newAlice()
	f := newFakeGitHub(t)
	f.add(alice)
	p := newProvider(t, f.config())
	got, err := login(t, f, p, alice)
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Principal{
		Provider: "github", ID: "1001", Username: "alice", DisplayName: "Alice Liddell",
		Groups: []string{
			"github:acme", "github:acme/platform", "github:acme/sre", "github:looking-glass",
			"github:oss-club", "github:widgets", "github:widgets/ops",
		},
		RefreshToken: got.RefreshToken,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got.RefreshToken.Reveal(), "gho_") {
		t.Errorf("the access token is not kept for refresh")
	}
}

func TestEndpoints(t *testing.T) {
	web, api := Config{}.withDefaults().endpoints()
	if web != "https://github.com" || api != "https://api.github.com" {
		t.Errorf("github.com: %s %s", web, api)
	}
	web, api = Config{BaseURL: "https://ghe.example.org/"}.withDefaults().endpoints()
	if web != "https://ghe.example.org" || api != "https://ghe.example.org/api/v3" {
		t.Errorf("enterprise: %s %s", web, api)
	}
	p := newProvider(t, Config{ClientID: "c", ClientSecret: "s", RedirectURL: "https://drover.example.org/cb"})
	authURL, _, err := p.Begin(testCtx(t), "st")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(authURL, "https://github.com/login/oauth/authorize?") {
		t.Errorf("authorize URL %s", authURL)
	}
}

func TestFinishRefused(t *testing.T) {
	alice := newAlice()
	f := newFakeGitHub(t)
	f.add(alice)
	p := newProvider(t, f.config())
	begin := func() (string, string) {
		authURL, verifier, err := p.Begin(testCtx(t), "state-1")
		if err != nil {
			t.Fatal(err)
		}
		return authURL, verifier
	}
	invalid := func(name string, err error, reason string) {
		t.Helper()
		if !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: got %v, want ErrInvalidCredentials (%s)", name, err, reason)
		}
	}

	authURL, verifier := begin()
	cb := f.authorize(authURL, alice.user.ID)
	_, err := p.Finish(testCtx(t), cb, "another-state", verifier)
	invalid("state mismatch", err, "state")

	_, err = p.Finish(testCtx(t), url.Values{"state": {"state-1"}, "error": {"access_denied"}}, "state-1", verifier)
	invalid("user said no", err, "access_denied")

	authURL, _ = begin()
	cb = f.authorize(authURL, alice.user.ID)
	_, other := begin()
	_, err = p.Finish(testCtx(t), cb, "state-1", other)
	invalid("wrong PKCE verifier", err, "bad_verification_code")

	authURL, verifier = begin()
	cb = f.authorize(authURL, alice.user.ID)
	if _, err := p.Finish(testCtx(t), cb, "state-1", verifier); err != nil {
		t.Fatal(err)
	}
	_, err = p.Finish(testCtx(t), cb, "state-1", verifier)
	invalid("replayed code", err, "bad_verification_code")

	cfg := f.config()
	cfg.ClientSecret = "wrong"
	authURL, verifier = begin()
	_, err = newProvider(t, cfg).Finish(testCtx(t), f.authorize(authURL, alice.user.ID), "state-1", verifier)
	if err == nil || errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "incorrect_client_credentials") {
		t.Errorf("wrong client secret: got %v, want a configuration error", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q shows the client secret", err)
	}
}

func TestOrgs(t *testing.T) {
	alice, bob := newAlice(), newBob()
	f := newFakeGitHub(t)
	f.add(alice)
	f.add(bob)
	cfg := f.config()
	cfg.Orgs = []string{"ACME", "widgets"}
	p := newProvider(t, cfg)
	if _, err := login(t, f, p, alice); err != nil {
		t.Errorf("alice is in acme: %v", err)
	}
	if _, err := login(t, f, p, bob); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("bob is in neither org: got %v, want ErrInvalidCredentials", err)
	}
	// Membership seen only through a team counts.
	cfg.Orgs = []string{"widgets"}
	if _, err := login(t, f, newProvider(t, cfg), alice); err != nil {
		t.Errorf("alice is in widgets through a team: %v", err)
	}
}

func TestRefresh(t *testing.T) {
	alice := newAlice()
	f := newFakeGitHub(t)
	f.add(alice)
	p := newProvider(t, f.config())
	pr, err := login(t, f, p, alice)
	if err != nil {
		t.Fatal(err)
	}

	f.mu.Lock()
	alice.teams = alice.teams[:1] // leaves acme/sre and widgets/ops
	f.mu.Unlock()
	got, err := p.Refresh(testCtx(t), pr)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"github:acme", "github:acme/platform", "github:looking-glass", "github:oss-club"}, got.Groups); diff != "" {
		t.Errorf("groups after leaving teams (-want +got):\n%s", diff)
	}

	f.mu.Lock()
	f.rateLimit = true
	f.mu.Unlock()
	if _, err := p.Refresh(testCtx(t), pr); err == nil || errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "rate limited") {
		t.Errorf("rate limited: got %v, want a plain error", err)
	}
	f.mu.Lock()
	f.rateLimit = false
	f.mu.Unlock()

	other := pr
	other.ID = "999"
	if _, err := p.Refresh(testCtx(t), other); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("token of another user: got %v, want ErrInvalidCredentials", err)
	}

	f.revoke(pr.RefreshToken.Reveal())
	if _, err := p.Refresh(testCtx(t), pr); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("revoked token: got %v, want ErrInvalidCredentials", err)
	}
	pr.RefreshToken = ""
	if _, err := p.Refresh(testCtx(t), pr); !errors.Is(err, providers.ErrNoRefresh) {
		t.Errorf("no token: got %v, want ErrNoRefresh", err)
	}
}

func TestPagination(t *testing.T) {
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the token went to another origin: %s %s", r.URL, r.Header.Get("Authorization"))
	}))
	defer elsewhere.Close()
	for _, tc := range []struct {
		name    string
		link    func(f *fakeGitHub, path string, page int) string
		wantErr string
	}{
		{"next on another host", func(f *fakeGitHub, path string, page int) string {
			return `<` + elsewhere.URL + `/api/v3` + path + `?page=2>; rel="next"`
		}, "refusing to send the token"},
		{"next outside the API", func(f *fakeGitHub, path string, page int) string {
			return `<` + f.srv.URL + `/login/oauth/access_token>; rel="next"`
		}, "refusing to send the token"},
		{"next over http", func(f *fakeGitHub, path string, page int) string {
			return `<` + strings.Replace(f.srv.URL, "https:", "http:", 1) + `/api/v3` + path + `?page=2>; rel="next"`
		}, "refusing to send the token"},
		{"endless pages", func(f *fakeGitHub, path string, page int) string {
			return fmt.Sprintf(`<%s/api/v3%s?per_page=100&page=%d>; rel="next"`, f.srv.URL, path, page+1)
		}, "more than"},
		{"unparsable Link", func(f *fakeGitHub, path string, page int) string {
			return `<` + f.srv.URL + `/api/v3` + path + `?page=2; rel="next"`
		}, "link header"},
		{"relative next", func(f *fakeGitHub, path string, page int) string {
			if page > 1 {
				return ""
			}
			return `</api/v3` + path + `?per_page=100&page=2>; rel="next"`
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := newAlice()
			f := newFakeGitHub(t)
			f.add(alice)
			f.link = func(path string, page int) string { return tc.link(f, path, page) }
			_, err := login(t, f, newProvider(t, f.config()), alice)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			case tc.wantErr != "" && errors.Is(err, providers.ErrInvalidCredentials):
				t.Fatalf("%v: GitHub's misbehaviour is not the user's fault", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config {
		return Config{ClientID: "c", ClientSecret: "s", RedirectURL: "https://drover.example.org/cb"}
	}
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(c *Config) {}, ""},
		{"enterprise", func(c *Config) { c.BaseURL = "https://ghe.example.org" }, ""},
		{"loopback redirect", func(c *Config) { c.RedirectURL = "http://127.0.0.1:8443/cb" }, ""},
		{"orgs", func(c *Config) { c.Orgs = []string{"acme", "a-b-c"} }, ""},
		{"no client id", func(c *Config) { c.ClientID = "" }, "clientID"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "clientSecret"},
		{"http redirect", func(c *Config) { c.RedirectURL = "http://drover.example.org/cb" }, "https"},
		{"enterprise over http", func(c *Config) { c.BaseURL = "http://ghe.example.org" }, "https"},
		{"enterprise with a path", func(c *Config) { c.BaseURL = "https://ghe.example.org/api/v3" }, "scheme and host only"},
		{"bad org", func(c *Config) { c.Orgs = []string{"-acme"} }, "org"},
		{"org with a slash", func(c *Config) { c.Orgs = []string{"acme/team"} }, "org"},
		{"bad scope", func(c *Config) { c.Scopes = []string{"read:org user"} }, "scope"},
		{"bad name", func(c *Config) { c.Name = "git hub" }, "provider name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}
