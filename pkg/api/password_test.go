package api

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const oldPassword = "a-long-enough-password"

func TestChangeOwnPassword(t *testing.T) {
	body := func(current, next string, revoke bool) string {
		b, _ := json.Marshal(map[string]any{"currentPassword": current, "newPassword": next, "revokeTokens": revoke})
		return string(b)
	}
	tests := []struct {
		name     string
		body     string
		code     int
		want     map[string]any
		changed  bool
		wantLive map[string]bool // which of carol's credentials work after
	}{
		{name: "wrong current password", body: body("not-my-password", "a-brand-new-password", false), code: 403,
			want:     status(403, "Forbidden", "currentPassword is not your current password"),
			wantLive: map[string]bool{"caller": true, "other session": true, "api token": true}},
		{name: "no current password", body: `{"newPassword":"a-brand-new-password"}`, code: 403,
			want:     status(403, "Forbidden", "currentPassword is not your current password"),
			wantLive: map[string]bool{"caller": true, "other session": true, "api token": true}},
		{name: "a new password the creation rules refuse", body: body(oldPassword, "short", false), code: 422,
			want:     status(422, "Invalid", "newPassword: password must be 12 to 72 bytes"),
			wantLive: map[string]bool{"caller": true, "other session": true, "api token": true}},
		{name: "the same password", body: body(oldPassword, oldPassword, false), code: 422,
			want:     status(422, "Invalid", "newPassword must differ from currentPassword"),
			wantLive: map[string]bool{"caller": true, "other session": true, "api token": true}},
		{name: "changed: the other sessions end", body: body(oldPassword, "a-brand-new-password", false), code: 200,
			want: map[string]any{"revoked": float64(1)}, changed: true,
			wantLive: map[string]bool{"caller": true, "other session": false, "api token": true}},
		{name: "changed, revoking the tokens", body: body(oldPassword, "a-brand-new-password", true), code: 200,
			want: map[string]any{"revoked": float64(2)}, changed: true,
			wantLive: map[string]bool{"caller": true, "other session": false, "api token": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			other := f.login(t, "carol")
			code, raw := f.do(t, "POST", "/v3/tokens", f.user, `{"description":"ci"}`)
			if code != 201 {
				t.Fatalf("mint: %d %s", code, raw)
			}
			apiToken := jsonBody(t, raw)["token"].(string)

			code, raw = f.do(t, "POST", "/v3/users/me/password", f.user, tc.body)
			if code != tc.code {
				t.Fatalf("code %d, want %d: %s", code, tc.code, raw)
			}
			if diff := cmp.Diff(tc.want, jsonBody(t, raw)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			live := map[string]bool{}
			for name, tok := range map[string]string{"caller": f.user, "other session": other, "api token": apiToken} {
				code, _ := f.do(t, "GET", "/v3/users/me", tok, "")
				live[name] = code == 200
			}
			if diff := cmp.Diff(tc.wantLive, live); diff != "" {
				t.Errorf("credentials that work (-want +got):\n%s", diff)
			}
			oldCode, _ := f.do(t, "POST", "/v3/login", "", `{"username":"carol","password":"`+oldPassword+`"}`)
			newCode, _ := f.do(t, "POST", "/v3/login", "", `{"username":"carol","password":"a-brand-new-password"}`)
			want := [2]int{200, 401}
			if tc.changed {
				want = [2]int{401, 200}
			}
			if diff := cmp.Diff(want, [2]int{oldCode, newCode}); diff != "" {
				t.Errorf("login with the old and the new password (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChangeOwnPasswordLimits: guesses of the current password count
// against the login limits, and an auth provider's user has no password
// here to change.
func TestChangeOwnPasswordLimits(t *testing.T) {
	f := newFixture(t)
	wrong := `{"currentPassword":"not-my-password","newPassword":"a-brand-new-password"}`
	// The fixture's login of carol spent one attempt already.
	for i := range DefaultLoginsPerUserAddress - 1 {
		if code, raw := f.do(t, "POST", "/v3/users/me/password", f.user, wrong); code != 403 {
			t.Fatalf("guess %d: %d %s", i+1, code, raw)
		}
	}
	code, raw := f.do(t, "POST", "/v3/users/me/password", f.user, wrong)
	if code != 429 {
		t.Errorf("guess %d: %d %s, want 429", DefaultLoginsPerUserAddress, code, raw)
	}
	if code, _ := f.do(t, "POST", "/v3/login", "", `{"username":"carol","password":"`+oldPassword+`"}`); code != 429 {
		t.Errorf("a login after the guesses: %d, want 429 (the same limit)", code)
	}

	pf, _, _, _ := newProviderFixture(t)
	alice := providerLogin(t, pf, "alice")
	code, raw = pf.do(t, "POST", "/v3/users/me/password", alice, `{"currentPassword":"x","newPassword":"a-brand-new-password"}`)
	want := status(422, "Invalid", fmt.Sprintf("user %q logs in through auth provider %q: its password is the provider's to change", "corp:alice", "corp"))
	if diff := cmp.Diff(want, jsonBody(t, raw)); code != 422 || diff != "" {
		t.Errorf("provider user: %d (-want +got):\n%s", code, diff)
	}
}
