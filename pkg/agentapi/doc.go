// Package agentapi is the wire contract between drover-agent and
// drover-server: everything both ends must agree on, in one place, so that
// neither side keeps a copy that can drift.
//
// It owns:
//   - the connect path (ConnectPath) the agent opens its websocket on, and
//     the CA bundle's path (CACertsPath) it pins first;
//   - the parameters header (ParamsHeader) and its AgentParams, their
//     encoding (base64url JSON), parsing and validation;
//   - the version header (VersionHeader), apart from the parameters so
//     that servers which predate it still admit agents that send it;
//   - the agent kinds (KindCluster, KindNode);
//   - the protocol version (Protocol) and the networks the server dials
//     through a tunnel (NetworkTCP, NetworkFlow); pkg/flow owns
//     NetworkFlow's frames;
//   - the liveness rules: the address the server dials to probe an agent
//     (ProbeAddress), how long each end lets a tunnel stay silent
//     (AgentIdleTimeout, ServerIdleTimeout) and the connection watch that
//     enforces it (Watch);
//   - CertPool, the PEM CA bundle parser both ends use to trust a CA the
//     other one sent;
//   - the CA lineage (Lineage, served at CALineagePath): how a client that
//     trusts one CA of the server checks, by signature, the CAs that
//     followed it in a rotation (package pki makes it, package capin
//     follows it).
//
// The agent links this package, so it must stay small: it imports only the
// standard library and apimachinery's name rules (util/validation, which the
// agent links anyway), and must never import anything of the server (store,
// authn, tunnel, api, authproxy, server, metrics, ...), nor any package that
// does. cmd/agent's deps test fails if the agent links server code.
//
// Errors from this package never quote their input: the parameters carry a
// credential.
package agentapi
