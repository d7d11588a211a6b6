package downstream

import (
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1apply "k8s.io/client-go/applyconfigurations/rbac/v1"
)

const (
	// Namespace holds the agents and Drover's objects.
	Namespace = "cattle-system"
	// AdminBinding binds AdminGroup to cluster-admin.
	AdminBinding = "drover-admins"

	// ControllerServiceAccount is the identity of the server's cluster
	// controller downstream: the cluster agent requests a bound token of it
	// and hands it over when it connects. ControllerClusterRole and
	// ControllerBinding give it exactly what the controller does (status,
	// Drover's RBAC, impersonation accounts, the authorized endpoint's token
	// Secrets, subject access reviews). It never impersonates anyone and
	// never carries a user's request.
	ControllerServiceAccount = "drover-controller"
	ControllerClusterRole    = "drover-controller"
	ControllerBinding        = "drover-controller"

	// AdminGroup is the Drover group of global admins; the agent binds it to
	// cluster-admin in every cluster. Only admins' impersonation accounts
	// may act as it.
	AdminGroup = "drover:admins"

	// ExtraTokenID and ExtraUserID are the Impersonate-Extra keys Drover sets.
	ExtraTokenID = "drover.dev/token-id"
	ExtraUserID  = "drover.dev/user-id"
	// ExtraOriginalUser names the Drover user behind a nested impersonation
	// (kubectl --as through Drover), so the cluster's audit log shows both.
	ExtraOriginalUser = "drover.dev/original-user"

	// ManagedByLabel marks every object Drover owns downstream.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "drover"
	// BindingLabel names the Drover binding a downstream ClusterRoleBinding
	// or RoleBinding was written for.
	BindingLabel = "drover.dev/binding"
)

// ControllerUser is the username the controller's ServiceAccount
// authenticates as.
const ControllerUser = "system:serviceaccount:" + Namespace + ":" + ControllerServiceAccount

// Objects of earlier versions that the controller deletes: the
// drover-impersonator account, which could impersonate any user or group
// (system:masters included), its role and binding, and the node agents'
// Role and RoleBinding, which let every node mint that account's tokens.
const (
	LegacyImpersonator = "drover-impersonator"
	LegacyNodeAgent    = "drover-node-agent"
)

// ControllerRules is what the server's cluster controller may do downstream:
// read what cluster status shows, and keep Drover's own RBAC objects as
// Drover wants them.
func ControllerRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// Cluster status: version and health, node list, object counts,
		// recent warning events.
		{NonResourceURLs: []string{"/version", "/readyz", "/livez"}, Verbs: []string{"get"}},
		// Nested impersonation: ask the cluster whether a user may act as
		// another identity (the proxy's SubjectAccessReview).
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"nodes", "namespaces", "pods", "events"}, Verbs: []string{"get", "list", "watch"}},
		// Drover's bindings: watch them, and put back what was changed or deleted.
		{
			APIGroups: []string{"rbac.authorization.k8s.io"},
			Resources: []string{"clusterrolebindings"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		},
		// Role bindings of projects, in any namespace a project holds
		// (only those labelled ManagedByLabel are ever touched).
		{
			APIGroups: []string{"rbac.authorization.k8s.io"},
			Resources: []string{"rolebindings"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		},
		// Re-creating the admin binding and writing the bindings of Drover's
		// roles means binding these ClusterRoles; "bind" on exactly them is
		// the narrowest grant that allows it (holding their rights would
		// make the controller cluster-admin in its own name).
		{
			APIGroups:     []string{"rbac.authorization.k8s.io"},
			Resources:     []string{"clusterroles"},
			ResourceNames: BindableClusterRoles(),
			Verbs:         []string{"bind"},
		},
		// Impersonation accounts (package accounts): one ClusterRole per
		// account, limited by resourceNames to one identity. Writing a role
		// with impersonate rules the controller does not hold needs
		// escalate, and binding it needs bind; account names are not known
		// in advance, so neither can be pinned. With bind on cluster-admin
		// above the controller was cluster-admin-equivalent already; it
		// holds these rights so that no credential that carries users'
		// requests has any right but to act as one identity.
		{
			APIGroups: []string{"rbac.authorization.k8s.io"},
			Resources: []string{"clusterroles"},
			Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind"},
		},
	}
}

// ClusterMemberRole is the ClusterRole of Drover's cluster-member role (and
// part of cluster read-only): read cluster-scoped objects, nothing
// namespaced. The agent applies it; the controller binds it.
const ClusterMemberRole = "drover-cluster-member"

// BindableClusterRoles are the ClusterRoles Drover's bindings refer to
// downstream, the only ones the controller may bind.
func BindableClusterRoles() []string {
	return []string{"cluster-admin", "admin", "edit", "view", ClusterMemberRole}
}

// ClusterMemberRules are ClusterMemberRole's rules: get, list and watch on
// cluster-scoped kinds only. Namespaces are listed here, so a member sees
// which namespaces exist, but reads nothing inside them.
func ClusterMemberRules() []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes", "namespaces", "persistentvolumes"}, Verbs: read},
		{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses", "csidrivers", "csinodes"}, Verbs: read},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: read},
		{APIGroups: []string{"scheduling.k8s.io"}, Resources: []string{"priorityclasses"}, Verbs: read},
		{APIGroups: []string{"node.k8s.io"}, Resources: []string{"runtimeclasses"}, Verbs: read},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingressclasses"}, Verbs: read},
	}
}

// Labels returns the labels on every object Drover owns downstream.
func Labels() map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue}
}

// The authorized cluster endpoint: the server syncs each cluster-scoped
// token's hash and its user's identity into a Secret in Namespace, and
// kube-api-auth (package authendpoint) answers the apiserver's TokenReview
// webhook from those Secrets alone, so users keep access while the server
// is unreachable.
const (
	// TokenSecretPrefix + token id names a token's Secret.
	TokenSecretPrefix = "drover-token-"
	// TokenSecretLabel marks those Secrets.
	TokenSecretLabel = "drover.dev/token"
	// Keys in a token Secret.
	TokenKeyID        = "tokenId"
	TokenKeySalt      = "salt"
	TokenKeyHash      = "hash"
	TokenKeyUsername  = "username"
	TokenKeyUID       = "uid"
	TokenKeyGroups    = "groups" // newline-separated
	TokenKeyExpiresAt = "expiresAt"
	// ControllerRole lets the controller manage token Secrets in Namespace.
	ControllerRole = "drover-controller"
	// AuthEndpointServiceAccount runs kube-api-auth; it may only read the
	// token Secrets.
	AuthEndpointServiceAccount = "kube-api-auth"
	// AuthEndpointTLSSecret holds kube-api-auth's serving certificate
	// (tls.crt, tls.key) and its CA (ca.crt), which the apiserver's webhook
	// config trusts. The controller creates it once and never replaces it.
	AuthEndpointTLSSecret = "kube-api-auth-tls"
	AuthEndpointRole      = "kube-api-auth"
)

// ControllerNamespaceRules are the controller's rights in Namespace: the
// authorized endpoint's token Secrets, the impersonation accounts'
// ServiceAccounts and their tokens, and deleting the legacy node-agent Role.
func ControllerNamespaceRules() []rbacv1.PolicyRule {
	manage := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: manage},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: manage},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"},
			ResourceNames: []string{LegacyNodeAgent}, Verbs: []string{"get", "delete"}},
	}
}

// AuthEndpointRules is what kube-api-auth may do in Namespace: read Secrets.
func AuthEndpointRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}}
}

// ApplyRules turns rules into server-side apply configurations, every field
// kept (resourceNames and nonResourceURLs included): the one conversion
// every writer of Drover's roles uses, so none can drop a restriction.
func ApplyRules(rules []rbacv1.PolicyRule) []*rbacv1apply.PolicyRuleApplyConfiguration {
	out := make([]*rbacv1apply.PolicyRuleApplyConfiguration, 0, len(rules))
	for _, r := range rules {
		out = append(out, rbacv1apply.PolicyRule().WithAPIGroups(r.APIGroups...).WithResources(r.Resources...).
			WithResourceNames(r.ResourceNames...).WithNonResourceURLs(r.NonResourceURLs...).WithVerbs(r.Verbs...))
	}
	return out
}

// The agents' workloads in Namespace, as the import manifest names them:
// the cluster agent's Deployment and the node agents' DaemonSet. The
// server's agent roll-out (package rollout) patches their images.
const (
	ClusterAgentWorkload = "cattle-cluster-agent"
	NodeAgentWorkload    = "cattle-node-agent"
	// AgentContainer is the agents' container in both.
	AgentContainer = "agent"
)

// RolloutRole names the ClusterRole of RolloutRules and the RoleBinding
// in Namespace that grants it to the controller's ServiceAccount there
// only. The controller writes both itself, with the rights on ClusterRoles
// and RoleBindings it already holds (ControllerRules: escalate and bind on
// any ClusterRole), so that clusters whose agents predate the roll-out get
// them too; the agents' own rights do not change.
const RolloutRole = "drover-controller-rollout"

// RolloutRules are what the agent roll-out may do, bound in Namespace only:
// read and patch the cluster agent's Deployment and the node agents'
// DaemonSet, by name; no create, no delete, no other workload. A patch of
// a pod template can change more than its image (any pod, as any
// ServiceAccount of Namespace), so these rules alone are worth what the
// cluster agent's ServiceAccount is worth: cluster-admin. The controller
// that holds them was cluster-admin-equivalent already (escalate and bind
// on any ClusterRole), so they widen nothing it could do; the roll-out
// only ever writes the agent container's image and its own annotations.
func RolloutRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"},
			ResourceNames: []string{ClusterAgentWorkload}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"},
			ResourceNames: []string{NodeAgentWorkload}, Verbs: []string{"get", "patch"}},
	}
}
