// Package replica lets several drover-server processes on one PostgreSQL
// database serve as one: each replica registers itself in the database
// with the URL its peers reach it by and the hash of a peer credential of
// its own, beats every second, and forgets replicas whose beat stopped
// (Registry); records which replica holds which cluster's agent tunnels
// (Index); and sends a kubectl request that reached a replica without the
// cluster's tunnel to the replica that has it (WithRelay), where it is
// authenticated and authorized again (WithPeer recognises the peer). It
// also keeps the service's identity one: the secrets key (CheckSecretsKey),
// the CA, shared or given, that every replica serves (ShareCA, CheckCA),
// and the session signing keys (SessionKeys).
//
// An agent keeps one tunnel, to whichever replica the load balancer gave
// it; every replica reaches every cluster through the replica holding its
// tunnel. A relayed request carries the user's own credential: the peer
// credential only says "this came from replica X" (so it is not relayed
// again, and the client address it names is believed), never who the
// user is.
//
// What this package must never do:
//   - relay a request that has not been authenticated and authorized on
//     this replica, or relay a request that carried a peer credential,
//     valid or not (a peer this replica does not know yet may have sent
//     it: relaying it again could bounce it between replicas);
//   - skip the verification of a peer's certificate (peers are verified
//     against the service's CA, by the name in their URL), or send the
//     peer credential anywhere but to a live replica's URL;
//   - let the peer credential reach a cluster: WithPeer removes it from
//     every request before anything else reads the headers;
//   - log a peer credential or store it other than hashed.
package replica
