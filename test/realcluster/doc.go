// Package realcluster owns what the real-node tests, `make demo` and `make
// bench` share: the images built from this tree (pause, the agent, busybox),
// a downstream cluster with real nodes (package testbed) whose apiserver
// authenticates Drover tokens through the manifest's kube-api-auth pod, a
// drover-server that the pods reach over the cluster's link to the root
// namespace, and the import as a user does it (the exact bytes the import
// URL serves, applied with the machine's kubectl and the cluster's own
// admin credentials, then the agent pods and the tunnel waited for).
//
// This package must never start an agent process: the agents are the
// manifest's pods. It must never relax the manifest to make pods start.
// Everything it starts, Env.Stop stops; it needs root (testbed).
package realcluster
