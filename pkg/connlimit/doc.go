// Package connlimit owns what one client may hold of the server before it
// has proved anything: connections, and the time a request body may take.
//
// Listener wraps the server's TCP listener. Every accepted connection is
// counted in the ordinary pool, in total and per peer address
// (request.AddrKey: an IPv4 address, an IPv6 /64); a connection over
// either cap is closed at once, before the TLS handshake, so a flood of
// slow or idle connections from one address cannot take the server's file
// descriptors from everyone else. Trusted proxies (load balancers that
// carry many clients on their connections) are exempt from the
// per-address cap, not from the total. A connection that an agent
// authenticated on (the tunnel of /v3/connect, which lives as long as the
// agent) moves to the agent pool (MoveToAgents): it then counts against
// the agents' cap only, so a flood of ordinary connections never closes an
// agent's, and agents never use up the users' connections. A connection
// on which another server replica proved itself (package replica) leaves
// its address's count (LeaveAddressCap), not the total: replicas relay
// many users' requests from one address.
//
// WithBodyDeadline gives the body of every ordinary request (not an
// upgrade, whose connection is handed to the handler) a read deadline:
// BodyOptions.Timeout from the start of the request, extended as bytes
// arrive by their worth at BodyOptions.MinRate. A client that sends its
// body slower than that gets a read error instead of holding the
// connection for ever. Responses are not limited: watches and logs stream
// for hours.
//
// This package counts and times out; it must never read a request, trust
// a header, or close a connection it did not refuse at accept.
package connlimit
