package chain_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/websession"
)

var bobTarget = shell.Target{Namespace: "work", Pod: "web-0", Container: "app", Command: []string{"sh", "-c", "echo hi"}}

// TestShellAttackDownstream: what the apiserver receives for a shell is
// exactly the exec the ticket approved, as the user (the same identity and
// account a kubectl request with the user's credential gets), with
// Drover's downstream credential; none of the browser's credentials (the
// cookie, the CSRF token, the session) nor any identity header the client
// added reaches it, and the query the websocket carried is not the exec's.
func TestShellAttackDownstream(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)

	// What a kubectl request with bob's own credential is forwarded as.
	code, b, _ := s.call("GET", "/k8s/clusters/"+id+"/api/v1/namespaces/work/pods", http.Header{"Authorization": {"Bearer " + bob}}, nil)
	if code != http.StatusOK {
		t.Fatalf("bob's kubectl request: %d %s", code, b)
	}
	kubectl, _ := s.backend.last("/api/v1/namespaces/work/pods")

	wantQuery := shell.ExecURL(id, bobTarget).RawQuery
	set := func(k string, v ...string) func(http.Header) { return func(h http.Header) { h[k] = v } }
	for _, tc := range []struct {
		name  string
		query func(ticket string) string
		edit  func(http.Header)
	}{
		{"the console", nil, nil},
		{"the query names another exec", func(tk string) string {
			return "?command=id&container=sidecar&stdin=false&tty=false&ticket=" + url.QueryEscape(tk) + "&command=rm&namespace=kube-system"
		}, nil},
		{"X-Remote-User", nil, set("X-Remote-User", "root")},
		{"X-Remote-Group", nil, set("X-Remote-Group", "system:masters")},
		{"Impersonate-User", nil, set("Impersonate-User", "root")},
		{"Impersonate-Group", nil, set("Impersonate-Group", "system:masters")},
		{"Impersonate-Uid", nil, set("Impersonate-Uid", "0")},
		{"Impersonate-Extra", nil, set("Impersonate-Extra-Scopes", "all")},
		{"Proxy-Authorization", nil, set("Proxy-Authorization", "Basic cm9vdDpyb290")},
		{"X-Forwarded-User", nil, set("X-Forwarded-User", "root")},
		{"the CSRF token", nil, set(websession.CSRFHeader, websession.CSRFToken(bob))},
		{"another cookie beside the session's", nil, set("Cookie", websession.CookieName+"="+bob, "other=1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			q := "?ticket=" + url.QueryEscape(ticket)
			if tc.query != nil {
				q = tc.query(ticket)
			}
			hdr := s.cookie(bob)
			if tc.edit != nil {
				tc.edit(hdr)
			}
			before := len(s.backend.execs())
			conn, code, body := s.openShell(id, q, hdr)
			if code != http.StatusSwitchingProtocols {
				// Refusing the request is a fine answer to an added
				// header; forwarding it is not.
				if tc.edit != nil && (code == http.StatusBadRequest || code == http.StatusForbidden) {
					return
				}
				t.Fatalf("the shell: %d %s", code, body)
			}
			if err := conn.WriteMessage(websocket.BinaryMessage, []byte("\x00ls\n")); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, p, err := conn.ReadMessage(); err != nil || string(p) != "\x00ls\n" {
				t.Fatalf("the echo: %q %v", p, err)
			}
			conn.Close()
			execs := s.backend.execs()
			if len(execs) != before+1 {
				t.Fatalf("the backend got %d exec requests, want 1", len(execs)-before)
			}
			got := execs[len(execs)-1]
			if want := "/api/v1/namespaces/work/pods/web-0/exec"; got.Path != want {
				t.Errorf("exec path %q, want %q", got.Path, want)
			}
			if diff := cmp.Diff(mustQuery(t, wantQuery), mustQuery(t, got.RawQuery)); diff != "" {
				t.Errorf("exec query (-want +got):\n%s", diff)
			}
			for _, h := range []string{"Authorization", "Impersonate-User", "Impersonate-Group", "Impersonate-Uid"} {
				if diff := cmp.Diff(kubectl.Header.Values(h), got.Header.Values(h)); diff != "" {
					t.Errorf("%s downstream differs from bob's kubectl request (-kubectl +shell):\n%s", h, diff)
				}
			}
			for k, v := range got.Header {
				lk := strings.ToLower(k)
				switch {
				case strings.HasPrefix(lk, "impersonate-extra-") && !hasHeader(kubectl.Header, k),
					strings.HasPrefix(lk, "x-remote-"), lk == "cookie", lk == strings.ToLower(websession.CSRFHeader),
					lk == "proxy-authorization":
					t.Errorf("the backend got %s: %q", k, v)
				}
				for _, x := range v {
					if strings.Contains(x, bob) || strings.Contains(x, ticket) {
						t.Errorf("the backend got the session or the ticket in %s", k)
					}
				}
			}
		})
	}
}

func hasHeader(h http.Header, k string) bool { _, ok := h[k]; return ok }

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("query %q: %v", raw, err)
	}
	return v
}

// auditEntries parses the audit log.
func auditEntries(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if l == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

// TestShellAttackNestedImpersonation: the ticket approved an exec as the
// session's user, but the websocket's own Impersonate-User header turns it
// into an exec as someone else (the proxy's kubectl --as path, approved by
// the cluster's SubjectAccessReview). A browser page cannot set that
// header, and the same session as a bearer token could run kubectl --as,
// so this gains no permission; but the shell's promise that "the
// websocket carries nothing but the ticket" and that the identity is the
// ticket's does not hold.
func TestShellAttackNestedImpersonation(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	s.backend.grantImpersonation("bob")
	ticket := s.ticket(bob, id, bobTarget)
	hdr := s.cookie(bob)
	hdr.Set("Impersonate-User", "root")
	code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), hdr)
	if code == http.StatusSwitchingProtocols {
		execs := s.backend.execs()
		got := execs[len(execs)-1].Header.Get("Impersonate-User")
		t.Fatalf("the shell opened with Impersonate-User: root; the apiserver ran the exec as %q, not bob", got)
	}
	if code != http.StatusBadRequest {
		t.Fatalf("refused with %d %s, want 400 before the ticket is redeemed", code, body)
	}
	s.mustBeFresh(id, ticket, bob)
}

// TestShellAttackBearerSubprotocol: a websocket may offer a bearer token
// as a subprotocol (base64url.bearer.authorization.k8s.io.<token>), which
// kube-apiserver authenticates when the Authorization header does not.
// Drover must neither authenticate the shell by it (the cookie is the
// shell's credential) nor hand it to the apiserver beside its own
// credential.
func TestShellAttackBearerSubprotocol(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	smuggled := "base64url.bearer.authorization.k8s.io." + base64.RawURLEncoding.EncodeToString([]byte("a-cluster-token"))

	t.Run("instead of the cookie", func(t *testing.T) {
		ticket := s.ticket(bob, id, bobTarget)
		hdr := http.Header{"Origin": {s.origin}}
		bobProto := "base64url.bearer.authorization.k8s.io." + base64.RawURLEncoding.EncodeToString([]byte(bob))
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), hdr, "v5.channel.k8s.io", bobProto); code != http.StatusUnauthorized {
			t.Fatalf("the session as a subprotocol: %d %s, want 401", code, body)
		}
		s.mustBeFresh(id, ticket, bob)
	})
	t.Run("beside the cookie", func(t *testing.T) {
		ticket := s.ticket(bob, id, bobTarget)
		before := len(s.backend.execs())
		code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(bob), "v5.channel.k8s.io", smuggled)
		if code != http.StatusSwitchingProtocols {
			return // refused: fine
		}
		execs := s.backend.execs()
		if len(execs) != before+1 {
			t.Fatalf("%d %s but the backend got %d execs", code, body, len(execs)-before)
		}
		for _, v := range execs[len(execs)-1].Header.Values("Sec-Websocket-Protocol") {
			if strings.Contains(v, "base64url.bearer.authorization.k8s.io.") {
				t.Fatalf("the apiserver was offered the client's bearer subprotocol: %q", v)
			}
		}
	})
}

// TestShellAttackAudit: the audit entry of a shell describes the exec and
// its user (not the websocket's path); a refused shell is recorded with
// its user; neither the audit log nor the server's log holds a ticket or
// a session.
func TestShellAttackAudit(t *testing.T) {
	s := newAttackServer(t, attackOptions{level: audit.LevelAll})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	eve := s.consoleLogin("eve", evePassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)

	var secrets []string
	ticket := s.ticket(bob, id, bobTarget)
	secrets = append(secrets, ticket, bob, eve, root)
	conn, code, body := s.openShell(id, "?ticket="+url.QueryEscape(ticket), s.cookie(bob))
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("the shell: %d %s", code, body)
	}
	conn.Close()
	stolen := s.ticket(bob, id, bobTarget)
	secrets = append(secrets, stolen)
	if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(stolen), s.cookie(eve)); code != http.StatusForbidden {
		t.Fatalf("eve with bob's ticket: %d %s", code, body)
	}
	bad := s.ticket(bob, id, bobTarget)
	secrets = append(secrets, bad)
	if code, _ := s.shellCode(id, "?ticket="+url.QueryEscape(bad[:len(bad)-3]), s.cookie(bob)); code != http.StatusForbidden {
		t.Fatalf("a truncated ticket: %d", code)
	}

	var shellEntry, refused map[string]any
	waitUntil(t, "the audit entries", func() bool {
		shellEntry, refused = nil, nil
		for _, e := range auditEntries(t, s.audit.String()) {
			switch {
			case e["resource"] == "pods/exec":
				shellEntry = e
			case e["path"] == "/v3/clusters/"+id+"/shell" && e["user"] == "eve":
				refused = e
			}
		}
		return shellEntry != nil && refused != nil
	})
	want := map[string]any{"kind": "proxy", "user": "bob", "cluster": id, "resource": "pods/exec", "namespace": "work",
		"name": "web-0", "status": float64(http.StatusSwitchingProtocols)}
	for k, v := range want {
		if !cmp.Equal(shellEntry[k], v) {
			t.Errorf("the shell's audit entry has %s %v, want %v: %v", k, shellEntry[k], v, shellEntry)
		}
	}
	if shellEntry["userId"] == nil || shellEntry["tokenId"] == nil {
		t.Errorf("the shell's audit entry does not name the user's id and session: %v", shellEntry)
	}
	if refused["status"] != float64(http.StatusForbidden) || refused["kind"] != "api" {
		t.Errorf("the refused shell's entry: %v", refused)
	}
	for name, log := range map[string]string{"audit log": s.audit.String(), "server log": s.logs.String()} {
		for _, secret := range secrets {
			if strings.Contains(log, secret) || strings.Contains(log, url.QueryEscape(secret)) {
				t.Errorf("the %s holds a ticket or a session:\n%s", name, log)
			}
		}
	}
}

// TestShellAttackAuditWrites: at --audit-level=writes ("changes and
// refusals") a shell is an exec into a pod, a change like any other (a
// websocket exec is authorized as create by kube-apiserver since 1.30),
// and must be recorded. The console's shell, like kubectl's websocket
// exec, is a GET, which audit.WithAudit takes for a read.
func TestShellAttackAuditWrites(t *testing.T) {
	s := newAttackServer(t, attackOptions{level: audit.LevelWrites})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	ticket := s.ticket(bob, id, bobTarget)
	conn, code, body := s.openShell(id, "?ticket="+url.QueryEscape(ticket), s.cookie(bob))
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("the shell: %d %s", code, body)
	}
	conn.Close()
	// The POST of the ticket is recorded; wait for the shell's entry a
	// moment (it is written when the stream ends).
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range auditEntries(t, s.audit.String()) {
			if e["resource"] == "pods/exec" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no audit entry for bob's shell at level writes:\n%s", s.audit.String())
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
