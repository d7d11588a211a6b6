package chain_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/websession"
)

// shellPurpose is package shell's sealing purpose (the additional data
// of a ticket's AES-GCM seal).
const shellPurpose = "drover/shell-ticket"

// TestShellAttackTicketContent: a ticket opens a shell only as sealed by
// this server for a shell: another purpose's blob of the same key with the
// very same content, a target the ticket rules forbid, a ticket too large
// to look at, or a different spelling of a ticket used already, open
// nothing, and (but for the spelling of a spent one) spend nothing.
func TestShellAttackTicketContent(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	id := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	open := func(ticket string) []byte {
		t.Helper()
		blob, err := base64.RawURLEncoding.DecodeString(ticket)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := s.sealer.Open(blob, shellPurpose)
		if err != nil {
			t.Fatalf("the ticket does not open with the shell's purpose: %v", err)
		}
		return plain
	}
	reseal := func(plain []byte, purpose string) string {
		t.Helper()
		blob, err := s.sealer.Seal(plain, purpose)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(blob)
	}
	userID := s.userID(root, "bob")
	for _, purpose := range []string{"drover/login-claim/local", "drover/login-handoff", "drover/user/" + userID + "/refresh",
		"drover/auth-provider/local/config", "drover/shell-ticket/", "drover/shell-ticke", "Drover/shell-ticket", ""} {
		t.Run("sealed for "+purpose, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			forged := reseal(open(ticket), purpose)
			if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(forged), s.cookie(bob)); code != http.StatusForbidden {
				t.Fatalf("%d %s, want 403", code, body)
			}
			s.mustBeFresh(id, ticket, bob)
		})
	}
	for _, tc := range []struct {
		name string
		edit func(target map[string]any)
	}{
		{"a pod path", func(tg map[string]any) { tg["pod"] = "../../../apis/apps/v1/namespaces/work/deployments/web" }},
		{"a namespace with a slash", func(tg map[string]any) { tg["namespace"] = "kube-system/pods/etcd-0/exec?command=sh#" }},
		{"a pod with a query", func(tg map[string]any) { tg["pod"] = "web-0?container=sidecar" }},
		{"a container with a query", func(tg map[string]any) { tg["container"] = "app&command=id" }},
		{"no command", func(tg map[string]any) { delete(tg, "command") }},
		{"an empty argument", func(tg map[string]any) { tg["command"] = []string{"sh", ""} }},
	} {
		t.Run("sealed with "+tc.name, func(t *testing.T) {
			// A ticket this server's key sealed, for bob, unexpired, whose
			// target the API would never have approved.
			ticket := s.ticket(bob, id, bobTarget)
			var c map[string]any
			if err := json.Unmarshal(open(ticket), &c); err != nil {
				t.Fatal(err)
			}
			tc.edit(c["target"].(map[string]any))
			plain, _ := json.Marshal(c)
			before := len(s.backend.execs())
			if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(reseal(plain, shellPurpose)), s.cookie(bob)); code != http.StatusForbidden {
				t.Fatalf("%d %s, want 403", code, body)
			}
			if n := len(s.backend.execs()) - before; n != 0 {
				t.Fatalf("the backend got %d execs", n)
			}
			s.mustBeFresh(id, ticket, bob)
		})
	}
	for _, tc := range []struct {
		name   string
		ticket func(good string) string
		want   int
	}{
		{"64 KiB and one byte", func(string) string { return strings.Repeat("A", 64<<10+1) }, http.StatusForbidden},
		{"900 KB", func(string) string { return strings.Repeat("A", 900_000) }, http.StatusForbidden},
		{"padded", func(g string) string { return g + "==" }, http.StatusForbidden},
		{"standard base64", func(g string) string {
			return strings.NewReplacer("-", "+", "_", "/").Replace(g) + "+/"
		}, http.StatusForbidden},
		{"a NUL inside", func(g string) string { return g[:10] + "\x00" + g[10:] }, http.StatusForbidden},
	} {
		t.Run("a ticket "+tc.name, func(t *testing.T) {
			ticket := s.ticket(bob, id, bobTarget)
			code, body := s.shellCode(id, "?ticket="+url.QueryEscape(tc.ticket(ticket)), s.cookie(bob))
			if code != tc.want && code != http.StatusRequestHeaderFieldsTooLarge && code != http.StatusRequestURITooLong {
				t.Fatalf("%d %.300s, want %d", code, body, tc.want)
			}
			s.mustBeFresh(id, ticket, bob)
		})
	}
	// The base64 decoder skips line breaks: a ticket with one inside is
	// the same ticket (the same sealed blob), and is spent with it.
	t.Run("another spelling of a spent ticket", func(t *testing.T) {
		ticket := s.ticket(bob, id, bobTarget)
		spelled := ticket[:10] + "\r\n" + ticket[10:]
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(spelled), s.cookie(bob)); code != http.StatusSwitchingProtocols {
			t.Fatalf("the ticket spelled with a line break: %d %s", code, body)
		}
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(bob)); code != http.StatusForbidden {
			t.Fatalf("the ticket after its other spelling was used: %d %s, want 403", code, body)
		}
	})
}

// TestShellAttackTicketIssue: a ticket is issued only by a state-changing
// request of the console's session for a cluster the user may reach; a
// user of another cluster gets none for this one, and its own cluster's
// ticket opens nothing here.
func TestShellAttackTicketIssue(t *testing.T) {
	s := newAttackServer(t, attackOptions{})
	root := s.consoleLogin("root", rootPassword)
	bob := s.consoleLogin("bob", bobPassword)
	eve := s.consoleLogin("eve", evePassword)
	id := s.connect(root)
	other := s.connect(root)
	s.bind(root, "bob", id, access.RoleClusterMember)
	s.bind(root, "eve", other, access.RoleClusterMember)
	path := "/v3/clusters/" + id + "/shell-tickets"
	body, _ := json.Marshal(bobTarget)
	for _, tc := range []struct {
		name   string
		method string
		hdr    http.Header
	}{
		{"GET with the cookie", "GET", s.cookie(bob)},
		{"HEAD with the cookie", "HEAD", s.cookie(bob)},
		{"a form's POST from another site", "POST", http.Header{"Origin": {"https://evil.test"}, "Content-Type": {"text/plain"},
			"Cookie": {websession.CookieName + "=" + bob}}},
		{"POST from another site with the CSRF token", "POST", func() http.Header {
			h := s.console(bob)
			h.Set("Origin", "https://evil.test")
			return h
		}()},
		{"POST with another session's CSRF token", "POST", func() http.Header {
			h := s.console(bob)
			h.Set(websession.CSRFHeader, websession.CSRFToken(eve))
			return h
		}()},
		{"POST without Origin", "POST", func() http.Header { h := s.console(bob); h.Del("Origin"); return h }()},
		{"a user of another cluster", "POST", s.console(eve)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.srv.URL+path, strings.NewReader(string(body)))
			for k, v := range tc.hdr {
				req.Header[k] = v
			}
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ Ticket string }
			json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode < 400 || out.Ticket != "" {
				t.Fatalf("%s: %d, ticket %q", tc.name, resp.StatusCode, out.Ticket)
			}
		})
	}
	t.Run("another cluster's ticket", func(t *testing.T) {
		ticket := s.ticket(eve, other, bobTarget)
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(eve)); code != http.StatusForbidden {
			t.Fatalf("eve's ticket of %s on %s: %d %s", other, id, code, body)
		}
		s.mustBeFresh(other, ticket, eve)
	})
	t.Run("a read-only member", func(t *testing.T) {
		// Issued: whether a read-only member may exec is the cluster's
		// RBAC (the view role grants no pods/exec); the shell is
		// forwarded as that member, with nothing added.
		carolID := s.createUser(root, "carol")
		s.bind(root, carolID, id, access.RoleReadOnly)
		carol := s.consoleLogin("carol", evePassword)
		code, b, _ := s.call("GET", "/k8s/clusters/"+id+"/api/v1/namespaces/work/pods", http.Header{"Authorization": {"Bearer " + carol}}, nil)
		if code != http.StatusOK {
			t.Fatalf("carol's kubectl request: %d %s", code, b)
		}
		kubectl, _ := s.backend.last("/api/v1/namespaces/work/pods")
		ticket := s.ticket(carol, id, bobTarget)
		if code, body := s.shellCode(id, "?ticket="+url.QueryEscape(ticket), s.cookie(carol)); code != http.StatusSwitchingProtocols {
			t.Fatalf("carol's shell: %d %s", code, body)
		}
		execs := s.backend.execs()
		got := execs[len(execs)-1]
		for _, h := range []string{"Authorization", "Impersonate-User", "Impersonate-Group"} {
			if g, w := got.Header.Values(h), kubectl.Header.Values(h); strings.Join(g, ",") != strings.Join(w, ",") {
				t.Errorf("%s: the shell %q, carol's kubectl request %q", h, g, w)
			}
		}
	})
}
