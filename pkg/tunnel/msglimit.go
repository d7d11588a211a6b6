package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// maxMessage bounds one websocket message from an agent. remotedialer's
// session copies a whole message into the stream's buffer before anyone
// reads it, and gorilla/websocket, as remotedialer sets it up, has no read
// limit: without this bound one agent could make the server hold as much
// memory as it likes (and every other cluster goes down with it). An honest
// agent's messages are at most 32 KiB of a stream's data, or its list of
// open streams (8 bytes each: 1 MiB is 131,072 streams).
const maxMessage = 1 << 20

// errMessageTooLarge ends a tunnel whose agent sent a message over maxMessage.
var errMessageTooLarge = errors.New("tunnel: the agent sent a websocket message over the limit")

// messageLimit is the agent's connection as the server reads it: it follows
// the websocket frames from the agent (RFC 6455 section 5.2; an agent's are
// masked) and fails the read, closing the connection, once one message
// (its frames summed) passes maxMessage. It keeps 14 bytes of state and
// copies nothing.
type messageLimit struct {
	net.Conn
	hdr    [14]byte
	hn     int
	remain uint64 // payload bytes still to pass of the current frame
	size   uint64 // payload bytes of the current data message so far
	err    error
}

func (m *messageLimit) Read(b []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.Conn.Read(b)
	if ferr := m.follow(b[:n]); ferr != nil {
		m.err = ferr
		m.Conn.Close()
		return 0, ferr
	}
	return n, err
}

// follow walks the frame headers in b.
func (m *messageLimit) follow(b []byte) error {
	for len(b) > 0 {
		if m.remain > 0 {
			k := min(uint64(len(b)), m.remain)
			m.remain -= k
			b = b[k:]
			continue
		}
		m.hdr[m.hn] = b[0]
		m.hn++
		b = b[1:]
		if m.hn < 2 || m.hn < frameHeaderLen(m.hdr[1]) {
			continue
		}
		if err := m.frame(); err != nil {
			return err
		}
	}
	return nil
}

// frameHeaderLen is a frame's header length given its second byte.
func frameHeaderLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4 // masking key
	}
	return n
}

// frame takes a complete header.
func (m *messageLimit) frame() error {
	m.hn = 0
	var length uint64
	switch l := m.hdr[1] & 0x7f; l {
	case 126:
		length = uint64(binary.BigEndian.Uint16(m.hdr[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(m.hdr[2:10])
	default:
		length = uint64(l)
	}
	switch opcode := m.hdr[0] & 0x0f; {
	case opcode >= 0x8: // control frames carry at most 125 bytes
	case opcode == 0x0: // continuation
		m.size += length
	default: // a new data message
		m.size = length
	}
	if m.size > maxMessage || length > maxMessage {
		return fmt.Errorf("%w (%d bytes and more, the limit is %d)", errMessageTooLarge, max(m.size, length), maxMessage)
	}
	m.remain = length
	return nil
}
