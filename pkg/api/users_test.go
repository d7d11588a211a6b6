package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/local"
)

func TestUserAdmin(t *testing.T) {
	f, who, clk, _ := newProviderFixture(t)
	aliceTok := providerLogin(t, f, "alice")
	_, body := f.do(t, "GET", "/v3/users/me", aliceTok, "")
	alice := jsonBody(t, body)["id"].(string)
	_, body = f.do(t, "GET", "/v3/users/me", f.admin, "")
	root := jsonBody(t, body)["id"].(string)
	_, body = f.do(t, "GET", "/v3/users/me", f.user, "")
	carol := jsonBody(t, body)["id"].(string)

	aliceView := func(groups []any, disabled bool) map[string]any {
		m := map[string]any{"id": alice, "username": "corp:alice", "admin": false, "provider": "corp",
			"externalId": "id-alice", "login": "alice", "disabled": disabled}
		if groups != nil {
			m["groups"] = groups
		}
		return m
	}
	for _, tc := range []struct {
		name, method, path, bearer, body string
		setup                            func()
		code                             int
		want                             map[string]any // createdAt, groupsRefreshedAt dropped
	}{
		{name: "get", method: "GET", path: "/v3/users/" + alice, bearer: f.admin, code: 200, want: aliceView([]any{"corp:devs"}, false)},
		{name: "get as non-admin", method: "GET", path: "/v3/users/" + alice, bearer: f.user, code: 403,
			want: status(403, "Forbidden", "only Drover admins may GET /v3/users/"+alice)},
		{name: "get missing", method: "GET", path: "/v3/users/u-nope", bearer: f.admin, code: 404,
			want: status(404, "NotFound", `user "u-nope" not found`)},
		{name: "refresh picks up a group change", method: "POST", path: "/v3/users/" + alice + "/refresh", bearer: f.admin,
			setup: func() { who.mu.Lock(); who.groups["alice"] = []string{"devs", "ops"}; who.mu.Unlock() },
			code:  200, want: map[string]any{"result": "refreshed", "user": aliceView([]any{"corp:devs", "corp:ops"}, false)}},
		{name: "refresh again", method: "POST", path: "/v3/users/" + alice + "/refresh", bearer: f.admin,
			code: 200, want: map[string]any{"result": "unchanged", "user": aliceView([]any{"corp:devs", "corp:ops"}, false)}},
		{name: "refresh a local user", method: "POST", path: "/v3/users/" + carol + "/refresh", bearer: f.admin, code: 422,
			want: status(422, "Invalid", `user "`+carol+`" is a local user: it has no auth provider to refresh from`)},
		{name: "password of an external user", method: "PUT", path: "/v3/users/" + alice, bearer: f.admin,
			body: `{"password":"a-new-long-password"}`, code: 422,
			want: status(422, "Invalid", `user "corp:alice" logs in through auth provider "corp": its password is the provider's to change`)},
		{name: "nothing to change", method: "PUT", path: "/v3/users/" + alice, bearer: f.admin, body: `{}`, code: 422,
			want: status(422, "Invalid", "nothing to change: set disabled, password, or both")},
		{name: "disable yourself", method: "PUT", path: "/v3/users/" + root, bearer: f.admin, body: `{"disabled":true}`, code: 422,
			want: status(422, "Invalid", "you cannot disable yourself; ask another admin")},
		{name: "short password", method: "PUT", path: "/v3/users/" + carol, bearer: f.admin, body: `{"password":"short"}`, code: 422,
			want: status(422, "Invalid", "password must be 12 to 72 bytes")},
		{name: "disable", method: "PUT", path: "/v3/users/" + alice, bearer: f.admin, body: `{"disabled":true}`, code: 200,
			want: aliceView([]any{"corp:devs", "corp:ops"}, true)},
		{name: "the disabled user's session is refused", method: "GET", path: "/v3/users/me", bearer: aliceTok, code: 401,
			want: status(401, "Unauthorized", "Unauthorized")},
		{name: "the disabled user cannot log in", method: "POST", path: "/v3/login",
			body: `{"provider":"corp","username":"alice","password":"` + fakePassword + `"}`, code: 401,
			want: status(401, "Unauthorized", "wrong username or password")},
		{name: "refresh of a disabled user", method: "POST", path: "/v3/users/" + alice + "/refresh", bearer: f.admin, code: 409,
			want: status(409, "Conflict", `user "`+alice+`" is disabled; enable it first with PUT /v3/users/`+alice+` {"disabled": false}`)},
		{name: "enable", method: "PUT", path: "/v3/users/" + alice, bearer: f.admin, body: `{"disabled":false}`, code: 200,
			want: aliceView([]any{"corp:devs", "corp:ops"}, false)},
		{name: "gone from the provider: refresh disables", method: "POST", path: "/v3/users/" + alice + "/refresh", bearer: f.admin,
			setup: func() { who.mu.Lock(); delete(who.groups, "alice"); who.mu.Unlock() },
			code:  200, want: map[string]any{"result": "disabled", "user": aliceView([]any{"corp:devs", "corp:ops"}, true)}},
		{name: "local password", method: "PUT", path: "/v3/users/" + carol, bearer: f.admin, body: `{"password":"carols-new-password"}`,
			code: 200, want: map[string]any{"id": carol, "username": "carol", "admin": false, "provider": "local", "disabled": false}},
		{name: "login with the new password", method: "POST", path: "/v3/login",
			body: `{"username":"carol","password":"carols-new-password"}`, code: 200},
		{name: "delete yourself", method: "DELETE", path: "/v3/users/" + root, bearer: f.admin, code: 422,
			want: status(422, "Invalid", "you cannot delete yourself; ask another admin")},
		{name: "delete", method: "DELETE", path: "/v3/users/" + carol, bearer: f.admin, code: 204},
		{name: "the deleted user's session is refused", method: "GET", path: "/v3/users/me", bearer: f.user, code: 401,
			want: status(401, "Unauthorized", "Unauthorized")},
		{name: "delete again", method: "DELETE", path: "/v3/users/" + carol, bearer: f.admin, code: 404,
			want: status(404, "NotFound", `user "`+carol+`" not found`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(time.Minute)
			if tc.setup != nil {
				tc.setup()
			}
			code, body := f.do(t, tc.method, tc.path, tc.bearer, tc.body)
			if code != tc.code {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
			if tc.want == nil {
				return
			}
			got := jsonBody(t, body, "createdAt", "groupsRefreshedAt")
			if u, ok := got["user"].(map[string]any); ok {
				delete(u, "createdAt")
				delete(u, "groupsRefreshedAt")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDisableDeletesEveryToken: disabling a user deletes every token it
// holds, API and kubeconfig tokens as well as sessions, so that enabling it
// again does not bring them back; a refused update changes nothing.
func TestDisableDeletesEveryToken(t *testing.T) {
	f, _, clk, _ := newProviderFixture(t)
	_, body := f.do(t, "GET", "/v3/users/me", f.user, "")
	carol := jsonBody(t, body)["id"].(string)
	code, body := f.do(t, "POST", "/v3/tokens", f.user, `{"description":"ci"}`)
	if code != 201 {
		t.Fatalf("create token: %d %s", code, body)
	}
	apiTok := jsonBody(t, body)["token"].(string)

	// Bad input changes nothing: carol stays enabled, her tokens work.
	for _, bad := range []string{`{"disabled":true,"password":"short"}`, `{"disabled":true,"password":"` + strings.Repeat("x", 73) + `"}`} {
		if code, body := f.do(t, "PUT", "/v3/users/"+carol, f.admin, bad); code != 422 {
			t.Fatalf("%s: %d %s, want 422", bad, code, body)
		}
		if code, _ := f.do(t, "GET", "/v3/users/me", apiTok, ""); code != 200 {
			t.Fatalf("after a refused update (%s), the API token answers %d", bad, code)
		}
	}

	for _, disabled := range []string{"true", "false"} {
		clk.Add(time.Minute)
		if code, body := f.do(t, "PUT", "/v3/users/"+carol, f.admin, `{"disabled":`+disabled+`}`); code != 200 {
			t.Fatalf("disabled=%s: %d %s", disabled, code, body)
		}
	}
	for name, tok := range map[string]string{"session": f.user, "API token": apiTok} {
		if code, _ := f.do(t, "GET", "/v3/users/me", tok, ""); code != 401 {
			t.Errorf("the %s from before disabling answers %d after enabling, want 401", name, code)
		}
	}
	if toks, _ := f.st.ListTokens(t.Context(), carol); len(toks) != 0 {
		t.Errorf("%d tokens survived disabling", len(toks))
	}
}

// FuzzLoginRequest feeds arbitrary bodies to the login request's decoding
// and checks: a refusal is a 4xx Status that never echoes the password; an
// accepted request names a provider that could exist and stays within the
// limits that keep rate limiter keys and provider input bounded.
func FuzzLoginRequest(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"pw"}`,
		`{"username":"alice","password":"pw","provider":"corp"}`,
		`{"username":"*)(uid=*))(|(uid=*","password":"pw","provider":"ldap"}`,
		`{"username":"a\u0000b","password":"pw","provider":"LDAP"}`,
		`{"username":1}`, `{"password":"x","extra":true}`, `[]`, `null`, `{"provider":"system"}`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v3/login", strings.NewReader(string(body)))
		var req loginRequest
		if !decode(w, r, &req) {
			if w.Code < 400 || w.Code >= 500 || !strings.Contains(w.Body.String(), `"kind":"Status"`) {
				t.Fatalf("refusal of %q: %d %s", body, w.Code, w.Body.String())
			}
			return
		}
		password := req.Password
		if err := checkLogin(&req); err != nil {
			if password != "" && len(password) > 3 && strings.Contains(err.Error(), password) {
				t.Fatalf("error holds the password: %v", err)
			}
			return
		}
		if req.Provider != "local" && providers.CheckName(req.Provider) != nil {
			t.Fatalf("accepted provider %q", req.Provider)
		}
		if len(req.Username) > providers.MaxUsername || len(req.Password) > providers.MaxPassword {
			t.Fatalf("accepted a %d-byte username, %d-byte password", len(req.Username), len(req.Password))
		}
		if key := local.LoginKey(req.Username); len(key) > 2*providers.MaxUsername || (utf8.ValidString(req.Username) && !utf8.ValidString(key)) {
			t.Fatalf("rate limit key %q", key)
		}
	})
}
