// Package controller owns the server's view into each connected cluster: one
// controller per live cluster-agent session, which gathers the cluster's
// status (Kubernetes version, apiserver health, nodes, counts, recent
// warnings) into the store every few seconds, writes Drover's bindings
// downstream as RBAC, keeps the authorized endpoint's token Secrets, pushes
// rotated registration tokens, sweeps impersonation accounts that should no
// longer exist (package accounts), deletes what earlier versions left
// (the drover-impersonator account, the node agents' Role), and watches
// Drover's own objects downstream (client-go informers through the tunnel)
// to put back what was changed or deleted.
//
// Downstream it acts with the controller's own credential: the token of the
// drover-controller ServiceAccount that the cluster agent handed over, whose
// roles the agent bootstrapped. It impersonates nobody. Node-agent sessions
// get no controller: they carry users' requests only. When the cluster
// agent's session changes the controller is stopped and a new one starts
// from scratch on the new session.
//
// It must never act downstream with any credential but the controller's,
// run on a node agent's session, or keep a session after the tunnel server
// dropped it.
package controller
