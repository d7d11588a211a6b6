package downstream

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestAccountRules: an account's rules name exactly its identity, by
// resourceNames; a ServiceAccount is impersonated only through the
// namespaced rules, never a cluster-wide rule.
func TestAccountRules(t *testing.T) {
	imp := []string{"impersonate"}
	authn := []string{"authentication.k8s.io"}
	tests := []struct {
		name   string
		a      Account
		want   []rbacv1.PolicyRule
		wantNS []rbacv1.PolicyRule
	}{
		{
			name: "user, groups, uid and extras",
			a: Account{User: "jane", Groups: []string{"ops", "devs", "ops"}, UID: "1000",
				Extra: map[string][]string{ExtraTokenID: nil, "Acme/Role": {"b", "a"}}},
			want: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"users"}, ResourceNames: []string{"jane"}, Verbs: imp},
				{APIGroups: []string{""}, Resources: []string{"groups"}, ResourceNames: []string{"devs", "ops"}, Verbs: imp},
				{APIGroups: authn, Resources: []string{"uids"}, ResourceNames: []string{"1000"}, Verbs: imp},
				// The key's case is kept: the apiserver authorizes the decoded key.
				{APIGroups: authn, Resources: []string{"userextras/Acme/Role"}, ResourceNames: []string{"a", "b"}, Verbs: imp},
				{APIGroups: authn, Resources: []string{"userextras/" + ExtraTokenID}, Verbs: imp},
			},
		},
		{
			name: "a ServiceAccount",
			a: Account{User: "system:serviceaccount:team-a:bot", ServiceAccount: &NamespacedName{Namespace: "team-a", Name: "bot"},
				Extra: map[string][]string{ExtraUserID: {"u-1"}}},
			want: []rbacv1.PolicyRule{
				{APIGroups: authn, Resources: []string{"userextras/" + ExtraUserID}, ResourceNames: []string{"u-1"}, Verbs: imp},
			},
			wantNS: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: []string{"bot"}, Verbs: imp},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, AccountRules(tc.a)); diff != "" {
				t.Errorf("AccountRules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNS, AccountNamespaceRules(tc.a)); diff != "" {
				t.Errorf("AccountNamespaceRules (-want +got):\n%s", diff)
			}
		})
	}
}
