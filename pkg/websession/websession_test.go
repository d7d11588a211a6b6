package websession

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheck(t *testing.T) {
	const session = "a.session.jwt"
	good := CSRFToken(session)
	type hdr map[string][]string
	tests := []struct {
		name, method, host string
		h                  hdr
		ok                 bool
	}{
		{"GET needs nothing", "GET", "drover.test", nil, true},
		{"HEAD needs nothing", "HEAD", "drover.test", nil, true},
		{"POST with both", "POST", "drover.test", hdr{"Origin": {"https://drover.test"}, CSRFHeader: {good}}, true},
		{"DELETE with both", "DELETE", "drover.test:8443", hdr{"Origin": {"https://drover.test:8443"}, CSRFHeader: {good}}, true},
		{"host case", "PUT", "Drover.Test", hdr{"Origin": {"https://drover.test"}, CSRFHeader: {good}}, true},
		{"no token", "POST", "drover.test", hdr{"Origin": {"https://drover.test"}}, false},
		{"two tokens", "POST", "drover.test", hdr{"Origin": {"https://drover.test"}, CSRFHeader: {good, good}}, false},
		{"wrong token", "POST", "drover.test", hdr{"Origin": {"https://drover.test"}, CSRFHeader: {CSRFToken("other")}}, false},
		{"empty token", "POST", "drover.test", hdr{"Origin": {"https://drover.test"}, CSRFHeader: {""}}, false},
		{"no origin", "POST", "drover.test", hdr{CSRFHeader: {good}}, false},
		{"null origin", "POST", "drover.test", hdr{"Origin": {"null"}, CSRFHeader: {good}}, false},
		{"http origin", "POST", "drover.test", hdr{"Origin": {"http://drover.test"}, CSRFHeader: {good}}, false},
		{"other port", "POST", "drover.test:8443", hdr{"Origin": {"https://drover.test:9443"}, CSRFHeader: {good}}, false},
		{"other host", "POST", "drover.test", hdr{"Origin": {"https://evil.test"}, CSRFHeader: {good}}, false},
		{"suffix host", "POST", "drover.test", hdr{"Origin": {"https://drover.test.evil.test"}, CSRFHeader: {good}}, false},
		{"origin with path", "POST", "drover.test", hdr{"Origin": {"https://drover.test/x"}, CSRFHeader: {good}}, false},
		{"origin with user", "POST", "drover.test", hdr{"Origin": {"https://a@drover.test"}, CSRFHeader: {good}}, false},
		{"two origins", "POST", "drover.test", hdr{"Origin": {"https://drover.test", "https://drover.test"}, CSRFHeader: {good}}, false},
		{"websocket same origin", "GET", "drover.test", hdr{"Upgrade": {"websocket"}, "Origin": {"https://drover.test"}}, true},
		{"websocket other origin", "GET", "drover.test", hdr{"Upgrade": {"WebSocket"}, "Origin": {"https://evil.test"}}, false},
		{"websocket no origin", "GET", "drover.test", hdr{"Upgrade": {"websocket"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "https://"+tc.host+"/v3/tokens", nil)
			r.Host = tc.host
			for k, v := range tc.h {
				r.Header[http.CanonicalHeaderKey(k)] = v
			}
			if err := Check(r, session); (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestCredential(t *testing.T) {
	tests := []struct {
		name    string
		cookies []string
		want    string
		ok      bool
	}{
		{"none", nil, "", false},
		{"one", []string{"abc"}, "abc", true},
		{"two", []string{"abc", "def"}, "", false},
		{"empty", []string{""}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v3/users/me", nil)
			for _, c := range tc.cookies {
				r.AddCookie(&http.Cookie{Name: CookieName, Value: c})
			}
			got, ok := Credential(r)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v", got, ok)
			}
		})
	}
}

// The CSRF token depends on the session and is not the session.
func TestCSRFToken(t *testing.T) {
	a, b := CSRFToken("s1"), CSRFToken("s2")
	if a == b || a == "s1" || len(a) != 43 {
		t.Fatalf("tokens %q %q", a, b)
	}
}

// FuzzCheck: whatever the headers, a state-changing request passes only
// with this host's https Origin and the session's token.
func FuzzCheck(f *testing.F) {
	f.Add("POST", "drover.test", "https://drover.test", CSRFToken("s"))
	f.Add("DELETE", "drover.test:1", "https://drover.test:1", "x")
	f.Add("GET", "h", "null", "")
	f.Fuzz(func(t *testing.T, method, host, origin, token string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Method, r.Host = method, host
		r.Header.Set("Origin", origin)
		r.Header.Set(CSRFHeader, token)
		err := Check(r, "s")
		if err == nil && Unsafe(method) && (token != CSRFToken("s") || SameOrigin(r) != nil) {
			t.Fatalf("passed: %q %q %q %q", method, host, origin, token)
		}
	})
}
