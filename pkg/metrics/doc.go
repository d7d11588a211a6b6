// Package metrics owns the server's Prometheus metrics: one registry per
// process, created in main and passed to whoever records, never a global.
// The agent's metrics are its own (package agent), so the agent binary does
// not link this package.
//
// Labels carry cluster ids, verbs, agent kinds and status codes; they must
// never carry a user name, a token id, a path or anything unbounded.
package metrics
