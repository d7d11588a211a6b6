package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/notify"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/websession"
)

// origin is the fixture server's own Origin as a browser would send it
// over TLS (websession.SameOrigin wants https and the request's host).
func (f *fixture) origin() string {
	u, _ := url.Parse(f.srv.URL)
	return "https://" + u.Host
}

// cookieLogin logs name in as the console does and returns the session
// cookie's value and the CSRF token.
func (f *fixture) cookieLogin(t *testing.T, name string) (session, csrf string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/v3/login",
		strings.NewReader(`{"username":"`+name+`","password":"a-long-enough-password","session":"cookie"}`))
	req.Header.Set("Origin", f.origin())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("cookie login: %d %s", resp.StatusCode, body)
	}
	var c *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == websession.CookieName {
			c = ck
		}
	}
	if c == nil {
		t.Fatalf("no session cookie: %v", resp.Header["Set-Cookie"])
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/v3" || c.Expires.IsZero() {
		t.Errorf("cookie attributes: %+v", c)
	}
	if strings.Contains(string(body), c.Value) {
		t.Error("the answer holds the session token")
	}
	var ans consoleSession
	if err := json.Unmarshal(body, &ans); err != nil || ans.CSRFToken == "" || ans.User.Username != name {
		t.Fatalf("answer %s (%v)", body, err)
	}
	return c.Value, ans.CSRFToken
}

// cookieDo sends a request with the session cookie; origin and csrf are
// sent when not empty.
func (f *fixture) cookieDo(t *testing.T, method, path, session, origin, csrf, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: session})
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if csrf != "" {
		req.Header.Set(websession.CSRFHeader, csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCookieLoginRefusals(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, origin, session string
		code                  int
	}{
		{"no origin", "", "cookie", 403},
		{"another site", "https://evil.example", "cookie", 403},
		{"http origin", strings.Replace(f.origin(), "https", "http", 1), "cookie", 403},
		{"null origin", "null", "cookie", 403},
		{"unknown session kind", f.origin(), "jar", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+"/v3/login",
				strings.NewReader(`{"username":"root","password":"a-long-enough-password","session":"`+tc.session+`"}`))
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || len(resp.Cookies()) != 0 {
				t.Fatalf("got %d with cookies %v, want %d and none", resp.StatusCode, resp.Cookies(), tc.code)
			}
		})
	}
}

var csrfRefusal = regexp.MustCompile(`X-CSRF-Token`)

// Every state-changing route of the API, reached with the session cookie,
// is refused without the CSRF token or from another Origin, and reaches
// its handler with both; every read passes without them. The routes are
// enumerated from the router, so a new route is covered the day it is
// added.
func TestCookieCSRFOnEveryRoute(t *testing.T) {
	f := newFixture(t)
	session, csrf := f.cookieLogin(t, "root")
	routes := access.NewRoutes(chain.NewRouter())
	New(Options{}).Routes(routes)
	type route struct{ method, path string }
	var all []route
	vars := regexp.MustCompile(`\{[^}]+\}`)
	err := routes.Router().Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := r.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, err := r.GetMethods()
		if err != nil {
			t.Errorf("route %s has no method", tpl)
			return nil
		}
		for _, m := range methods {
			all = append(all, route{m, vars.ReplaceAllString(tpl, "x-1")})
		}
		return nil
	})
	if err != nil || len(all) < 30 {
		t.Fatalf("walked %d routes (%v)", len(all), err)
	}
	unsafe := 0
	for _, rt := range all {
		if rt.path == "/v3/logout" {
			continue // run last, below: it ends the session
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if !websession.Unsafe(rt.method) {
				if rt.path == "/v3/watch/clusters" {
					return // a stream; TestWatchClusters reads it
				}
				code, body := f.cookieDo(t, rt.method, rt.path, session, "", "", "")
				if code == 403 && csrfRefusal.MatchString(body) {
					t.Fatalf("a read was refused for CSRF: %s", body)
				}
				return
			}
			unsafe++
			for _, bad := range []struct{ name, origin, csrf string }{
				{"no token", f.origin(), ""},
				{"wrong token", f.origin(), websession.CSRFToken("another session")},
				{"no origin", "", csrf},
				{"another site", "https://evil.example", csrf},
				{"same host over http", strings.Replace(f.origin(), "https", "http", 1), csrf},
			} {
				code, body := f.cookieDo(t, rt.method, rt.path, session, bad.origin, bad.csrf, "{}")
				if code != 403 || !csrfRefusal.MatchString(body) {
					t.Errorf("%s: got %d %s, want the CSRF refusal", bad.name, code, body)
				}
			}
			code, body := f.cookieDo(t, rt.method, rt.path, session, f.origin(), csrf, "{}")
			if code == 403 && csrfRefusal.MatchString(body) || code == 401 {
				t.Errorf("with origin and token: got %d %s", code, body)
			}
		})
	}
	if unsafe < 20 {
		t.Errorf("only %d state-changing routes checked", unsafe)
	}
	// Logout: refused without the token, then done with it, and the
	// cookie is cleared and dead.
	if code, _ := f.cookieDo(t, "POST", "/v3/logout", session, f.origin(), "", ""); code != 403 {
		t.Fatalf("logout without the token: %d", code)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/v3/logout", nil)
	req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: session})
	req.Header.Set("Origin", f.origin())
	req.Header.Set(websession.CSRFHeader, csrf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || c.Name == websession.CookieName && c.MaxAge < 0
	}
	if resp.StatusCode != 204 || !cleared {
		t.Fatalf("logout: %d, cookie cleared %v", resp.StatusCode, cleared)
	}
	if code, _ := f.cookieDo(t, "GET", "/v3/users/me", session, "", "", ""); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
}

func TestCookieCredentialRules(t *testing.T) {
	f := newFixture(t)
	session, csrf := f.cookieLogin(t, "carol")
	t.Run("me gives the CSRF token to the cookie only", func(t *testing.T) {
		code, body := f.cookieDo(t, "GET", "/v3/users/me", session, "", "", "")
		var me map[string]any
		json.Unmarshal([]byte(body), &me)
		if code != 200 || me["csrfToken"] != csrf {
			t.Fatalf("cookie: %d %s", code, body)
		}
		code, body = f.do(t, "GET", "/v3/users/me", f.user, "")
		if code != 200 || strings.Contains(body, "csrfToken") {
			t.Fatalf("bearer: %d %s", code, body)
		}
	})
	t.Run("an API token in the cookie is refused", func(t *testing.T) {
		code, body := f.do(t, "POST", "/v3/tokens", f.user, `{"description":"cookie test"}`)
		var tok struct{ Token string }
		json.Unmarshal([]byte(body), &tok)
		if code != 201 || tok.Token == "" {
			t.Fatalf("create token: %d %s", code, body)
		}
		if code, _ := f.cookieDo(t, "GET", "/v3/users/me", tok.Token, "", "", ""); code != 401 {
			t.Fatalf("API token as cookie: %d", code)
		}
	})
	t.Run("a bearer token wins over the cookie and needs no CSRF token", func(t *testing.T) {
		req, _ := http.NewRequest("POST", f.srv.URL+"/v3/tokens", strings.NewReader(`{"description":"bearer"}`))
		req.Header.Set("Authorization", "Bearer "+f.user)
		req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: "garbage"})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("bearer with a cookie: %d", resp.StatusCode)
		}
	})
	t.Run("a malformed Authorization does not fall back to the cookie", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v3/users/me", nil)
		req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
		req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
	t.Run("two session cookies are refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v3/users/me", nil)
		req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: session})
		req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
}

// A redirect login the console began lands on the console: a refusal on
// its login page with the message, never on JSON.
func TestConsoleCallbackRefusalRedirects(t *testing.T) {
	f := newFixture(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", f.srv.URL+"/v3/login/dex/callback?state=s&code=c", nil)
	req.AddCookie(&http.Cookie{Name: consoleLoginCookie, Value: "1"})
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, consoleLoginPage+"?error=") {
		t.Fatalf("got %d Location %q", resp.StatusCode, loc)
	}
	if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "json") {
		t.Errorf("Content-Type %q", ct)
	}
	// Without the marker the API answers as before.
	resp, err = client.Get(f.srv.URL + "/v3/login/dex/callback?state=s&code=c")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("API callback: %d", resp.StatusCode)
	}
}

// sse reads server-sent events.
type sse struct {
	events chan [2]string // name, data
}

func openSSE(t *testing.T, f *fixture, session string) (*sse, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/v3/watch/clusters", nil)
	req.AddCookie(&http.Cookie{Name: websession.CookieName, Value: session})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{events: make(chan [2]string, 64)}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && name != "":
				s.events <- [2]string{name, data}
				name, data = "", ""
			}
		}
	}()
	return s, cancel
}

// next waits for the next event (a generous bound: the machine may be
// loaded; the figure that matters, within a second, is measured in the
// browser tests).
func (s *sse) next(t *testing.T) (string, string) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			return "", ""
		}
		return ev[0], ev[1]
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
		return "", ""
	}
}

func TestWatchClusters(t *testing.T) {
	changes := notify.New()
	f := newFixture(t, func(o *Options) { o.Changes = changes })
	session, _ := f.cookieLogin(t, "root")
	s, cancel := openSSE(t, f, session)
	defer cancel()
	if name, data := s.next(t); name != "clusters" || data != `{"items":[]}` {
		t.Fatalf("first event %q %q", name, data)
	}
	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"live"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	name, data := s.next(t)
	if name != "clusters" || !strings.Contains(data, `"name":"live"`) {
		t.Fatalf("after create: %q %q", name, data)
	}
	// A user who may not see the cluster sees an empty list.
	carol, _ := f.cookieLogin(t, "carol")
	c, cancelC := openSSE(t, f, carol)
	defer cancelC()
	if name, data := c.next(t); name != "clusters" || data != `{"items":[]}` {
		t.Fatalf("carol's first event %q %q", name, data)
	}
	// Revoking the session ends the stream.
	var me struct{ TokenID string }
	_, body = f.cookieDo(t, "GET", "/v3/users/me", session, "", "", "")
	json.Unmarshal([]byte(body), &me)
	if code, body := f.do(t, "DELETE", "/v3/tokens/"+me.TokenID, f.admin, ""); code != 204 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	for {
		name, _ := s.next(t)
		if name == "end" || name == "" {
			break
		}
	}
}
