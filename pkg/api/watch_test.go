package api

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/drover-dev/drover/pkg/notify"
)

// A live view shows what its caller may see now, not what they could see
// when it opened: a global admin who loses the role (the binding deleted)
// must stop seeing every cluster at once, on the stream already open.
func TestWatchFollowsLostAdmin(t *testing.T) {
	changes := notify.New()
	f := newFixture(t, func(o *Options) { o.Changes = changes })
	f.createUser(t, "dave", true)
	if code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"before"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	session, _ := f.cookieLogin(t, "dave")
	var me struct{ ID string }
	_, body := f.cookieDo(t, "GET", "/v3/users/me", session, "", "", "")
	if err := json.Unmarshal([]byte(body), &me); err != nil || me.ID == "" {
		t.Fatalf("me: %s (%v)", body, err)
	}
	s, cancel := openSSE(t, f, session)
	defer cancel()
	if name, data := s.next(t); name != "clusters" || !strings.Contains(data, `"name":"before"`) {
		t.Fatalf("first event %q %q", name, data)
	}
	if code, body := f.do(t, "DELETE", "/v3/bindings/b-admin-"+me.ID, f.admin, ""); code != 204 {
		t.Fatalf("remove dave's admin binding: %d %s", code, body)
	}
	if code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"after"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	name, data := s.next(t)
	if name == "end" {
		return // ending the view is as good: the console reconnects as who dave is now
	}
	if name != "clusters" || data != `{"items":[]}` {
		t.Fatalf("after losing admin: %q %q", name, data)
	}
}

// countingChanges counts Notify calls.
type countingChanges struct {
	*notify.Signal
	n atomic.Int64
}

func (c *countingChanges) Notify() { c.n.Add(1); c.Signal.Notify() }

// Every open live view re-reads the store when the change signal fires:
// only a change may fire it. A refused call changes nothing, and must not
// let any user make every view of every user re-read at will.
func TestRefusedCallsDoNotWakeLiveViews(t *testing.T) {
	changes := &countingChanges{Signal: notify.New()}
	f := newFixture(t, func(o *Options) { o.Changes = changes })
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		notified                 bool
	}{
		{"bad body", "POST", "/v3/tokens", `{"nope":1}`, 400, false},
		{"admin only", "POST", "/v3/users", `{"username":"x","password":"a-long-enough-password"}`, 403, false},
		{"no such token", "DELETE", "/v3/tokens/t-aaaaaaaaaa", "", 404, false},
		{"bad password", "POST", "/v3/users/me/password", `{"currentPassword":"wrong-one-entirely","newPassword":"another-long-password"}`, 0, false},
		{"a token made", "POST", "/v3/tokens", `{"description":"d","ttl":"1h"}`, 201, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := changes.n.Load()
			code, body := f.do(t, tc.method, tc.path, f.user, tc.body)
			if tc.code != 0 && code != tc.code {
				t.Fatalf("%s %s: %d %s", tc.method, tc.path, code, body)
			}
			if got := changes.n.Load() > before; got != tc.notified {
				t.Errorf("%s %s answered %d: notified %v, want %v", tc.method, tc.path, code, got, tc.notified)
			}
		})
	}
}
