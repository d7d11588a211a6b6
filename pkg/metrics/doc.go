// Package metrics owns the server's Prometheus metrics: one registry per
// process, created in main and passed to whoever records, never a global.
// The agent's metrics are its own (package agent), so the agent binary does
// not link this package. Some figures are read at each scrape from their
// owner (WatchClusters: every cluster's connection state; WatchStore: the
// store's pool), so they are right without anyone keeping series in step.
// WithAPIMetrics, a filter of the request chain, counts Drover's API by
// route template and the logins among them.
//
// Labels carry cluster ids, verbs, agent kinds, route templates and status
// codes; they must never carry a user name, a token id, a path or anything
// else a client chooses or that is unbounded.
package metrics
