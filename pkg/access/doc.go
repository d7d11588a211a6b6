// Package access owns Drover's authorization model: the roles that exist in
// each scope (global, cluster, project), whether a user is a member of a
// cluster (the proxy's and the API's question), which of a cluster's
// namespaces a caller reads (ReadableNamespaces: what the API may show of a
// cluster's namespaced state, such as its warning events), and what each
// binding becomes downstream (the controller's question).
//
// It decides; it must never talk to a cluster or write the store. The
// downstream apiserver's own RBAC, written from Desired, is what finally
// allows or denies a request: Drover only refuses early (non-members get
// 403 before anything is forwarded).
package access
