package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-dev/drover/test/fake"
)

// cliBed drives the drover command's browser login against
// newProviderFixture, step by step, for the attacks below.
type cliBed struct {
	f        *fixture
	who      *people
	logs     *fake.Buffer
	noFollow *http.Client
}

func newCLIBed(t *testing.T) *cliBed {
	f, who, _, logs := newProviderFixture(t)
	return &cliBed{f: f, who: who, logs: logs,
		noFollow: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// s256 is the challenge of verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// begin begins a command's login at provider "sso" and returns its claim.
func (b *cliBed) begin(t *testing.T, redirect, verifier string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"cliRedirect": redirect, "codeChallenge": s256(verifier)})
	code, answer := b.f.do(t, "POST", "/v3/login/sso/begin", "", string(body))
	var begun struct{ BrowserURL string }
	json.Unmarshal([]byte(answer), &begun)
	u, err := url.Parse(begun.BrowserURL)
	if code != 200 || err != nil || u.Query().Get("claim") == "" {
		t.Fatalf("begin: %d %s", code, answer)
	}
	return u.Query().Get("claim")
}

// get is a browser's GET of path that follows no redirect.
func (b *cliBed) get(t *testing.T, path string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.f.srv.URL+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := b.noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// browse takes the person's browser from /browser with claim through the
// identity provider (as login) to the callback's answer.
func (b *cliBed) browse(t *testing.T, claim, login string) (*http.Response, string) {
	t.Helper()
	start := confirmLogin(t, b.f.srv.URL, "/v3/login/sso/browser?"+url.Values{"claim": {claim}}.Encode())
	loc, err := url.Parse(start.Header.Get("Location"))
	if start.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("/browser: %d to %v", start.StatusCode, loc)
	}
	return b.get(t, "/v3/login/sso/callback?"+url.Values{"state": {loc.Query().Get("state")}, "code": {login}}.Encode(),
		start.Cookies()...)
}

// loopbackCode is the code of a callback's answer sent to the command.
func loopbackCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("callback: %d to %v", resp.StatusCode, loc)
	}
	return loc.Query().Get("code")
}

func (b *cliBed) exchange(t *testing.T, code, verifier string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"code": code, "verifier": verifier})
	return b.f.do(t, "POST", "/v3/login/exchange", "", string(body))
}

// TestCLILoginRefusals: what an outsider holding one piece of a command's
// login can do with it: nothing.
func TestCLILoginRefusals(t *testing.T) {
	b := newCLIBed(t)
	verifier := strings.Repeat("v", 43)
	claim := b.begin(t, "http://127.0.0.1:5555/x", verifier)
	resp, body := b.browse(t, claim, "alice")
	code := loopbackCode(t, resp)
	if strings.Contains(body, `"token"`) || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("the callback answered %s, cookies %v; want no session and the claim dropped", body, resp.Cookies())
	}
	for _, tc := range []struct {
		name, path string
	}{
		{"the code as a claim", "/v3/login/sso/browser?" + url.Values{"claim": {code}}.Encode()},
		{"the claim at another provider", "/v3/login/corp/browser?" + url.Values{"claim": {claim}}.Encode()},
		{"the claim at an unknown provider", "/v3/login/nope/browser?" + url.Values{"claim": {claim}}.Encode()},
		{"no claim", "/v3/login/sso/browser"},
		{"a claim too long", "/v3/login/sso/browser?claim=" + strings.Repeat("A", 5000)},
	} {
		if resp, _ := b.get(t, tc.path); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" ||
			len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d to %q, cookies %v; want 400, no redirect, no cookie", tc.name, resp.StatusCode,
				resp.Header.Get("Location"), resp.Cookies())
		}
	}
	for _, tc := range []struct{ name, code, verifier string }{
		{"the claim as a code", claim, verifier},
		{"the code with the challenge as verifier", code, s256(verifier)},
		{"the code with another verifier", code, strings.Repeat("w", 43)},
		{"the code with a verifier too long", code, verifier + strings.Repeat("v", 200)},
		{"the code changed", code[:len(code)-2] + "AA", verifier},
		{"no code", "", verifier},
		{"no verifier", code, ""},
	} {
		if st, body := b.exchange(t, tc.code, tc.verifier); st != http.StatusUnauthorized {
			t.Errorf("%s: %d %s; want 401", tc.name, st, body)
		}
	}
	// None of that spent the code: its command still logs in, once.
	if st, body := b.exchange(t, code, verifier); st != 200 {
		t.Fatalf("the command's exchange: %d %s", st, body)
	}
	if st, body := b.exchange(t, code, verifier); st != http.StatusUnauthorized {
		t.Errorf("the code again: %d %s", st, body)
	}
	// The log names the login, never its secrets.
	logs := b.logs.String()
	for name, secret := range map[string]string{"claim": claim, "code": code, "verifier": verifier} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

// TestCLILoginDisabledUser: a user disabled between the browser's login
// and the command's exchange gets no session.
func TestCLILoginDisabledUser(t *testing.T) {
	b := newCLIBed(t)
	verifier := strings.Repeat("v", 43)
	resp, _ := b.browse(t, b.begin(t, "http://[::1]:5555/x", verifier), "alice")
	code := loopbackCode(t, resp)
	_, list := b.f.do(t, "GET", "/v3/users", b.f.admin, "")
	var users struct {
		Items []struct{ ID, Username string }
	}
	json.Unmarshal([]byte(list), &users)
	for _, u := range users.Items {
		if u.Username == "sso:alice" {
			if st, body := b.f.do(t, "PUT", "/v3/users/"+u.ID, b.f.admin, `{"disabled":true}`); st != 200 {
				t.Fatalf("disable: %d %s", st, body)
			}
		}
	}
	if st, body := b.exchange(t, code, verifier); st != http.StatusUnauthorized {
		t.Errorf("a disabled user's code: %d %s; want 401", st, body)
	}
}

// TestAttackPastePage (a red-team finding, now fixed: the test keeps it
// so) was: the page that shows a code to paste said only "paste this
// code into drover". Anyone can begin a --paste login and send the person
// its /browser link ("log in to Drover to approve…"): with a live session
// at the identity provider the person lands on the page at once, logged in
// as themselves, and is asked for the code by the sender (consent
// phishing, as with device codes); the page must say the code is for a
// command the person started themselves and never to be given to anyone.
// And a page with a code in it must not be framed.
func TestAttackPastePage(t *testing.T) {
	b := newCLIBed(t)
	evil := `<img src=x onerror=alert(1)>`
	b.who.groups[evil] = nil
	resp, body := b.browse(t, b.begin(t, "paste", strings.Repeat("v", 43)), evil)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !regexp.MustCompile(`<pre[^>]*>[A-Za-z0-9_-]+</pre>`).MatchString(body) {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "<img") || !strings.Contains(body, "&lt;img") {
		t.Errorf("the username is not escaped: %s", body)
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("Content-Security-Policy %q, X-Frame-Options %q; want no script, no framing", csp,
			resp.Header.Get("X-Frame-Options"))
	}
	for _, want := range []string{"you started yourself", "Never give this code to anyone"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not say %q: %s", want, body)
		}
	}
}

// TestPastePageCSP: the paste page's policy allows its style by digest.
func TestPastePageCSP(t *testing.T) {
	sum := sha256.Sum256([]byte(pastePageStyle))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(pastePageCSP, want) {
		t.Errorf("pastePageCSP = %q; want it to hold %q", pastePageCSP, want)
	}
}
