package impersonation

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseRequest feeds arbitrary header sets (raw "name: value" lines) to
// ParseRequest and checks the invariants the proxy relies on: no panic; an
// answer is either nil (no identity asked for), a Request, or a
// *RequestError with a 400/403 code; a Request names one valid user, valid
// groups, at most one uid and bounded extras outside Drover's own space, and
// came from headers that hold nothing identity-shaped besides the canonical
// Impersonate-User/Group/Uid/Extra-*; and whatever is accepted can be
// written by Set, then passes Verify, and the apiserver would read from it
// exactly the identity that was asked for.
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
		"Impersonate-User: jane\nImpersonate-Uid: 1",
		"Impersonate-Extra-Scopes: x",
		"Impersonate-User: jane\nImpersonate-Extra-Scopes: x\nImpersonate-Extra-%73copes: y",
		"Impersonate-User: jane\nImpersonate-Extra-Example.com%2fteam: a\nImpersonate-Extra-%41cme: b",
		"Impersonate-User: jane\nImpersonate-Extra-Drover.dev%2fuser-Id: u-1",
		"Impersonate-User: jane\nImpersonate-Extra-Bad%zz: b",
		"Impersonate-User: system:serviceaccount:team-a:bot",
		"Impersonate-User: system:serviceaccount:team-a:bot\nImpersonate-Group: devs\nImpersonate-Uid: 7",
		"Impersonate-User: system:serviceaccount:Team:bot",
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
			if identityShaped(k) && k != "Impersonate-User" && k != "Impersonate-Group" && k != "Impersonate-Uid" && !canonicalExtra(k) {
				t.Fatalf("request accepted from %q despite header %q", raw, k)
			}
		}
		if len(h["Impersonate-User"]) != 1 || req.User != h["Impersonate-User"][0] {
			t.Fatalf("request user %q from %q", req.User, h["Impersonate-User"])
		}
		if uids := h["Impersonate-Uid"]; len(uids) > 1 || (len(uids) == 1) != (req.UID != "") || (len(uids) == 1 && uids[0] != req.UID) {
			t.Fatalf("request uid %q from %q", req.UID, uids)
		}
		if len(req.Groups) > MaxGroups || len(req.Extra) > MaxExtraKeys {
			t.Fatalf("%d groups, %d extra keys accepted", len(req.Groups), len(req.Extra))
		}
		for k, vs := range req.Extra {
			if droverExtra(k) || len(vs) == 0 || len(vs) > MaxExtraValues {
				t.Fatalf("extra %q with %d values accepted from %q", k, len(vs), raw)
			}
		}
		extra := map[string][]string{"drover.dev/original-user": {"someone"}}
		for k, vs := range req.Extra {
			extra[k] = vs
		}
		id := Identity{User: req.User, Groups: req.Groups, UID: req.UID, Extra: extra}
		out := http.Header{}
		if err := Set(out, id); err != nil {
			t.Fatalf("accepted %q but cannot forward it: %v", raw, err)
		}
		if err := Verify(out, id); err != nil {
			t.Fatalf("forwarded headers of %q do not verify: %v", raw, err)
		}
		if diff := cmp.Diff(apiserverView(id), apiserverRead(out), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("the apiserver would read another identity from %q (-asked +read):\n%s", raw, diff)
		}
	})
}

// seen is an identity as the apiserver's impersonation filter reads it.
type seen struct {
	User   string
	Groups []string
	UID    string
	Extra  map[string][]string
}

// apiserverRead reads forwarded headers the way the apiserver does: header
// names canonical, extra keys lower-cased then percent-unescaped.
func apiserverRead(h http.Header) seen {
	c := http.Header{}
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		c[ck] = append(c[ck], vs...)
	}
	s := seen{User: c.Get("Impersonate-User"), Groups: slices.Sorted(slices.Values(c["Impersonate-Group"])), UID: c.Get("Impersonate-Uid"), Extra: map[string][]string{}}
	for k, vs := range c {
		if suffix, ok := strings.CutPrefix(k, "Impersonate-Extra-"); ok {
			key := decodeExtraKey(suffix)
			s.Extra[key] = append(s.Extra[key], vs...)
		}
	}
	return s
}

// apiserverView is what the apiserver must read for id: its groups with
// system:authenticated, or none for a ServiceAccount without groups.
func apiserverView(id Identity) seen {
	s := seen{User: id.User, UID: id.UID, Extra: id.Extra}
	if _, _, sa := SplitServiceAccount(id.User); !sa || len(id.Groups) > 0 {
		s.Groups = append(slices.Clone(id.Groups), Authenticated)
		slices.Sort(s.Groups)
		s.Groups = slices.Compact(s.Groups)
	}
	return s
}

// FuzzIdentityShaped: the allocation-free identityShaped says exactly what
// lowering the name, reading underscores as dashes and comparing prefixes
// says, for every name (any bytes, any case, any script).
func FuzzIdentityShaped(f *testing.F) {
	for _, s := range []string{"Impersonate-User", "IMPERSONATE_GROUP", "x_Remote-user", "X-Remote", "Impersonate",
		"Accept", "", "İmpersonate-User", "\u212a", "impersonate-", "x-remote-", "Impersonate–User"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		lk := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		want := strings.HasPrefix(lk, "impersonate-") || strings.HasPrefix(lk, "x-remote-")
		if got := identityShaped(k); got != want {
			t.Fatalf("identityShaped(%q) = %v, want %v", k, got, want)
		}
	})
}
