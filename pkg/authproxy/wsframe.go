package authproxy

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
)

// wsFrames follows the frames of one direction of a WebSocket connection
// as they pass, without holding any of them: where the next frame starts,
// whether a fragmented message is open, and whether a close frame went by.
// It is what lets the proxy add frames of its own to a stream it relays
// without breaking the protocol: only between frames, a data frame only
// outside a fragmented message.
type wsFrames struct {
	hdr     [14]byte
	hn      int    // header bytes seen of the current frame
	remain  uint64 // payload bytes still to pass of the current frame
	opcode  byte
	open    bool // a fragmented data message has begun and not ended
	closed  bool // a whole close frame has passed
	invalid bool // not WebSocket framing as this reader knows it
	// first: the next payload byte is the first of an unmasked data
	// frame, which in the channel protocols names its channel; errorSeen:
	// a frame on the error channel has passed (the apiserver's own Status).
	first     bool
	errorSeen bool
}

// feed follows b, the next bytes of the stream.
func (f *wsFrames) feed(b []byte) { f.follow(b, false) }

// finish follows b only as far as the frame in progress goes and returns
// how many bytes of b that is: 0 at a boundary, len(b) when the frame goes
// on past b (or the framing is not followed).
func (f *wsFrames) finish(b []byte) int { return f.follow(b, true) }

// follow follows b, stopping at the end of a frame when stop is set, and
// returns how many bytes it followed.
func (f *wsFrames) follow(b []byte, stop bool) int {
	if f.invalid {
		return len(b)
	}
	all := len(b)
	for len(b) > 0 && !f.invalid {
		if stop && f.atBoundary() {
			return all - len(b)
		}
		if f.remain > 0 {
			n := uint64(len(b))
			if n > f.remain {
				n = f.remain
			}
			if f.first {
				f.first = false
				f.errorSeen = f.errorSeen || (f.opcode == opBinary && b[0] == errorChannel) || (f.opcode == opText && b[0] == '0'+errorChannel)
			}
			f.remain -= n
			b = b[n:]
			if f.remain == 0 {
				f.frameDone()
			}
			continue
		}
		f.hdr[f.hn] = b[0]
		f.hn++
		b = b[1:]
		if need := f.headerLen(); f.hn == need {
			f.startPayload()
		}
	}
	if f.invalid {
		return all
	}
	return all - len(b)
}

// headerLen is the length of the current frame's header, as far as the
// bytes seen tell (2 until the second byte is known).
func (f *wsFrames) headerLen() int {
	if f.hn < 2 {
		return 2
	}
	n := 2
	switch f.hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if f.hdr[1]&0x80 != 0 {
		n += 4 // masking key
	}
	return n
}

// startPayload reads a complete header.
func (f *wsFrames) startPayload() {
	fin := f.hdr[0]&0x80 != 0
	f.opcode = f.hdr[0] & 0x0f
	var length uint64
	switch l := f.hdr[1] & 0x7f; l {
	case 126:
		length = uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(f.hdr[2:10])
	default:
		length = uint64(l)
	}
	switch {
	case f.hdr[0]&0x70 != 0, length > 1<<62:
		f.invalid = true // extensions (none is negotiated through us) or nonsense
		return
	case f.opcode >= opClose:
		if !fin || length > 125 || f.opcode > 0xA {
			f.invalid = true
			return
		}
	case f.opcode == opContinuation:
		if !f.open {
			f.invalid = true
			return
		}
		f.open = !fin
	case f.opcode == opText || f.opcode == opBinary:
		if f.open {
			f.invalid = true
			return
		}
		f.open = !fin
	default:
		f.invalid = true
		return
	}
	f.remain = length
	f.first = (f.opcode == opBinary || f.opcode == opText) && f.hdr[1]&0x80 == 0
	if length == 0 {
		f.frameDone()
	}
}

func (f *wsFrames) frameDone() {
	if f.opcode == opClose {
		f.closed = true
	}
	f.hn = 0
}

// atBoundary reports whether the next byte starts a frame.
func (f *wsFrames) atBoundary() bool { return !f.invalid && f.hn == 0 && f.remain == 0 }

// wsFrame encodes one unmasked, final frame as a server sends it.
func wsFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// Close codes the proxy sends (RFC 6455 section 7.4.1).
const (
	closeNormal   = 1000
	closeInternal = 1011
)

// wsClose encodes a close frame; reason is cut to the 123 bytes a control
// frame can carry, on a UTF-8 boundary.
func wsClose(code uint16, reason string) []byte {
	for len(reason) > 123 {
		reason = strings.ToValidUTF8(reason[:123], "")
	}
	return wsFrame(opClose, append(binary.BigEndian.AppendUint16(nil, code), reason...))
}

// errorChannel is the stream id of the error channel in the Kubernetes
// channel protocols (stdin 0, stdout 1, stderr 2, error 3).
const errorChannel = 3

// farewell is what the proxy writes to a client whose WebSocket stream it
// must end, as f (the apiserver's frames so far) leaves it, in the
// subprotocol proto the apiserver chose: for exec and attach (channel is
// true) in the channel protocols, status on the error channel (as a
// Status, which client-go turns into the error kubectl prints, from v4 on;
// as its message before) and a normal close, so that the client reads the
// error channel to its end; when the apiserver's own Status already went
// by, only the normal close, so the client reads that one; for anything
// else (port-forward, whose channel 3 is a port's), a close frame whose
// reason says why. In a fragmented message no data frame may come before
// it ends, so only the close frame is sent.
func farewell(proto string, channel bool, f *wsFrames, status *metav1.Status) []byte {
	if channel && f.errorSeen {
		return wsClose(closeNormal, "")
	}
	if !channel {
		proto = "" // no error channel to write to
	}
	open := f.open
	var data []byte
	text := false
	switch proto {
	case "v4.channel.k8s.io", "v5.channel.k8s.io":
		status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		status.Status = metav1.StatusFailure
		data, _ = json.Marshal(status) // a Status always encodes
	case "v4.base64.channel.k8s.io":
		status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		status.Status = metav1.StatusFailure
		data, _ = json.Marshal(status)
		text = true
	case "channel.k8s.io", "v2.channel.k8s.io", "v3.channel.k8s.io":
		data = []byte(status.Message)
	case "base64.channel.k8s.io", "v2.base64.channel.k8s.io", "v3.base64.channel.k8s.io":
		data = []byte(status.Message)
		text = true
	}
	if data == nil || open {
		return wsClose(closeInternal, status.Message)
	}
	var frame []byte
	if text {
		frame = wsFrame(opText, append([]byte{'0' + errorChannel}, base64.StdEncoding.AppendEncode(nil, data)...))
	} else {
		frame = wsFrame(opBinary, append([]byte{errorChannel}, data...))
	}
	return append(frame, wsClose(closeNormal, "")...)
}
