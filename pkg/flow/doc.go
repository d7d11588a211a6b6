// Package flow is the flow control of one stream through an agent's
// tunnel: how much each end may send before the other has taken it.
//
// remotedialer, which carries the streams, has back pressure of its own,
// but it deadlocks: one flag stands both for "I asked my peer to pause" and
// for "my peer asked me to pause", so an end whose read buffer filled stops
// its own writer, and the resume that follows never wakes it (a port-forward
// or exec that moves data both ways stalls for good; TestRemotedialerPause
// shows it on the library alone). Its buffers also grow without bound when a
// peer ignores the pause. This package keeps remotedialer's mechanism from
// ever engaging: each end may have at most Window bytes outstanding, so the
// library's read buffer (which pauses at 2 MiB) stays below that threshold,
// and what each end holds per stream is bounded by the window. A peer that
// sends beyond its credit is cut off; one that sends a single endless
// remotedialer message never reaches this package (remotedialer buffers a
// whole message first): the server bounds an agent's messages itself
// (pkg/tunnel's maxMessage).
//
// The wire format, inside the stream's bytes: frames of a 4-byte header
// (type, then a 24-bit big-endian length) and, for DATA, that many payload
// bytes. WINDOW frames carry no payload; their length is the number of bytes
// the receiver has consumed since its last WINDOW, which the sender may now
// send. Both ends start with a credit of Window. A peer that sends more than
// its credit, an unknown frame type or a malformed length ends the stream.
//
// It owns: the frame format, the window and when credit is returned (New,
// for the end that uses the stream; Bridge, for the agent's end, which
// copies it to a plain connection). It must never decide who may open a
// stream or where a stream goes (the agent's dial policy and the server's
// tunnel do), never hold more than the window a stream's peer was granted,
// and never import server code: the agent links it.
package flow
