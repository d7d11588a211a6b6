// Package agent owns the downstream side of the tunnel: the cluster agent
// (cattle-cluster-agent) and the node agent (cattle-node-agent).
//
// On start it pins the server: it fetches /cacerts, and refuses to go on
// unless the SHA-256 of what it got equals the configured checksum and the
// server's certificate chains to that CA. Only then does it send its
// registration token, over TLS verified against the pinned CA. The cluster
// agent then ensures Drover's objects downstream (package downstream): the
// impersonator ServiceAccount and its impersonate-only ClusterRole, and the
// binding of Drover admins to cluster-admin. It requests a short-lived token
// for that ServiceAccount and hands it to the server in the connect
// parameters: that token, able only to impersonate, is the one credential
// the server uses downstream.
//
// The tunnel is re-opened after any loss with capped exponential backoff and
// jitter, and before the ServiceAccount token expires. The agent dials
// nothing but its apiserver endpoint: every other dial the server asks for is
// refused (and logged) without tearing the tunnel down.
//
// What it shares with the server (the connect path, the parameters header,
// the agent kinds, the liveness rules) comes from package agentapi; its
// metrics (Metrics, served on /metrics next to the health probes) are its
// own. It must link no server package (store, authn, tunnel, api, metrics,
// ...): cmd/agent's deps test enforces that.
//
// This package must never send the registration token before the CA check
// passed, never log a token, and never dial on the server's behalf anything
// but the advertised endpoint.
package agent
