package chain_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/websession"
)

// TestShellAttackRoutes: only GET of exactly /v3/clusters/{id}/shell
// opens a shell; every other spelling of the path and every other method
// (whatever route it falls to) opens none and spends nothing.
func TestShellAttackRoutes(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	other, _ := s.createCluster(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	base := "/v3/clusters/" + id + "/shell"
	for _, tc := range []struct{ name, method, path string }{
		{"upper-case prefix", "GET", "/V3/clusters/" + id + "/shell"},
		{"doubled leading slash", "GET", "/" + base},
		{"doubled inner slash", "GET", "/v3//clusters/" + id + "/shell"},
		{"trailing slash", "GET", base + "/"},
		{"dot segment", "GET", "/v3/clusters/" + id + "/./shell"},
		{"dot-dot segment", "GET", "/v3/clusters/" + id + "/x/../shell"},
		{"dot-dot over another cluster", "GET", "/v3/clusters/" + other + "/../" + id + "/shell"},
		{"encoded dot-dot", "GET", "/v3/clusters/" + id + "/x/%2e%2e/shell"},
		// "/v3/clusters/{id}/%73hell" is the same URI (RFC 3986: an
		// escaped unreserved character) and may open the shell; an
		// escaped slash is not the same URI: below.
		{"semicolon parameter", "GET", base + ";x"},
		{"semicolon in the id", "GET", "/v3/clusters/" + id + ";x/shell"},
		{"upper-case SHELL", "GET", "/v3/clusters/" + id + "/SHELL"},
		{"upper-case id", "GET", "/v3/clusters/" + strings.ToUpper(id) + "/shell"},
		{"through the proxy's prefix", "GET", "/k8s/clusters/" + id + "/../../v3/clusters/" + id + "/shell"},
		{"HEAD", "HEAD", base},
		{"OPTIONS", "OPTIONS", base},
		{"POST", "POST", base},
		{"PUT", "PUT", base},
		{"PATCH", "PATCH", base},
		{"DELETE", "DELETE", base},
		{"TRACE", "TRACE", base},
		{"CONNECT", "CONNECT", base},
		{"lower-case get", "get", base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			lines := append(s.wsLines(bob), websession.CSRFHeader+": "+websession.CSRFToken(bob))
			if code, _ := s.raw(tc.method, tc.path+"?ticket="+url.QueryEscape(ticket), lines...); code == http.StatusSwitchingProtocols {
				t.Fatalf("%s %s opened a shell", tc.method, tc.path)
			}
			s.mustBeFresh(id, ticket, bob)
		})
	}
	t.Run("encoded slash", func(t *testing.T) {
		ticket := s.ticket(bob, id, bobTarget)
		code, _ := s.raw("GET", "/v3/clusters/"+id+"%2Fshell?ticket="+url.QueryEscape(ticket), s.wsLines(bob)...)
		if code == http.StatusSwitchingProtocols {
			t.Fatalf("GET /v3/clusters/%s%%2Fshell opened a shell", id)
		}
		s.mustBeFresh(id, ticket, bob)
	})
	t.Run("HTTP/2 extended CONNECT", func(t *testing.T) {
		// Go's server refuses :protocol unless GODEBUG=http2xconnect=1;
		// with it, a websocket over HTTP/2 is a CONNECT whose :protocol is
		// websocket. The chain must not take it for the shell either way.
		ticket := s.ticket(bob, id, bobTarget)
		r := httptest.NewRequest("CONNECT", base+"?ticket="+url.QueryEscape(ticket), nil)
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		r.Host = strings.TrimPrefix(s.srv.URL, "https://")
		r.Header.Set(":protocol", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
		r.Header.Set("Origin", s.origin)
		r.Header.Set("Cookie", websession.CookieName+"="+bob)
		r.Header.Set(websession.CSRFHeader, websession.CSRFToken(bob))
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, r)
		if rec.Code < 400 {
			t.Fatalf("extended CONNECT answered %d %s", rec.Code, rec.Body)
		}
		s.mustBeFresh(id, ticket, bob)
	})
}

// TestShellAttackCrossSite: a page of another origin (cross-site
// websocket hijacking) opens no shell, whatever it puts in Origin, and
// spends nothing.
func TestShellAttackCrossSite(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	host := strings.TrimPrefix(s.origin, "https://")
	for _, tc := range []struct {
		name    string
		origins []string
	}{
		{"none", nil},
		{"null", []string{"null"}},
		{"another site", []string{"https://evil.test"}},
		{"a suffix of the host", []string{"https://" + host + ".evil.test"}},
		{"the host over http", []string{"http://" + host}},
		{"the host over ws", []string{"wss://" + host}},
		{"the host without its port", []string{"https://127.0.0.1"}},
		{"with a path", []string{s.origin + "/"}},
		{"with userinfo", []string{"https://evil.test@" + host}},
		{"the right one and another", []string{s.origin, "https://evil.test"}},
		{"another and the right one", []string{"https://evil.test", s.origin}},
		{"both in one header", []string{s.origin + ", https://evil.test"}},
		{"empty", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			lines := []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: v5.channel.k8s.io",
				"Cookie: " + websession.CookieName + "=" + bob, "Sec-Fetch-Site: cross-site"}
			for _, o := range tc.origins {
				lines = append(lines, "Origin: "+o)
			}
			code, body := s.raw("GET", "/v3/clusters/"+id+"/shell?ticket="+url.QueryEscape(ticket), lines...)
			if code != http.StatusForbidden {
				t.Fatalf("Origin %q: %d %s, want 403", tc.origins, code, body)
			}
			s.mustBeFresh(id, ticket, bob)
		})
	}
}

// TestShellAttackCredentials: the shell takes exactly one session cookie
// and no other credential; a stolen ticket is worth nothing with another
// credential or without one.
func TestShellAttackCredentials(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	eve := s.consoleLogin("eve", evePassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	s.bind(root, "eve", id, access.RoleClusterMember)
	// bob's API token scoped to the cluster (a kubeconfig's kind of
	// credential).
	code, b, _ := s.call("POST", "/v3/tokens", s.console(bob), map[string]string{"clusterId": id})
	var tok struct{ Token string }
	if json.Unmarshal(b, &tok); code != http.StatusCreated || tok.Token == "" {
		t.Fatalf("bob's scoped token: %d %s", code, b)
	}
	scoped := tok.Token
	cookieLine := func(v string) string { return "Cookie: " + websession.CookieName + "=" + v }
	ws := []string{"Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Origin: " + s.origin}
	proto := func(tok string) string {
		return "Sec-WebSocket-Protocol: v5.channel.k8s.io, base64url.bearer.authorization.k8s.io." +
			base64.RawURLEncoding.EncodeToString([]byte(tok))
	}
	for _, tc := range []struct {
		name  string
		lines []string
		want  int
	}{
		{"no credential (a stolen ticket)", nil, http.StatusUnauthorized},
		{"another user's session cookie", []string{cookieLine(eve)}, http.StatusForbidden},
		{"two Cookie headers", []string{cookieLine(bob), cookieLine(bob)}, http.StatusUnauthorized},
		{"the session twice in one Cookie", []string{cookieLine(bob + "; " + websession.CookieName + "=" + bob)}, http.StatusUnauthorized},
		{"another session beside it", []string{cookieLine(eve + "; " + websession.CookieName + "=" + bob)}, http.StatusUnauthorized},
		{"the cookie's name in another case", []string{"Cookie: Drover_Session=" + bob}, http.StatusUnauthorized},
		{"the session as a bearer token", []string{"Authorization: Bearer " + bob}, http.StatusForbidden},
		{"the cookie and another user's bearer token", []string{cookieLine(bob), "Authorization: Bearer " + eve}, http.StatusForbidden},
		{"the cookie and a Basic Authorization", []string{cookieLine(bob), "Authorization: Basic Ym9iOmJvYg=="}, http.StatusUnauthorized},
		{"the cookie and an empty Authorization", []string{cookieLine(bob), "Authorization:"}, http.StatusUnauthorized},
		{"a scoped API token as a bearer token", []string{"Authorization: Bearer " + scoped}, http.StatusForbidden},
		{"a scoped API token in the cookie", []string{cookieLine(scoped)}, http.StatusUnauthorized},
		{"the session as a bearer subprotocol", []string{proto(bob)}, http.StatusUnauthorized},
		{"a scoped API token as a bearer subprotocol", []string{proto(scoped)}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			lines := append(append([]string{}, ws...), tc.lines...)
			code, body := s.raw("GET", "/v3/clusters/"+id+"/shell?ticket="+url.QueryEscape(ticket), lines...)
			if code != tc.want {
				t.Fatalf("%d %s, want %d", code, body, tc.want)
			}
			s.mustBeFresh(id, ticket, bob)
		})
	}
	t.Run("a scoped API token asks for a ticket", func(t *testing.T) {
		for _, p := range []string{"/v3/clusters/" + id + "/shell-tickets", "//v3/clusters/" + id + "/shell-tickets",
			"/clusters/" + id + "/shell-tickets"} {
			code, b, _ := s.call("POST", p, http.Header{"Authorization": {"Bearer " + scoped}}, bobTarget)
			if code == http.StatusCreated || strings.Contains(string(b), `"ticket"`) {
				t.Errorf("POST %s with a scoped token: %d %s", p, code, b)
			}
		}
	})
}
