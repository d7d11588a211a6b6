// Package provision owns clusters that a driver makes: the background
// controller that calls a driver's Create, PostCheck, Update and Remove, and
// its etcd snapshot calls, and that installs Drover's agent into a new
// cluster. It seals everything it stores about them with package seal.
//
// The flow of a new cluster: the API validates the config against the
// driver's schema and records the cluster (phase provisioning, op create);
// the controller runs Create, stores the driver's ClusterInfo, runs
// PostCheck (which returns a credential), mints a registration token,
// applies the agent manifest (package manifest) into the cluster with that
// credential and waits for the agent (phase waiting-for-agent) until its
// tunnel is up (phase active). Update and Remove go the same way (phases
// updating, removing); any failure stops in phase error with a message in
// Drover's words for everyone and the cause, possibly the driver's own
// words, for admins only. Each driver call runs in a fresh driver process
// with a timeout; one operation at a time runs per cluster; a request bumps
// a generation so that an older operation's end never overwrites it; and an
// operation interrupted by a restart runs again (drivers must be
// idempotent).
//
// Credentials at rest: a cluster's config, the driver's ClusterInfo (which
// holds the endpoint, CA and token) and the error text are sealed with
// AES-256-GCM (package seal) under the server's secrets key, each bound to
// its cluster and column.
//
// This package must never store a credential or config unsealed, log one,
// show what a driver said to anyone but admins, skip TLS verification
// towards a new cluster, or let a failed step crash the server.
package provision
