package accounts

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
)

// as is the account of a --as request for user and groups by ada.
func as(user string, groups ...string) downstream.Account {
	return As(impersonation.Request{User: user, Groups: groups}, "ada", "u-0123456789")
}

// TestCheck enumerates the identities an account may never act as, for
// admins and others alike, and the ones it may.
func TestCheck(t *testing.T) {
	own := Own("bob", "u-0123456789", []string{"ldap:devs"})
	type tcase struct {
		name  string
		a     downstream.Account
		admin bool
		ok    bool
	}
	with := func(a downstream.Account, f func(*downstream.Account)) downstream.Account { f(&a); return a }
	tests := []tcase{
		{"a user as themself", own, false, true},
		{"an admin as themself", Own("ada", "u-0123456789", []string{downstream.AdminGroup}), true, true},
		{"a non-admin with the admin group", Own("bob", "u-0123456789", []string{downstream.AdminGroup}), false, false},
		{"--as with the admin group, non-admin", As(impersonation.Request{User: "jane", Groups: []string{downstream.AdminGroup}}, "bob", "u-0123456789"), false, false},
		{"--as with the admin group, admin", as("jane", downstream.AdminGroup), true, true},
		{"--as another user", As(impersonation.Request{User: "jane", Groups: []string{"ops"}}, "bob", "u-0123456789"), false, true},
		{"--as a ServiceAccount", as("system:serviceaccount:team-a:builder"), false, true},
		{"--as a ServiceAccount with groups", as("system:serviceaccount:team-a:builder", "devs"), false, true},
		{"--as-uid", As(impersonation.Request{User: "jane", UID: "1000"}, "bob", "u-1"), false, true},
		{"--as-uid system:", As(impersonation.Request{User: "jane", UID: "system:node"}, "bob", "u-1"), true, false},
		{"--as-user-extra", As(impersonation.Request{User: "jane", Extra: map[string][]string{"scopes": {"view"}}}, "bob", "u-1"), false, true},
		{"--as-user-extra in Drover's space", As(impersonation.Request{User: "jane", Extra: map[string][]string{"drover.dev/role": {"x"}}}, "bob", "u-1"), true, false},
		{"--as-user-extra in Drover's space, another case", As(impersonation.Request{User: "jane", Extra: map[string][]string{"Drover.dev/user-id": {"x"}}}, "bob", "u-1"), true, false},
		{"an extra with any value", with(own, func(a *downstream.Account) { a.Extra = map[string][]string{"scopes": nil} }), true, false},
		{"an extra with no key", with(own, func(a *downstream.Account) { a.Extra = map[string][]string{"": {"x"}} }), true, false},
		{"a user id of any value", with(own, func(a *downstream.Account) { a.Extra = map[string][]string{downstream.ExtraUserID: nil} }), true, false},
		{"a client's extra is fine", with(own, func(a *downstream.Account) { a.Extra = map[string][]string{"scopes": {"all"}} }), true, true},
		{"a ServiceAccount user without its ServiceAccount", with(as("jane"), func(a *downstream.Account) {
			a.User = "system:serviceaccount:team-a:builder"
		}), true, false},
		{"a ServiceAccount of another name", with(as("system:serviceaccount:team-a:builder"), func(a *downstream.Account) {
			a.ServiceAccount = &downstream.NamespacedName{Namespace: "team-a", Name: "other"}
		}), true, false},
		{"a ServiceAccount in another namespace", with(as("system:serviceaccount:team-a:builder"), func(a *downstream.Account) {
			a.ServiceAccount = &downstream.NamespacedName{Namespace: "team-b", Name: "builder"}
		}), true, false},
		{"a user with a ServiceAccount", with(as("jane"), func(a *downstream.Account) {
			a.ServiceAccount = &downstream.NamespacedName{Namespace: "team-a", Name: "builder"}
		}), true, false},
	}
	for _, admin := range []bool{false, true} {
		for _, g := range []string{"system:masters", "system:nodes", "system:serviceaccounts", "system:serviceaccounts:kube-system",
			"system:unauthenticated", "drover:system", "drover:anything"} {
			tests = append(tests, tcase{"group " + g, as("jane", g), admin, false})
			tests = append(tests, tcase{"ServiceAccount in group " + g, as("system:serviceaccount:team-a:builder", g), admin, false})
		}
		for _, u := range []string{"system:admin", "system:anonymous", "system:kube-controller-manager", "system:node:n1",
			"system:serviceaccount:kube-system:default", "system:serviceaccount:kube-public:default",
			"system:serviceaccount:kube-node-lease:default", "system:serviceaccount:cattle-system:drover-controller",
			"system:serviceaccount:cattle-system:" + Name(own), "system:serviceaccount:Team:bot", "system:serviceaccount:team-a",
			downstream.ControllerUser, "drover:system:controller", ""} {
			tests = append(tests, tcase{"user " + u, as(u), admin, false})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.a, tc.admin)
			if tc.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrRefused) {
				t.Errorf("allowed (err %v)", err)
			}
			var r *Refusal
			if err != nil && (!errors.As(err, &r) || r.Reason == "") {
				t.Errorf("refusal %v has no reason", err)
			}
		})
	}
}

// TestAs: the account of a --as request is exactly the identity
// impersonation.Set sends for it, Drover's extras included and winning.
func TestAs(t *testing.T) {
	tests := []struct {
		name string
		req  impersonation.Request
		want downstream.Account
	}{
		{
			name: "user, groups, uid and extras",
			req:  impersonation.Request{User: "jane", Groups: []string{"devs"}, UID: "1000", Extra: map[string][]string{"scopes": {"view"}}},
			want: downstream.Account{User: "jane", Groups: []string{"devs", impersonation.Authenticated}, UID: "1000",
				Extra: map[string][]string{"scopes": {"view"}, downstream.ExtraTokenID: nil, downstream.ExtraUserID: {"u-1"}, downstream.ExtraOriginalUser: {"bob"}}},
		},
		{
			name: "a ServiceAccount without groups: none (the apiserver gives it its own)",
			req:  impersonation.Request{User: "system:serviceaccount:team-a:builder"},
			want: downstream.Account{User: "system:serviceaccount:team-a:builder",
				ServiceAccount: &downstream.NamespacedName{Namespace: "team-a", Name: "builder"},
				Extra:          map[string][]string{downstream.ExtraTokenID: nil, downstream.ExtraUserID: {"u-1"}, downstream.ExtraOriginalUser: {"bob"}}},
		},
		{
			name: "a ServiceAccount with groups",
			req:  impersonation.Request{User: "system:serviceaccount:team-a:builder", Groups: []string{"devs"}},
			want: downstream.Account{User: "system:serviceaccount:team-a:builder", Groups: []string{"devs", impersonation.Authenticated},
				ServiceAccount: &downstream.NamespacedName{Namespace: "team-a", Name: "builder"},
				Extra:          map[string][]string{downstream.ExtraTokenID: nil, downstream.ExtraUserID: {"u-1"}, downstream.ExtraOriginalUser: {"bob"}}},
		},
		{
			name: "Drover's extras win",
			req:  impersonation.Request{User: "jane", Extra: map[string][]string{downstream.ExtraOriginalUser: {"ada"}, downstream.ExtraTokenID: {"t-x"}}},
			want: downstream.Account{User: "jane", Groups: []string{impersonation.Authenticated},
				Extra: map[string][]string{downstream.ExtraTokenID: nil, downstream.ExtraUserID: {"u-1"}, downstream.ExtraOriginalUser: {"bob"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, As(tc.req, "bob", "u-1")); diff != "" {
				t.Errorf("As (-want +got):\n%s", diff)
			}
		})
	}
}

// TestName: an account's name changes with anything it may act as, and
// only with that (order and duplicates of groups do not matter).
func TestName(t *testing.T) {
	base := Own("bob", "u-0123456789", []string{"a", "b"})
	same := Own("bob", "u-0123456789", []string{"b", "a", "a"})
	if Name(base) != Name(same) {
		t.Error("group order or duplicates changed the name")
	}
	asReq := func(r impersonation.Request) downstream.Account { return As(r, "ada", "u-0123456789") }
	// Names live on downstream between releases: a change of encoding
	// would orphan every account (Sweep would reap them, then all are made
	// again). These pin it.
	for a, want := range map[*downstream.Account]string{
		&same: "drover-imp-6fad36ac7ea0e2281bc4682bba9de3a3",
		ptr(asReq(impersonation.Request{User: "bob", Groups: []string{"a", "b"}})):                                  "drover-imp-d9cc1e7d2f37d596687efc196deba754",
		ptr(asReq(impersonation.Request{User: "system:serviceaccount:team-a:bot"})):                                 "drover-imp-4345130bc20beb468bd2503dbd2237e6",
		ptr(asReq(impersonation.Request{User: "bob", UID: "1000", Extra: map[string][]string{"scopes": {"view"}}})): "drover-imp-6613e99600a3706c4458df7bc119c18f",
	} {
		if got := Name(*a); got != want {
			t.Errorf("Name(%+v) = %s, want %s", *a, got, want)
		}
	}
	differ := map[string]downstream.Account{
		"another user":    Own("bobby", "u-0123456789", []string{"a", "b"}),
		"another group":   Own("bob", "u-0123456789", []string{"a", "c"}),
		"a group less":    Own("bob", "u-0123456789", []string{"a"}),
		"another user id": Own("bob", "u-9876543210", []string{"a", "b"}),
		"as, not own":     As(impersonation.Request{User: "bob", Groups: []string{"a", "b"}}, "ada", "u-0123456789"),
		// ["a,b"] is not ["a","b"]
		"joined groups":                        Own("bob", "u-0123456789", []string{"a,b"}),
		"a uid":                                asReq(impersonation.Request{User: "bob", UID: "1"}),
		"another uid":                          asReq(impersonation.Request{User: "bob", UID: "2"}),
		"an extra":                             asReq(impersonation.Request{User: "bob", Extra: map[string][]string{"k": {"v"}}}),
		"another extra value":                  asReq(impersonation.Request{User: "bob", Extra: map[string][]string{"k": {"w"}}}),
		"the extra key and value swapped":      asReq(impersonation.Request{User: "bob", Extra: map[string][]string{"v": {"k"}}}),
		"a ServiceAccount":                     asReq(impersonation.Request{User: "system:serviceaccount:team-a:bot"}),
		"the ServiceAccount in another ns":     asReq(impersonation.Request{User: "system:serviceaccount:team-b:bot"}),
		"the ServiceAccount with a group":      asReq(impersonation.Request{User: "system:serviceaccount:team-a:bot", Groups: []string{"a"}}),
		"the ServiceAccount with no group yet": asReq(impersonation.Request{User: "system:serviceaccount:team-a:bot", Groups: []string{impersonation.Authenticated}}),
	}
	seen := map[string]string{Name(base): "base"}
	for what, a := range differ {
		n := Name(a)
		if prev, ok := seen[n]; ok {
			t.Errorf("%s has the same name as %s", what, prev)
		}
		seen[n] = what
		if len(n) > 63 || len(downstream.AccountNamespaceRole(n)) > 63 {
			t.Errorf("name %q is longer than a DNS label", n)
		}
	}
}

func ptr[T any](v T) *T { return &v }
