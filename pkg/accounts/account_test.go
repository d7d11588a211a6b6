package accounts

import (
	"errors"
	"testing"

	"github.com/drover-dev/drover/pkg/downstream"
)

// TestCheck enumerates the identities an account may never act as, for
// admins and others alike, and the ones it may.
func TestCheck(t *testing.T) {
	own := Own("bob", "u-0123456789", []string{"ldap:devs"})
	tests := []struct {
		name  string
		a     downstream.Account
		admin bool
		ok    bool
	}{
		{"a user as themself", own, false, true},
		{"an admin as themself", Own("ada", "u-0123456789", []string{downstream.AdminGroup}), true, true},
		{"a non-admin with the admin group", Own("bob", "u-0123456789", []string{downstream.AdminGroup}), false, false},
		{"--as with the admin group, non-admin", As("jane", []string{downstream.AdminGroup}, "bob", "u-0123456789"), false, false},
		{"--as with the admin group, admin", As("jane", []string{downstream.AdminGroup}, "ada", "u-0123456789"), true, true},
		{"--as another user", As("jane", []string{"ops"}, "bob", "u-0123456789"), false, true},
	}
	for _, admin := range []bool{false, true} {
		for _, g := range []string{"system:masters", "system:nodes", "system:serviceaccounts", "system:serviceaccounts:kube-system",
			"system:unauthenticated", "drover:system", "drover:anything"} {
			tests = append(tests, struct {
				name  string
				a     downstream.Account
				admin bool
				ok    bool
			}{"group " + g, As("jane", []string{g}, "ada", "u-0123456789"), admin, false})
		}
		for _, u := range []string{"system:admin", "system:anonymous", "system:kube-controller-manager", "system:node:n1",
			"system:serviceaccount:kube-system:default", "system:serviceaccount:cattle-system:drover-controller",
			downstream.ControllerUser, "drover:system:controller", ""} {
			tests = append(tests, struct {
				name  string
				a     downstream.Account
				admin bool
				ok    bool
			}{"user " + u, As(u, nil, "ada", "u-0123456789"), admin, false})
		}
	}
	withExtra := own
	withExtra.Extra = map[string][]string{"scopes": {"all"}}
	tests = append(tests, struct {
		name  string
		a     downstream.Account
		admin bool
		ok    bool
	}{"an extra that is not Drover's", withExtra, true, false})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.a, tc.admin)
			if tc.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrRefused) {
				t.Errorf("allowed (err %v)", err)
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
	// Names live on downstream between releases: a change of encoding
	// would orphan every account (Sweep would reap them, then all are made
	// again). These pin it.
	for a, want := range map[*downstream.Account]string{
		&same: "drover-imp-6fad36ac7ea0e2281bc4682bba9de3a3",
		ptr(As("bob", []string{"a", "b"}, "ada", "u-0123456789")): "drover-imp-d9cc1e7d2f37d596687efc196deba754",
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
		"as, not own":     As("bob", []string{"a", "b"}, "ada", "u-0123456789"),
		// ["a,b"] is not ["a","b"]
		"joined groups": Own("bob", "u-0123456789", []string{"a,b"}),
	}
	seen := map[string]string{Name(base): "base"}
	for what, a := range differ {
		n := Name(a)
		if prev, ok := seen[n]; ok {
			t.Errorf("%s has the same name as %s", what, prev)
		}
		seen[n] = what
		if len(n) > 63 {
			t.Errorf("name %q is longer than a DNS label", n)
		}
	}
}

func ptr[T any](v T) *T { return &v }
