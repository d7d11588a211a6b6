// Package realnodes runs Drover end to end against a downstream cluster
// with real nodes (package testbed, Options.Nodes): the import manifest, as
// the server serves it, applied with kubectl, runs the agents as pods, and
// the kubectl verbs that stream (logs -f, exec with and without a TTY,
// attach, port-forward, cp) and helm go through Drover to a real kubelet,
// over WebSocket and over SPDY (the server's debug log tells which upgrade
// it saw). The read-only user's exec and port-forward are refused and a
// revoked token ends an open exec. In the web console, in a real Chromium,
// an admin opens a shell into the web pod (xterm.js over the exec
// WebSocket through Drover's proxy as that user), runs a command, sees its
// output and the exit code; a read-only user's shell is forwarded and the
// apiserver refuses it. The apiserver authenticates Drover tokens
// through the manifest's kube-api-auth DaemonSet pod (the authorized cluster
// endpoint: its webhook config is set when the cluster starts, the pod
// listens on the control-plane node's loopback), and keeps working as the
// same user with drover-server killed, while revoked and expired tokens
// and former members' tokens are refused there. A registration token
// rotation reaches the agent pods through their Secret volumes and each
// agent reconnects with its new token without a restart. An upgraded server
// (restarted with a second agent build, the same source stamped with another
// version) rolls both agent workloads to it while GETs through Drover go on,
// and rolls back an image no node can pull. Last, the faults: the cluster agent pod
// deleted under load, its container frozen (ctr tasks pause) with streams
// open on its tunnel, and its node stopped; open watches (kubectl get -w, a
// protobuf informer) and a kubectl logs -f go on through a node agent
// without a lost or repeated event or line, an open exec ends.
// The tests share one cluster and server (package realcluster; starting one
// takes tens of seconds) and need root and `make testbed`.
//
// This package must never start an agent process itself: the agents are the
// manifest's pods, built into an image from this tree's cmd/agent.
package realnodes
