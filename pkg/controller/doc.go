// Package controller owns the server's view into each connected cluster: one
// controller per live tunnel session, which gathers the cluster's status
// (Kubernetes version, apiserver health, nodes, counts, recent warnings) into
// the store every few seconds, and watches Drover's own objects downstream
// (client-go informers through the tunnel) to put back what was changed or
// deleted.
//
// Downstream it acts as downstream.ControllerUser, impersonated with the
// agent's ServiceAccount token, whose ClusterRole the agent bootstrapped.
// When the session changes (a reconnect, a failover to a node agent) the
// controller is stopped and a new one starts from scratch on the new session.
//
// It must never act downstream as anything but downstream.ControllerUser,
// and never keep a session after the tunnel server dropped it.
package controller
