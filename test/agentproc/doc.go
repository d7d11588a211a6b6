// Package agentproc runs a minimal Drover agent in a child process for the
// tunnel and proxy tests: the test binary re-executed (see RunIfChild),
// calling remotedialer.ConnectToProxyWithDialer (pkg/agent composes the
// same client session itself, to read a refused upgrade's status), with a
// local dialer that reaches only the advertised endpoint.
//
// It runs out of process on purpose. remotedialer v0.6.1 has data races in
// its own goroutine pairs (Session.pingCancel in ConnectToProxyWithDialer,
// connection.err on every stream teardown: rancher/remotedialer#254, #265),
// and most of them fire on the agent's side. In process, -race would fail
// every test on library code; out of process the server side (the code
// under test) stays under the race detector, and the agent's reports are
// logged, not hidden.
//
// It owns the child's lifecycle and what it reports (its dials); it must
// never be used outside tests, and never dials anything but the endpoint
// it was given.
package agentproc
