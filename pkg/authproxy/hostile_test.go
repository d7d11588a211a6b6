package authproxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/store"
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
func wantIdentity(user string, groups []string, tokenID, userID string) map[string][]string {
	return map[string][]string{
		"authorization":                           {"Bearer " + testCredential(accounts.Own(user, userID, groups))},
		"impersonate-user":                        {user},
		"impersonate-group":                       append(append([]string(nil), groups...), impersonation.Authenticated),
		"impersonate-extra-drover.dev%2ftoken-id": {tokenID},
		"impersonate-extra-drover.dev%2fuser-id":  {userID},
	}
}

// nestedIdentity is what the backend must see for an approved kubectl --as.
func nestedIdentity(user string, groups []string, original, tokenID, userID string) map[string][]string {
	return nestedRequestIdentity(impersonation.Request{User: user, Groups: groups}, original, tokenID, userID)
}

// nestedRequestIdentity is what the backend must see for an approved
// request: its groups and system:authenticated (none for a ServiceAccount
// asked without groups), its uid, its extras (keys as the backend's Go
// server reads them) and Drover's.
func nestedRequestIdentity(req impersonation.Request, original, tokenID, userID string) map[string][]string {
	want := map[string][]string{
		"authorization":    {"Bearer " + testCredential(accounts.As(req, original, userID))},
		"impersonate-user": {req.User},
		"impersonate-extra-drover.dev%2foriginal-user": {original},
		"impersonate-extra-drover.dev%2ftoken-id":      {tokenID},
		"impersonate-extra-drover.dev%2fuser-id":       {userID},
	}
	if _, _, sa := impersonation.SplitServiceAccount(req.User); !sa || len(req.Groups) > 0 {
		want["impersonate-group"] = append(append([]string(nil), req.Groups...), impersonation.Authenticated)
	}
	if req.UID != "" {
		want["impersonate-uid"] = []string{req.UID}
	}
	for k, vs := range req.Extra {
		want["impersonate-extra-"+strings.ToLower(url.PathEscape(k))] = vs
	}
	return want
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
	adaWant := wantIdentity("ada", []string{downstream.AdminGroup}, adaTokID, ada.ID)

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
			code:  200, want: wantIdentity("bob", nil, bobTokID, bob.ID),
		},
		{
			// Go canonicalizes the names, so this asks to be system:admin
			// in system:masters with a uid and an extra: Drover never acts
			// as system:admin, and asks the cluster nothing.
			name: "impersonation headers in mixed case",
			lines: []string{"Authorization: Bearer " + adaTok,
				"impersonate-user: system:admin", "IMPERSONATE-GROUP: system:masters",
				"Impersonate-uid: 0", "iMpErSoNaTe-ExTrA-scopes: all"},
			code: 403, msg: `Drover never acts as "system:admin" with groups ["system:masters"]: user "system:admin" is reserved`,
		},
		{
			name: "impersonation headers duplicated",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Impersonate-User: system:admin", "Impersonate-User: ada", "impersonate-user: root",
				"Impersonate-Group: system:masters", "impersonate-group: system:nodes",
				"Impersonate-Uid: 0", "Impersonate-Uid: 1"},
			code: 400, msg: "Impersonate-User must be sent once, got 3 values",
		},
		{
			name: "Impersonate-Uid duplicated",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Impersonate-User: jane", "Impersonate-Uid: 0", "impersonate-uid: 1"},
			code: 400, msg: "Impersonate-Uid must be sent once, got 2 values",
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
			code: 403, msg: "Drover sets its own extras",
		},
		{
			name: "original-user extra forged with an approvable user",
			lines: []string{"Authorization: Bearer " + bobTok,
				"Impersonate-User: jane", "Impersonate-Extra-drover.dev%2Foriginal-user: ada"},
			code: 403, msg: `Drover sets its own extras: extra "drover.dev/original-user" may not be asked for`,
		},
		{
			name: "user-id extra forged with an escaped capital",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Impersonate-User: jane", "Impersonate-Extra-%44rover.dev%2Fuser-id: u-forged"},
			code: 403, msg: `Drover sets its own extras: extra "Drover.dev/user-id"`,
		},
		{
			name: "admin --as jane --as-uid --as-user-extra: approved, forwarded as asked",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: jane", "Impersonate-Uid: 1000",
				"Impersonate-Extra-Scopes: view", "impersonate-extra-scopes: edit", "Impersonate-Extra-Example.com%2FTeam: a"},
			code: 200, want: nestedRequestIdentity(impersonation.Request{User: "jane", UID: "1000",
				Extra: map[string][]string{"scopes": {"view", "edit"}, "example.com/team": {"a"}}}, "ada", adaTokID, ada.ID),
		},
		{
			name:  "admin --as a ServiceAccount: forwarded with no Impersonate-Group",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: system:serviceaccount:team-a:builder"},
			code:  200, want: nestedRequestIdentity(impersonation.Request{User: "system:serviceaccount:team-a:builder"}, "ada", adaTokID, ada.ID),
		},
		{
			name:  "member --as-uid without the right: refused by the cluster",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane", "Impersonate-Uid: 1000"},
			code:  403, msg: `uids.authentication.k8s.io "1000" is forbidden: User "bob" cannot impersonate resource "uids" in API group "authentication.k8s.io" in cluster "c-alpha"`,
		},
		{
			name:  "member --as-uid system:: Drover never forwards it",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane", "Impersonate-Uid: system:kube-proxy"},
			code:  403, msg: `uid "system:kube-proxy" is reserved`,
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
			// With tracing off no span replaces them: a client's trace
			// context must not reach the apiserver (which would sample
			// and graft the call under Drover's credential) either.
			name: "client trace context",
			lines: []string{"Authorization: Bearer " + adaTok,
				"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate: x=1", "Baggage: user=evil"},
			also: []string{"Traceparent", "Tracestate", "Baggage"},
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
			code: 200, want: nestedIdentity("jane", nil, "ada", adaTokID, ada.ID),
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
			code:  200, want: nestedIdentity("jane", nil, "ada", adaTokID, ada.ID),
		},
		{
			name: "admin --as jane --as-group devs --as-group ops: approved",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: jane",
				"Impersonate-Group: devs", "impersonate-group: ops"},
			code: 200, want: nestedIdentity("jane", []string{"devs", "ops"}, "ada", adaTokID, ada.ID),
		},
		{
			name:  "member --as jane with the right in the cluster: approved",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane"},
			code:  200, want: nestedIdentity("jane", nil, "bob", bobTokID, bob.ID),
		},
		{
			name:  "member --as root without the right: refused by the cluster",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: root"},
			code:  403, msg: `users "root" is forbidden: User "bob" cannot impersonate resource "users" in API group "" in cluster "c-alpha" (SubjectAccessReview: sandwich: no grant)`,
		},
		{
			name:  "member --as jane --as-group system:masters: Drover never forwards it, the cluster is not asked",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane", "Impersonate-Group: system:masters"},
			code:  403, msg: `Drover never acts as "jane" with groups ["system:masters"]`,
		},
		{
			name:  "admin --as-group system:masters: refused all the same",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: jane", "Impersonate-Group: system:masters"},
			code:  403, msg: `Drover never acts as "jane" with groups ["system:masters"]`,
		},
		{
			name:  "member --as drover:system:controller: reserved",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: drover:system:controller"},
			code:  403, msg: `Drover never acts as "drover:system:controller"`,
		},
		{
			name:  "member --as-group drover:admins: for admins only",
			lines: []string{"Authorization: Bearer " + bobTok, "Impersonate-User: jane", "Impersonate-Group: drover:admins"},
			code:  403, msg: `Drover never acts as "jane" with groups ["drover:admins"]`,
		},
		{
			name:  "groups without a user",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-Group: system:masters"},
			code:  400, msg: "Impersonate-Group requires Impersonate-User",
		},
		{
			name:  "uid alone",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-Uid: 0"},
			code:  400, msg: "Impersonate-Uid requires Impersonate-User",
		},
		{
			name:  "an extra alone",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-Extra-Scopes: all"},
			code:  400, msg: "Impersonate-Extra-* requires Impersonate-User",
		},
		{
			name:  "a kube-system ServiceAccount, admin or not",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: system:serviceaccount:kube-system:default"},
			code:  403, msg: `ServiceAccounts of namespace "kube-system" are reserved`,
		},
		{
			name:  "Drover's controller",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: " + downstream.ControllerUser},
			code:  403, msg: `ServiceAccounts of namespace "cattle-system" are reserved`,
		},
		{
			name:  "a ServiceAccount name the apiserver would read as a user",
			lines: []string{"Authorization: Bearer " + adaTok, "Impersonate-User: system:serviceaccount:Team:bot"},
			code:  400, msg: "is not a ServiceAccount name",
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

// TestUnsendableIdentity: a caller whose own name or group would not reach
// the apiserver as Drover read it (HTTP/1.1 trims header values, so group
// "corp:admins " would arrive as "corp:admins") is refused with a Status,
// plain or upgrade, and nothing is forwarded. Before the fix the backend
// got Impersonate-Group "corp:admins": Go's client trims values it writes,
// as any HTTP/1.1 hop may.
func TestUnsendableIdentity(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	mkUser := func(name string, groups ...string) string {
		u := store.User{ID: "u-" + strings.TrimSpace(name), Username: name, Groups: groups, CreatedAt: time.Now().UTC()}
		if err := s.store.CreateUser(context.Background(), u, []byte("unused")); err != nil {
			t.Fatal(err)
		}
		s.bind(u.ID, "c-alpha")
		tok, _ := s.mintToken(u.ID, "", time.Now().Add(time.Hour))
		return tok
	}
	tests := []struct {
		name, tok string
	}{
		{name: "group with a trailing space", tok: mkUser("eve", "corp:devs", "corp:admins ")},
		{name: "group with a leading tab", tok: mkUser("mal", "\tcorp:admins")},
		{name: "user name with a trailing space", tok: mkUser("root ")},
	}
	const wantMsg = `your identity cannot be forwarded to cluster "c-alpha": a user or group name is empty, ` +
		`has leading or trailing whitespace or a character not allowed in an HTTP header; ask a Drover admin`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []string{
				rawRequest("GET", "/k8s/clusters/c-alpha/api/v1/pods", "Authorization: Bearer "+tc.tok),
				rawRequest("GET", "/k8s/clusters/c-alpha/upgrade/echo", "Authorization: Bearer "+tc.tok,
					"Connection: Upgrade", "Upgrade: SPDY/3.1"),
			} {
				before := s.backend.count()
				resp, body := s.rawDo(req)
				for _, r := range s.backend.requests()[before:] {
					t.Errorf("forwarded %s with %q", r.Path, identityHeaders(r.Header))
				}
				checkStatus(t, resp, body, metav1.Status{Code: 403, Reason: metav1.StatusReasonForbidden, Message: wantMsg})
			}
		})
	}
	if !strings.Contains(s.logs.String(), "identity cannot be forwarded") {
		t.Error("the cause was not logged")
	}
	s.checkNoSecretsLeaked()
}
