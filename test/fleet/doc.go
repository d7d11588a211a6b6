// Package fleet simulates a fleet of downstream clusters against one real
// drover-server, for `make bench-scale` (command test/fleet/drover-fleet)
// and its small test.
//
// A run starts the server binary as a child process (package harness),
// creates N clusters through its API with the admin's session, writes each
// cluster's registration token to a file, and runs N real cluster agents
// (package agent, agent.Run: CA pin, downstream bootstrap, controller token,
// remotedialer session with the production liveness settings and backoff)
// as goroutines of this one process. Every tunnel goes through the
// server's real accept path (/v3/connect, token verification, connection
// caps, which the run raises by flag to fit N). Nothing is shortcut: the
// server's per-cluster controllers run on every session and reach the
// cluster's "apiserver" through the tunnel, TLS end to end.
//
// Each simulated cluster advertises the same apiserver: StandIn, a small
// loopback TLS server with one handler. It answers what the agent and the
// server's controller really ask of an apiserver, recorded on a real
// test-bed cluster (docs/benchmarks.md, "Fleet scale", lists the mix):
// /readyz and /version; lists (empty) of nodes, namespaces, pods, events,
// service accounts, role bindings, cluster role bindings and secrets;
// watches, held open and silent until their timeoutSeconds as an idle
// apiserver does; gets and deletes of objects that do not exist (404);
// server-side applies and creates, echoed as stored; TokenRequests, with
// a token of the requested lifetime; SubjectAccessReviews, allowed. It
// counts requests by verb and resource, which gives the per-cluster
// controller request rate and mix.
//
// The figures are read from the server process: VmRSS from
// /proc/<pid>/status, CPU from /proc/<pid>/stat, go_goroutines and
// drover_tunnel_sessions from its --metrics-listen endpoint; per tunnel
// they are (value with the fleet connected − value with every cluster
// created and none connected) / connected. With Options.Restart the server
// is stopped and started again on the same data and address, and each
// agent's return is timed from the moment the new server serves.
//
// It must only ever listen on and dial loopback, must bound every wait,
// and must leave no process or goroutine behind: the server is stopped
// and the agents' context ended before Run returns.
package fleet
