package agentapi

import "time"

// ConnectPath is the server's endpoint where agents open their tunnel.
const ConnectPath = "/v3/connect"

// CACertsPath is where the server serves its CA bundle, unauthenticated:
// the agent pins it by checksum before it trusts the server.
const CACertsPath = "/cacerts"

// ProbeAddress is what the server dials through a tunnel to make an agent
// answer: agents refuse it at once, and the refusal travelling back is the
// sign of life. It involves nothing but the agent, so a slow or frozen
// apiserver cannot make a live tunnel look dead. It is in the reserved
// .invalid domain, so it can never resolve to a real host.
const ProbeAddress = "probe.drover.invalid:1"

// How long each end lets a tunnel go without receiving a byte before it
// closes it.
const (
	// AgentIdleTimeout is the agent's limit. remotedialer's client pings
	// every 5 s and the server answers each ping, and a live server that
	// hears nothing for ServerIdleTimeout*3/8 (1.5 s) probes the agent, so
	// a healthy tunnel is never silent for more than about 1.5 s towards
	// the agent. 6 s of silence mean the server is gone or frozen (a
	// half-open connection): with server replicas, the agent then moves to
	// a live one through the load balancer within seconds.
	AgentIdleTimeout = 6 * time.Second
	// ServerIdleTimeout is the server's default limit. It can be shorter
	// than the agent's because the server does not wait for pings: after
	// part of it (3/8 by default) has passed in silence it dials
	// ProbeAddress, which a live agent refuses at once.
	ServerIdleTimeout = 4 * time.Second
)
