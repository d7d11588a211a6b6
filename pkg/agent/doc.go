// Package agent owns the downstream side of the tunnel: the cluster agent
// (cattle-cluster-agent) and the node agent (cattle-node-agent).
//
// On start it pins the server: it fetches /cacerts, and refuses to go on
// unless the SHA-256 of what it got equals the configured checksum and the
// server's certificate chains to that CA. Only then does it send its
// registration token, over TLS verified against the pinned CA (without a
// configured checksum it trusts the system's roots instead). It pins again
// before each tunnel, and so follows a CA rotation: a CA the server's CA
// lineage proves from the pinned one is trusted (package capin). The cluster
// agent then ensures Drover's objects downstream (package downstream): the
// controller's ServiceAccount and roles, and the binding of Drover admins to
// cluster-admin. It requests a short-lived token of the controller's account
// and hands it to the server in the connect parameters: the server's
// controller works with it (it makes the per-user impersonation accounts
// that carry users' requests; package accounts). A node agent holds no
// right downstream and hands over nothing: it carries bytes.
//
// The tunnel is re-opened after any loss with capped exponential backoff and
// jitter, and (cluster agent) before the controller's token expires. When
// the server refuses the tunnel for good (a client error such as 401 for a
// registration token that is revoked, rotated out or of a deleted cluster:
// RefusedError.Permanent), the agent logs the HTTP status, the server's
// message and what to do at error level, counts it
// (drover_agent_refusals_total{code}) and waits RefusedBackoff (5 min)
// before it tries again, or less when its token file gets a new token: it
// never knocks every few seconds with a token that cannot work. The agent dials
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
// passed (when a checksum is configured), never log a token, and never dial on the server's behalf anything
// but the advertised endpoint.
package agent
