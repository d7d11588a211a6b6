package impersonation

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseRequest feeds arbitrary header sets (raw "name: value" lines) to
// ParseRequest and checks the invariants the proxy relies on: no panic; an
// answer is either nil (no identity asked for), a Request, or a
// *RequestError with a 400/403 code; a Request names one valid user and
// valid groups, and came from headers that hold nothing identity-shaped
// besides the canonical Impersonate-User/Group; and whatever is accepted
// can be written by Set and then passes Verify.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"Accept: application/json",
		"Impersonate-User: jane",
		"Impersonate-User: jane\nImpersonate-Group: devs\nImpersonate-Group: ops",
		"Impersonate-Group: devs",
		"Impersonate-User: jane\nImpersonate-User: joe",
		"Impersonate-User: jane\nConnection: Impersonate-User",
		"impersonate-user: jane",
		"Impersonate_User: jane",
		"Impersonate-Uid: 1",
		"Impersonate-Extra-Scopes: x",
		"X-Remote-User: root",
		"Impersonate-User: system:anonymous",
		"Impersonate-User: jane \nImpersonate-Group: \tdevs",
		"Impersonate-User: " + strings.Repeat("x", 600),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h := http.Header{}
		for _, line := range strings.Split(raw, "\n") {
			k, v, _ := strings.Cut(line, ":")
			if k == "" {
				continue
			}
			h[k] = append(h[k], strings.TrimPrefix(v, " "))
		}
		req, err := ParseRequest(h)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || (re.Code != http.StatusBadRequest && re.Code != http.StatusForbidden) || re.Message == "" {
				t.Fatalf("refusal of %q is %#v, want a *RequestError with 400 or 403", raw, err)
			}
			if req != nil {
				t.Fatalf("both a request and an error for %q", raw)
			}
			return
		}
		if req == nil {
			for k := range h {
				if identityShaped(k) {
					t.Fatalf("identity header %q in %q was neither requested nor refused", k, raw)
				}
			}
			return
		}
		for k := range h {
			if identityShaped(k) && k != "Impersonate-User" && k != "Impersonate-Group" {
				t.Fatalf("request accepted from %q despite header %q", raw, k)
			}
		}
		if len(h["Impersonate-User"]) != 1 || req.User != h["Impersonate-User"][0] {
			t.Fatalf("request user %q from %q", req.User, h["Impersonate-User"])
		}
		id := Identity{User: req.User, Groups: req.Groups, Extra: map[string][]string{"drover.dev/original-user": {"someone"}}}
		out := http.Header{}
		if err := Set(out, id); err != nil {
			t.Fatalf("accepted %q but cannot forward it: %v", raw, err)
		}
		if err := Verify(out, id); err != nil {
			t.Fatalf("forwarded headers of %q do not verify: %v", raw, err)
		}
	})
}
