package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// A Cursor is where a page of a query stopped: a file of the log, known by
// its first bytes (a file is only ever appended to and renamed, so they
// name it across rotations), and the offset in it before which the next
// page reads; with the query's Before, which the next page keeps.
type Cursor struct {
	head   [16]byte // SHA-256 of the file's first n bytes, cut short
	n      int
	offset int64
	before time.Time
}

// headBytes is how much of a file's start names it: the first line is
// enough (its time is to the nanosecond).
const headBytes = 512

// cursorLen is an encoded cursor's length: version, flags, n (2 bytes),
// head, offset, before (Unix nanoseconds).
const cursorLen = 1 + 1 + 2 + 16 + 8 + 8

// IsZero says c is no cursor: read from the newest line.
func (c Cursor) IsZero() bool { return c.n == 0 }

// String is c as the opaque text the API hands out.
func (c Cursor) String() string {
	b := make([]byte, 0, cursorLen)
	var flags byte
	var before int64
	if !c.before.IsZero() {
		flags, before = 1, c.before.UnixNano()
	}
	b = append(b, 1, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(c.n))
	b = append(b, c.head[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.offset))
	b = binary.BigEndian.AppendUint64(b, uint64(before))
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor reads a cursor String made.
func ParseCursor(s string) (Cursor, error) {
	bad := errors.New("not a cursor of this server's audit log")
	if len(s) != base64.RawURLEncoding.EncodedLen(cursorLen) {
		return Cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != 1 || b[1] > 1 {
		return Cursor{}, bad
	}
	c := Cursor{n: int(binary.BigEndian.Uint16(b[2:4]))}
	copy(c.head[:], b[4:20])
	off := binary.BigEndian.Uint64(b[20:28])
	if c.n < 1 || c.n > headBytes || off > 1<<62 {
		return Cursor{}, bad
	}
	c.offset = int64(off)
	before := int64(binary.BigEndian.Uint64(b[28:36]))
	switch {
	case b[1] == 1:
		c.before = time.Unix(0, before).UTC()
	case before != 0:
		return Cursor{}, bad
	}
	return c, nil
}

// fileHead names a file by its first n bytes (n = min(size, headBytes)).
func fileHead(r io.ReaderAt, size int64) ([16]byte, int, error) {
	n := int(min(size, headBytes))
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return [16]byte{}, 0, fmt.Errorf("read audit log: %w", err)
	}
	sum := sha256.Sum256(buf)
	var h [16]byte
	copy(h[:], sum[:])
	return h, n, nil
}
