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
	ACEServiceAccount          = "kube-api-auth"

	ClusterAgentRole = "drover-agent"
	NodeAgentRole    = "drover-node-agent"
	ACERole          = "kube-api-auth"
)

var (
	// Every write the agent makes is a server-side apply (package agent,
	// ensureDownstream). An apply that creates the object is authorized as
	// "create" with the object's name (k8s.io/apiserver,
	// endpoints/handlers/patch.go), so resourceNames pin create too; a plain
	// POST create, whose name is unknown at authorization, would not match.
	applyVerbs = []string{"get", "create", "patch"}
	// manageVerbs are what the server will ask the agent to do to Drover's
	// own RBAC objects; no "*", no deletecollection.
	manageVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
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
			why: "apply the impersonator ClusterRole and the drover-impersonator and drover-admins " +
				"ClusterRoleBindings (ensureDownstream), and later the cluster roles the server syncs. " +
				"RBAC cannot select by label: the agent only touches objects labelled " +
				downstream.ManagedByLabel + "=" + downstream.ManagedByValue + ". Escalation prevention " +
				"still holds: without the escalate and bind rules below it can write only rules it " +
				"holds and bind only roles whose rights it holds.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles", "clusterrolebindings"},
				Verbs: manageVerbs,
			},
		},
		{
			why: "the namespaced roles and bindings the server will sync (projects); cluster-wide " +
				"because those namespaces are not known in advance. Same escalation limits.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"},
				Verbs: manageVerbs,
			},
		},
		{
			why: "escalate on " + downstream.ImpersonatorClusterRole + " only: that role grants impersonate, " +
				"which the agent does not hold, and RBAC refuses to write a role whose rules the writer " +
				"lacks. The alternative, granting the agent impersonate itself, would let it act as any " +
				"user or group (system:masters included) directly.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
				Verbs: []string{"escalate"}, ResourceNames: []string{downstream.ImpersonatorClusterRole},
			},
		},
		{
			why: "bind on exactly the two roles ensureDownstream binds: cluster-admin (to group " +
				downstream.AdminGroup + ") and " + downstream.ImpersonatorClusterRole + " (to its " +
				"ServiceAccount). Creating a binding needs the role's rights or bind on it, and holding " +
				"cluster-admin's rights is being cluster-admin. Who can bind cluster-admin can bind it " +
				"to anyone: this credential is cluster-admin-equivalent, as Rancher's agent is.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
				Verbs: []string{"bind"}, ResourceNames: []string{"cluster-admin", downstream.ImpersonatorClusterRole},
			},
		},
	}
}

// clusterAgentNamespaceRules are the cluster agent's rights in cattle-system.
func clusterAgentNamespaceRules(ace bool) []rule {
	rules := []rule{
		{
			why: "server-side apply of the impersonator ServiceAccount (ensureDownstream); pinned to its name.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{""}, Resources: []string{"serviceaccounts"},
				Verbs: applyVerbs, ResourceNames: []string{downstream.ImpersonatorServiceAccount},
			},
		},
		{
			why: "TokenRequest for the impersonator account, the one credential the server uses " +
				"downstream (requestToken); pinned to its name.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"},
				Verbs: []string{"create"}, ResourceNames: []string{downstream.ImpersonatorServiceAccount},
			},
		},
	}
	if ace {
		rules = append(rules, rule{
			why: "sync the authorized cluster endpoint's token digests into Secrets that kube-api-auth " +
				"reads; only with the endpoint enabled, only in this namespace.",
			PolicyRule: rbacv1.PolicyRule{
				APIGroups: []string{""}, Resources: []string{"secrets"},
				Verbs: manageVerbs,
			},
		})
	}
	return rules
}

// nodeAgentRules are the node agent's rights in cattle-system: it runs on
// every node, so it gets the impersonator token it hands the server and
// nothing else; the cluster agent creates that account.
func nodeAgentRules() []rule {
	return []rule{{
		why: "TokenRequest for the impersonator account (requestToken); nothing else, since this " +
			"identity is on every node.",
		PolicyRule: rbacv1.PolicyRule{
			APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"},
			Verbs: []string{"create"}, ResourceNames: []string{downstream.ImpersonatorServiceAccount},
		},
	}}
}

// aceRules are kube-api-auth's rights in cattle-system.
func aceRules() []rule {
	return []rule{{
		why: "read the token digests the cluster agent syncs into Secrets here; read-only.",
		PolicyRule: rbacv1.PolicyRule{
			APIGroups: []string{""}, Resources: []string{"secrets"},
			Verbs: []string{"get", "list", "watch"},
		},
	}}
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
