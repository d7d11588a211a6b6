package downstream

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

const (
	// Namespace holds the agents and Drover's objects.
	Namespace = "cattle-system"
	// ImpersonatorServiceAccount is the identity the proxy uses downstream.
	// Its only right is to impersonate.
	ImpersonatorServiceAccount = "drover-impersonator"
	// ImpersonatorClusterRole grants impersonation and nothing else.
	ImpersonatorClusterRole = "drover-impersonator"
	// AdminBinding binds AdminGroup to cluster-admin.
	AdminBinding = "drover-admins"

	// ControllerUser is the identity the server's cluster controller
	// impersonates to read cluster status and reconcile Drover's objects.
	// ControllerClusterRole and ControllerBinding give it exactly that.
	ControllerUser        = "drover:system:controller"
	ControllerClusterRole = "drover-controller"
	ControllerBinding     = "drover-controller"

	// AdminGroup is the Drover group of global admins; the agent binds it to
	// cluster-admin in every cluster.
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

// ImpersonatorRules is everything the proxy's ServiceAccount may do: act as
// users and groups, and attach Drover's own extra keys. It cannot act as a
// ServiceAccount, read or write any object, or escalate.
func ImpersonatorRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"users", "groups"}, Verbs: []string{"impersonate"}},
		{
			APIGroups: []string{"authentication.k8s.io"},
			Resources: []string{"userextras/" + ExtraTokenID, "userextras/" + ExtraUserID, "userextras/" + ExtraOriginalUser},
			Verbs:     []string{"impersonate"},
		},
	}
}

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

// ControllerNamespaceRules is what the controller may do in Namespace: keep
// the token Secrets in step with Drover.
func ControllerNamespaceRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
	}}
}

// AuthEndpointRules is what kube-api-auth may do in Namespace: read Secrets.
func AuthEndpointRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}}
}
