package authproxy

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/impersonation"
)

// question is everything the approval cache key is made of.
type question struct {
	cluster string
	ident   authn.Identity
	req     impersonation.Request
}

// TestKeyFor: two questions share a key only if the reviews would be the
// same; no split of the same bytes across fields or lists collides.
func TestKeyFor(t *testing.T) {
	bob := authn.Identity{UserID: "u-1", Username: "bob", TokenID: "t-1", Groups: []string{"a", "b"}}
	with := func(f func(*question)) question {
		q := question{cluster: "c-alpha", ident: bob, req: impersonation.Request{User: "jane", Groups: []string{"devs", "ops"}}}
		q.ident.Groups = append([]string(nil), bob.Groups...)
		f(&q)
		return q
	}
	base := with(func(*question) {})
	differ := []struct {
		name string
		q    question
	}{
		{"another cluster", with(func(q *question) { q.cluster = "c-beta" })},
		{"another token", with(func(q *question) { q.ident.TokenID = "t-2" })},
		{"another user id", with(func(q *question) { q.ident.UserID = "u-2" })},
		{"another user name", with(func(q *question) { q.ident.Username = "bobby" })},
		{"a caller group more", with(func(q *question) { q.ident.Groups = append(q.ident.Groups, "c") })},
		{"another target user", with(func(q *question) { q.req.User = "joe" })},
		{"no target group", with(func(q *question) { q.req.Groups = nil })},
		{"a caller group moved to the targets", with(func(q *question) {
			q.ident.Groups = []string{"a"}
			q.req.Groups = []string{"b", "devs", "ops"}
		})},
		{"bytes moved between caller groups", with(func(q *question) { q.ident.Groups = []string{"ab", ""} })},
		{"bytes moved between user id and name", with(func(q *question) { q.ident.UserID, q.ident.Username = "u-1b", "ob" })},
		{"the target user as a group", with(func(q *question) { q.req.User, q.req.Groups = "devs", []string{"jane", "ops"} })},
		{"a uid", with(func(q *question) { q.req.UID = "1000" })},
		{"a target group as the uid", with(func(q *question) { q.req.Groups, q.req.UID = []string{"devs"}, "ops" })},
		{"an extra", with(func(q *question) { q.req.Extra = map[string][]string{"scopes": {"view"}} })},
		{"the uid as an extra key", with(func(q *question) { q.req.Extra = map[string][]string{"1000": nil} })},
		{"a target group as an extra", with(func(q *question) { q.req.Groups, q.req.Extra = []string{"devs"}, map[string][]string{"ops": {"x"}} })},
		{"the ServiceAccount form of the user", with(func(q *question) { q.req.User = "system:serviceaccount:default:jane" })},
	}
	k := keyFor(base.cluster, base.ident, &base.req)
	seen := map[cacheKey]string{k: "base"}
	for _, tc := range differ {
		got := keyFor(tc.q.cluster, tc.q.ident, &tc.q.req)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: same key as %s", tc.name, prev)
		}
		seen[got] = tc.name
	}

	same := []struct {
		name string
		q    question
	}{
		{"caller groups in another order, with system:authenticated", with(func(q *question) {
			q.ident.Groups = []string{"b", impersonation.Authenticated, "a", "b"}
		})},
		{"target groups in another order", with(func(q *question) { q.req.Groups = []string{"ops", "devs"} })},
		{"admin flag (its group is what counts)", with(func(q *question) { q.ident.Admin = true })},
		{"an empty extra map", with(func(q *question) { q.req.Extra = map[string][]string{} })},
	}
	for _, tc := range same {
		if got := keyFor(tc.q.cluster, tc.q.ident, &tc.q.req); got != k {
			t.Errorf("%s: another key for the same reviews", tc.name)
		}
	}
}

// TestKeyForNeverShared: over every request built from a few short
// strings (users, groups, uid, extras whose keys and values reuse the same
// bytes), two requests share a key exactly when they ask the same
// reviews: same user, same groups and extra values as sets, same uid.
func TestKeyForNeverShared(t *testing.T) {
	bob := authn.Identity{UserID: "u-1", Username: "bob", TokenID: "t-1"}
	atoms := []string{"a", "b", "ab", ""}
	lists := [][]string{nil, {"a"}, {"b"}, {"a", "b"}, {"b", "a"}, {"ab"}, {""}}
	var extras []map[string][]string
	extras = append(extras, nil)
	for _, k := range atoms {
		for _, vs := range lists[1:] {
			extras = append(extras, map[string][]string{k: vs})
			for _, k2 := range atoms {
				if k2 > k {
					extras = append(extras, map[string][]string{k: vs, k2: {"a"}})
				}
			}
		}
	}
	canon := func(r impersonation.Request) string {
		groups := slices.Sorted(slices.Values(r.Groups))
		var b strings.Builder
		fmt.Fprintf(&b, "%q %q %q {", r.User, groups, r.UID)
		for _, k := range slices.Sorted(maps.Keys(r.Extra)) {
			fmt.Fprintf(&b, "%q:%q ", k, slices.Sorted(slices.Values(r.Extra[k])))
		}
		return b.String() + "}"
	}
	byKey := map[cacheKey]string{}
	n := 0
	for _, u := range atoms {
		for _, g := range lists {
			for _, uid := range atoms {
				for _, e := range extras {
					r := impersonation.Request{User: u, Groups: g, UID: uid, Extra: e}
					k, c := keyFor("c-alpha", bob, &r), canon(r)
					if prev, ok := byKey[k]; ok && prev != c {
						t.Fatalf("%s and %s share a key", prev, c)
					}
					byKey[k] = c
					n++
				}
			}
		}
	}
	distinct := map[string]bool{}
	for _, c := range byKey {
		distinct[c] = true
	}
	if len(distinct) != len(byKey) {
		t.Errorf("%d keys for %d distinct requests", len(byKey), len(distinct))
	}
	t.Logf("%d requests, %d distinct keys", n, len(byKey))
}

// TestNestedCacheMemory: an entry costs the same however many groups the
// caller has. A caller with 1000 groups of 1 KiB once cost about 1 MiB per
// entry (the groups were the key), so up to ~10 GiB at maxNestedCached.
func TestNestedCacheMemory(t *testing.T) {
	groups := make([]string, 1000)
	for i := range groups {
		groups[i] = strconv.Itoa(i) + strings.Repeat("g", 1024)
	}
	ident := authn.Identity{UserID: "u-1", Username: "bob", TokenID: "t-1", Groups: groups}
	n := newNested(time.Minute, nil)
	const entries = 200
	reqs := make([]*impersonation.Request, entries)
	for i := range reqs {
		reqs[i] = &impersonation.Request{User: "user-" + strconv.Itoa(i)}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, req := range reqs {
		n.remember(keyFor("c-alpha", ident, req), nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / entries
	t.Logf("%d entries for a caller with %d groups of ~1 KiB: %d bytes of heap each", entries, len(groups), per)
	if per > 1024 {
		t.Errorf("%d bytes per cache entry, want at most 1024", per)
	}
	if len(n.answers) != entries {
		t.Errorf("%d entries cached, want %d", len(n.answers), entries)
	}
	runtime.KeepAlive(ident)
}
