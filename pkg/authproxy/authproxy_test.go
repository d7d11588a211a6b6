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
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
)

func TestRefusals(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	s.connectCluster("c-bravo")
	s.addCluster("c-quiet") // no agent

	ada := s.addUser("ada", true)
	future := time.Now().Add(time.Hour)
	adaTok, _ := s.mintToken(ada.ID, "", future)
	carol := s.addUser("carol", false) // a member of c-bravo only
	s.bind(carol.ID, "c-bravo")
	carolTok, _ := s.mintToken(carol.ID, "", future)
	scopedTok, _ := s.mintToken(ada.ID, "c-alpha", future)
	expiredTok, _ := s.mintToken(ada.ID, "", time.Now().Add(-time.Minute))
	gone := s.addUser("gone", true)
	goneTok, _ := s.mintToken(gone.ID, "", future)
	s.deleteUserRow(gone.ID)
	unknown, err := token.New(ids.Token)
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
		{"control: member on its cluster", "c-bravo", "Bearer " + carolTok, 200, nil},
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
		{"token scoped to another cluster", "c-bravo", "Bearer " + scopedTok, 403, &metav1.Status{
			Code: 403, Reason: metav1.StatusReasonForbidden,
			Message: `this token is scoped to another cluster and may not be used for cluster "c-bravo"`}},
		{"unknown cluster", "c-ghost", "Bearer " + adaTok, 404, &metav1.Status{
			Code: 404, Reason: metav1.StatusReasonNotFound, Message: `cluster "c-ghost" not found`}},
		{"cluster id that cannot exist", "C_ALPHA", "Bearer " + adaTok, 404, &metav1.Status{
			Code: 404, Reason: metav1.StatusReasonNotFound,
			Message: "no cluster named in path; use /k8s/clusters/{cluster-id}/..."}},
		{"cluster without an agent", "c-quiet", "Bearer " + adaTok, 503, &metav1.Status{
			Code: 503, Reason: metav1.StatusReasonServiceUnavailable, Message: `cluster "c-quiet" is not connected; no agent has connected since the server started ` +
				`(node agents carry traffic only for a cluster whose cluster agent has connected)`}},
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
	a.Stop()
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
	s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, tokID := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	want := wantIdentity("ada", []string{downstream.AdminGroup}, tokID, ada.ID)

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
		// The debug line names the protocol, once the upgrade has ended.
		waitFor(t, "the proxied line to name the upgrade", func() bool {
			return strings.Contains(s.logs.String(), "upgrade=SPDY/3.1")
		})
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
