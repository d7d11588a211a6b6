// Package manifest owns the agent import manifest: the multi-document YAML a
// user applies with `kubectl apply -f <url>` to connect an existing cluster to
// Drover (Rancher's "import cluster" command).
//
// Everything is built from typed k8s.io/api objects, never from string
// templates, so a value cannot break out of its field, and the result is
// what the apiserver decodes. Each document is preceded by `#` comments; every
// RBAC rule carries its justification there, so the grant is reviewed where it
// is made.
//
// What it renders: the cattle-system namespace; the cattle-cluster-agent
// Deployment and, on request, the cattle-node-agent DaemonSet and the
// kube-api-auth DaemonSet (authorized cluster endpoint); one ServiceAccount
// per component; the least RBAC each needs for what package agent does with
// its own credential; and the registration tokens as Secrets mounted as
// files.
//
// The rights are narrow where RBAC can narrow them (resourceNames on every
// write the agent makes by server-side apply: an apply that creates is
// authorized as "create" with the object's name), but the cluster agent must
// be able to bind Drover admins to cluster-admin, and whoever can bind
// cluster-admin can bind it to themselves: the cluster agent's credential is
// cluster-admin-equivalent by construction. The limits bound what a bug does,
// not what a thief of that credential can do.
//
// This package must never put a token in an environment variable, an
// argument, a label or an annotation (only in a Secret, mounted as a file),
// never grant a wildcard verb or resource, and never grant the node agents,
// which run on every node, any right at all.
package manifest
