package authproxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/test/fake"
)

// TestNestedReviewKinds enumerates every kind of impersonation (user,
// ServiceAccount, group, uid, extra): each part is put to the cluster as
// the apiserver's impersonation filter checks it, one review each, in
// order, stopping at the first refusal, whose message names what was
// refused; an approved request is forwarded exactly as
// asked (a ServiceAccount without groups with no Impersonate-Group at all),
// and a changed uid or extra is a new question, not a cached approval.
func TestNestedReviewKinds(t *testing.T) {
	clock := fake.NewClock(time.Now())
	s := newSandwich(t, func(o *authproxy.Options) { o.Now = clock.Now })
	_, sa := s.connectCluster("c-alpha")
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	tok, tokID := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	s.backend.allow(sa, "bob", "users", "jane")

	const authGroup = "authentication.k8s.io"
	saAttrs := func(ns, name string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "serviceaccounts", Namespace: ns, Name: name}
	}
	userAttrs := authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "users", Name: "jane"}
	groupAttrs := func(g string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "groups", Name: g}
	}
	uidAttrs := func(uid string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Verb: "impersonate", Group: authGroup, Resource: "uids", Name: uid}
	}
	extraAttrs := func(key, value string) authorizationv1.ResourceAttributes {
		return authorizationv1.ResourceAttributes{Verb: "impersonate", Group: authGroup, Resource: "userextras", Subresource: key, Name: value}
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	const builder = "system:serviceaccount:team-a:builder"

	steps := []struct {
		name   string
		grant  []authorizationv1.ResourceAttributes
		h      http.Header
		code   int
		msg    string // 403: the message, exactly up to the review's reason
		asked  []authorizationv1.ResourceAttributes
		wanted *impersonation.Request // 200: what must be forwarded
	}{
		{
			name: "a user, not granted", h: hdr("Impersonate-User", "john"), code: 403,
			msg:   `users "john" is forbidden: User "bob" cannot impersonate resource "users" in API group "" in cluster "c-alpha"`,
			asked: []authorizationv1.ResourceAttributes{{Verb: "impersonate", Resource: "users", Name: "john"}},
		},
		{
			name: "a user, granted", h: hdr("Impersonate-User", "jane"), code: 200,
			asked: []authorizationv1.ResourceAttributes{userAttrs}, wanted: &impersonation.Request{User: "jane"},
		},
		{
			name: "a group, not granted", h: hdr("Impersonate-User", "jane", "Impersonate-Group", "devs"), code: 403,
			msg:   `groups "devs" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" in cluster "c-alpha"`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, groupAttrs("devs")},
		},
		{
			name: "groups, one granted: stops at the other", grant: []authorizationv1.ResourceAttributes{groupAttrs("devs")},
			h: hdr("Impersonate-User", "jane", "Impersonate-Group", "devs", "Impersonate-Group", "ops"), code: 403,
			msg:   `groups "ops" is forbidden`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, groupAttrs("devs"), groupAttrs("ops")},
		},
		{
			name: "groups, every one granted", grant: []authorizationv1.ResourceAttributes{groupAttrs("ops")},
			h: hdr("Impersonate-User", "jane", "Impersonate-Group", "devs", "Impersonate-Group", "ops"), code: 200,
			asked:  []authorizationv1.ResourceAttributes{userAttrs, groupAttrs("devs"), groupAttrs("ops")},
			wanted: &impersonation.Request{User: "jane", Groups: []string{"devs", "ops"}},
		},
		{
			name: "a ServiceAccount, not granted", h: hdr("Impersonate-User", builder), code: 403,
			msg:   `serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-a" in cluster "c-alpha"`,
			asked: []authorizationv1.ResourceAttributes{saAttrs("team-a", "builder")},
		},
		{
			name: "a ServiceAccount, granted in its namespace", grant: []authorizationv1.ResourceAttributes{saAttrs("team-a", "builder")},
			h: hdr("Impersonate-User", builder), code: 200,
			asked: []authorizationv1.ResourceAttributes{saAttrs("team-a", "builder")}, wanted: &impersonation.Request{User: builder},
		},
		{
			name: "the same name in another namespace", h: hdr("Impersonate-User", "system:serviceaccount:team-b:builder"), code: 403,
			msg:   `serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-b"`,
			asked: []authorizationv1.ResourceAttributes{saAttrs("team-b", "builder")},
		},
		{
			name: "a ServiceAccount with a group, the group not granted", h: hdr("Impersonate-User", builder, "Impersonate-Group", "qa"), code: 403,
			msg:   `groups "qa" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" in cluster "c-alpha"`,
			asked: []authorizationv1.ResourceAttributes{saAttrs("team-a", "builder"), groupAttrs("qa")},
		},
		{
			name: "a uid, not granted", h: hdr("Impersonate-User", "jane", "Impersonate-Uid", "1000"), code: 403,
			msg:   `uids.authentication.k8s.io "1000" is forbidden: User "bob" cannot impersonate resource "uids" in API group "authentication.k8s.io" in cluster "c-alpha"`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, uidAttrs("1000")},
		},
		{
			name: "a uid, granted", grant: []authorizationv1.ResourceAttributes{uidAttrs("1000")},
			h: hdr("Impersonate-User", "jane", "Impersonate-Uid", "1000"), code: 200,
			asked: []authorizationv1.ResourceAttributes{userAttrs, uidAttrs("1000")}, wanted: &impersonation.Request{User: "jane", UID: "1000"},
		},
		{
			name: "another uid is another question", h: hdr("Impersonate-User", "jane", "Impersonate-Uid", "0"), code: 403,
			msg:   `uids.authentication.k8s.io "0" is forbidden`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, uidAttrs("0")},
		},
		{
			name: "extras, none granted: stops at the first value",
			h:    hdr("Impersonate-User", "jane", "Impersonate-Extra-Scopes", "view", "Impersonate-Extra-Scopes", "edit"), code: 403,
			msg:   `userextras.authentication.k8s.io "view" is forbidden: User "bob" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io" in cluster "c-alpha"`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, extraAttrs("scopes", "view")},
		},
		{
			name: "extras, one value granted: the other is refused", grant: []authorizationv1.ResourceAttributes{extraAttrs("scopes", "view")},
			h: hdr("Impersonate-User", "jane", "Impersonate-Extra-Scopes", "view", "Impersonate-Extra-Scopes", "edit"), code: 403,
			msg:   `userextras.authentication.k8s.io "edit" is forbidden`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, extraAttrs("scopes", "view"), extraAttrs("scopes", "edit")},
		},
		{
			name: "extras, every value granted", grant: []authorizationv1.ResourceAttributes{extraAttrs("scopes", "edit"), extraAttrs("example.com/team", "a")},
			h: hdr("Impersonate-User", "jane", "Impersonate-Extra-Scopes", "view", "Impersonate-Extra-Scopes", "edit",
				"Impersonate-Extra-Example.com%2fteam", "a"), code: 200,
			asked:  []authorizationv1.ResourceAttributes{userAttrs, extraAttrs("example.com/team", "a"), extraAttrs("scopes", "view"), extraAttrs("scopes", "edit")},
			wanted: &impersonation.Request{User: "jane", Extra: map[string][]string{"scopes": {"view", "edit"}, "example.com/team": {"a"}}},
		},
		{
			name: "another extra value is another question",
			h:    hdr("Impersonate-User", "jane", "Impersonate-Extra-Scopes", "view", "Impersonate-Extra-Scopes", "admin"), code: 403,
			msg:   `userextras.authentication.k8s.io "admin" is forbidden`,
			asked: []authorizationv1.ResourceAttributes{userAttrs, extraAttrs("scopes", "view"), extraAttrs("scopes", "admin")},
		},
	}
	const path = "/k8s/clusters/c-alpha/api/v1/pods"
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, g := range st.grant {
				s.backend.allowAttrs(sa, "bob", g)
			}
			clock.Add(authproxy.RefusalTTL) // no refusal of an earlier step is reused
			before, forwarded := len(s.backend.reviews()), s.backend.count()
			code, msg := s.getWith(path, tok, st.h)
			if code != st.code {
				t.Fatalf("status %d (%s), want %d", code, msg, st.code)
			}
			if code == 403 && !strings.HasPrefix(msg, st.msg) {
				t.Errorf("message %q, want it to start with %q", msg, st.msg)
			}
			var asked []authorizationv1.ResourceAttributes
			for _, r := range s.backend.reviews()[before:] {
				asked = append(asked, *r.Spec.ResourceAttributes)
			}
			if diff := cmp.Diff(st.asked, asked); diff != "" {
				t.Errorf("reviews (-want +got):\n%s", diff)
			}
			reqs := s.backend.requests()[forwarded:]
			if st.wanted == nil {
				if len(reqs) != 0 {
					t.Errorf("a refused request was forwarded")
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(nestedRequestIdentity(*st.wanted, "bob", tokID, bob.ID), identityHeaders(reqs[0].Header)); diff != "" {
				t.Errorf("identity headers at the backend (-want +got):\n%s", diff)
			}
		})
	}
	s.checkNoSecretsLeaked()
}
