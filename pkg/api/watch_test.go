package api

import (
	"encoding/json"
	"strings"
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
