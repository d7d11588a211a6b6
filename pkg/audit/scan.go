package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errBudget is a scan that read all it may.
var errBudget = errors.New("audit scan: byte budget spent")

// backScanner reads a file's lines from a position towards its start,
// through one buffer it never grows: a line longer than the buffer is
// skipped (read past in buffer-sized pieces, never held), and bytes read
// are counted against a budget shared by the query's files.
//
// The region buf[lo:hi] holds the file's bytes [ws, ws+hi-lo), which end
// just after a newline (or are empty); before ws nothing has been read.
type backScanner struct {
	r      io.ReaderAt
	buf    []byte
	ws     int64
	lo, hi int
	// skipping: the bytes before ws up to the last newline are discarded
	// (an unfinished line at the start point, or a line longer than buf);
	// count says the discarded line counts as skipped.
	skipping, count bool
	budget          *int64
	skipped         *int
}

// reset starts reading r's lines before end. What follows the last
// newline before end is an unfinished line (being written, or the rest of
// a line a previous page stopped in): it is passed over, not counted.
func (s *backScanner) reset(r io.ReaderAt, end int64) {
	s.r, s.ws, s.lo, s.hi = r, end, len(s.buf), len(s.buf)
	s.skipping, s.count = true, false
}

// pos is where the scan stands: the lines before it are still to read.
func (s *backScanner) pos() int64 {
	if s.skipping {
		return s.ws
	}
	return s.ws + int64(s.hi-s.lo)
}

// next is the line before the previous one (without its newline; valid
// until the next call) and the offset it starts at; io.EOF at the file's
// start, errBudget when the budget is spent.
func (s *backScanner) next() ([]byte, int64, error) {
	for {
		if s.skipping {
			if err := s.skipBack(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if s.hi == s.lo {
			return nil, 0, io.EOF // skipBack or the start of the file emptied it
		}
		body := s.buf[s.lo : s.hi-1]
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			s.hi = s.lo + i + 1
			return body[i+1:], s.ws + int64(i+1), nil
		}
		if s.ws == 0 {
			s.hi = s.lo
			return body, 0, nil
		}
		if s.lo == 0 {
			if s.hi == len(s.buf) {
				// Longer than the buffer: drop what is held, discard the
				// rest up to the newline before it.
				s.lo, s.skipping, s.count = s.hi, true, true
				continue
			}
			n := copy(s.buf[len(s.buf)-(s.hi-s.lo):], s.buf[s.lo:s.hi])
			s.lo, s.hi = len(s.buf)-n, len(s.buf)
		}
		n, err := s.read(s.lo)
		if err != nil {
			return nil, 0, err
		}
		s.lo -= n
	}
}

// skipBack reads the piece before ws into the end of buf; up to its last
// newline it becomes the region and skipping ends.
func (s *backScanner) skipBack() error {
	if s.ws == 0 {
		s.skipping, s.lo, s.hi = false, len(s.buf), len(s.buf)
		s.countSkipped()
		return nil
	}
	s.lo, s.hi = len(s.buf), len(s.buf)
	n, err := s.read(len(s.buf))
	if err != nil {
		return err
	}
	s.lo -= n
	if i := bytes.LastIndexByte(s.buf[s.lo:], '\n'); i >= 0 {
		s.hi = s.lo + i + 1
		s.skipping = false
		s.countSkipped()
	} else {
		s.lo = s.hi
	}
	return nil
}

func (s *backScanner) countSkipped() {
	if s.count {
		*s.skipped++
		s.count = false
	}
}

// read reads up to room bytes (and the budget) before ws into
// buf[s.lo-n:s.lo], moving ws back by n.
func (s *backScanner) read(room int) (int, error) {
	n := int64(room)
	n = min(n, s.ws, *s.budget)
	if n <= 0 {
		return 0, errBudget
	}
	dst := s.buf[s.lo-int(n) : s.lo]
	if _, err := s.r.ReadAt(dst, s.ws-n); err != nil {
		return 0, fmt.Errorf("read audit log: %w", err)
	}
	*s.budget -= n
	s.ws -= n
	return int(n), nil
}
