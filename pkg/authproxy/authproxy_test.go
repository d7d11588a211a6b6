package authproxy_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/token"
)

// identityHeaders is the part of h that carries or could change identity,
// with names lower-cased and values of names differing only in case merged,
// plus the names in also.
func identityHeaders(h http.Header, also ...string) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		keep := lk == "authorization" || lk == "proxy-authorization" ||
			strings.HasPrefix(lk, "impersonate-") || strings.HasPrefix(lk, "x-remote-")
		for _, a := range also {
			keep = keep || lk == strings.ToLower(a)
		}
		if keep {
			out[lk] = append(out[lk], vs...)
		}
	}
	return out
}

// wantIdentity is what the backend must see for a user's request and
// nothing else.
func wantIdentity(user string, groups []string, tokenID, userID, saToken string) map[string][]string {
	return map[string][]string{
		"authorization":                           {"Bearer " + saToken},
		"impersonate-user":                        {user},
		"impersonate-group":                       append(append([]string(nil), groups...), impersonation.Authenticated),
		"impersonate-extra-drover.dev%2ftoken-id": {tokenID},
		"impersonate-extra-drover.dev%2fuser-id":  {userID},
	}
}

// nestedIdentity is what the backend must see for an approved kubectl --as.
func nestedIdentity(user string, groups []string, original, tokenID, userID, saToken string) map[string][]string {
	return map[string][]string{
		"authorization":     {"Bearer " + saToken},
		"impersonate-user":  {user},
		"impersonate-group": append(append([]string(nil), groups...), impersonation.Authenticated),
		"impersonate-extra-drover.dev%2foriginal-user": {original},
		"impersonate-extra-drover.dev%2ftoken-id":      {tokenID},
		"impersonate-extra-drover.dev%2fuser-id":       {userID},
	}
}

// TestHostileHeaders holds the proxy to its invariant on client identity
// headers: the backend sees only the identity Drover decided on, with the
// one credential Drover holds. A request that asks to impersonate (the
// canonical Impersonate-User, once, with Impersonate-Group) is forwarded as
// that identity only when the cluster's SubjectAccessReview approves it;
// every other identity-shaped header, and every disapproved request, is
// refused with a Status and reaches nothing.
func TestHostileHeaders(t *testing.T) {
	s := newSandwich(t)
	_, sa := s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	adaTok, adaTokID := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	bobTok, bobTokID := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	s.backend.allow(sa, "bob", "users", "jane")
	adaWant := wantIdentity("ada", []string{downstream.AdminGroup}, adaTokID, ada.ID, sa)

	const path = "/k8s/clusters/c-alpha/api/v1/namespaces"
	tests := []struct {
		name  string
		lines []string
		also  []string // further header names the backend must not see
		code  int
		msg   string              // refusals: a substring of the Status message
		want  map[string][]string // nil: the backend must get nothing
	}{
		{
			name:  "no client identity headers",
			lines: []string{"Authorization: Bearer " + adaTok},
			code:  200, want: adaWant,
		},
		{
			name:  "non-admin user",
			lines: []string{"Authorization: Bearer " + bobTok},
			code:  200, want: wantIdentity("bob", nil, bobTokID, bob.ID, sa),
		},
		{
			// Go canonicalizes the names, so this asks to be system:admin,
			// but with a uid and an extra: refused, not trimmed.
			name: "impersonation headers in mixed case",
			lines: []string{"Authorization: Bearer " + adaTok,
				"impersonate-user: system:admin", "IMPERSONATE-GROUP: system:masters",
				"Impersonate-uid: 0", "iMpErSoNaTe-ExTrA-scopes: all"},
			code: 400, msg: "Impersonate-Extra-* headers are not supported", // the first offending name in sort order
		},
		{
			name: "impersonation headers duplicated",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Impersonate-User: system:admin", "Impersonate-User: ada", "impersonate-user: root",
				"Impersonate-Group: system:masters", "impersonate-group: system:nodes",
				"Impersonate-Uid: 0", "Impersonate-Uid: 1"},
			code: 400, msg: "Impersonate-Uid is not supported",
		},
		{
			name: "Impersonate-User duplicated",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Impersonate-User: jane", "impersonate-user: system:admin"},
			code: 400, msg: "Impersonate-User must be sent once, got 2 values",
		},
		{
			name: "Drover's own extra keys forged",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Impersonate-Extra-drover.dev%2Ftoken-id: t-forged",
				"impersonate-extra-drover.dev%2fuser-id: u-forged",
				"Impersonate-Extra-Drover.Dev%2FUser-Id: u-forged-again"},
			code: 400, msg: "Impersonate-Extra-* headers are not supported",
		},
		{
			name: "original-user extra forged with an approvable user",
			lines: []string{"Authorization: Bearer " + bobTok,
				"Impersonate-User: jane", "Impersonate-Extra-drover.dev%2Foriginal-user: ada"},
			code: 400, msg: "Impersonate-Extra-* headers are not supported",
		},
		{
			name: "X-Remote headers",
			lines: []string{"Authorization: Bearer " + adaTok,
				"X-Remote-User: system:admin", "x-remote-group: system:masters",
				"X-REMOTE-EXTRA-scopes: all", "X-Remote-Uid: 0"},
			code: 400, msg: "is not accepted: Drover sets the identity downstream",
		},
		{
			name: "Proxy-Authorization",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Proxy-Authorization: Bearer stolen", "proxy-authorization: Basic eDp5"},
			code: 200, want: adaWant,
		},
		{
			name: "Connection names Impersonate-User",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Connection: Impersonate-User", "Impersonate-User: system:admin"},
			code: 400, msg: "Impersonate-User is named in Connection",
		},
		{
			name:  "Connection names Authorization",
			lines: []string{"Authorization: Bearer " + adaTok, "Connection: Authorization"},
			code:  200, want: adaWant,
		},
		{
			name: "Connection names a custom header",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Connection: X-Custom", "X-Custom: hop-by-hop", "x-custom: again"},
			also: []string{"X-Custom"},
			code: 200, want: adaWant,
		},
		{
			name: "Connection names several in mixed case, twice",
			lines: []string{"Authorization: Bearer " + adaTok,
				"connection: keep-alive, IMPERSONATE-GROUP, x-remote-user", "CONNECTION: X-Other",
				"Impersonate-Group: system:masters", "X-Remote-User: root", "X-Other: 1"},
			code: 400, msg: "Impersonate-Group is named in Connection",
		},
		{
			name: "Connection names non-identity headers beside an approved --as",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Connection: X-Other", "X-Other: 1", "Impersonate-User: jane"},
			also: []string{"X-Other", "Connection"},
			code: 200, want: nestedIdentity("jane", nil, "ada", adaTokID, ada.ID, sa),
		},
		{
			name: "second Authorization header",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Authorization: Bearer sa-token-the-client-should-not-have"},
			code: 401,
		},
		{
			name:  "Authorization twice in different case",
			lines: []string{"Authorization: Bearer " + adaTok, "AUTHORIZATION: Bearer " + adaTok},
			code:  401,
		},
		{
			name:  "only a client impersonation header",
			lines: []string{"Impersonate-User: system:admin"},
			code:  401,
		},
		{
			name:  "admin --as jane: approved",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: jane"},
			code:  200, want: nestedIdentity("jane", nil, "ada", adaTokID, ada.ID, sa),
		},
		{
			name: "admin --as jane --as-group devs --as-group ops: approved",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: jane",
				"Impersonate-Group: devs", "impersonate-group: ops"},
			code: 200, want: nestedIdentity("jane", []string{"devs", "ops"}, "ada", adaTokID, ada.ID, sa),
		},
		{
			name:  "member --as jane with the right in the cluster: approved",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane"},
			code:  200, want: nestedIdentity("jane", nil, "bob", bobTokID, bob.ID, sa),
		},
		{
			name:  "member --as root without the right: refused by the cluster",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: root"},
			code:  403, msg: `users "root" is forbidden: User "bob" cannot impersonate resource "users" in API group "" in cluster "c-alpha" (SubjectAccessReview: sandwich: no grant)`,
		},
		{
			name:  "member --as jane --as-group system:masters: the group is checked too",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane", "Impersonate-Group: system:masters"},
			code:  403, msg: `groups "system:masters" is forbidden: User "bob" cannot impersonate resource "groups"`,
		},
		{
			name:  "groups without a user",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-Group: system:masters"},
			code:  400, msg: "Impersonate-Group requires Impersonate-User",
		},
		{
			name:  "uid alone",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-Uid: 0"},
			code:  400, msg: "Impersonate-Uid is not supported",
		},
		{
			name:  "a ServiceAccount",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: system:serviceaccount:kube-system:default"},
			code:  403, msg: "impersonating a ServiceAccount is not supported",
		},
		{
			name:  "underscore instead of a dash",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate_User: system:admin"},
			code:  400, msg: "is not in canonical form",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.backend.count()
			resp, body := s.rawDo(rawRequest("GET", path, tc.lines...))
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.code, body)
			}
			reqs := s.backend.requests()[before:]
			if tc.want == nil {
				if len(reqs) != 0 {
					t.Fatalf("a refused request reached the backend %d times", len(reqs))
				}
				if tc.msg != "" {
					var st metav1.Status
					if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" || int(st.Code) != tc.code {
						t.Fatalf("body %s is not a Status with code %d: %v", body, tc.code, err)
					}
					if !strings.Contains(st.Message, tc.msg) {
						t.Errorf("message %q, want it to contain %q", st.Message, tc.msg)
					}
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs))
			}
			if reqs[0].Path != "/api/v1/namespaces" {
				t.Errorf("backend path %q", reqs[0].Path)
			}
			if diff := cmp.Diff(tc.want, identityHeaders(reqs[0].Header, tc.also...)); diff != "" {
				t.Errorf("identity headers at the backend (-want +got):\n%s", diff)
			}
		})
	}
	s.checkNoSecretsLeaked()
}

func TestRefusals(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	s.connectCluster("c-beta")
	s.addCluster("c-idle") // no agent

	ada := s.addUser("ada", true)
	future := time.Now().Add(time.Hour)
	adaTok, _ := s.mintToken(ada.ID, "", future)
	carol := s.addUser("carol", false) // a member of c-beta only
	s.bind(carol.ID, "c-beta")
	carolTok, _ := s.mintToken(carol.ID, "", future)
	scopedTok, _ := s.mintToken(ada.ID, "c-alpha", future)
	expiredTok, _ := s.mintToken(ada.ID, "", time.Now().Add(-time.Minute))
	gone := s.addUser("gone", true)
	goneTok, _ := s.mintToken(gone.ID, "", future)
	s.deleteUserRow(gone.ID)
	unknown, err := token.New("t-")
	if err != nil {
		t.Fatal(err)
	}
	adaParsed, err := token.Parse(adaTok)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := token.Token{ID: adaParsed.ID, Secret: unknown.Secret}.String()

	unauthorized := metav1.Status{Code: 401, Reason: metav1.StatusReasonUnauthorized, Message: "Unauthorized"}
	tests := []struct {
		name    string
		cluster string
		auth    string // the Authorization header; empty: none
		code    int
		want    *metav1.Status // nil: the request must reach the backend
	}{
		{"control: valid token", "c-alpha", "Bearer " + adaTok, 200, nil},
		{"control: scoped token on its cluster", "c-alpha", "Bearer " + scopedTok, 200, nil},
		{"control: member on its cluster", "c-beta", "Bearer " + carolTok, 200, nil},
		{"non-member", "c-alpha", "Bearer " + carolTok, 403, &metav1.Status{
			Code: 403, Reason: metav1.StatusReasonForbidden,
			Message: `user "carol" is not a member of cluster "c-alpha"; ask a Drover admin for a binding`}},
		{"missing token", "c-alpha", "", 401, &unauthorized},
		{"basic credentials", "c-alpha", "Basic YWRhOnBhc3N3b3Jk", 401, &unauthorized},
		{"empty bearer", "c-alpha", "Bearer ", 401, &unauthorized},
		{"malformed token", "c-alpha", "Bearer not-a-token", 401, &unauthorized},
		{"bogus token", "c-alpha", "Bearer " + unknown.String(), 401, &unauthorized},
		{"wrong secret", "c-alpha", "Bearer " + wrongSecret, 401, &unauthorized},
		{"expired token", "c-alpha", "Bearer " + expiredTok, 401, &unauthorized},
		{"token of a deleted user", "c-alpha", "Bearer " + goneTok, 401, &unauthorized},
		{"token scoped to another cluster", "c-beta", "Bearer " + scopedTok, 403, &metav1.Status{
			Code: 403, Reason: metav1.StatusReasonForbidden,
			Message: `this token is scoped to another cluster and may not be used for cluster "c-beta"`}},
		{"unknown cluster", "c-nope", "Bearer " + adaTok, 404, &metav1.Status{
			Code: 404, Reason: metav1.StatusReasonNotFound, Message: `cluster "c-nope" not found`}},
		{"cluster id that cannot exist", "C_ALPHA", "Bearer " + adaTok, 404, &metav1.Status{
			Code: 404, Reason: metav1.StatusReasonNotFound,
			Message: "no cluster named in path; use /k8s/clusters/{cluster-id}/..."}},
		{"cluster without an agent", "c-idle", "Bearer " + adaTok, 503, &metav1.Status{
			Code: 503, Reason: metav1.StatusReasonServiceUnavailable, Message: `cluster "c-idle" is not connected`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", s.proxy.URL+"/k8s/clusters/"+tc.cluster+"/api/v1/pods", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			before := s.backend.count()
			resp, err := s.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.code, body)
			}
			reached := s.backend.count() - before
			if tc.want == nil {
				if reached != 1 {
					t.Errorf("backend got %d requests, want 1", reached)
				}
				return
			}
			if reached != 0 {
				t.Errorf("a refused request reached the backend %d times", reached)
			}
			checkStatus(t, resp, body, *tc.want)
		})
	}
	s.checkNoSecretsLeaked()
}

func TestAgentGone(t *testing.T) {
	s := newSandwich(t)
	a, _ := s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))

	get := func() (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.proxy.URL+"/k8s/clusters/c-alpha/version", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	if resp, body := get(); resp.StatusCode != 200 {
		t.Fatalf("with the agent up: status %d; body %s", resp.StatusCode, body)
	}
	left := time.Now()
	a.stop()
	waitFor(t, "the session to end", func() bool { _, ok := s.tun.Session("c-alpha"); return !ok })

	before := s.backend.count()
	resp, body := get()
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503; body %s", resp.StatusCode, body)
	}
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	const prefix = `cluster "c-alpha" is not connected; no agent connected since `
	since, ok := strings.CutPrefix(st.Message, prefix)
	if !ok {
		t.Fatalf("message %q, want prefix %q", st.Message, prefix)
	}
	at, err := time.Parse(time.RFC3339, since)
	if err != nil || at.Before(left.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("disconnected at %q (%v), want about %s", since, err, left.UTC().Format(time.RFC3339))
	}
	if s.backend.count() != before {
		t.Error("a request reached the backend with no agent connected")
	}
}

func TestStreaming(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))

	open := func() (*http.Response, *bufio.Reader) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.proxy.URL+"/k8s/clusters/c-alpha/stream?watch=true", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp, bufio.NewReader(resp.Body)
	}
	// readLine fails if the line does not come while the handler is still
	// blocked: a buffering proxy would hold it back.
	readLine := func(br *bufio.Reader) string {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			return line
		case <-time.After(waitTimeout):
			t.Fatal("the first line did not arrive while the backend was still streaming")
			return ""
		}
	}

	t.Run("lines arrive as written", func(t *testing.T) {
		resp, br := open()
		defer resp.Body.Close()
		st := s.backend.nextStream(t)
		if line := readLine(br); line != "first\n" {
			t.Fatalf("first line %q", line)
		}
		close(st.release)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "second\n" {
			t.Errorf("rest %q, %v", rest, err)
		}
	})

	t.Run("closing the client ends the backend request", func(t *testing.T) {
		resp, br := open()
		st := s.backend.nextStream(t)
		if line := readLine(br); line != "first\n" {
			t.Fatalf("first line %q", line)
		}
		resp.Body.Close()
		select {
		case <-st.canceled:
		case <-time.After(waitTimeout):
			close(st.release)
			t.Fatal("the backend's request went on after the client left")
		}
	})
}

func TestUpgrade(t *testing.T) {
	s := newSandwich(t)
	_, sa := s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, tokID := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	want := wantIdentity("ada", []string{downstream.AdminGroup}, tokID, ada.ID, sa)

	upgradeRequest := func(path string) string {
		return rawRequest("GET", "/k8s/clusters/c-alpha"+path,
			"Authorization: Bearer "+tok,
			// Headers that must not pass ride along; one is named in
			// Connection, which the proxy rebuilds for the upgrade. (Client
			// impersonation headers are refused before any upgrade: see
			// TestNestedUpgrade.)
			"Connection: Upgrade, X-Hop",
			"X-Hop: 1",
			"Upgrade: SPDY/3.1",
			"Proxy-Authorization: Bearer stolen",
		)
	}

	t.Run("accepted upgrade carries bytes both ways", func(t *testing.T) {
		before := s.backend.count()
		c, br := s.dial()
		if _, err := io.WriteString(c, upgradeRequest("/upgrade/echo")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "SPDY/3.1" {
			t.Fatalf("status %d, Upgrade %q; want 101 SPDY/3.1", resp.StatusCode, resp.Header.Get("Upgrade"))
		}
		for _, msg := range []string{"ping\n", "second message\n"} {
			if _, err := io.WriteString(c, msg); err != nil {
				t.Fatal(err)
			}
			if got, err := br.ReadString('\n'); err != nil || got != msg {
				t.Fatalf("echo %q, %v; want %q", got, err, msg)
			}
		}
		c.Close()
		reqs := s.backend.requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("backend got %d requests, want 1", len(reqs))
		}
		if diff := cmp.Diff(want, identityHeaders(reqs[0].Header, "X-Hop")); diff != "" {
			t.Errorf("identity headers on the upgrade (-want +got):\n%s", diff)
		}
	})

	// The CVE-2018-1002105 class: after a refused upgrade, no byte the client
	// sends may reach the backend on the connection the backend saw
	// authenticated with Drover's credential.
	for _, code := range []int{http.StatusForbidden, http.StatusBadRequest, http.StatusOK} {
		t.Run("refused upgrade "+http.StatusText(code), func(t *testing.T) {
			before := s.backend.count()
			c, br := s.dial()
			path := "/upgrade/refuse/" + strconv.Itoa(code)
			if _, err := io.WriteString(c, upgradeRequest(path)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != code || !strings.Contains(string(body), `"code":`+strconv.Itoa(code)) {
				t.Fatalf("status %d, body %s; want the backend's %d", resp.StatusCode, body, code)
			}
			if !resp.Close {
				t.Error("the refusal does not announce Connection: close")
			}
			// Bytes the client sends now must go nowhere: not to the backend
			// raw, nor as a second request on this connection.
			io.WriteString(c, "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")

			// (a) The proxy closes the client's connection.
			n, err := br.Read(make([]byte, 1))
			if n != 0 || !errors.Is(err, io.EOF) {
				t.Errorf("read after the refusal: %d bytes, %v; want EOF", n, err)
			}
			// (b) The backend's connection is closed too.
			reqs := s.backend.requests()[before:]
			if len(reqs) != 1 || reqs[0].Path != path {
				t.Fatalf("backend got %d requests (%v), want the one upgrade", len(reqs), reqs)
			}
			waitFor(t, "the backend connection of the refused upgrade to close", func() bool {
				return s.backend.connState(reqs[0].RemoteAddr) == http.StateClosed
			})
			if diff := cmp.Diff(want, identityHeaders(reqs[0].Header, "X-Hop")); diff != "" {
				t.Errorf("identity headers on the upgrade (-want +got):\n%s", diff)
			}
			for _, r := range s.backend.requests()[before:] {
				if r.Path != path {
					t.Errorf("backend got %s %s after the refusal", r.Method, r.Path)
				}
			}
		})
	}
	s.checkNoSecretsLeaked()
}

func checkStatus(t *testing.T, resp *http.Response, body []byte, want metav1.Status) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	want.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	want.Status = metav1.StatusFailure
	var got metav1.Status
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q is not a Status: %v", body, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}
