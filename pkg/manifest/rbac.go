package manifest

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/drover-dev/drover/pkg/downstream"
)

// rule is a PolicyRule with the reason it is granted; the reason is printed
// above the role in the manifest.
type rule struct {
	why string
	rbacv1.PolicyRule
}

// Names of the agents' identities and roles.
const (
	ClusterAgentServiceAccount = "cattle"
	NodeAgentServiceAccount    = "cattle-node"
	ACEServiceAccount          = downstream.AuthEndpointServiceAccount

	ClusterAgentRole = "drover-agent"
	ACERole          = downstream.AuthEndpointRole
)

var (
	// Every write the agent makes is a server-side apply (package agent,
	// ensureDownstream). An apply that creates the object is authorized as
	// "create" with the object's name (k8s.io/apiserver,
	// endpoints/handlers/patch.go), so resourceNames pin create too; a plain
	// POST create, whose name is unknown at authorization, would not match.
	applyVerbs = []string{"get", "create", "patch"}
)

// clusterAgentClusterRules are the cluster-scoped rights of the cluster agent.
func clusterAgentClusterRules() []rule {
	return []rule{
		{
			why: "server-side apply of Drover's namespace (ensureDownstream); pinned to its name.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{""}, Resources: []string{"namespaces"},
				Verbs: applyVerbs, ResourceNames: []string{downstream.Namespace},
			},
		},
		{
			why: "server-side apply of the " + downstream.ControllerClusterRole + " and " + downstream.ClusterMemberRole +
				" ClusterRoles (ensureDownstream); pinned to their names. Drover's other RBAC objects are the " +
				"server controller's business, on its own credential.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
				Verbs: applyVerbs, ResourceNames: []string{downstream.ControllerClusterRole, downstream.ClusterMemberRole},
			},
		},
		{
			why: "server-side apply of the controller's binding and " + downstream.AdminBinding +
				" (ensureDownstream); pinned to their names.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterrolebindings"},
				Verbs: applyVerbs, ResourceNames: []string{downstream.ControllerBinding, downstream.AdminBinding},
			},
		},
		{
			why: "escalate on the two ClusterRoles ensureDownstream writes and nothing else: they grant " +
				"the server's controller what it does (" + downstream.ControllerClusterRole + ": read access to " +
				"nodes, pods and events, subject access reviews, Drover's RBAC and impersonation accounts) and " +
				"read access to cluster-scoped kinds for Drover's cluster members (" + downstream.ClusterMemberRole +
				"), which the agent does not hold, and RBAC refuses to write a role whose rules the writer lacks.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
				Verbs:         []string{"escalate"},
				ResourceNames: []string{downstream.ControllerClusterRole, downstream.ClusterMemberRole},
			},
		},
		{
			why: "bind on exactly the ClusterRoles ensureDownstream binds: cluster-admin (to group " +
				downstream.AdminGroup + ") and " + downstream.ControllerClusterRole + ". Creating a binding " +
				"needs the role's rights or bind on it, and holding cluster-admin's rights is being " +
				"cluster-admin. Who can bind cluster-admin can bind it to anyone: this credential is " +
				"cluster-admin-equivalent, as Rancher's agent is.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
				Verbs:         []string{"bind"},
				ResourceNames: []string{"cluster-admin", downstream.ControllerClusterRole},
			},
		},
	}
}

// clusterAgentNamespaceRules are the cluster agent's rights in cattle-system.
// It never reads or writes Secrets itself: the server's controller keeps the
// authorized cluster endpoint's token Secrets through the tunnel, with the
// controller's credential, on the rights of the Role the agent applies.
func clusterAgentNamespaceRules() []rule {
	return []rule{
		{
			why: "server-side apply of the controller's ServiceAccount (ensureDownstream); pinned to its name.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{""}, Resources: []string{"serviceaccounts"},
				Verbs: applyVerbs, ResourceNames: []string{downstream.ControllerServiceAccount},
			},
		},
		{
			why: "TokenRequest for the controller's account, the credential the cluster agent hands the " +
				"server (requestToken); pinned to its name.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"},
				Verbs: []string{"create"}, ResourceNames: []string{downstream.ControllerServiceAccount},
			},
		},
		{
			why: "server-side apply of the " + downstream.ControllerRole + " Role and RoleBinding " +
				"(ensureDownstream); pinned to their names.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"},
				Verbs: applyVerbs, ResourceNames: []string{downstream.ControllerRole},
			},
		},
		{
			why: "escalate and bind on the " + downstream.ControllerRole + " Role only: it grants the " +
				"server's controller the token Secrets and the impersonation accounts' ServiceAccounts and " +
				"tokens here, which the agent itself neither holds nor needs.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles"},
				Verbs: []string{"escalate", "bind"}, ResourceNames: []string{downstream.ControllerRole},
			},
		},
	}
}

// aceRules are kube-api-auth's rights in cattle-system, as package
// downstream defines them.
func aceRules() []rule {
	var out []rule
	for _, r := range downstream.AuthEndpointRules() {
		out = append(out, rule{
			why:        "read the token Secrets the server's controller syncs here (package authendpoint); read-only.",
			PolicyRule: r,
		})
	}
	return out
}

func policyRules(rs []rule) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(rs))
	for i, r := range rs {
		out[i] = r.PolicyRule
	}
	return out
}

// ruleComments numbers the rules' reasons in the order they appear.
func ruleComments(rs []rule) []string {
	out := make([]string, 0, len(rs))
	for i, r := range rs {
		out = append(out, fmt.Sprintf("rule %d: %s", i+1, r.why))
	}
	return out
}
