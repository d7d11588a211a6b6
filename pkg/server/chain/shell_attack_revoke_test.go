package chain_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/websession"
)

// TestShellAttackRevocation: a ticket is worth nothing once its session
// is logged out, its user disabled or its user's access to the cluster
// removed; and a shell that is open ends when its session is logged out.
func TestShellAttackRevocation(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	s.bind(root, "eve", id, access.RoleClusterMember)

	t.Run("logged out", func(t *testing.T) {
		bob := s.consoleLogin("bob", bobPassword)
		ticket := s.ticket(bob, id, bobTarget)
		if code, b, _ := s.call("POST", "/v3/logout", s.console(bob), nil); code >= 300 {
			t.Fatalf("logout: %d %s", code, b)
		}
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(bob)); code != http.StatusUnauthorized {
			t.Fatalf("a logged-out session's ticket: %d %s, want 401", code, body)
		}
	})
	t.Run("access removed", func(t *testing.T) {
		carolID := s.createUser(root, "carol")
		binding := s.bind(root, carolID, id, access.RoleClusterMember)
		carol := s.consoleLogin("carol", evePassword)
		ticket := s.ticket(carol, id, bobTarget)
		if code, b, _ := s.call("DELETE", "/v3/bindings/"+binding, s.console(root), nil); code >= 300 {
			t.Fatalf("remove the binding: %d %s", code, b)
		}
		before := len(s.backend.execs())
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(carol)); code != http.StatusForbidden &&
			code != http.StatusNotFound {
			t.Fatalf("the ticket of a user whose access was removed: %d %s, want 403 or 404", code, body)
		}
		if n := len(s.backend.execs()) - before; n != 0 {
			t.Fatalf("the backend got %d execs", n)
		}
	})
	t.Run("user disabled", func(t *testing.T) {
		eve := s.consoleLogin("eve", evePassword)
		ticket := s.ticket(eve, id, bobTarget)
		eveID := s.userID(root, "eve")
		if code, b, _ := s.call("PUT", "/v3/users/"+eveID, s.console(root), map[string]any{"disabled": true}); code >= 300 {
			t.Fatalf("disable eve: %d %s", code, b)
		}
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(eve)); code != http.StatusUnauthorized {
			t.Fatalf("a disabled user's ticket: %d %s, want 401", code, body)
		}
	})
	t.Run("logged out while open", func(t *testing.T) {
		bob := s.consoleLogin("bob", bobPassword)
		ticket := s.ticket(bob, id, bobTarget)
		conn, code, body := s.openShell(id, "?ticket="+url.QueryEscape(ticket), s.cookie(bob))
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("the shell: %d %s", code, body)
		}
		if code, b, _ := s.call("POST", "/v3/logout", s.console(bob), nil); code >= 300 {
			t.Fatalf("logout: %d %s", code, b)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
					t.Fatal("the shell stayed open 5 s after its session was logged out")
				}
				return
			}
		}
	})
}

// createUser creates a local user (password evePassword) through root's
// console and returns its id.
func (s *attackServer) createUser(root, name string) string {
	s.t.Helper()
	code, b, _ := s.call("POST", "/v3/users", s.console(root), map[string]any{"username": name, "password": evePassword})
	if code != http.StatusCreated {
		s.t.Fatalf("create %s: %d %s", name, code, b)
	}
	return s.userID(root, name)
}

// userID is the id of the user called name.
func (s *attackServer) userID(root, name string) string {
	s.t.Helper()
	code, b, _ := s.call("GET", "/v3/users", s.console(root), nil)
	if code != http.StatusOK {
		s.t.Fatalf("list users: %d %s", code, b)
	}
	var list struct {
		Items []struct{ ID, Username string }
	}
	json.Unmarshal(b, &list)
	for _, u := range list.Items {
		if u.Username == name {
			return u.ID
		}
	}
	s.t.Fatalf("no user %s in %s", name, b)
	return ""
}

// race dials the shell n times at once with the same ticket and returns
// how many were let through (anything but the ticket's refusal) and the
// answers.
func race(t *testing.T, servers []*attackServer, clusterID, ticket, session string, n int) (wins int, answers []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		s := servers[i%len(servers)]
		d := websocket.Dialer{TLSClientConfig: s.srv.Client().Transport.(*http.Transport).TLSClientConfig,
			Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
		u := "wss" + strings.TrimPrefix(s.srv.URL, "https") + "/v3/clusters/" + clusterID + "/shell?ticket=" + url.QueryEscape(ticket)
		hdr := http.Header{"Origin": {s.origin}, "Cookie": {websession.CookieName + "=" + session}}
		wg.Go(func() {
			<-start
			conn, resp, err := d.Dial(u, hdr)
			answer := ""
			switch {
			case err == nil:
				conn.Close()
				answer = "101"
			case resp == nil:
				answer = "error " + err.Error()
			default:
				var b strings.Builder
				buf := make([]byte, 4096)
				n, _ := resp.Body.Read(buf)
				b.Write(buf[:n])
				resp.Body.Close()
				answer = resp.Status + " " + b.String()
			}
			mu.Lock()
			defer mu.Unlock()
			answers = append(answers, answer)
			// The ticket's own refusals name it; anything else went on
			// to the proxy with the ticket honoured.
			if !strings.Contains(answer, "ticket") && !strings.HasPrefix(answer, "error") {
				wins++
			}
		})
	}
	close(start)
	wg.Wait()
	return wins, answers
}

// TestShellAttackRace: the same ticket sent many times at once, to one
// server or to two replicas sharing the store and the key, opens one
// shell.
func TestShellAttackRace(t *testing.T) {
	a := newAttackServer(t, attackOptions{})
	b := newAttackServer(t, attackOptions{st: a.st, sealer: a.sealer, level: audit.LevelAll})
	root := a.consoleLogin("root", rootPassword)
	bob := a.consoleLogin("bob", bobPassword)
	id := a.connect(root)
	a.bind(root, "bob", id, access.RoleClusterMember)
	for _, tc := range []struct {
		name    string
		servers []*attackServer
	}{
		{"one server", []*attackServer{a}},
		{"two replicas", []*attackServer{a, b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				ticket := a.ticket(bob, id, bobTarget)
				if wins, answers := race(t, tc.servers, id, ticket, bob, 16); wins != 1 {
					t.Fatalf("%d of 16 concurrent uses of one ticket were honoured, want 1:\n%s", wins, strings.Join(answers, "\n"))
				}
			}
		})
	}
}

// TestShellAttackConnectionHeader: headers the client names hop-by-hop in
// Connection are dropped on the way out; naming Drover's own credential
// or the session's headers there changes neither who the shell runs as
// nor what reaches the apiserver.
func TestShellAttackConnectionHeader(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	code, b, _ := s.call("GET", "/k8s/clusters/"+id+"/api/v1/namespaces/work/pods", http.Header{"Authorization": {"Bearer " + bob}}, nil)
	if code != http.StatusOK {
		t.Fatalf("bob's kubectl request: %d %s", code, b)
	}
	kubectl, _ := s.backend.last("/api/v1/namespaces/work/pods")
	for _, conn := range []string{"Upgrade, Authorization", "Upgrade, Cookie", "Upgrade, Impersonate-User", "Upgrade, X-Csrf-Token",
		"Upgrade, Origin, Sec-WebSocket-Protocol", "keep-alive", "close, Upgrade"} {
		t.Run(conn, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			lines := []string{"Connection: " + conn}
			for _, l := range s.wsLines(bob) {
				if !strings.HasPrefix(l, "Connection:") {
					lines = append(lines, l)
				}
			}
			before := len(s.backend.execs())
			// Let through or refused, either may be right; what reached
			// the apiserver is what this test is about.
			s.raw("GET", "/v3/clusters/"+id+"/shell?ticket="+url.QueryEscape(ticket), lines...)
			for _, got := range s.backend.execs()[before:] {
				for _, h := range []string{"Authorization", "Impersonate-User", "Impersonate-Group"} {
					if g, w := got.Header.Values(h), kubectl.Header.Values(h); strings.Join(g, ",") != strings.Join(w, ",") {
						t.Errorf("%s: the shell %q, bob's kubectl request %q", h, g, w)
					}
				}
				if got.Header.Get("Cookie") != "" || got.Header.Get(websession.CSRFHeader) != "" {
					t.Errorf("the backend got the cookie or the CSRF token: %v", got.Header)
				}
			}
		})
	}
}
