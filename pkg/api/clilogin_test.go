package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCLIBrowserLogin: the drover command's login at a redirect provider,
// through the real chain with a fake identity provider. The browser
// starts at the server's /browser page (which gives it the claim), comes
// back to the callback, and is sent to the command's loopback address with
// a one-time code (or shown it); only the command's verifier turns the
// code into a session, once, within two minutes. The browser never holds a
// session.
func TestCLIBrowserLogin(t *testing.T) {
	f, _, clk, _ := newProviderFixture(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, path string, cookies []*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	pkcePair := func(v string) (string, string) {
		sum := sha256.Sum256([]byte(v))
		return v, base64.RawURLEncoding.EncodeToString(sum[:])
	}
	verifier, challenge := pkcePair(strings.Repeat("v", 43))
	// run goes from begin to the callback's answer.
	run := func(t *testing.T, redirect string) *http.Response {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"cliRedirect": redirect, "codeChallenge": challenge})
		code, body := f.do(t, "POST", "/v3/login/sso/begin", "", string(b))
		if code != 200 {
			t.Fatalf("begin: %d %s", code, body)
		}
		var begun struct{ BrowserURL string }
		json.Unmarshal([]byte(body), &begun)
		if strings.Contains(body, `"claim"`) || !strings.HasPrefix(begun.BrowserURL, "https://drover.test/v3/login/sso/browser?claim=") {
			t.Fatalf("begin answered %s", body)
		}
		start := confirmLogin(t, f.srv.URL, strings.TrimPrefix(begun.BrowserURL, "https://drover.test"))
		loc := start.Header.Get("Location")
		if start.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "https://idp.test/auth?state=") || len(start.Cookies()) != 1 {
			t.Fatalf("browser start: %d to %q, cookies %v", start.StatusCode, loc, start.Cookies())
		}
		u, _ := url.Parse(loc)
		cb := "/v3/login/sso/callback?" + url.Values{"state": {u.Query().Get("state")}, "code": {"alice"}}.Encode()
		return get(t, cb, start.Cookies())
	}
	exchange := func(code, verifier string) (int, string) {
		b, _ := json.Marshal(map[string]string{"code": code, "verifier": verifier})
		return f.do(t, "POST", "/v3/login/exchange", "", string(b))
	}

	t.Run("loopback", func(t *testing.T) {
		resp := run(t, "http://127.0.0.1:5555/drover-login/x")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		code := loc.Query().Get("code")
		if resp.StatusCode != http.StatusFound || loc.Host != "127.0.0.1:5555" || loc.Path != "/drover-login/x" || code == "" {
			t.Fatalf("callback: %d to %v", resp.StatusCode, loc)
		}
		body, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(body), `"token"`) {
			t.Fatalf("the callback gave the browser a session: %s", body)
		}
		if st, body := exchange(code, strings.Repeat("w", 43)); st != 401 {
			t.Errorf("the code with another verifier: %d %s", st, body)
		}
		st, answer := exchange(code, verifier)
		var sess struct{ Token string }
		json.Unmarshal([]byte(answer), &sess)
		if st != 200 || sess.Token == "" {
			t.Fatalf("exchange: %d %s", st, answer)
		}
		if st, me := f.do(t, "GET", "/v3/users/me", sess.Token, ""); st != 200 || !strings.Contains(me, `"sso:alice"`) {
			t.Errorf("the session: %d %s", st, me)
		}
		if st, body := exchange(code, verifier); st != 401 {
			t.Errorf("the code again: %d %s", st, body)
		}
	})

	t.Run("paste", func(t *testing.T) {
		resp := run(t, "paste")
		body, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`<pre[^>]*>([A-Za-z0-9_-]+)</pre>`).FindSubmatch(body)
		if resp.StatusCode != 200 || m == nil || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("callback: %d %s", resp.StatusCode, body)
		}
		clk.Add(3 * time.Minute)
		if st, body := exchange(string(m[1]), verifier); st != 401 {
			t.Errorf("a code past two minutes: %d %s", st, body)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct{ redirect, challenge, want string }{
			{"http://evil.example:80/x", challenge, "127.0.0.1"},
			{"https://127.0.0.1:5555/x", challenge, "127.0.0.1"},
			{"http://127.0.0.1/x", challenge, "port"},
			{"http://127.0.0.1:5555/x?next=evil", challenge, "no userinfo, query"},
			{"http://user@127.0.0.1:5555/x", challenge, "no userinfo, query"},
			{"http://localhost:5555/x", challenge, "127.0.0.1"},
			{"http://127.0.0.1:5555/x", "", "codeChallenge"},
			{"http://127.0.0.1:5555/x", "plain-verifier", "codeChallenge"},
		} {
			b, _ := json.Marshal(map[string]string{"cliRedirect": c.redirect, "codeChallenge": c.challenge})
			if code, body := f.do(t, "POST", "/v3/login/sso/begin", "", string(b)); code != 422 || !strings.Contains(body, c.want) {
				t.Errorf("begin with %q, %q: %d %s; want 422 with %q", c.redirect, c.challenge, code, body, c.want)
			}
		}
		// A browser login's claim (not the command's) opens no /browser page.
		_, body := f.do(t, "POST", "/v3/login/sso/begin", "", "")
		claim, _ := jsonBody(t, body)["claim"].(string)
		if resp := get(t, "/v3/login/sso/browser?"+url.Values{"claim": {claim}}.Encode(), nil); resp.StatusCode != 400 {
			t.Errorf("/browser with a web login's claim: %d", resp.StatusCode)
		}
		if st, body := exchange("not-a-code", verifier); st != 401 {
			t.Errorf("a forged code: %d %s", st, body)
		}
	})
}

// confirmLogin plays the person at the /browser page of a command's login
// (path on the server at base): it loads the page, which asks to go on,
// and submits its form from the page's origin; it returns the answer.
func confirmLogin(t *testing.T, base, path string) *http.Response {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := noFollow.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`name="claim" value="([^"]+)"`).FindSubmatch(body)
	if page.StatusCode != 200 || m == nil || len(page.Cookies()) != 0 || !strings.Contains(string(body), "close this page") {
		t.Fatalf("the /browser page: %d, cookies %v\n%s", page.StatusCode, page.Cookies(), body)
	}
	u, _ := url.Parse(base + path)
	req, _ := http.NewRequest(http.MethodPost, base+u.Path, strings.NewReader(url.Values{"claim": {html.UnescapeString(string(m[1]))}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestCLILoginConfirmed: the /browser page goes on only through its own
// form: a form posted from another site, or without an Origin, is refused
// and sets no claim.
func TestCLILoginConfirmed(t *testing.T) {
	f, _, _, _ := newProviderFixture(t)
	sum := sha256.Sum256([]byte(strings.Repeat("v", 43)))
	b, _ := json.Marshal(map[string]string{"cliRedirect": "http://127.0.0.1:5555/x", "codeChallenge": base64.RawURLEncoding.EncodeToString(sum[:])})
	_, body := f.do(t, "POST", "/v3/login/sso/begin", "", string(b))
	var begun struct{ BrowserURL string }
	json.Unmarshal([]byte(body), &begun)
	claim, _ := url.Parse(begun.BrowserURL)
	for _, origin := range []string{"https://evil.example", "", "null", f.srv.URL + "/x"} {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v3/login/sso/browser",
			strings.NewReader(url.Values{"claim": {claim.Query().Get("claim")}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 || resp.Header.Get("Location") != "" {
			t.Errorf("a form from %q: %d, cookies %v, to %q", origin, resp.StatusCode, resp.Cookies(), resp.Header.Get("Location"))
		}
	}
	if resp := confirmLogin(t, f.srv.URL, strings.TrimPrefix(begun.BrowserURL, "https://drover.test")); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the page's own form: %d", resp.StatusCode)
	}
}
