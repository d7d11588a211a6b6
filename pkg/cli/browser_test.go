package cli

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/checksum"
)

// browserServer is a Drover server with a redirect provider "sso": begin
// answers browserURL(its own URL) and keeps the command's body, exchange
// gives a session for the code "good-code" with the verifier of the
// challenge begin got.
type browserServer struct {
	*httptest.Server
	caPEM      []byte
	browserURL func(base string) string

	mu        sync.Mutex
	begun     map[string]string
	exchanged int
}

func newBrowserServer(t *testing.T, browserURL func(base string) string) *browserServer {
	t.Helper()
	s := &browserServer{browserURL: browserURL}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch r.URL.Path {
		case "/cacerts":
			w.Write(s.caPEM)
		case "/v3/login/providers":
			w.Write([]byte(`{"items":[{"name":"local","type":"local"},{"name":"sso","type":"oidc"}]}`))
		case "/v3/login/sso/begin":
			json.NewDecoder(r.Body).Decode(&s.begun)
			json.NewEncoder(w).Encode(map[string]string{"browserUrl": s.browserURL(s.URL)})
		case "/v3/login/exchange":
			s.exchanged++
			var req map[string]string
			json.NewDecoder(r.Body).Decode(&req)
			sum := sha256.Sum256([]byte(req["verifier"]))
			if req["code"] != "good-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != s.begun["codeChallenge"] {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"kind":"Status","message":"login failed"}`))
				return
			}
			json.NewEncoder(w).Encode(sessionResponse{Token: "tok", ID: "s-1", ExpiresAt: time.Now().Add(time.Hour)})
		case "/v3/users/me":
			w.Write([]byte(`{"username":"sso:alice"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	t.Cleanup(s.Close)
	return s
}

func (s *browserServer) redirect() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begun["cliRedirect"]
}

// get is a browser's GET, its status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func goodBrowserURL(base string) string { return base + "/v3/login/sso/browser?claim=c" }

// TestBrowserLogin: the command listens on 127.0.0.1 at an unpredictable
// path, takes one code there (nothing at other paths), and trades it with
// its verifier for a session.
func TestBrowserLogin(t *testing.T) {
	srv := newBrowserServer(t, goodBrowserURL)
	var opened string
	open := func(u string) error {
		opened = u
		redirect := srv.redirect()
		if !strings.HasPrefix(redirect, "http://127.0.0.1:") || len(redirect) < len("http://127.0.0.1:1/drover-login/")+22 {
			t.Errorf("cliRedirect %q: want 127.0.0.1 and a random path", redirect)
		}
		base := redirect[:strings.Index(redirect, "/drover-login/")]
		for _, u := range []string{base + "/", base + "/drover-login/", base + "/drover-login/guess?code=evil", redirect + "x?code=evil"} {
			if code, _ := get(t, u); code != http.StatusNotFound {
				t.Errorf("GET %s: %d; want 404", u, code)
			}
		}
		if code, _ := get(t, redirect); code != http.StatusBadRequest {
			t.Errorf("GET without a code: %d; want 400", code)
		}
		if code, body := get(t, redirect+"?code=good-code"); code != http.StatusOK || !strings.Contains(body, "Logged in") {
			t.Errorf("GET with the code: %d %s", code, body)
		}
		if code, _ := get(t, redirect+"?code=another"); code != http.StatusConflict {
			t.Errorf("a second code: %d; want 409", code)
		}
		return nil
	}
	c := &Config{Servers: map[string]*Server{}}
	s, err := Login(t.Context(), c, LoginOptions{Server: srv.URL, CAChecksum: checksum.Of(srv.caPEM), Provider: "sso",
		Browser: &BrowserLogin{Open: open, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Username != "sso:alice" || s.Session != "tok" || opened != goodBrowserURL(srv.URL) {
		t.Errorf("Login = %+v after opening %q", s, opened)
	}
}

// TestAttackBrowserURL (a red-team finding, now fixed: the test keeps it
// so) was: the command checked only that the server's browserUrl began
// with the server's URL, then printed it on the terminal and gave it to
// the browser: a server (or anything answering for it) could write
// terminal control sequences (rewrite the screen, set the window title,
// a hyperlink to another place) through the rest of the URL.
func TestAttackBrowserURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(base string) string
	}{
		{"another host", func(string) string { return "https://evil.example/v3/login/sso/browser?claim=c" }},
		{"a host that begins like the server's", func(base string) string { return base + ".evil.example/v3/login/sso/browser?claim=c" }},
		{"userinfo", func(base string) string {
			return strings.Replace(base, "https://", "https://evil.example@", 1) + "/v3/login/sso/browser?claim=c"
		}},
		{"another path", func(base string) string { return base + "/elsewhere" }},
		{"an escape sequence", func(base string) string { return base + "/v3/login/sso/browser?claim=c\x1b[2J\x1b]0;title\x07" }},
		{"a C1 control", func(base string) string { return base + "/v3/login/sso/browser?claim=c\u009b2J" }},
		{"a bidi override", func(base string) string { return base + "/v3/login/sso/browser?claim=c\u202eexe.lmth" }},
		{"a newline", func(base string) string {
			return base + "/v3/login/sso/browser?claim=c\nOpen https://evil.example instead"
		}},
		{"a space", func(base string) string { return base + "/v3/login/sso/browser?claim=c https://evil.example" }},
		{"too long", func(base string) string { return base + "/v3/login/sso/browser?claim=" + strings.Repeat("c", 16<<10) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newBrowserServer(t, tc.url)
			opened := false
			c := &Config{Servers: map[string]*Server{}}
			_, err := Login(t.Context(), c, LoginOptions{Server: srv.URL, CAChecksum: checksum.Of(srv.caPEM), Provider: "sso",
				Browser: &BrowserLogin{Open: func(string) error { opened = true; return nil }, Timeout: time.Second}})
			if err == nil || opened || !strings.Contains(err.Error(), "no login page of its own") {
				t.Errorf("Login = %v, opened %v; want a refusal before anything is shown", err, opened)
			}
		})
	}
}
