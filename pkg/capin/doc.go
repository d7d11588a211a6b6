// Package capin fetches a Drover server's CA bundle on first contact and
// pins it by checksum (the --ca-checksum of the agent and of the drover
// command): the download cannot be verified yet, so the bundle's hash must
// match and the certificate the server presented on that very connection
// must chain to it for the server's name.
//
// After a CA rotation (package pki) the server's CA is accepted when the
// server's CA lineage (agentapi.Lineage) proves it, signature by signature,
// from the pinned one; while a rotation is prepared the next CA is trusted
// with the current one. The CAs returned are those to trust from now on.
//
// It must never send a credential on the unverified connection, nor return
// a bundle that failed either check. The agent links it: standard library,
// pkg/agentapi and pkg/checksum only.
package capin
