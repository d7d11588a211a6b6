package downstream

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Impersonation accounts: the credentials the server forwards users'
// requests with. Each is a ServiceAccount in Namespace whose ClusterRole
// (same name) lets it impersonate exactly one identity, by resourceNames:
// one user, that user's groups, and Drover's extras. A token of Bob's
// account can act as Bob and nothing else: not as system:masters, not as
// drover:admins unless Bob is an admin, not as the controller or any
// ServiceAccount. The server creates them through the controller's
// credential (package accounts).
const (
	// AccountPrefix starts every account's ServiceAccount, ClusterRole and
	// ClusterRoleBinding name.
	AccountPrefix = "drover-imp-"
	// AccountLabel marks the accounts' objects.
	AccountLabel = "drover.dev/account"
	// AccountUserLabel names the Drover user (id) an account serves.
	AccountUserLabel = "drover.dev/user-id"
	// AccountKindLabel is "own" for a user's own identity, "as" for an
	// identity a user was allowed to act as (kubectl --as).
	AccountKindLabel = "drover.dev/account-kind"
	// InstanceLabel names the Drover installation (a digest of its CA) that
	// made an object, so that an installation sweeps only its own accounts
	// when a cluster was imported into another one too.
	InstanceLabel = "drover.dev/instance"
)

// Account is the one identity an impersonation account may act as.
type Account struct {
	User   string
	Groups []string
	// UID is the impersonated uid, if any (kubectl --as-uid).
	UID string
	// Extra are extra values the account may set, by key. A key listed
	// with no values may carry any value: drover.dev/token-id varies per
	// token and grants nothing (RBAC never reads extras).
	Extra map[string][]string
	// ServiceAccount is set when User is a ServiceAccount
	// (system:serviceaccount:<ns>:<name>): impersonating one is authorized
	// on the serviceaccounts resource in its namespace.
	ServiceAccount *NamespacedName
}

// NamespacedName names a namespaced object.
type NamespacedName struct{ Namespace, Name string }

// AccountRules are the rules of an account's ClusterRole: impersonate on
// exactly the account's user (or ServiceAccount), groups, uid and extra
// values; nothing else.
func AccountRules(a Account) []rbacv1.PolicyRule {
	imp := []string{"impersonate"}
	var rules []rbacv1.PolicyRule
	if a.ServiceAccount != nil {
		// A ClusterRole bound cluster-wide cannot pin a namespace; the
		// account's RoleBinding in that namespace does (AccountNamespaceRules).
	} else {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"users"},
			ResourceNames: []string{a.User}, Verbs: imp})
	}
	if groups := sortedUnique(a.Groups); len(groups) > 0 {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"groups"},
			ResourceNames: groups, Verbs: imp})
	}
	if a.UID != "" {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"uids"},
			ResourceNames: []string{a.UID}, Verbs: imp})
	}
	keys := make([]string, 0, len(a.Extra))
	for k := range a.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"authentication.k8s.io"},
			Resources: []string{"userextras/" + strings.ToLower(k)}, ResourceNames: sortedUnique(a.Extra[k]), Verbs: imp})
	}
	return rules
}

// AccountNamespaceRules are the rules of the Role an account gets in a
// ServiceAccount's namespace when it impersonates that ServiceAccount.
func AccountNamespaceRules(a Account) []rbacv1.PolicyRule {
	if a.ServiceAccount == nil {
		return nil
	}
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts"},
		ResourceNames: []string{a.ServiceAccount.Name}, Verbs: []string{"impersonate"}}}
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
