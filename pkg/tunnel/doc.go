// Package tunnel owns the agents' websocket tunnels (github.com/rancher/remotedialer)
// and the HTTP transports that run through them.
//
// An agent connects to the server's agentapi.ConnectPath with its cluster's
// registration token and a parameters header (agentapi.AgentParams; the
// wire contract lives in package agentapi, which the agent links instead of
// this package): which kind of
// agent it is, the downstream API endpoint it will dial, that endpoint's CA,
// and, from the cluster agent only, the controller's ServiceAccount token.
// The cluster agent's endpoint and CA are recorded; a node agent is admitted
// only to exactly those, carries only users' requests (TLS end to end, with
// a credential it never sees), and only while no cluster agent is connected. The token is verified
// (salted hash, constant time, expiry) before any upgrade, and decides the
// cluster: the session is keyed by the cluster the token belongs to, never by
// anything the agent claims, so a token for cluster A can never open a
// session for cluster B.
//
// Each live session gets two http.Transports (a keep-alive pool, and one
// connection per upgrade) whose dialer only
// ever reaches the endpoint the agent advertised, over TLS verified against
// the agent's CA. Idle connections are dropped when the session ends.
// Streams to agents of protocol 3 are flow-controlled (pkg/flow: it keeps
// remotedialer's deadlocking back pressure from engaging), and a connection
// whose TLS handshake remotedialer's connection sync cut is dialed again
// (Session.dialTLS says why that is safe for any request).
//
// This package must never accept a session without a verified token, never
// let an agent choose its cluster, and never log a token or the parameters'
// credential.
package tunnel
